"""``report.html``: one self-contained page (inline SVG figures, no scripts, no external files).

Sections (ids are stable, tests look for them): ``summary``, ``checks``, ``pca``, ``metrics``, ``sex``,
``kinship``, ``samples``. A check that could not be assessed shows its reason instead of a figure.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from callset.sample_qc import CheckStatus
    from callset.sample_qc.pipeline import SampleQCResult

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"]
W, H, PAD = 520, 340, 48

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.na{color:#a33;font-style:italic}figure{display:inline-block;margin:.5em 1em .5em 0}
figcaption{font-size:.85em;color:#555;max-width:520px}.grid{display:flex;flex-wrap:wrap}
"""


def _esc(x: object) -> str:
    return html.escape("" if x is None else str(x))


def _fmt(x: object) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _scale(lo: float, hi: float, a: float, b: float):  # noqa: ANN202
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        lo, hi = (lo - 1, lo + 1) if math.isfinite(lo) else (0.0, 1.0)
    return lambda v: a + (v - lo) / (hi - lo) * (b - a)


def _axes(xlab: str, ylab: str, xr: tuple[float, float], yr: tuple[float, float]) -> list[str]:
    out = [
        f'<rect x="{PAD}" y="10" width="{W - PAD - 10}" height="{H - PAD - 10}" fill="none" stroke="#999"/>',
        f'<text x="{(W + PAD) / 2}" y="{H - 8}" text-anchor="middle" font-size="12">{_esc(xlab)}</text>',
        f'<text x="12" y="{(H - PAD) / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 12 {(H - PAD) / 2})">{_esc(ylab)}</text>',
        f'<text x="{PAD}" y="{H - PAD + 14}" font-size="10">{xr[0]:.3g}</text>',
        f'<text x="{W - 10}" y="{H - PAD + 14}" font-size="10" text-anchor="end">{xr[1]:.3g}</text>',
        f'<text x="{PAD - 4}" y="{H - PAD}" font-size="10" text-anchor="end">{yr[0]:.3g}</text>',
        f'<text x="{PAD - 4}" y="20" font-size="10" text-anchor="end">{yr[1]:.3g}</text>',
    ]
    return out


