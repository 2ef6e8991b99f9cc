"""Per-sample metrics on the cohort VDS and the dense QC MatrixTable the other checks share."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import hail as hl

log = logging.getLogger(__name__)

#: Hail's metric names carried into sample_qc.tsv (from ``hl.vds.sample_qc`` on autosomes)
HAIL_METRICS = (
    "n_het",
    "n_hom_var",
    "n_non_ref",
    "n_singleton",
    "n_snp",
    "n_insertion",
    "n_deletion",
    "n_transition",
    "n_transversion",
    "r_ti_tv",
    "r_het_hom_var",
    "r_insertion_deletion",
)


def region_class_expr(locus: hl.expr.LocusExpression) -> hl.expr.StringExpression:
    """``autosome``, ``chrX`` (non-PAR), ``chrY`` (non-PAR) or missing (PAR, mitochondria, other contigs)."""
    return (
        hl.case()
        .when(locus.in_autosome(), "autosome")
        .when(locus.in_x_nonpar(), "chrX")
        .when(locus.in_y_nonpar(), "chrY")
        .or_missing()
    )


def gt_vds(vds: hl.vds.VariantDataset) -> hl.vds.VariantDataset:
    """Variant data with global ``GT`` (from ``LGT``/``LA``) and ``AD`` (from ``LAD``), local fields dropped."""
    vd = vds.variant_data
    fields: dict[str, hl.expr.Expression] = {}
    if "GT" not in vd.entry:
        fields["GT"] = hl.vds.lgt_to_gt(vd.LGT, vd.LA)
    if "AD" not in vd.entry and "LAD" in vd.entry:
        fields["AD"] = hl.vds.local_to_global(vd.LAD, vd.LA, hl.len(vd.alleles), fill_value=0, number="R")
    keep = [f for f in ("DP", "GQ") if f in vd.entry]
    vd = vd.select_entries(**fields, **{f: vd[f] for f in keep})
    return hl.vds.VariantDataset(vds.reference_data, vd)


def compute_sample_metrics(
    vds: hl.vds.VariantDataset,
    *,
    gq_bins: Sequence[int] = (0, 20, 60),
    dp_bins: Sequence[int] = (0, 1, 10, 20, 30),
) -> hl.Table:
    """Hail's ``vds.sample_qc`` on the autosomes (haploid sex-chromosome calls would skew het/hom ratios).

    Fields: ``s``, the :data:`HAIL_METRICS`, ``bases_over_gq_<t>`` and ``bases_over_dp_<t>`` for each bin.
    """
    auto = hl.vds.filter_chromosomes(vds, keep_autosomes=True)
    ht = hl.vds.sample_qc(auto, gq_bins=tuple(gq_bins), dp_bins=tuple(dp_bins))
    if "sample_qc" in ht.row:  # older Hail nests the metrics
        ht = ht.select(**ht.sample_qc)
    out = {m: ht[m] for m in HAIL_METRICS if m in ht.row}
    if "bases_over_gq_threshold" in ht.row:
        out.update({f"bases_over_gq_{t}": ht.bases_over_gq_threshold[i] for i, t in enumerate(gq_bins)})
    if "bases_over_dp_threshold" in ht.row:
        out.update({f"bases_over_dp_{t}": ht.bases_over_dp_threshold[i] for i, t in enumerate(dp_bins)})
    return ht.select(**out)


def compute_depth_by_region(vds: hl.vds.VariantDataset, *, min_dp_fraction: int = 20) -> hl.Table:
    """Length-weighted mean depth per sample on autosomes, chrX non-PAR and chrY non-PAR (reference blocks +
    variant calls), from the gVCF's own DP.

    Fields: ``s``, ``dp_autosome``, ``dp_chrX``, ``dp_chrY`` (float64 over all bases with a block or call, DP-0
    blocks included: the ploidy inputs; 0 where the sample has no block in a region the cohort covers, missing
    where the cohort has none), ``bases_autosome``, ``bases_chrX``, ``bases_chrY`` (int64),
    ``dp_autosome_covered`` and ``frac_autosome_dp<min_dp_fraction>`` (mean depth and fraction of bases at
    ``min_dp_fraction`` or more over autosomal bases with DP > 0: the gVCF coverage estimate).
    """
    rd = vds.reference_data
    rd = rd.annotate_rows(_cls=region_class_expr(rd.locus))
    rd = rd.filter_rows(hl.is_defined(rd._cls))
    length = hl.int64(rd.LEN) if "LEN" in rd.entry else hl.int64(rd.END - rd.locus.position + 1)
    dp = hl.float64(hl.or_else(rd.DP, 0))
    rd_agg = rd.annotate_cols(
        _g=hl.agg.group_by(
            rd._cls,
            hl.struct(
                dp=hl.agg.sum(dp * hl.float64(length)),
                n=hl.agg.sum(length),
                n_nz=hl.agg.filter(dp > 0, hl.agg.sum(length)),
                hi=hl.agg.filter(dp >= min_dp_fraction, hl.agg.sum(length)),
            ),
        )
    ).cols()
    vd = vds.variant_data
    vd = vd.annotate_rows(_cls=region_class_expr(vd.locus))
    vd = vd.filter_rows(hl.is_defined(vd._cls))
    vdp = hl.float64(hl.or_else(vd.DP, 0))
    vd_agg = vd.annotate_cols(
        _g=hl.agg.group_by(
            vd._cls,
            hl.struct(
                dp=hl.agg.sum(vdp),
                n=hl.agg.count(),
                n_nz=hl.agg.count_where(vdp > 0),
                hi=hl.agg.count_where(vdp >= min_dp_fraction),
            ),
        )
    ).cols()
    ht = rd_agg.select(_r=rd_agg._g, _v=vd_agg[rd_agg.key]._g)
    present = rd.aggregate_rows(hl.agg.collect_as_set(rd._cls))
    out: dict[str, hl.expr.Expression] = {}
    for cls in ("autosome", "chrX", "chrY"):
        r = ht._r.get(cls)
        v = ht._v.get(cls)
        dp_sum = hl.or_else(r.dp, 0.0) + hl.or_else(v.dp, 0.0)
        n = hl.or_else(r.n, 0) + hl.or_else(v.n, 0)
        if cls in present:
            out[f"dp_{cls}"] = hl.if_else(n > 0, dp_sum / n, 0.0)
        else:
            out[f"dp_{cls}"] = hl.missing(hl.tfloat64)
        out[f"bases_{cls}"] = n
        if cls == "autosome":
            # coverage estimate over bases with data (DP 0 blocks are assembly gaps or no-calls)
            hi = hl.or_else(r.hi, 0) + hl.or_else(v.hi, 0)
            nz = hl.or_else(r.n_nz, 0) + hl.or_else(v.n_nz, 0)
            out["dp_autosome_covered"] = hl.or_missing(nz > 0, dp_sum / nz)
            out[f"frac_autosome_dp{min_dp_fraction}"] = hl.or_missing(nz > 0, hi / nz)
    return ht.select(**out)


def get_qc_mt(
    vds: hl.vds.VariantDataset,
    *,
    min_af: float = 0.01,
    min_callrate: float = 0.95,
) -> hl.MatrixTable:
    """Dense MatrixTable of high-quality common biallelic autosomal SNPs (gnomAD's ``get_qc_mt`` idea).

    Entries ``GT, AD, DP, GQ`` (reference blocks densified to hom-ref); rows ``AF`` (cohort alt-allele
    frequency), ``site_call_rate``. Rows kept: ``min_af <= AF <= 1 - min_af``, ``site_call_rate >= min_callrate``.
    Globals ``qc_mt_params``. Callers checkpoint or persist it: it feeds several checks.
    """
    auto = hl.vds.filter_chromosomes(vds, keep_autosomes=True)
    vd = auto.variant_data
    vd = vd.filter_rows((hl.len(vd.alleles) == 2) & hl.is_snp(vd.alleles[0], vd.alleles[1]))
    auto = gt_vds(hl.vds.VariantDataset(auto.reference_data, vd))
    mt = hl.vds.to_dense_mt(auto)
    mt = mt.select_entries(
        GT=hl.if_else(mt.GT.ploidy == 1, hl.call(mt.GT[0], mt.GT[0]), mt.GT),
        AD=mt.AD,
        DP=mt.DP,
        GQ=mt.GQ,
    )
    cs = hl.agg.call_stats(mt.GT, mt.alleles)
    mt = mt.select_rows(_cs=cs)
    mt = mt.select_rows(
        AF=hl.or_missing(mt._cs.AN > 0, mt._cs.AF[1]),
        site_call_rate=mt._cs.AN / (2 * hl.agg.count()),
    )
    mt = mt.filter_rows(
        hl.is_defined(mt.AF) & (mt.AF >= min_af) & (mt.AF <= 1 - min_af) & (mt.site_call_rate >= min_callrate)
    )
    return mt.annotate_globals(qc_mt_params=hl.struct(min_af=min_af, min_callrate=min_callrate))


def compute_call_rate(qc_mt: hl.MatrixTable) -> hl.Table:
    """Per-sample ``call_rate`` over the QC sites (fraction of rows with a called genotype)."""
    return qc_mt.annotate_cols(call_rate=hl.agg.fraction(hl.is_defined(qc_mt.GT))).cols().select("call_rate")


#: chance that two unlinked markers' sample r² exceeds the threshold :func:`detectable_r2` sets
LD_NULL_ALPHA = 1e-3


def detectable_r2(r2: float, n_samples: int, *, alpha: float = LD_NULL_ALPHA) -> float:
    """The LD-pruning threshold ``n_samples`` genotypes can apply: ``r2``, or, when larger, the r² that two
    *unlinked* markers exceed by chance with probability ``alpha`` (n·r² is ~χ²₁ under independence).

    Pruning at a fixed r² on a small cohort removes markers for sampling noise, not LD: at 60 samples, 1.4 %
    of unlinked pairs have r² > 0.1, and each marker meets thousands of others in a 1 Mb window, so nearly
    every one finds a "partner" (measured on the simulator's default genome: 704 markers kept at r² 0.1
    among 59 samples, against 1,854 for another seed's genome among 200, and 711-773 among 60-sample subsets of
    those 200). With the threshold raised to what
    the samples can tell from zero (0.18 at 60 samples, 0.1 from 108 samples up) the number of independent
    markers measures the genome, not the cohort size (1,562-1,716 for those subsets). ``alpha`` 1e-3 (χ²₁ 10.83).

    At most 1 (``hl.ld_prune``'s range): below 11 samples no r² can be told from chance at ``alpha``, and
    pruning at 1 removes only perfectly correlated markers (was a ValueError in sample QC of a 9-sample cohort).
    """
    from scipy.stats import chi2

    if n_samples <= 0:
        return r2
    return min(1.0, max(r2, float(chi2.isf(alpha, 1)) / n_samples))


def ld_prune_qc_mt(
    qc_mt: hl.MatrixTable, *, r2: float | None = 0.1, bp_window_size: int = 1_000_000, block_size: int | None = None
) -> hl.MatrixTable:
    """The QC sites reduced to *independent* markers: ``hl.ld_prune`` (r² < ``r2`` within ``bp_window_size``),
    as gnomAD's ``get_qc_mt`` does before relatedness and PCA. ``r2`` None: no pruning (every QC site).

    ``qc_mt`` should be checkpointed (LD pruning reads it several times). Globals ``ld_prune_params``.
    """
    if r2 is not None:
        pruned = hl.ld_prune(qc_mt.GT, r2=r2, bp_window_size=bp_window_size, block_size=block_size)
        qc_mt = qc_mt.filter_rows(hl.is_defined(pruned[qc_mt.row_key]))
    return qc_mt.annotate_globals(
        ld_prune_params=hl.struct(r2=hl.or_missing(r2 is not None, r2 or 0.0), bp_window_size=bp_window_size)
    )
