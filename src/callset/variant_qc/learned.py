"""Learned site filter in the spirit of GATK VETS: a positive-only model of what good alleles look like.

Per variant type (SNV vs indel) a model (scikit-learn: a Gaussian mixture by default, or an isolation forest)
is fitted on the allele-specific annotations of *training* alleles — alleles found in a known-good sites
resource (HapMap/1000G-like; the simulator's ancestry panel) when one is configured, otherwise every allele
that passes the hard filters (unsupervised). Half of the training alleles (a seeded split) fit the model, the
other half calibrate it.

Score: ``learned_filter_score`` is the *calibration sensitivity* of an allele — the fraction of calibration
alleles whose model score is at least as good as this allele's. A typical good allele sits in the middle (≈
0.5), an outlier near 1. Alleles with a score above the configured sensitivity (SNV / indel) get the filter
``high_CALIBRATION_SENSITIVITY_SNP`` / ``_INDEL`` (GVS names); keeping ``sensitivity`` = 0.997 keeps 99.7 % of
calibration SNVs.

Features: AS_QD, AS_MQ, log1p(AS_FS), AS_SOR and, as context, the fraction of carriers that are homozygous
(hom-alt carriers have about twice the QD of hets), standardised with the training median/MAD (missing values
imputed with the training median; a feature missing everywhere is dropped). The features of all alleles are
brought to the driver (4 doubles per allele: ~0.3 GB per 10 M alleles); scores go back as a literal indexed by
row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import hail as hl
import numpy as np

log = logging.getLogger(__name__)

FEATURES = ("AS_QD", "AS_MQ", "AS_FS", "AS_SOR", "hom_alt_fraction")
FILTER_NAMES = {"snv": "high_CALIBRATION_SENSITIVITY_SNP", "indel": "high_CALIBRATION_SENSITIVITY_INDEL"}


@dataclass
class ModelReport:
    """What was fitted, for globals and the stage summary."""

    mode: str
    per_type: dict[str, dict[str, Any]] = field(default_factory=dict)


#: Smallest scale per feature (after the transforms below) used to standardise it, so a feature that is
#: constant among training alleles (e.g. every read MQ60 in simulated data) still counts when it deviates.
MIN_SCALE = {"AS_QD": 1.0, "AS_MQ": 1.0, "AS_FS": 0.5, "AS_SOR": 0.2, "hom_alt_fraction": 0.1}


def transform_features(x: np.ndarray) -> np.ndarray:
    """AS_FS → log1p(AS_FS) (heavy tail); other features as they are. Columns in :data:`FEATURES` order."""
    x = np.array(x, dtype=float, copy=True)
    fs = FEATURES.index("AS_FS")
    x[:, fs] = np.log1p(np.clip(x[:, fs], 0, None))
    return x


def fit_and_score(
    x: np.ndarray, train: np.ndarray, *, model: str = "gmm", seed: int = 0, max_components: int = 4
) -> tuple[np.ndarray, dict[str, Any]]:
    """Calibration sensitivity of every row of ``x`` (n × FEATURES) from a model trained on ``x[train]``.

    Features are transformed (:func:`transform_features`), imputed with the training median and
    standardised with the training median / MAD (at least :data:`MIN_SCALE`). ``model``: ``gmm`` — a
    Gaussian mixture (components chosen by BIC, 1…``max_components``; like VQSR's positive model);
    ``isolation_forest`` — scikit-learn's IsolationForest (VETS's default; blind to features that are
    constant among training alleles).
    """
    from sklearn.ensemble import IsolationForest
    from sklearn.mixture import GaussianMixture

    x = transform_features(x)
    keep_cols = ~np.all(np.isnan(x[train]), axis=0)
    names = [f for f, k in zip(FEATURES, keep_cols, strict=True) if k]
    x = x[:, keep_cols]
    med = np.nanmedian(x[train], axis=0)
    x = np.where(np.isnan(x), med[None, :], x)
    mad = np.median(np.abs(x[train] - med[None, :]), axis=0) * 1.4826
    scale = np.maximum(mad, np.array([MIN_SCALE[f] for f in names]))
    z = (x - med[None, :]) / scale[None, :]
    idx = np.flatnonzero(train)
    rng = np.random.default_rng(seed)
    rng.shuffle(idx)
    half = len(idx) // 2
    fit_idx, cal_idx = idx[:half], idx[half:]
    info: dict[str, Any] = {"model": model, "n_training": int(fit_idx.size), "n_calibration": int(cal_idx.size),
                            "features": names}
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
        info["n_components"] = int(best.n_components)
        goodness = best.score_samples(z)
    elif model == "isolation_forest":
        goodness = IsolationForest(n_estimators=200, random_state=seed).fit(z[fit_idx]).score_samples(z)
    else:
        raise ValueError(f"unknown learned-filter model {model!r} (gmm, isolation_forest)")
    cal = np.sort(goodness[cal_idx])
    # fraction of calibration alleles whose goodness is >= this allele's
    sens = 1.0 - np.searchsorted(cal, goodness, side="left") / cal.size
    return sens, info


def _feature(ht: hl.Table, name: str) -> hl.expr.NumericExpression:
    if name == "hom_alt_fraction":  # context: QD of hom-alt carriers is about twice that of hets
        n = ht.n_het + ht.n_hom_alt
        return hl.or_missing(n > 0, ht.n_hom_alt / n)
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
) -> tuple[hl.Table, ModelReport]:
    """Add ``learned_filter_score: float64`` and the learned filter name to ``filters``.

    ``ht`` needs ``info.{AS_QD, AS_MQ, AS_FS, AS_SOR}``, ``n_het``, ``n_hom_alt``, ``variant_type`` and
    ``filters`` (hard filters).
    ``training_ht`` (keyed by locus, alleles) lists known-good alleles; None → unsupervised on alleles
    passing the hard filters. A type with fewer than ``min_training_alleles`` training alleles is not
    scored (score missing, no filter), and the report says so. Spanning deletions are never scored.
    """
    ht = ht.add_index("_idx")
    is_train = hl.len(ht.filters) == 0
    if training_ht is not None:
        is_train = is_train & hl.is_defined(training_ht[ht.key])
    rows = ht.aggregate(hl.agg.collect(hl.struct(
        i=ht._idx, t=hl.if_else(ht.variant_type == "SNV", "snv", "indel"),
        star=ht.variant_type == "spanning_deletion", train=is_train,
        x=[hl.float64(_feature(ht, f)) for f in FEATURES],
    )))
    n = len(rows)
    score = np.full(n, np.nan)
    report = ModelReport(mode="training_sites" if training_ht is not None else "unsupervised")
    typ = np.array([r.t for r in rows])
    star = np.array([r.star for r in rows], dtype=bool)
    train = np.array([r.train for r in rows], dtype=bool)
    x = np.array([[np.nan if v is None else v for v in r.x] for r in rows], dtype=float).reshape(n, len(FEATURES))
    order = np.array([r.i for r in rows], dtype=np.int64)
    for t in ("snv", "indel"):
        sel = (typ == t) & ~star
        n_train = int((train & sel).sum())
        if n_train < min_training_alleles:
            log.warning("learned filter: %d %s training alleles (< %d): %s alleles not scored",
                        n_train, t, min_training_alleles, t)
            report.per_type[t] = {"scored": False, "n_training_available": n_train, "n_alleles": int(sel.sum())}
            continue
        sens, info = fit_and_score(x[sel], train[sel], model=model, seed=seed)
        score[order[sel]] = sens
        thr = snv_sensitivity if t == "snv" else indel_sensitivity
        n_fail = int((sens > thr).sum())
        report.per_type[t] = {"scored": True, "threshold": thr, "n_alleles": int(sel.sum()),
                              "n_filtered": n_fail, **info}
        log.info("learned filter (%s): %d alleles, %d training, %d calibration, %d filtered at sensitivity %.4g",
                 t, int(sel.sum()), info["n_training"], info["n_calibration"], n_fail, thr)
    scores = hl.literal([None if np.isnan(s) else float(s) for s in score], dtype=hl.tarray(hl.tfloat64))
    s = scores[hl.int32(ht._idx)]
    thr_expr = hl.if_else(ht.variant_type == "SNV", snv_sensitivity, indel_sensitivity)
    name = hl.if_else(ht.variant_type == "SNV", FILTER_NAMES["snv"], FILTER_NAMES["indel"])
    ht = ht.annotate(
        learned_filter_score=s,
        filters=hl.if_else(hl.coalesce(s > thr_expr, False), ht.filters.add(name), ht.filters),
    )
    return ht.drop("_idx"), report
