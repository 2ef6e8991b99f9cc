"""Genotype and site filters (hard filters), and the allele-specific annotations they are built from.

Names and defaults follow GATK / gnomAD / All of Us GVS practice:

- genotype (``FT``): ``LowGQ`` (GQ < 20), ``LowDP`` (DP < 10), ``LowAB`` (het with ALT fraction < 0.2) —
  gnomAD's "adj" criteria; a genotype passing all three is ``PASS``;
- site: ``ExcessHet`` (phred one-sided HWE excess-het p > 54.69, GATK's cut-off), ``NO_HQ_GENOTYPES``
  (no non-reference genotype passes the genotype filter), ``EXCESS_ALLELES`` (the multi-allelic site had
  more than 6 ALT alleles, GVS's default), ``LowQual`` (allele-specific QUALapprox below 60 for SNVs,
  69 for indels, GVS's drop thresholds).
"""

from __future__ import annotations

import hail as hl

GENOTYPE_FILTERS = ("LowGQ", "LowDP", "LowAB")
SITE_FILTERS = ("ExcessHet", "NO_HQ_GENOTYPES", "EXCESS_ALLELES", "LowQual")
#: GATK FisherStrand scales 2x2 tables down to about this many reads before the exact test.
FS_TARGET_TABLE_SIZE = 200


def genotype_filter_reasons_expr(
    gt: hl.expr.CallExpression,
    gq: hl.expr.Int32Expression,
    dp: hl.expr.Int32Expression,
    ad: hl.expr.ArrayExpression,
    *,
    min_gq: int | None = 20,
    min_dp: int | None = 10,
    min_het_ab: float | None = 0.2,
) -> hl.expr.ArrayExpression:
    """array<str> of failed genotype criteria (a missing GQ/DP/AD fails its criterion; None disables one).

    Allele balance applies to heterozygous calls only: ALT reads / (REF + ALT reads) of a split biallelic
    genotype, i.e. ``AD[1] / (AD[0] + AD[1])``.
    """
    checks: list[tuple[str, hl.expr.BooleanExpression]] = []
    if min_gq is not None:
        checks.append(("LowGQ", hl.coalesce(gq < min_gq, True)))
    if min_dp is not None:
        checks.append(("LowDP", hl.coalesce(dp < min_dp, True)))
    if min_het_ab is not None:
        tot = ad[0] + ad[1]
        low = hl.coalesce((tot == 0) | (ad[1] / tot < min_het_ab), True)
        checks.append(("LowAB", gt.is_het() & low))
    return hl.array([hl.or_missing(c, name) for name, c in checks]).filter(hl.is_defined)


def genotype_filter_expr(
    gt: hl.expr.CallExpression,
    gq: hl.expr.Int32Expression,
    dp: hl.expr.Int32Expression,
    ad: hl.expr.ArrayExpression,
    *,
    min_gq: int | None = 20,
    min_dp: int | None = 10,
    min_het_ab: float | None = 0.2,
) -> hl.expr.StringExpression:
    """``PASS`` or the ``;``-joined failed criteria (``LowGQ;LowDP;LowAB``); missing for a no-call."""
    r = genotype_filter_reasons_expr(gt, gq, dp, ad, min_gq=min_gq, min_dp=min_dp, min_het_ab=min_het_ab)
    return hl.or_missing(hl.is_defined(gt), hl.if_else(hl.len(r) == 0, "PASS", hl.delimit(r, ";")))


def fs_expr(ref_fw, ref_rv, alt_fw, alt_rv) -> hl.expr.Float64Expression:
    """Phred-scaled Fisher exact test of strand bias (GATK FisherStrand, table scaled to ~200 reads)."""
    tot = hl.float64(ref_fw + ref_rv + alt_fw + alt_rv)
    f = hl.if_else(tot > 2 * FS_TARGET_TABLE_SIZE, tot / FS_TARGET_TABLE_SIZE, 1.0)
    c = [hl.int32(hl.floor(hl.float64(x) / f)) for x in (ref_fw, ref_rv, alt_fw, alt_rv)]
    p = hl.fisher_exact_test(c[0], c[1], c[2], c[3]).p_value
    p = hl.if_else(hl.is_nan(p), 1.0, p)  # a row or column of zeros (e.g. no REF reads): no evidence of bias
    return hl.or_missing(tot > 0, hl.max(0.0, -10 * hl.log10(hl.max(p, 1e-320))))


def sor_expr(ref_fw, ref_rv, alt_fw, alt_rv) -> hl.expr.Float64Expression:
    """GATK StrandOddsRatio with a pseudocount of 1 per cell."""
    rf, rr, af, ar = (hl.float64(x) + 1 for x in (ref_fw, ref_rv, alt_fw, alt_rv))
    ratio = (rf * ar) / (af * rr)
    sym = ratio + 1 / ratio
    ref_ratio = hl.min(rf, rr) / hl.max(rf, rr)
    alt_ratio = hl.min(af, ar) / hl.max(af, ar)
    return hl.log(sym) + hl.log(ref_ratio) - hl.log(alt_ratio)


def excess_het_expr(gt: hl.expr.CallExpression) -> hl.expr.Float64Expression:
    """Aggregator: phred-scaled one-sided (excess heterozygosity) HWE exact-test p-value, as GATK ExcessHet."""
    p = hl.agg.hardy_weinberg_test(gt, one_sided=True).p_value
    return hl.max(0.0, -10 * hl.log10(hl.max(p, 1e-320)))


def site_filters_expr(
    ht: hl.Table,
    *,
    max_excess_het: float | None = 54.69,
    max_alt_alleles: int | None = 6,
    min_qual_snp: float | None = 60,
    min_qual_indel: float | None = 69,
) -> hl.expr.SetExpression:
    """set<str> of failed hard filters for a site table with fields from :func:`pipeline.compute_site_metrics`.

    Needs ``excess_het``, ``n_hq_carriers``, ``n_alt_alleles``, ``variant_type`` and ``info.AS_QUALapprox``.
    A threshold of None disables that filter.
    """
    parts: list[hl.expr.Expression] = []
    if max_excess_het is not None:
        parts.append(hl.or_missing(hl.coalesce(ht.excess_het > max_excess_het, False), "ExcessHet"))
    parts.append(hl.or_missing(ht.n_hq_carriers == 0, "NO_HQ_GENOTYPES"))
    if max_alt_alleles is not None:
        parts.append(hl.or_missing(ht.n_alt_alleles > max_alt_alleles, "EXCESS_ALLELES"))
    if min_qual_snp is not None or min_qual_indel is not None:
        snp = ht.variant_type == "SNV"
        lim = hl.if_else(
            snp,
            hl.float64(min_qual_snp if min_qual_snp is not None else 0),
            hl.float64(min_qual_indel if min_qual_indel is not None else 0),
        )
        parts.append(hl.or_missing(hl.coalesce(ht.info.AS_QUALapprox < lim, False), "LowQual"))
    return hl.set(hl.array(parts).filter(hl.is_defined))


def variant_type_expr(ref: hl.expr.StringExpression, alt: hl.expr.StringExpression) -> hl.expr.StringExpression:
    """``SNV``, ``insertion``, ``deletion``, ``MNV`` (same length) or ``spanning_deletion`` (ALT ``*``)."""
    return (
        hl.case()
        .when(alt == "*", "spanning_deletion")
        .when((hl.len(ref) == 1) & (hl.len(alt) == 1), "SNV")
        .when(hl.len(ref) == hl.len(alt), "MNV")
        .when(hl.len(ref) < hl.len(alt), "insertion")
        .default("deletion")
    )