def svg_scatter(
    xs: ArrayLike,
    ys: ArrayLike,
    groups: Sequence[str],
    *,
    xlab: str,
    ylab: str,
    titles: Sequence[str] | None = None,
    hollow: Sequence[bool] | None = None,
    vlines: Sequence[float] = (),
    hlines: Sequence[float] = (),
) -> str:
    """Scatter plot as an inline ``<svg>``: one colour per group, a legend, optional reference lines."""
    x = np.asarray(xs, float)
    y = np.asarray(ys, float)
    ok = np.isfinite(x) & np.isfinite(y)
    xr = (float(x[ok].min()), float(x[ok].max())) if ok.any() else (0.0, 1.0)
    yr = (float(y[ok].min()), float(y[ok].max())) if ok.any() else (0.0, 1.0)
    fx, fy = _scale(*xr, PAD + 6, W - 16), _scale(*yr, H - PAD - 6, 16)
    names = sorted({str(g) for g in groups})
    color = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(names)}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W + 110}" height="{H}" role="img">']
    parts += _axes(xlab, ylab, xr, yr)
    for v in vlines:
        if xr[0] <= v <= xr[1]:
            parts.append(
                f'<line x1="{fx(v):.1f}" x2="{fx(v):.1f}" y1="10" y2="{H - PAD}" stroke="#888" stroke-dasharray="4"/>'
            )
    for v in hlines:
        if yr[0] <= v <= yr[1]:
            parts.append(
                f'<line x1="{PAD}" x2="{W - 10}" y1="{fy(v):.1f}" y2="{fy(v):.1f}" stroke="#888" stroke-dasharray="4"/>'
            )
    for i in np.flatnonzero(ok).tolist():
        g = str(groups[i])
        fill = "none" if hollow is not None and hollow[i] else color[g]
        t = f"<title>{_esc(titles[i])}</title>" if titles is not None else ""
        parts.append(
            f'<circle cx="{fx(x[i]):.1f}" cy="{fy(y[i]):.1f}" r="3.2" fill="{fill}" stroke="{color[g]}" '
            f'fill-opacity="0.75">{t}</circle>'
        )
    for k, g in enumerate(names):
        parts.append(f'<circle cx="{W + 8}" cy="{20 + 16 * k}" r="4" fill="{color[g]}"/>')
        parts.append(f'<text x="{W + 16}" y="{24 + 16 * k}" font-size="11">{_esc(g)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_hist(
    counts: ArrayLike,
    edges: ArrayLike,
    *,
    xlab: str,
    ylab: str = "samples",
    vlines: Sequence[tuple[float, str]] = (),
    log_y: bool = False,
) -> str:
    """Histogram (precomputed ``counts`` over ``edges``) as an inline ``<svg>`` with labelled lines."""
    c = np.asarray(counts, float)
    e = np.asarray(edges, float)
    hv = np.log10(c + 1) if log_y else c
    top = float(hv.max()) if len(hv) and hv.max() > 0 else 1.0
    xr = (float(e[0]), float(e[-1])) if len(e) > 1 else (0.0, 1.0)
    fx, fy = _scale(*xr, PAD, W - 10), _scale(0, top, H - PAD, 14)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">']
    parts += _axes(xlab, ylab + (" (log10 n+1)" if log_y else ""), xr, (0, top))
    for i, v in enumerate(hv):
        x0, x1 = fx(e[i]), fx(e[i + 1])
        parts.append(
            f'<rect x="{x0:.1f}" y="{fy(v):.1f}" width="{max(x1 - x0 - 0.5, 0.5):.1f}" height="{fy(0) - fy(v):.1f}" '
            f'fill="#4a7db5"><title>{e[i]:.4g}–{e[i + 1]:.4g}: {int(c[i])}</title></rect>'
        )
    for k, (v, label) in enumerate(vlines):
        if xr[0] <= v <= xr[1]:
            parts.append(
                f'<line x1="{fx(v):.1f}" x2="{fx(v):.1f}" y1="10" y2="{H - PAD}" stroke="#c00" stroke-dasharray="4"/>'
            )
            parts.append(f'<text x="{fx(v) + 3:.1f}" y="{22 + 12 * k}" font-size="10" fill="#c00">{_esc(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _values_hist(values: pd.Series, lines: Sequence[tuple[float, str]], xlab: str, bins: int = 30) -> str:
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return f'<p class="na">{_esc(xlab)}: no values</p>'
    lo = min([float(v.min())] + [x for x, _ in lines])
    hi = max([float(v.max())] + [x for x, _ in lines])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return svg_hist(counts, edges, xlab=xlab, vlines=lines)


def _figure(fig_id: str, svg: str, caption: str) -> str:
    return f'<figure id="{fig_id}">{svg}<figcaption>{_esc(caption)}</figcaption></figure>'


def _table(df: pd.DataFrame, cols: Sequence[str]) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in cols)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_esc(_fmt(r[c]))}</td>" for c in cols) + "</tr>" for r in df.to_dict("records")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render_report(result: SampleQCResult, table: pd.DataFrame, *, title: str = "Sample QC") -> str:
    """The whole page for a research-ID keyed result and its ``sample_qc.tsv`` table."""
    checks = {c.check: c for c in result.checks}
    body = [
        f"<h1>{_esc(title)}</h1>",
        f"<p>Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</p>",
        _summary_section(result, table),
        _checks_section(result),
        _pca_section(result, table, checks.get("ancestry")),
        _metrics_section(result, table),
        _sex_section(table, checks.get("sex")),
        _kinship_section(result, checks.get("relatedness"), checks.get("relatedness_second_degree")),
        _samples_section(table),
    ]
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _summary_section(result: SampleQCResult, table: pd.DataFrame) -> str:
    n_hard = int((table.hard_filter_reasons != "").sum())
    n_flag = int((table["flags"] != "").sum())
    summary = pd.DataFrame(
        [
            {"item": "samples in the cohort", "value": len(table)},
            {"item": "hard-filtered (excluded from the release)", "value": n_hard},
            {"item": "flagged (kept, listed)", "value": n_flag},
            {"item": "related pairs (kinship ≥ threshold)", "value": len(result.related_pairs)},
            {"item": "QC sites (common biallelic autosomal SNPs)", "value": result.n_qc_sites},
            {"item": "independent markers (QC sites after LD pruning)", "value": result.n_independent_markers},
        ]
    )
    return '<section id="summary"><h2>Summary</h2>' + _table(summary, ["item", "value"]) + "</section>"


