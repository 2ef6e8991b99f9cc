"""Relatedness: KING-robust kinship (``hl.king``) on LD-pruned markers, which degrees the data supports,
degrees, who to flag.

Kinship thresholds follow KING's degree boundaries (2^-1.5, 2^-2.5, 2^-3.5): a duplicate (or monozygotic
twin) has kinship ~0.5, first-degree relatives ~0.25, second-degree ~0.125. KING-robust is used (as gnomAD
v4 and KING itself) because it needs no model of ancestry: a pair of relatives gets an unbiased kinship
whatever the population structure (unrelated pairs of different ancestries get negative values, which
harms nothing), and a duplicate gets 0.5 exactly; PC-Relate (``method: pc_relate``, as before) stays
available, though on small callsets it underestimates duplicates (0.38–0.46 measured on a 5 Mb simulation).

How far a degree can be called depends on how much *independent* genome the markers sample, not on how many
sites there are: kinship is an average over the genealogies of the genome, and a few Mb hold a few
genealogies (1 Mb at the human recombination rate gave unrelated pairs up to 0.40 and a parent–child pair
at -0.10). The markers are LD-pruned first and a degree is *assessable* only with at least
``min_independent_markers[degree]`` of them (defaults measured on simulated cohorts: duplicates 300, first
degree 1,000, second degree 10,000 — a whole genome has ~100,000); and a degree whose pairs would make more
than ``max_pairs_per_sample`` relatives of that degree per sample is implausible for a cohort and reported
not assessable as well (the signature of a noisy estimate: hundreds of "relatives" from one genealogy).
A degree that is not assessable reports no pairs and flags nobody.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import hail as hl

from callset.sample_qc import NotAssessable

log = logging.getLogger(__name__)

DUPLICATE_MIN = 2**-1.5  # 0.354
FIRST_MIN = 2**-2.5  # 0.177
SECOND_MIN = 2**-3.5  # 0.088
#: degree -> lowest kinship of that degree, closest first
DEGREE_MIN = {"duplicate": DUPLICATE_MIN, "first": FIRST_MIN, "second": SECOND_MIN}
#: kinship methods: KING-robust (default; unbiased for relatives under population structure, 0.5 for a
#: duplicate) or PC-Relate (ancestry modelled by PCs; underestimates duplicates on small callsets)
METHODS = ("king", "pc_relate")


def degree_expr(kin: hl.expr.Float64Expression) -> hl.expr.StringExpression:
    """``duplicate``, ``first``, ``second`` or missing (unrelated at this resolution)."""
    return (
        hl.case()
        .when(kin >= DUPLICATE_MIN, "duplicate")
        .when(kin >= FIRST_MIN, "first")
        .when(kin >= SECOND_MIN, "second")
        .or_missing()
    )


def _pairs(kin_mt: hl.MatrixTable, key: str) -> hl.Table:
    """Upper triangle of a ``hl.king`` matrix as ``id1 < id2, kinship``."""
    ht = kin_mt.entries()
    row_key, col_key = list(kin_mt.row_key), list(kin_mt.col_key)
    ht = ht.filter(ht[row_key[0]] < ht[col_key[0]])
    ht = ht.key_by(id1=ht[row_key[0]], id2=ht[col_key[0]])
    return ht.select(kinship=ht.phi)


def kinship_table(
    mt: hl.MatrixTable,
    *,
    method: str = "king",
    k: int = 3,
    min_individual_maf: float = 0.01,
    scores: Mapping[str, Sequence[float]] | None = None,
    block_size: int | None = None,
) -> hl.Table:
    """Kinship of every pair of samples of ``mt`` (entry ``GT``): ``id1 < id2`` (sample keys), ``kinship``.

    ``method="king"``: ``hl.king`` (KING-robust between-family estimator). ``method="pc_relate"``:
    ``hl.pc_relate`` with ``min_individual_maf`` and ancestry modelled by ``scores`` (sample key -> PCs; the
    first ``k`` are used) when given, else by ``k`` PCs of ``mt``.
    """
    key = next(iter(mt.col_key))
    if method == "king":
        return _pairs(hl.king(mt.GT, block_size=block_size), key)
    if method != "pc_relate":
        raise ValueError(f"unknown relatedness method {method!r} (one of {METHODS})")
    if scores is not None:
        lit = hl.literal({s: [float(x) for x in v[:k]] for s, v in scores.items()})
        mt = mt.annotate_cols(_scores=lit.get(mt[key]))
        n_missing = mt.aggregate_cols(hl.agg.count_where(hl.is_missing(mt._scores)))
        if n_missing:
            raise ValueError(f"{n_missing} samples have no PC scores for PC-Relate")
        ht = hl.pc_relate(mt.GT, min_individual_maf, scores_expr=mt._scores, statistics="kin", block_size=block_size)
    else:
        ht = hl.pc_relate(mt.GT, min_individual_maf, k=k, statistics="kin", block_size=block_size)
    a, b = ht.i[key], ht.j[key]
    ht = ht.key_by(id1=hl.if_else(a < b, a, b), id2=hl.if_else(a < b, b, a))
    return ht.select(kinship=ht.kin)


#: independent (LD-pruned) markers needed to call each degree (see the module docstring)
DEFAULT_MIN_INDEPENDENT_MARKERS = {"duplicate": 300, "first": 1000, "second": 10000}


@dataclass
class KinshipResult:
    """Kinship of every pair plus what the data supports.

    ``assessable``: degree -> True/False; ``reasons``: degree -> why not (empty when assessable);
    ``n_pairs_at``: degree -> pairs at or above its lower boundary; ``params``: method and markers, for the
    report and globals.
    """

    kin_ht: hl.Table
    n_markers: int
    n_samples: int
    assessable: dict[str, bool] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    n_pairs_at: dict[str, int] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)

    def min_reported_kinship(self, min_kinship: float) -> float | None:
        """Lowest kinship reported: ``min_kinship`` raised to the boundary of the farthest assessable degree
        (a degree is only assessable when every closer one is); None when no degree is assessable."""
        ok = [DEGREE_MIN[d] for d, a in self.assessable.items() if a]
        return max(min_kinship, min(ok)) if ok else None


def assess_degrees(
    n_markers: int,
    n_samples: int,
    n_pairs_at: Mapping[str, int],
    *,
    min_independent_markers: Mapping[str, int] = DEFAULT_MIN_INDEPENDENT_MARKERS,
    max_pairs_per_sample: float | None = 1.0,
) -> tuple[dict[str, bool], dict[str, str]]:
    """Which degrees the data supports, and why not (pure rule; see the module docstring).

    ``n_pairs_at``: degree -> number of pairs at or above its lower boundary (cumulative). A degree is
    assessable when every closer degree is, the markers reach its minimum, and (unless
    ``max_pairs_per_sample`` is None) it does not make more than ``max_pairs_per_sample`` x ``n_samples``
    pairs.
    """
    ok: dict[str, bool] = {}
    why: dict[str, str] = {}
    closer_ok = True
    for d in DEGREE_MIN:
        need = int({**DEFAULT_MIN_INDEPENDENT_MARKERS, **min_independent_markers}[d])
        n_at = int(n_pairs_at.get(d, 0))
        if not closer_ok:
            ok[d], why[d] = False, "a closer degree is not assessable"
        elif n_markers < need:
            ok[d], why[d] = False, f"{n_markers:,} independent markers (< {need:,} needed for {_NAME[d]} calls)"
        elif max_pairs_per_sample is not None and n_at > max_pairs_per_sample * n_samples:
            ok[d], why[d] = False, (
                f"{n_at:,} pairs at kinship >= {DEGREE_MIN[d]:.3f} among {n_samples:,} samples: more "
                f"{_NAME[d]} relatives than a cohort has (> {max_pairs_per_sample:g} per sample); the "
                f"estimate is noise at this level"
            )
        else:
            ok[d], why[d] = True, ""
        closer_ok = ok[d]
    return ok, why


_NAME = {"duplicate": "duplicate", "first": "first-degree", "second": "second-degree"}


def compute_kinship(
    mt: hl.MatrixTable,
    *,
    method: str = "king",
    k: int = 3,
    min_individual_maf: float = 0.01,
    scores: Mapping[str, Sequence[float]] | None = None,
    min_independent_markers: Mapping[str, int] = DEFAULT_MIN_INDEPENDENT_MARKERS,
    max_pairs_per_sample: float | None = 1.0,
    block_size: int | None = None,
    n_independent: int | None = None,
) -> KinshipResult:
    """Kinship on the markers ``mt`` and which degrees it can support.

    ``n_independent``: how many of ``mt``'s markers are independent (LD-pruned); None when ``mt`` is itself
    the LD-pruned set. KING is given every QC site (LD does not bias it, and the extra sites cut its noise:
    on the simulator's default genome, 59 samples, a parent-child pair measured 0.258 on all 36,838 QC sites
    against 0.222 on the 704 pruned ones, unrelated pairs at most 0.102 against 0.112); which degrees are
    assessable still follows the independent markers, the genome the sites sample.

    Raises :class:`NotAssessable` (before any kinship is computed) when there are too few independent
    markers even for duplicates, or fewer than 3 samples.
    """
    n_sites, n_cols = mt.count()
    n_rows = n_sites if n_independent is None else n_independent
    what = f"{n_rows:,} independent (LD-pruned) common autosomal SNPs"
    if n_independent is not None:
        what += f" (kinship on all {n_sites:,} QC sites)"
    need = {**DEFAULT_MIN_INDEPENDENT_MARKERS, **min_independent_markers}
    if n_rows < need["duplicate"]:
        raise NotAssessable(
            f"{n_rows:,} independent markers after LD pruning (< {need['duplicate']:,} needed even for duplicates)",
            markers=what, n_markers=n_rows,
        )
    if n_cols < 3 or (method == "pc_relate" and n_cols < k + 2):
        raise NotAssessable(f"{n_cols} samples: too few for {method}", markers=what, n_markers=n_rows)
    kin = kinship_table(
        mt, method=method, k=k, min_individual_maf=min_individual_maf, scores=scores, block_size=block_size
    ).checkpoint(hl.utils.new_temp_file("kinship", "ht"))
    n_at = kin.aggregate(hl.struct(**{d: hl.agg.count_where(kin.kinship >= t) for d, t in DEGREE_MIN.items()}))
    n_pairs_at = {d: int(n_at[d]) for d in DEGREE_MIN}
    ok, why = assess_degrees(
        n_rows, n_cols, n_pairs_at, min_independent_markers=need, max_pairs_per_sample=max_pairs_per_sample
    )
    params: dict[str, object] = {
        "method": method,
        "n_markers": n_rows,
        "n_sites": n_sites,
        "min_independent_markers": need,
        "max_pairs_per_sample": max_pairs_per_sample,
        "n_pairs_at": n_pairs_at,
        "assessable": ok,
        **({"k": k, "min_individual_maf": min_individual_maf} if method == "pc_relate" else {}),
    }
    log.info("relatedness: %s on %d independent markers, %d samples; pairs at each degree %s; assessable %s",
             method, n_rows, n_cols, n_pairs_at, ok)
    return KinshipResult(kin, n_rows, n_cols, ok, why, n_pairs_at, params)


def kinship_histogram(kin_ht: hl.Table, *, start: float = -0.1, end: float = 0.6, bins: int = 70) -> hl.Struct:
    """Histogram of all pairwise kinship values (``hl.agg.hist`` struct) for the report."""
    return kin_ht.aggregate(hl.agg.hist(kin_ht.kinship, start, end, bins))


def filter_related_pairs(kin_ht: hl.Table, *, min_kinship: float = 0.1) -> hl.Table:
    """Pairs with ``kinship >= min_kinship`` and their ``degree``."""
    ht = kin_ht.filter(kin_ht.kinship >= min_kinship)
    return ht.annotate(degree=hl.or_else(degree_expr(ht.kinship), "second"))


def samples_to_flag(pairs: Sequence[tuple[str, str]], keep_rank: Mapping[str, int]) -> set[str]:
    """Samples to flag so that no related pair remains (Hail's greedy maximal independent set).

    ``keep_rank``: lower = keep first (e.g. by hard-filter status, then call rate); ties in degree are
    broken by removing the higher rank. Samples absent from ``keep_rank`` are removed first.
    """
    if not pairs:
        return set()
    worst = max(keep_rank.values(), default=0) + 1
    rows = [
        {"i": {"id": a, "rank": keep_rank.get(a, worst)}, "j": {"id": b, "rank": keep_rank.get(b, worst)}}
        for a, b in pairs
    ]
    node = hl.tstruct(id=hl.tstr, rank=hl.tint32)
    ht = hl.Table.parallelize(rows, hl.tstruct(i=node, j=node))
    out = hl.maximal_independent_set(ht.i, ht.j, keep=False, tie_breaker=lambda left, right: left.rank - right.rank)
    return {r.node.id for r in out.collect()}
