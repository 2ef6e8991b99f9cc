"""Release products for researchers: cohort frequencies, the smaller callsets and per-shard exports.

Smaller callsets (All of Us "smaller callsets"), each a subset of the rows of the main dense shards:

- ``acaf`` — sites where some allele has AC >= ``min_ac`` in any genetic ancestry group, or a max-group
  AF > ``min_af``; a multi-allelic site is kept whole when one of its alleles qualifies (by position);
- ``exome`` — sites inside the exons of a GFF3 gene model, padded by ``padding`` bp on both sides;
- ``clinvar`` — variants with a ClinVar classification (row ``clinvar.clnsig`` defined and non-empty).

Exports of one shard: bgzipped VCF + ``.tbi``, PLINK 1.9 ``.bed/.bim/.fam`` and BGEN 1.2 (8 bit) with
its ``.sample`` file and a Hail ``.idx2`` index.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import hail as hl

from callset.errors import ConfigError

log = logging.getLogger(__name__)


CALLSETS = ("acaf", "exome", "clinvar")


ALL_GROUP = "all"


def freq_struct_expr(gt: hl.expr.CallExpression) -> hl.expr.StructExpression:
    """Aggregator: ``struct{AC, AN, AF, homozygote_count, sample_count}`` of the first alternate allele."""
    ac = hl.agg.sum(gt.n_alt_alleles())
    an = hl.agg.sum(gt.ploidy)
    return hl.struct(
        AC=hl.int32(ac),
        AN=hl.int32(an),
        AF=hl.or_missing(an > 0, ac / an),
        homozygote_count=hl.int32(hl.agg.count_where(gt.is_hom_var())),
        sample_count=hl.int32(hl.agg.count_where(gt.is_non_ref())),
    )


def annotate_cohort_frequencies(
    mt: hl.MatrixTable, group_expr: hl.expr.StringExpression | None = None, groups: Sequence[str] = ()
) -> hl.MatrixTable:
    """Add row ``freq: dict<str, struct{AC, AN, AF, homozygote_count, sample_count}>`` on a split MT.

    Keys: ``all`` and each of ``groups`` (values of ``group_expr``, a column expression such as the genetic
    ancestry group; samples with another or a missing group count in ``all`` only). Every group is present
    in every row (zeros when none of its samples has a call there). Also adds ``max_af_group``/``max_af``
    over the groups (over ``all`` when there are none). Used when variant QC did not provide ``freq``; same
    shape as ``callset.variant_qc.shard_annotations.annotate_frequencies``.
    """
    if group_expr is not None:
        mt = mt.annotate_cols(_grp=group_expr)
    items = [(ALL_GROUP, freq_struct_expr(mt.GT))]
    if group_expr is not None:
        items += [(g, hl.agg.filter(mt._grp == g, freq_struct_expr(mt.GT))) for g in sorted(groups)]
    mt = mt.annotate_rows(_freq=hl.struct(**{f"_{i}": v for i, (_, v) in enumerate(items)}))
    mt = mt.annotate_rows(freq=hl.dict([(hl.str(k), mt._freq[f"_{i}"]) for i, (k, _) in enumerate(items)]))
    mt = mt.annotate_rows(**max_af_exprs(mt.freq))
    mt = mt.drop("_freq")
    return mt.drop("_grp") if "_grp" in mt.col else mt


def max_af_exprs(freq: hl.expr.DictExpression) -> dict[str, hl.expr.Expression]:
    """``max_af_group``/``max_af`` over the non-``all`` groups of ``freq`` (``all`` when there are none)."""
    items = hl.array(freq).filter(lambda kv: (kv[0] != ALL_GROUP) & hl.is_defined(kv[1].AF))
    items = hl.if_else(hl.len(items) > 0, items, hl.array(freq).filter(lambda kv: hl.is_defined(kv[1].AF)))
    best = hl.sorted(items, key=lambda kv: -kv[1].AF)
    return {
        "max_af_group": hl.or_missing(hl.len(best) > 0, best[0][0]),
        "max_af": hl.or_missing(hl.len(best) > 0, best[0][1].AF),
    }


def ensure_frequencies(mt: hl.MatrixTable, ancestry: Mapping[str, str] | None) -> hl.MatrixTable:
    """Keep ``freq`` when the shard annotator (variant QC) provided it; compute it otherwise."""
    if "freq" in mt.row:
        if "max_af" not in mt.row:
            mt = mt.annotate_rows(**max_af_exprs(mt.freq))
        return mt
    if not ancestry:
        return annotate_cohort_frequencies(mt)
    return annotate_cohort_frequencies(mt, hl.literal(dict(ancestry)).get(mt.s), sorted(set(ancestry.values())))


def acaf_allele_expr(
    freq: hl.expr.DictExpression, *, min_ac: int | None = 100, min_af: float | None = 0.01
) -> hl.expr.BooleanExpression:
    """True when this allele has AC >= ``min_ac`` in a group or a group AF > ``min_af`` (None: rule not applied).

    Groups are the genetic ancestry groups in ``freq``; ``all`` is used only when there are none.
    """
    groups = hl.array(freq).filter(lambda kv: kv[0] != ALL_GROUP).map(lambda kv: kv[1])
    groups = hl.if_else(hl.len(groups) > 0, groups, hl.array([freq[ALL_GROUP]]))
    conds = []
    if min_ac is not None:
        conds.append(groups.any(lambda f: f.AC >= min_ac))
    if min_af is not None:
        conds.append(groups.any(lambda f: hl.coalesce(f.AF, 0.0) > min_af))
    if not conds:
        return hl.bool(False)
    out = conds[0]
    for c in conds[1:]:
        out = out | c
    return out


def filter_acaf(mt: hl.MatrixTable, *, min_ac: int | None = 100, min_af: float | None = 0.01) -> hl.MatrixTable:
    """ACAF rows: every split row at a position where at least one allele qualifies (see :func:`acaf_allele_expr`)."""
    rows = mt.rows()
    rows = rows.filter(acaf_allele_expr(rows.freq, min_ac=min_ac, min_af=min_af))
    loci = rows.key_by("locus").select().distinct()
    return mt.filter_rows(hl.is_defined(loci[mt.locus]))


def read_exon_intervals(
    gff3: str | os.PathLike[str], *, padding: int = 15, contig_lengths: Mapping[str, int] | None = None
) -> list[tuple[str, int, int]]:
    """Merged ``(contig, start, end)`` (1-based, inclusive) of every ``exon`` feature, padded by ``padding``.

    Contigs absent from ``contig_lengths`` (when given) are skipped with a warning.
    :raises ConfigError: the file is missing or a line is malformed (names file and line).
    """
    path = Path(gff3)
    if not path.is_file():
        raise ConfigError(f"{path}: exome gene model (release_options.exome_gene_model) not found")
    opener = __import__("gzip").open if path.suffix == ".gz" else open
    raw: list[tuple[str, int, int]] = []
    skipped: set[str] = set()
    with opener(path, "rt") as f:
        for n, line in enumerate(f, 1):
            if line.startswith("##FASTA"):
                break
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 8:
                raise ConfigError(f"{path}: line {n}: expected 9 tab-separated GFF3 columns, got {len(cols)}")
            if cols[2] != "exon":
                continue
            contig = cols[0]
            try:
                start, end = int(cols[3]), int(cols[4])
            except ValueError:
                raise ConfigError(f"{path}: line {n}: start/end {cols[3]!r}/{cols[4]!r} are not integers") from None
            if contig_lengths is not None and contig not in contig_lengths:
                skipped.add(contig)
                continue
            hi = end + padding
            if contig_lengths is not None:
                hi = min(hi, contig_lengths[contig])
            raw.append((contig, max(1, start - padding), hi))
    if skipped:
        log.warning("%s: exons on %d contig(s) not in the reference skipped: %s", path, len(skipped),
                    sorted(skipped)[:5])
    merged: list[tuple[str, int, int]] = []
    for c, s, e in sorted(raw):
        if merged and merged[-1][0] == c and s <= merged[-1][2] + 1:
            merged[-1] = (c, merged[-1][1], max(merged[-1][2], e))
        else:
            merged.append((c, s, e))
    log.info("%s: %d exons -> %d padded intervals (+/- %d bp)", path, len(raw), len(merged), padding)
    return merged


def filter_exome(
    mt: hl.MatrixTable, intervals: Iterable[tuple[str, int, int]], *, reference_genome: str = "GRCh38"
) -> hl.MatrixTable:
    """Rows whose locus lies inside one of ``intervals`` (1-based, inclusive)."""
    ivs = [
        hl.Interval(hl.Locus(c, s, reference_genome), hl.Locus(c, e, reference_genome), includes_end=True)
        for c, s, e in intervals
    ]
    if not ivs:
        return mt.filter_rows(False)
    return hl.filter_intervals(mt, ivs)


def has_clinvar_expr(clinvar: hl.expr.StructExpression) -> hl.expr.BooleanExpression:
    """True when the ``clinvar`` annotation carries a classification (``clnsig`` defined and non-empty)."""
    sig = clinvar.clnsig
    has = hl.is_defined(sig)
    if sig.dtype == hl.tstr:
        has = has & (hl.len(sig) > 0) & (sig != ".")
    elif isinstance(sig.dtype, hl.tarray | hl.tset):
        has = has & (hl.len(sig) > 0)
    return has


def filter_clinvar(mt: hl.MatrixTable) -> hl.MatrixTable:
    """Rows with a ClinVar classification; no rows when the MT has no ``clinvar`` annotation."""
    if "clinvar" not in mt.row:
        return mt.filter_rows(False)
    return mt.filter_rows(has_clinvar_expr(mt.clinvar))


def callset_filters(
    *,
    acaf_min_ac: int | None,
    acaf_min_af: float | None,
    exome_intervals: list[tuple[str, int, int]] | None,
    reference_genome: str,
    names: Iterable[str] = CALLSETS,
) -> dict[str, Callable[[hl.MatrixTable], hl.MatrixTable]]:
    """The row filter of each requested smaller callset (exome only when a gene model is configured)."""
    out: dict[str, Callable[[hl.MatrixTable], hl.MatrixTable]] = {}
    for name in names:
        if name == "acaf":
            out[name] = lambda mt: filter_acaf(mt, min_ac=acaf_min_ac, min_af=acaf_min_af)
        elif name == "exome":
            if exome_intervals is not None:
                out[name] = functools.partial(filter_exome, intervals=list(exome_intervals),
                                              reference_genome=reference_genome)
        elif name == "clinvar":
            out[name] = filter_clinvar
        else:
            raise ConfigError(f"release_options.smaller_callsets: unknown callset {name!r}; known: {CALLSETS}")
    return out
