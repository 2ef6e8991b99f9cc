"""Learned site filter in the spirit of GATK VETS: a positive-only model of what good alleles look like.

Per variant type (SNV vs indel) a model (scikit-learn: a Gaussian mixture by default, or an isolation forest)
is fitted on the allele-specific annotations of *training* alleles — alleles found in a known-good sites
resource (HapMap/1000G-like; the simulator's ancestry panel) when one is configured, otherwise every allele
that passes the hard filters (unsupervised).

Score: ``learned_filter_score`` is the *calibration sensitivity* of an allele — the fraction of calibration
alleles whose model score is at least as good as this allele's. A typical good allele sits in the middle (≈
0.5), an outlier near 1. Alleles with a score above the configured sensitivity (SNV / indel) get the filter
``high_CALIBRATION_SENSITIVITY_SNP`` / ``_INDEL`` (GVS names); ``sensitivity`` = 0.997 keeps 99.7 % of good
alleles — in every allele-count bin, because:

- **calibration is per allele-count bin** (``calibration_ac_bins``, default AC 1, 2–5, 6–20, > 20): an
  allele is compared with calibration alleles of its own AC bin. Annotations summed over one carrier are
  noisier than over fifty (a singleton's strand odds ratio comes from ~15 ALT reads), so one cut-off learned
  on common training sites filtered ~4 % of true singletons; a bin with fewer than
  ``min_calibration_alleles`` training alleles is merged into its neighbour (towards common variants);
- **training alleles are cross-fitted**: they are split in two (seeded), a model is fitted on each half and
  each half is calibrated with the other half's model, so every training allele calibrates (twice as many
  as a fit/calibrate split) and never with a model that saw it; other alleles get the mean of both;
- **features do not depend on genotype composition**: ``QD`` is divided by the QD expected for the share of
  the carriers' reads that come from homozygous / hemizygous carriers (a line fitted on the training alleles:
  hom-alt and haploid calls have about twice the QD of hets, and a chrY singleton is one haploid ALT call).
  The share is weighted by depth (``1 - AS_HET_DP / AS_VarDP``), not by carrier count: QD pools QUAL over the
  carriers' reads, and on chrX a hemizygous male has half a female's reads, so a count-weighted share
  over-predicted the QD of common chrX alleles (~0.89 of expected for half male, half het carriers) and the
  filter removed 1–3 % of true common chrX SNVs (training panels without chrX never calibrate them). The strand
  statistics ``FS``/``SOR`` are left out (imputed) where REF reads are under 5 % of the carriers' reads
  (hom-alt or hemizygous carriers only: REF reads there are sequencing errors, not a second strand
  baseline).

Model features: QD ratio, AS_MQ, log1p(AS_FS), AS_SOR, standardised with the training median/MAD (at least
:data:`MIN_SCALE`; missing values imputed with the training median; a feature missing everywhere is
dropped). The features of all alleles are brought to the driver (a few doubles per allele: ~0.3 GB per 10 M
alleles); scores go back as a literal indexed by row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import hail as hl
import numpy as np

log = logging.getLogger(__name__)

#: inputs collected per allele (in this order)
INPUTS = ("AS_QD", "AS_MQ", "AS_FS", "AS_SOR", "hom_depth_fraction", "ref_fraction", "AC")
#: model features (after :func:`model_features`)
FEATURES = ("QD_ratio", "AS_MQ", "AS_FS", "AS_SOR")
FILTER_NAMES = {"snv": "high_CALIBRATION_SENSITIVITY_SNP", "indel": "high_CALIBRATION_SENSITIVITY_INDEL"}
#: Smallest scale per feature (after the transforms) used to standardise it, so a feature that is constant
#: among training alleles (e.g. every read MQ60 in simulated data) still counts when it deviates.
MIN_SCALE = {"QD_ratio": 0.05, "AS_MQ": 1.0, "AS_FS": 0.5, "AS_SOR": 0.2}
#: below this fraction of REF reads among the carriers' reads, FS/SOR are not used (imputed)
MIN_REF_FRACTION = 0.05
#: default upper edges of the allele-count calibration bins: 1, 2-5, 6-20, > 20
DEFAULT_AC_BINS = (1, 5, 20)


@dataclass
class ModelReport:
    """What was fitted, for globals and the stage summary."""

    mode: str
    per_type: dict[str, dict[str, Any]] = field(default_factory=dict)


def ac_bin_labels(edges: Sequence[int]) -> list[str]:
    """Names of the bins ``edges`` makes: ``(1, 5, 20)`` -> ``["1", "2-5", "6-20", ">20"]``."""
    out, lo = [], 1
    for e in edges:
        out.append(str(e) if e == lo else f"{lo}-{e}")
        lo = e + 1
    out.append(f">{edges[-1]}" if edges else ">0")
    return out


def ac_bin_index(ac: np.ndarray, edges: Sequence[int]) -> np.ndarray:
    """Bin index of each allele count (0 for AC <= edges[0], ..., len(edges) above the last edge)."""
    return np.searchsorted(np.asarray(edges), np.asarray(ac, float), side="left")


def merge_small_bins(counts: Sequence[int], min_count: int) -> list[int]:
    """Map each bin to a calibration group so every group holds at least ``min_count`` (when possible).

    A bin short of ``min_count`` joins the next bin (towards common variants); the last bin, if short,
    joins the previous group. Returns the group index of every bin (groups numbered from 0).
    """
    groups: list[int] = []
    g, acc = 0, 0
    for n in counts:
        groups.append(g)
        acc += n
        if acc >= min_count:
            g, acc = g + 1, 0
    if acc and acc < min_count and g > 0:  # trailing short group: fold into the previous one
        groups = [x if x < g else g - 1 for x in groups]
    return groups


def model_features(x: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """:data:`FEATURES` from the raw :data:`INPUTS` (rows = alleles), fitted on the ``train`` rows.

    QD ratio = AS_QD / (a + b x hom_depth_fraction) with ``a, b`` a least-squares line on training alleles;
    FS -> log1p(FS); FS and SOR set to missing where ``ref_fraction`` < :data:`MIN_REF_FRACTION`.
    """
    qd, mq, fs, sor, haf, ref_frac = (x[:, INPUTS.index(n)] for n in INPUTS[:6])
    ok = train & np.isfinite(qd) & np.isfinite(haf)
    a, b = float(np.nanmedian(qd[ok])) if ok.any() else 1.0, 0.0
    if ok.sum() >= 10 and np.ptp(haf[ok]) > 0:
        a, b = (float(v) for v in np.linalg.lstsq(np.column_stack([np.ones(ok.sum()), haf[ok]]), qd[ok], rcond=None)[0])
    expected = a + b * np.where(np.isfinite(haf), haf, 0.0)
    qd_ratio = np.where(expected > 0, qd / np.where(expected > 0, expected, 1.0), np.nan)
    no_ref = np.isfinite(ref_frac) & (ref_frac < MIN_REF_FRACTION)  # unknown REF fraction: FS/SOR kept
    fs_t = np.where(no_ref, np.nan, np.log1p(np.clip(fs, 0, None)))
    sor_t = np.where(no_ref, np.nan, sor)
    return np.column_stack([qd_ratio, mq, fs_t, sor_t]), {"qd_line": [a, b]}


def _goodness(z: np.ndarray, fit_idx: np.ndarray, *, model: str, seed: int, max_components: int) -> tuple[
    np.ndarray, dict[str, Any]
]:
    from sklearn.ensemble import IsolationForest
    from sklearn.mixture import GaussianMixture

    if model == "gmm":
        best, best_bic = None, np.inf
        for k in range(1, max_components + 1):
            if fit_idx.size < 20 * k:
                break
            gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-2, random_state=seed).fit(z[fit_idx])
            bic = gm.bic(z[fit_idx])
            if bic < best_bic:
                best, best_bic = gm, bic
        assert best is not None
        return best.score_samples(z), {"n_components": int(best.n_components)}
    if model == "isolation_forest":
        return IsolationForest(n_estimators=200, random_state=seed).fit(z[fit_idx]).score_samples(z), {}
    raise ValueError(f"unknown learned-filter model {model!r} (gmm, isolation_forest)")


def _sensitivity(goodness: np.ndarray, cal_idx: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Fraction of calibration alleles of the same group whose goodness is >= each allele's."""
    sens = np.full(len(goodness), np.nan)
    for g in np.unique(group):
        members = group == g
        cal = np.sort(goodness[cal_idx[group[cal_idx] == g]])
        if cal.size:
            sens[members] = 1.0 - np.searchsorted(cal, goodness[members], side="left") / cal.size
    return sens


