"""Relatedness: PC-Relate kinship (as All of Us and gnomAD), degrees, and who to flag.

Kinship thresholds follow KING's degree boundaries (2^-1.5, 2^-2.5, 2^-3.5): a duplicate (or monozygotic
twin) has kinship ~0.5, first-degree relatives ~0.25, second-degree ~0.125.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import hail as hl

from callset.sample_qc import NotAssessable

log = logging.getLogger(__name__)

DUPLICATE_MIN = 2**-1.5  # 0.354
FIRST_MIN = 2**-2.5  # 0.177
SECOND_MIN = 2**-3.5  # 0.088


def degree_expr(kin: hl.expr.Float64Expression) -> hl.expr.StringExpression:
    """``duplicate``, ``first``, ``second`` or missing (unrelated at this resolution)."""
    return (
        hl.case()
        .when(kin >= DUPLICATE_MIN, "duplicate")
        .when(kin >= FIRST_MIN, "first")
        .when(kin >= SECOND_MIN, "second")
        .or_missing()
    )


def compute_kinship(
    qc_mt: hl.MatrixTable,
    *,
    min_individual_maf: float = 0.01,
    k: int = 3,
    scores: Mapping[str, Sequence[float]] | None = None,
    min_sites: int = 500,
    block_size: int | None = None,
) -> hl.Table:
    """PC-Relate kinship for every pair of samples.

    Ancestry is modelled by ``scores`` (sample key -> PCs; the first ``k`` are used) when given — the
    cohort projected onto a labelled reference panel, whose PCs cannot be bent by the cohort's own
    families — else by ``k`` PCs of the QC sites (on a small callset a duplicate pair or a family can take a
    PC of its own, which then hides their kinship).

    Fields: ``id1``, ``id2`` (sample keys, ``id1 < id2``), ``kinship`` (float64). Raises
    :class:`NotAssessable` when the QC MatrixTable has fewer than ``min_sites`` rows or fewer than
    ``k + 2`` samples.
    """
    n_rows, n_cols = qc_mt.count()
    if n_rows < min_sites:
        raise NotAssessable(f"{n_rows} common biallelic autosomal SNPs pass QC (< {min_sites})")
    if n_cols < k + 2:
        raise NotAssessable(f"{n_cols} samples: too few for PC-Relate with {k} PCs")
    key = next(iter(qc_mt.col_key))
    if scores is not None:
        lit = hl.literal({s: [float(x) for x in v[:k]] for s, v in scores.items()})
        mt = qc_mt.annotate_cols(_scores=lit.get(qc_mt[key]))
        n_missing = mt.aggregate_cols(hl.agg.count_where(hl.is_missing(mt._scores)))
        if n_missing:
            raise ValueError(f"{n_missing} samples have no PC scores for PC-Relate")
        ht = hl.pc_relate(mt.GT, min_individual_maf, scores_expr=mt._scores, statistics="kin", block_size=block_size)
        source = "ancestry panel projection"
    else:
        ht = hl.pc_relate(qc_mt.GT, min_individual_maf, k=k, statistics="kin", block_size=block_size)
        source = "cohort PCA"
    a, b = ht.i[key], ht.j[key]
    ht = ht.key_by(id1=hl.if_else(a < b, a, b), id2=hl.if_else(a < b, b, a))
    return ht.select(kinship=ht.kin).annotate_globals(
        kinship_params=hl.struct(
            method="pc_relate", k=k, pcs=source, min_individual_maf=min_individual_maf, n_sites=n_rows
        )
    )


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
