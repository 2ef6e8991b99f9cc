"""Sex karyotype from the callset: chrX/chrY ploidy from gVCF depth, chrX inbreeding coefficient.

Ploidy = 2 x (mean depth on the region) / (mean depth on autosomes), computed from the reference blocks
and calls of the gVCF itself (gnomAD's ``infer_sex_karyotype`` uses the same normalised coverage). The
chrX F-statistic (``hl.agg.inbreeding``, as ``hl.impute_sex``) is computed on common biallelic chrX
non-PAR SNPs after turning haploid calls (``GT 1``) into homozygous diploid ones, so callsets with
haploid (DRAGEN, ``--sample-ploidy 1``) and diploid (HaplotypeCaller default) hemizygous calls both work.
"""

from __future__ import annotations

import logging
from typing import Any

import hail as hl

from callset.sample_qc import NotAssessable
from callset.sample_qc.metrics import gt_vds

log = logging.getLogger(__name__)

#: karyotype -> the reported sex it agrees with
KARYOTYPE_SEX = {"XX": "female", "X0": "female", "XY": "male", "XXY": "male"}


def compute_chrx_fstat(vds: hl.vds.VariantDataset, *, min_af: float = 0.05, min_sites: int = 50) -> hl.Table:
    """Per-sample chrX non-PAR inbreeding coefficient.

    Fields: ``s``, ``chrx_f`` (float64), ``chrx_n_sites`` (int64: sites used), globals ``chrx_f_sites``.
    Raises :class:`NotAssessable` when the callset has fewer than ``min_sites`` usable chrX sites.
    """
    xv = hl.vds.filter_chromosomes(vds, keep="chrX" if _is_grch38() else "X")
    vd = xv.variant_data
    vd = vd.filter_rows(vd.locus.in_x_nonpar() & (hl.len(vd.alleles) == 2) & hl.is_snp(vd.alleles[0], vd.alleles[1]))
    mt = hl.vds.to_dense_mt(gt_vds(hl.vds.VariantDataset(xv.reference_data, vd)))
    mt = mt.select_entries(GT=hl.if_else(mt.GT.ploidy == 1, hl.call(mt.GT[0], mt.GT[0]), mt.GT))
    mt = mt.annotate_rows(_AF=hl.agg.call_stats(mt.GT, 2).AF[1])
    mt = mt.filter_rows((mt._AF >= min_af) & (mt._AF <= 1 - min_af))
    n = mt.count_rows()
    if n < min_sites:
        raise NotAssessable(f"{n} common biallelic chrX non-PAR SNPs (< {min_sites})")
    ib = hl.agg.inbreeding(mt.GT, mt._AF)
    ht = mt.annotate_cols(_ib=ib).cols()
    return ht.select(chrx_f=ht._ib.f_stat, chrx_n_sites=ht._ib.n_called).annotate_globals(chrx_f_sites=n)


def _is_grch38() -> bool:
    return hl.default_reference().name == "GRCh38"


def karyotype_expr(
    x_ploidy: hl.expr.Float64Expression,
    y_ploidy: hl.expr.Float64Expression,
    chrx_f: hl.expr.Float64Expression,
    *,
    x_single: tuple[float, float] = (0.5, 1.4),
    x_double: tuple[float, float] = (1.6, 2.5),
    y_absent_max: float = 0.2,
    y_present: tuple[float, float] = (0.5, 1.5),
    f_single_min: float = 0.2,
) -> hl.expr.StringExpression:
    """``XX``, ``XY``, ``X0``, ``XXY`` or ``ambiguous`` from normalised ploidies and chrX F.

    The copy numbers come from the ploidies (each must fall in one of its ranges, inclusive). The
    F-statistic, when defined, vetoes one contradiction: a single X (by depth) carrying many heterozygous
    calls (F below ``f_single_min``: contamination or mosaicism) is ``ambiguous``. Two X copies with high F
    are not vetoed: isodisomy (e.g. XXY from a meiosis-II error) and consanguinity give that legitimately.
    """
    n_x = (
        hl.case()
        .when((x_ploidy >= x_single[0]) & (x_ploidy <= x_single[1]), 1)
        .when((x_ploidy >= x_double[0]) & (x_ploidy <= x_double[1]), 2)
        .or_missing()
    )
    n_y = (
        hl.case()
        .when(y_ploidy <= y_absent_max, 0)
        .when((y_ploidy >= y_present[0]) & (y_ploidy <= y_present[1]), 1)
        .or_missing()
    )
    f_bad = hl.is_defined(chrx_f) & (n_x == 1) & (chrx_f < f_single_min)
    kar = (
        hl.case()
        .when((n_x == 2) & (n_y == 0), "XX")
        .when((n_x == 1) & (n_y == 1), "XY")
        .when((n_x == 1) & (n_y == 0), "X0")
        .when((n_x == 2) & (n_y == 1), "XXY")
        .or_missing()
    )
    return hl.if_else(hl.is_defined(kar) & ~hl.or_else(f_bad, False), kar, "ambiguous")


def sex_concordant_expr(
    karyotype: hl.expr.StringExpression, reported_sex: hl.expr.StringExpression
) -> hl.expr.BooleanExpression:
    """True/False when both the karyotype (not ambiguous) and a female/male reported sex are known, else
    missing."""
    expected = hl.literal(KARYOTYPE_SEX).get(karyotype)
    rep = hl.str(reported_sex).lower()
    return hl.or_missing(hl.is_defined(expected) & hl.literal({"female", "male"}).contains(rep), expected == rep)


def compute_karyotype(
    depth_ht: hl.Table,
    fstat_ht: hl.Table | None,
    **cutoffs: Any,
) -> hl.Table:
    """Karyotype per sample from :func:`~callset.sample_qc.metrics.compute_depth_by_region` (+ F-stats).

    Fields: ``s``, ``chrx_ploidy``, ``chry_ploidy``, ``chrx_f``, ``inferred_karyotype``.
    Raises :class:`NotAssessable` when the callset has no chrX or no chrY non-PAR data.
    """
    missing = [c for c in ("chrX", "chrY") if depth_ht.aggregate(hl.agg.all(hl.is_missing(depth_ht[f"dp_{c}"])))]
    if missing:
        raise NotAssessable(f"no {' or '.join(missing)} non-PAR data in the callset")
    auto = depth_ht.dp_autosome
    ht = depth_ht.select(
        chrx_ploidy=hl.or_missing(auto > 0, 2 * depth_ht.dp_chrX / auto),
        chry_ploidy=hl.or_missing(auto > 0, 2 * depth_ht.dp_chrY / auto),
        chrx_f=fstat_ht[depth_ht.key].chrx_f if fstat_ht is not None else hl.missing(hl.tfloat64),
    )
    kar = karyotype_expr(ht.chrx_ploidy, ht.chry_ploidy, ht.chrx_f, **cutoffs)
    return ht.annotate(inferred_karyotype=hl.or_else(kar, "ambiguous"))
