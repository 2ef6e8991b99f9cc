"""Metric outliers (regressed on PCs, MADs within ancestry groups) and hard filters.

Per-sample tables are small (one row per sample), so this works on pandas frames collected from Hail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import SupportsFloat, cast

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: metrics checked for outliers by default (Hail names; AoU/gnomAD use the same set)
OUTLIER_METRICS = (
    "n_snp",
    "n_singleton",
    "r_ti_tv",
    "r_het_hom_var",
    "r_insertion_deletion",
    "n_insertion",
    "n_deletion",
)
MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation


def residuals(values: pd.Series, pcs: pd.DataFrame | None) -> pd.Series:
    """``values`` minus their least-squares fit on ``pcs`` (+ intercept); the values themselves without PCs.

    Missing values stay missing and are left out of the fit.
    """
    v = pd.to_numeric(values, errors="coerce").astype(float)
    if pcs is None or pcs.shape[1] == 0:
        return v
    ok = v.notna() & np.isfinite(v) & pcs.notna().all(axis=1)
    if ok.sum() <= pcs.shape[1] + 1:
        return v
    x = np.column_stack([np.ones(int(ok.sum())), pcs[ok].to_numpy(float)])
    beta, *_ = np.linalg.lstsq(x, v[ok].to_numpy(float), rcond=None)
    out = pd.Series(np.nan, index=v.index)
    out[ok] = v[ok].to_numpy(float) - x @ beta
    return out


def mad_outliers(
    values: pd.Series, groups: pd.Series | None, *, n_mads: float = 8.0, min_group_size: int = 10
) -> tuple[pd.Series, pd.DataFrame]:
    """True where a value lies more than ``n_mads`` scaled MADs from its group's median.

    Members of groups smaller than ``min_group_size`` (and of no group) are judged against the whole
    cohort (group ``all``). A group whose MAD is 0 flags nothing (a constant metric carries no outlier
    information).

    :return: ``(flags, bounds)`` with bounds per group: ``group, median, mad, lower, upper, n``.
    """
    g = pd.Series("all", index=values.index) if groups is None else groups.fillna("all").astype(str)
    sizes = g.value_counts()
    g = g.where(g.map(sizes) >= min_group_size, "all")
    flags = pd.Series(False, index=values.index)
    bounds = []

    def stats(v: pd.Series) -> tuple[float, float]:
        med = float(v.median())
        return med, MAD_SCALE * float((v - med).abs().median())

    finite = values.astype(float)[np.isfinite(values.astype(float))]
    for name, idx in g.groupby(g).groups.items():
        v = values.loc[idx].astype(float)
        v = v[np.isfinite(v)]
        if v.empty:
            continue
        # a real group is judged against itself; "all" (small or unknown groups) against the whole cohort
        med, mad = stats(v if name != "all" else finite)
        lo, hi = med - n_mads * mad, med + n_mads * mad
        bounds.append({"group": name, "median": med, "mad": mad, "lower": lo, "upper": hi, "n": len(v)})
        if mad > 0:
            flags.loc[v.index] = (v < lo) | (v > hi)
    return flags, pd.DataFrame(bounds)


def outlier_flags(
    df: pd.DataFrame,
    *,
    metrics: Sequence[str] = OUTLIER_METRICS,
    pc_columns: Sequence[str] = (),
    group_column: str | None = "ancestry",
    n_mads: float = 8.0,
    min_group_size: int = 10,
) -> tuple[pd.Series, dict[str, pd.DataFrame]]:
    """Per sample, the list of ``outlier_<metric>`` flags; and the bounds used per metric.

    Each metric present in ``df`` is regressed on ``pc_columns`` (when given) and its residuals are tested
    by :func:`mad_outliers` within ``group_column`` groups.
    """
    pcs = df[list(pc_columns)] if pc_columns else None
    groups = df[group_column] if group_column and group_column in df else None
    out: list[list[str]] = [[] for _ in range(len(df))]
    bounds: dict[str, pd.DataFrame] = {}
    for m in metrics:
        if m not in df:
            continue
        res = residuals(df[m], pcs)
        if res.notna().sum() == 0:
            continue
        flags, b = mad_outliers(res, groups, n_mads=n_mads, min_group_size=min_group_size)
        bounds[m] = b
        for i in np.flatnonzero(flags.to_numpy()):
            out[i].append(f"outlier_{m}")
    return pd.Series(out, index=df.index), bounds


def hard_filter_reasons(row: Mapping[str, object], thresholds: Mapping[str, float | None]) -> list[str]:
    """Reasons a sample fails the hard filters (empty when it passes); a missing value fails nothing.

    Keys of ``thresholds`` (``None`` = not applied): ``min_mean_coverage`` (``mean_coverage``),
    ``min_genome_coverage_20x`` (``coverage_20x``), ``max_contamination`` (estimated ``contamination``),
    ``min_call_rate`` (``call_rate``), ``sex`` (bool-like: discordant/ambiguous sex fails).
    """
    reasons = []

    def val(k: str) -> float | None:
        x = row.get(k)
        if x is None or (isinstance(x, float) and np.isnan(x)):
            return None
        return float(cast(SupportsFloat, x))  # numbers (or numeric text) from the sample table

    checks = (
        ("min_mean_coverage", "mean_coverage", "low_coverage", lambda x, t: x < t),
        ("min_genome_coverage_20x", "coverage_20x", "low_coverage_20x", lambda x, t: x < t),
        ("max_contamination", "contamination", "contamination", lambda x, t: x > t),
        ("min_call_rate", "call_rate", "low_call_rate", lambda x, t: x < t),
    )
    for key, col, reason, fails in checks:
        t, x = thresholds.get(key), val(col)
        if t is not None and x is not None and fails(x, t):
            reasons.append(reason)
    if thresholds.get("sex", True):
        kar = row.get("inferred_karyotype")
        if kar == "ambiguous":
            reasons.append("sex_ambiguous")
        elif row.get("sex_concordant") is False:
            reasons.append("sex_discordant")
    return reasons