def fit_and_score(
    x: np.ndarray,
    train: np.ndarray,
    *,
    model: str = "gmm",
    seed: int = 0,
    max_components: int = 4,
    ac_bins: Sequence[int] | None = DEFAULT_AC_BINS,
    min_calibration_alleles: int = 200,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Calibration sensitivity of every row of ``x`` (n x :data:`INPUTS`) from models of ``x[train]``.

    ``model``: ``gmm`` — a Gaussian mixture (components chosen by BIC, 1…``max_components``; like VQSR's
    positive model); ``isolation_forest`` — scikit-learn's IsolationForest (VETS's default; blind to
    features that are constant among training alleles). ``ac_bins``: upper edges of the allele-count
    calibration bins (None or empty: one calibration for all).
    """
    feats, info0 = model_features(x, train)
    keep_cols = ~np.all(np.isnan(feats[train]), axis=0)
    names = [f for f, k in zip(FEATURES, keep_cols, strict=True) if k]
    feats = feats[:, keep_cols]
    med = np.nanmedian(feats[train], axis=0)
    feats = np.where(np.isnan(feats), med[None, :], feats)
    mad = np.median(np.abs(feats[train] - med[None, :]), axis=0) * 1.4826
    scale = np.maximum(mad, np.array([MIN_SCALE[f] for f in names]))
    z = (feats - med[None, :]) / scale[None, :]

    edges = list(ac_bins or [])
    ac = x[:, INPUTS.index("AC")]
    bins = ac_bin_index(np.where(np.isfinite(ac), ac, 1), edges)
    n_bins = len(edges) + 1
    train_counts = [int((train & (bins == b)).sum()) for b in range(n_bins)]
    bin_group = merge_small_bins(train_counts, min_calibration_alleles)
    group = np.array(bin_group)[bins]

    idx = np.flatnonzero(train)
    rng = np.random.default_rng(seed)
    rng.shuffle(idx)
    halves = (idx[: len(idx) // 2], idx[len(idx) // 2 :])
    sens_by_model = []
    model_info: dict[str, Any] = {}
    for k, (fit_idx, cal_idx) in enumerate((halves, halves[::-1])):
        goodness, mi = _goodness(z, fit_idx, model=model, seed=seed, max_components=max_components)
        sens_by_model.append(_sensitivity(goodness, cal_idx, group))
        model_info[f"model_{k}"] = mi
    sens = np.nanmean(np.vstack(sens_by_model), axis=0)
    for k, (fit_idx, _) in enumerate((halves, halves[::-1])):
        sens[fit_idx] = sens_by_model[1 - k][fit_idx]  # a training allele: only the model that did not see it

    labels = ac_bin_labels(edges)
    groups_desc: dict[str, list[str]] = {}
    for b, g in enumerate(bin_group):
        groups_desc.setdefault(str(g), []).append(labels[b])
    info: dict[str, Any] = {
        "model": model,
        "n_training": int(train.sum()),
        "n_calibration": int(train.sum()),
        "cross_fitted": True,
        "features": names,
        **info0,
        **model_info,
        "calibration_bins": {
            "+".join(v): int(sum(train_counts[b] for b in range(n_bins) if bin_group[b] == int(g)))
            for g, v in groups_desc.items()
        },
    }
    return sens, info


def _input(ht: hl.Table, name: str) -> hl.expr.NumericExpression:
    if name == "hom_depth_fraction":  # context: QD of hom-alt and hemizygous carriers is about twice that of hets
        if "AS_HET_DP" in ht.info and "AS_VarDP" in ht.info:  # share of the carriers' reads (QD's denominator)
            dp, het_dp = ht.info.AS_VarDP, hl.coalesce(ht.info.AS_HET_DP, 0)
            return hl.or_missing(dp > 0, hl.max(0.0, hl.min(1.0, (dp - het_dp) / dp)))
        n = ht.n_het + ht.n_hom_alt  # a table without per-genotype depths: share of the carriers
        return hl.or_missing(n > 0, ht.n_hom_alt / n)
    if name == "ref_fraction":  # REF reads among the carriers' reads (AS_VarDP = REF + ALT reads)
        if "AS_ALT_DP" not in ht.info or "AS_VarDP" not in ht.info:
            return hl.missing(hl.tfloat64)
        dp = ht.info.AS_VarDP
        return hl.or_missing(dp > 0, (dp - ht.info.AS_ALT_DP) / dp)
    if name == "AC":
        return ht.AC
    return ht.info[name]


def annotate_learned_filter(
    ht: hl.Table,
    *,
    training_ht: hl.Table | None = None,
    snv_sensitivity: float = 0.997,
    indel_sensitivity: float = 0.99,
    min_training_alleles: int = 50,
    model: str = "gmm",
    seed: int = 0,
    calibration_ac_bins: Sequence[int] | None = DEFAULT_AC_BINS,
    min_calibration_alleles: int = 200,
) -> tuple[hl.Table, ModelReport]:
    """Add ``learned_filter_score: float64`` and the learned filter name to ``filters``.

    ``ht`` needs ``AC``, ``info.{AS_QD, AS_MQ, AS_FS, AS_SOR, AS_VarDP}`` (``info.AS_ALT_DP`` for the REF
    fraction; without it FS/SOR are always used; ``info.AS_HET_DP`` for the depth share of hom-alt and
    hemizygous carriers, else their share of the carriers ``n_hom_alt / (n_het + n_hom_alt)``), ``n_het``,
    ``n_hom_alt``, ``variant_type`` and ``filters``
    (hard filters). ``training_ht`` (keyed by locus, alleles) lists known-good alleles; None → unsupervised
    on alleles passing the hard filters. A type with fewer than ``min_training_alleles`` training alleles is
    not scored (score missing, no filter), and the report says so. Spanning deletions are never scored.
    """
    ht = ht.add_index("_idx")
    is_train = hl.len(ht.filters) == 0
    if training_ht is not None:
        is_train = is_train & hl.is_defined(training_ht[ht.key])
    rows = ht.aggregate(hl.agg.collect(hl.struct(
        i=ht._idx, t=hl.if_else(ht.variant_type == "SNV", "snv", "indel"),
        star=ht.variant_type == "spanning_deletion", train=is_train,
        x=[hl.float64(_input(ht, f)) for f in INPUTS],
    )))
    n = len(rows)
    score = np.full(n, np.nan)
    report = ModelReport(mode="training_sites" if training_ht is not None else "unsupervised")
    typ = np.array([r.t for r in rows])
    star = np.array([r.star for r in rows], dtype=bool)
    train = np.array([r.train for r in rows], dtype=bool)
    x = np.array([[np.nan if v is None else v for v in r.x] for r in rows], dtype=float).reshape(n, len(INPUTS))
    order = np.array([r.i for r in rows], dtype=np.int64)
    for t in ("snv", "indel"):
        sel = (typ == t) & ~star
        n_train = int((train & sel).sum())
        if n_train < min_training_alleles:
            log.warning("learned filter: %d %s training alleles (< %d): %s alleles not scored",
                        n_train, t, min_training_alleles, t)
            report.per_type[t] = {"scored": False, "n_training_available": n_train, "n_alleles": int(sel.sum())}
            continue
        sens, info = fit_and_score(
            x[sel], train[sel], model=model, seed=seed, ac_bins=calibration_ac_bins,
            min_calibration_alleles=min_calibration_alleles,
        )
        score[order[sel]] = sens
        thr = snv_sensitivity if t == "snv" else indel_sensitivity
        n_fail = int((sens > thr).sum())
        report.per_type[t] = {"scored": True, "threshold": thr, "n_alleles": int(sel.sum()),
                              "n_filtered": n_fail, **info}
        log.info("learned filter (%s): %d alleles, %d training (cross-fitted), calibration bins %s, "
                 "%d filtered at sensitivity %.4g", t, int(sel.sum()), info["n_training"],
                 info["calibration_bins"], n_fail, thr)
    scores = hl.literal([None if np.isnan(s) else float(s) for s in score], dtype=hl.tarray(hl.tfloat64))
    s = scores[hl.int32(ht._idx)]
    thr_expr = hl.if_else(ht.variant_type == "SNV", snv_sensitivity, indel_sensitivity)
    name = hl.if_else(ht.variant_type == "SNV", FILTER_NAMES["snv"], FILTER_NAMES["indel"])
    ht = ht.annotate(
        learned_filter_score=s,
        filters=hl.if_else(hl.coalesce(s > thr_expr, False), ht.filters.add(name), ht.filters),
    )
    return ht.drop("_idx"), report