def _checks_section(result: SampleQCResult) -> str:
    cols = ["check", "status", "markers used", "reason"]
    rows = [
        {
            "check": c.check,
            "status": "assessed" if c.assessable else "not assessable",
            "markers used": c.markers,
            "reason": c.reason,
        }
        for c in result.checks
    ]
    return (
        '<section id="checks"><h2>Checks</h2>'
        + _table(pd.DataFrame(rows, columns=cols), cols)
        + "<p>A check that is not assessable excludes and flags nobody. Independent markers are the QC sites "
        "left after LD pruning: how many separate stretches of genome a genetic estimate rests on.</p></section>"
    )


def _pca_section(result: SampleQCResult, table: pd.DataFrame, a: CheckStatus | None) -> str:
    parts = ['<section id="pca"><h2>Genetic ancestry (PCA)</h2>']
    if a is not None and a.assessable and result.ancestry_pcs is not None:
        pcs = result.ancestry_pcs.merge(table[["research_id", "ancestry", "ancestry_prob"]], on="research_id")
        points: list[tuple[float, float, str, str, bool]] = []  # x, y, group, title, hollow
        if result.panel_pcs is not None:
            points += [
                (r["PC1"], r["PC2"], f"panel {r['ancestry']}", f"panel {r['s']} {r['ancestry']}", True)
                for r in result.panel_pcs.to_dict("records")
            ]
        points += [
            (r["PC1"], r["PC2"], str(r["ancestry"]), f"{r['research_id']} {r['ancestry']} p={r['ancestry_prob']:.2f}",
             False)
            for r in pcs.to_dict("records")
        ]
        parts.append(
            _figure(
                "fig-pca",
                svg_scatter(
                    [p[0] for p in points], [p[1] for p in points], [p[2] for p in points], xlab="PC1", ylab="PC2",
                    titles=[p[3] for p in points], hollow=[p[4] for p in points],
                ),
                "Cohort projected onto the labelled panel's PCs (filled), panel samples (hollow); "
                "colour = assigned ancestry (oth: best probability below the threshold).",
            )
        )
        counts = table.ancestry.value_counts().rename_axis("ancestry").reset_index(name="samples")
        parts.append(_table(counts, ["ancestry", "samples"]))
    else:
        parts.append(
            f'<p class="na">Ancestry not assessable: {_esc(a.reason if a else "not run")}. '
            "No ancestry is reported; outliers are judged against the whole cohort.</p>"
        )
    parts.append("</section>")
    return "".join(parts)


#: metric histograms: column, hard-filter thresholds drawn on it (``hard_filters`` key, label), axis label
METRIC_FIGURES: list[tuple[str, list[tuple[str, str]], str]] = [
    ("mean_coverage", [("min_mean_coverage", "min")], "mean coverage (x)"),
    ("coverage_20x", [("min_genome_coverage_20x", "min")], "fraction of bases ≥ 20x"),
    ("contamination", [("max_contamination", "max")], "contamination (estimated)"),
    ("call_rate", [("min_call_rate", "min")], "call rate at QC sites"),
    ("n_snp", [], "n_snp"),
    ("n_singleton", [], "n_singleton"),
    ("r_ti_tv", [], "r_ti_tv"),
    ("r_het_hom_var", [], "r_het_hom_var"),
    ("r_insertion_deletion", [], "r_insertion_deletion"),
]


