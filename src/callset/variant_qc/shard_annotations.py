"""Pure functions the release applies to each dense, split shard MatrixTable (entries GT/AD/DP/GQ).

- :func:`annotate_genotype_filter` — entry ``FT`` (genotypes are kept and marked, never removed);
- :func:`annotate_frequencies` — row ``freq`` (overall and per genetic-ancestry group), ``max_af_group``,
  ``max_af``;
- :func:`annotate_sites` — joins ``<results>/variant_qc/sites.ht`` (filters, learned-filter score,
  consequences, ClinVar, population frequencies) into the rows.

Frequencies count every called genotype (like the shard's ``AC/AN/AF``); ``FT`` lets users restrict to
high-quality genotypes themselves.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence

import hail as hl

from callset.variant_qc import VariantQCError
from callset.variant_qc.filters import genotype_filter_expr

log = logging.getLogger(__name__)

FREQ_TYPE = hl.tstruct(AC=hl.tint32, AN=hl.tint32, AF=hl.tfloat64, homozygote_count=hl.tint32,
                       sample_count=hl.tint32)


def annotate_genotype_filter(
    mt: hl.MatrixTable, *, min_gq: int | None = 20, min_dp: int | None = 10, min_het_ab: float | None = 0.2
) -> hl.MatrixTable:
    """Add entry ``FT: str`` — ``PASS`` or the ``;``-joined failures among ``LowGQ``, ``LowDP``, ``LowAB``.

    No-calls get a missing FT. Thresholds are stored in the global ``genotype_filter_params``; a threshold of
    None is not applied.
    """
    mt = mt.annotate_entries(
        FT=genotype_filter_expr(mt.GT, mt.GQ, mt.DP, mt.AD, min_gq=min_gq, min_dp=min_dp, min_het_ab=min_het_ab)
    )
    return mt.annotate_globals(genotype_filter_params=hl.struct(
        min_gq=hl.or_missing(min_gq is not None, hl.int32(min_gq or 0)),
        min_dp=hl.or_missing(min_dp is not None, hl.int32(min_dp or 0)),
        min_het_ab=hl.or_missing(min_het_ab is not None, hl.float64(min_het_ab or 0)),
    ))


def _freq_struct(gt: hl.expr.CallExpression) -> hl.expr.StructExpression:
    """Aggregator: AC/AN/AF/homozygote_count/sample_count of allele 1 of a biallelic row.

    ``homozygote_count`` counts hom-alt calls, haploid ALT calls (hemizygous chrX/chrY) included;
    ``sample_count`` counts carriers (any non-reference call).
    """
    cs = hl.agg.call_stats(gt, 2)
    return hl.struct(
        AC=cs.AC[1], AN=cs.AN, AF=hl.or_missing(cs.AN > 0, cs.AC[1] / cs.AN),
        homozygote_count=hl.int32(hl.agg.count_where(gt.is_hom_var())),
        sample_count=hl.int32(hl.agg.count_where(gt.is_non_ref())),
    )


def annotate_frequencies(
    mt: hl.MatrixTable,
    ancestry: hl.expr.StringExpression | hl.Table | Mapping[str, str] | None = None,
    *,
    groups: Sequence[str] | None = None,
) -> hl.MatrixTable:
    """Add row ``freq: dict<str, struct{AC, AN, AF, homozygote_count, sample_count}>`` and the max-AF group.

    Keys: ``all`` plus every group name found in ``ancestry`` (a column expression of ``mt``; samples with a
    missing group count only in ``all``; None → only ``all``). ``max_af_group``/``max_af``: the group (not
    ``all``) with the highest AF (missing without groups or when no group has a defined AF). The group
    names are stored in the global ``freq_groups``. ``mt`` must be split (biallelic rows).

    ``ancestry`` may also be a Table keyed by the column key (e.g. :func:`read_ancestry`; its first value
    field is the group) or a dict column key → group.

    ``groups``: the groups present among the columns, when the caller knows them (see
    :func:`ancestry_groups`); otherwise one query over the columns finds them.
    """
    if isinstance(ancestry, hl.Table):
        field = next(iter(ancestry.row_value))
        ancestry = ancestry[mt.col_key][field]
    elif isinstance(ancestry, Mapping):
        ancestry = hl.literal(dict(ancestry), hl.tdict(hl.tstr, hl.tstr)).get(mt.s)
    if ancestry is None:
        groups = []
    else:
        mt = mt.annotate_cols(_grp=ancestry)
        groups = sorted(groups) if groups is not None else ancestry_groups(mt, mt._grp)
        if "all" in groups:
            raise VariantQCError("ancestry group named 'all' clashes with the overall frequency key")
    items = [("all", _freq_struct(mt.GT))]
    for g in groups:
        items.append((g, hl.agg.filter(mt._grp == g, _freq_struct(mt.GT))))
    mt = mt.annotate_rows(_freq=hl.struct(**{f"_{i}": v for i, (_, v) in enumerate(items)}))
    freq = hl.dict([(hl.str(k), mt._freq[f"_{i}"]) for i, (k, _) in enumerate(items)])
    mt = mt.annotate_rows(freq=freq)
    if groups:
        afs = hl.array([hl.struct(g=g, af=mt.freq[g].AF) for g in groups]).filter(lambda x: hl.is_defined(x.af))
        best = hl.sorted(afs, key=lambda x: -x.af)
        mt = mt.annotate_rows(max_af_group=hl.or_missing(hl.len(best) > 0, best[0].g),
                              max_af=hl.or_missing(hl.len(best) > 0, best[0].af))
    else:
        mt = mt.annotate_rows(max_af_group=hl.missing(hl.tstr), max_af=hl.missing(hl.tfloat64))
    mt = mt.drop("_freq")
    if "_grp" in mt.col:
        mt = mt.drop("_grp")
    return mt.annotate_globals(freq_groups=hl.literal(["all", *groups], hl.tarray(hl.tstr)))


def ancestry_groups(mt: hl.MatrixTable, group: hl.expr.StringExpression) -> list[str]:
    """The distinct non-missing values of the column expression ``group`` (one query over the columns)."""
    return sorted(g for g in mt.aggregate_cols(hl.agg.collect_as_set(group)) if g is not None)


def annotate_sites(mt: hl.MatrixTable, sites_ht: hl.Table) -> hl.MatrixTable:
    """Join the variant-QC sites table into the rows (every field of ``sites_ht`` except its key).

    Rows absent from ``sites_ht`` get missing values (the release logs how many).
    """
    fields = [f for f in sites_ht.row_value]
    clash = [f for f in fields if f in mt.row_value]
    if clash:
        log.warning("annotate_sites: row fields %s are replaced by the variant-QC sites table's", clash)
        mt = mt.drop(*clash)
    return mt.annotate_rows(**sites_ht[mt.row_key])


def read_ancestry(sample_qc_tsv: str | os.PathLike[str], *, column: str = "ancestry") -> hl.Table:
    """``research_id`` → ``ancestry`` from sample QC's ``sample_qc.tsv`` as a Hail Table keyed by ``s``.

    Empty cells, ``NA`` and ``unknown`` become missing (those samples count only in ``all``).
    """
    with open(sample_qc_tsv, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        cols = reader.fieldnames or []
        if "research_id" not in cols or column not in cols:
            raise VariantQCError(f"{sample_qc_tsv}: needs columns research_id and {column}, has {cols}")
        rows = [
            {"s": r["research_id"], "ancestry": None if r[column] in ("", "NA", "unknown", "None") else r[column]}
            for r in reader
        ]
    t = hl.Table.parallelize(rows, hl.tstruct(s=hl.tstr, ancestry=hl.tstr), key="s")
    return t
