"""Contamination from the gVCF itself, in the spirit of gnomAD's CHARR (Lu et al. 2023).

In a contaminated sample, reads of another person show up as reference reads at sites where the sample is
homozygous-alt; their expected fraction is ``c x (1 - AF)`` (the contaminant carries the reference allele
with probability ``1 - AF``). Summed over common sites::

    contamination = sum(AD_ref) / sum(DP_ad x (1 - AF))     over hom-alt calls passing DP/GQ limits

(a ratio of sums: steadier than the mean of per-site ratios when ``1 - AF`` is small).
"""

from __future__ import annotations

import logging

import hail as hl

from callset.sample_qc import NotAssessable

log = logging.getLogger(__name__)


def compute_contamination(
    qc_mt: hl.MatrixTable,
    *,
    min_af: float = 0.05,
    max_af: float = 0.95,
    min_dp: int = 10,
    max_dp: int = 100,
    min_gq: int = 20,
    min_sites: int = 20,
) -> hl.Table:
    """Per-sample contamination estimate from hom-alt calls at common SNPs of the QC MatrixTable.

    Fields: ``s``, ``contamination`` (float64; missing when the sample has fewer than ``min_sites``
    usable hom-alt calls), ``contamination_n_sites`` (int64). Raises :class:`NotAssessable` when no
    sample has enough sites. Globals ``contamination_params``.
    """
    mt = qc_mt.filter_rows((qc_mt.AF >= min_af) & (qc_mt.AF <= max_af))
    ad_dp = hl.or_missing(hl.is_defined(mt.AD), mt.AD[0] + mt.AD[1])
    ok = (
        mt.GT.is_hom_var()
        & hl.is_defined(mt.AD)
        & (ad_dp >= min_dp)
        & (ad_dp <= max_dp)
        & (hl.or_else(mt.GQ, 0) >= min_gq)
    )
    mt = mt.annotate_cols(
        _c=hl.agg.filter(
            ok,
            hl.struct(
                ref=hl.agg.sum(mt.AD[0]),
                expected=hl.agg.sum(hl.float64(ad_dp) * (1 - mt.AF)),
                n=hl.agg.count(),
            ),
        )
    )
    ht = mt.cols()
    ht = ht.select(
        contamination=hl.or_missing(
            (ht._c.n >= min_sites) & (ht._c.expected > 0), hl.float64(ht._c.ref) / ht._c.expected
        ),
        contamination_n_sites=ht._c.n,
    )
    if ht.aggregate(hl.agg.all(hl.is_missing(ht.contamination))):
        raise NotAssessable(f"no sample has {min_sites} hom-alt calls at common SNPs with AD (min_dp {min_dp})")
    return ht.annotate_globals(
        contamination_params=hl.struct(min_af=min_af, max_af=max_af, min_dp=min_dp, max_dp=max_dp, min_gq=min_gq)
    )