def _metrics_section(result: SampleQCResult, table: pd.DataFrame) -> str:
    thr: dict[str, Any] = result.params.get("hard_filters", {})
    parts = ['<section id="metrics"><h2>Metric distributions</h2><div class="grid">']
    for col, lines, label in METRIC_FIGURES:
        if col not in table:
            continue
        ln = [(float(v), f"{name} {v}") for key, name in lines if (v := thr.get(key)) is not None]
        b = result.outlier_bounds.get(col)
        cap = f"{label}; dashed red lines: hard-filter thresholds."
        if b is not None and len(b):
            cap += " Outlier bounds (residuals after PC regression): " + "; ".join(
                f"{r['group']}: median {r['median']:.3g} ± {r['upper'] - r['median']:.3g}" for r in b.to_dict("records")
            )
        parts.append(_figure(f"fig-metric-{col}", _values_hist(table[col], ln, label), cap))
    parts.append("</div></section>")
    return "".join(parts)


def _sex_section(table: pd.DataFrame, s: CheckStatus | None) -> str:
    if s is None or not s.assessable:
        return (
            '<section id="sex"><h2>Sex check</h2>'
            f'<p class="na">Sex check not assessable: {_esc(s.reason if s else "not run")}.</p></section>'
        )
    titles = [
        f"{r['research_id']} {r['inferred_karyotype']} reported {r['reported_sex']}" for r in table.to_dict("records")
    ]
    figure = _figure(
        "fig-sex",
        svg_scatter(
            table.chrx_ploidy,
            table.chry_ploidy,
            table.inferred_karyotype.fillna(""),
            xlab="chrX ploidy (depth)",
            ylab="chrY ploidy (depth)",
            titles=titles,
            vlines=(1.5,),
            hlines=(0.35,),
        ),
        "Normalised chrX vs chrY depth (2 x region depth / autosomal depth); colour = inferred karyotype.",
    )
    ct = pd.crosstab(table.inferred_karyotype, table.reported_sex).reset_index()
    ct.columns = [str(c) for c in ct.columns]
    return '<section id="sex"><h2>Sex check</h2>' + figure + _table(ct, list(ct.columns)) + "</section>"


def _kinship_section(result: SampleQCResult, k: CheckStatus | None, k2: CheckStatus | None) -> str:
    parts = ['<section id="kinship"><h2>Relatedness</h2>']
    if k is not None and k.assessable and result.kinship_hist:
        h = result.kinship_hist
        method = str(result.params.get("kinship", {}).get("method", "king"))
        parts.append(
            _figure(
                "fig-kinship",
                svg_hist(
                    h["bin_freq"],
                    h["bin_edges"],
                    xlab=f"kinship ({'KING-robust' if method == 'king' else 'PC-Relate'})",
                    ylab="pairs",
                    vlines=[(0.088, "2nd"), (0.177, "1st"), (0.354, "dup")],
                    log_y=True,
                ),
                f"All pairwise kinship values ({k.markers}); pairs of the assessable degrees are listed below.",
            )
        )
        if k.reason:
            parts.append(f'<p class="na">{_esc(k.reason)}.</p>')
        if k2 is not None and not k2.assessable:
            parts.append(
                f'<p class="na">Second-degree relatedness not assessable: {_esc(k2.reason)}. '
                "No second-degree pair is reported and nobody is flagged for one.</p>"
            )
        if len(result.related_pairs):
            parts.append(_table(result.related_pairs, ["id1", "id2", "kinship", "degree"]))
        else:
            parts.append("<p>No related pair at the assessable degrees.</p>")
    else:
        parts.append(f'<p class="na">Relatedness not assessable: {_esc(k.reason if k else "not run")}.</p>')
    parts.append("</section>")
    return "".join(parts)


#: columns of the excluded-and-flagged table
FLAGGED_COLUMNS = [
    "research_id", "hard_filter_reasons", "flags", "mean_coverage", "contamination", "inferred_karyotype",
    "reported_sex", "ancestry",
]


def _samples_section(table: pd.DataFrame) -> str:
    bad = table[(table.hard_filter_reasons != "") | (table["flags"] != "")]
    listing = _table(bad, FLAGGED_COLUMNS) if len(bad) else "<p>No sample was excluded or flagged.</p>"
    return '<section id="samples"><h2>Excluded and flagged samples</h2>' + listing + "</section>"
