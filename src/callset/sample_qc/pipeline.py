"""Run every sample-QC check on a cohort VDS and write ``<results>/qc/`` (keyed by research IDs).

Outputs (a contract read by the release):

- ``sample_qc.tsv`` + ``sample_qc.ht``: one row per cohort sample, key ``research_id``; columns in
  :data:`SAMPLE_QC_COLUMNS` (``hard_filter_reasons`` and ``flags`` are ``;``-separated, empty when none);
- ``related_pairs.tsv``: ``id1 id2 kinship degree`` for pairs with kinship >= ``min_kinship``;
- ``ancestry_preds.tsv``: ``research_id ancestry ancestry_prob PC1..PCk``;
- ``flagged_samples.tsv``: ``research_id flags hard_filter_reasons`` for every sample with either;
- ``checks.tsv``: ``check assessable reason markers n_markers`` (for each check: whether the data supported it,
  why not, and the markers it used — e.g. the number of independent LD-pruned SNPs behind relatedness);
- ``report.html``: the self-contained report.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hail as hl
import numpy as np
import pandas as pd

from callset.errors import CallsetError
from callset.sample_qc import CheckStatus, NotAssessable, sex
from callset.sample_qc import ancestry as anc
from callset.sample_qc import contamination as contam
from callset.sample_qc import metrics as met
from callset.sample_qc import outliers as outl
from callset.sample_qc import relatedness as rel
from callset.sample_qc.settings import SampleQCSettings

log = logging.getLogger(__name__)

SAMPLE_QC_COLUMNS = [
    "research_id",
    "batch_id",
    "call_rate",
    *met.HAIL_METRICS,
    "bases_over_gq_20",
    "bases_over_gq_60",
    "bases_over_dp_10",
    "bases_over_dp_20",
    "bases_over_dp_30",
    "mean_coverage",
    "coverage_20x",
    "coverage_source",
    "reported_mean_coverage",
    "reported_coverage_20x",
    "gvcf_mean_depth",
    "gvcf_coverage_20x",
    "contamination",
    "reported_contamination",
    "contamination_n_sites",
    "chrx_ploidy",
    "chry_ploidy",
    "chrx_f",
    "inferred_karyotype",
    "reported_sex",
    "sex_concordant",
    "ancestry",
    "ancestry_prob",
    "hard_filter_reasons",
    "flags",
]

#: columns of ``checks.tsv`` (``markers``: what the check rested on; ``n_markers``: how many)
CHECK_COLUMNS = ["check", "assessable", "reason", "markers", "n_markers"]

@dataclass
class SampleQCResult:
    """Everything sample QC found (sample-level, small): tables keyed by center ``sample_id`` in ``s``."""

    samples: pd.DataFrame
    related_pairs: pd.DataFrame
    ancestry_pcs: pd.DataFrame | None
    panel_pcs: pd.DataFrame | None
    checks: list[CheckStatus]
    kinship_hist: dict[str, Any] | None = None
    outlier_bounds: dict[str, pd.DataFrame] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    n_qc_sites: int = 0
    n_independent_markers: int = 0


def read_center_metrics(accepted_tsvs: Sequence[str]) -> pd.DataFrame:
    """Center-reported values from intake's ``accepted.tsv`` files (later batches win for resubmissions).

    Columns: ``sample_id, batch_id, reported_sex, reported_mean_coverage, reported_coverage_20x,
    reported_contamination, cram``.
    """
    frames = []
    for p in accepted_tsvs:
        df = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
        if "sample_id" not in df.columns:
            raise CallsetError(f"{p}: no sample_id column")
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["sample_id"])
    df = pd.concat(frames, ignore_index=True).drop_duplicates("sample_id", keep="last")

    def col(name: str) -> pd.Series:
        return df[name] if name in df else pd.Series("", index=df.index)

    def num(name: str) -> pd.Series:
        return pd.to_numeric(col(name), errors="coerce")  # "" -> NaN

    return pd.DataFrame(
        {
            "sample_id": df["sample_id"],
            "batch_id": col("batch_id"),
            "reported_sex": col("reported_sex").replace("", "unknown"),
            "reported_mean_coverage": num("mean_coverage"),
            "reported_coverage_20x": num("genome_coverage_20x"),
            "reported_contamination": num("contamination"),
            "cram": col("cram"),
        }
    )


def _frame(ht: hl.Table, key: str = "s") -> pd.DataFrame:
    rows = ht.collect()
    fields = list(ht.row)
    return pd.DataFrame({f: [r[f] for r in rows] for f in fields}).rename(columns={next(iter(ht.key)): key})


def _try(checks: list[CheckStatus], name: str, fn: Any, *, markers: str = "", n_markers: int | None = None) -> Any:
    """Run one check; a :class:`NotAssessable` becomes a not-assessable :class:`CheckStatus` (with the
    markers the exception names, else ``markers``)."""
    try:
        out = fn()
    except NotAssessable as e:
        log.warning("sample QC: %s not assessable: %s", name, e)
        checks.append(CheckStatus(name, False, str(e), e.markers or markers, e.n_markers or n_markers))
        return None
    checks.append(CheckStatus(name, True, "", markers, n_markers))
    return out


def run_sample_qc(
    vds: hl.vds.VariantDataset,
    *,
    center: pd.DataFrame | None = None,
    panel_vcf: str | None = None,
    panel_labels: str | None = None,
    reference_fasta: str | None = None,
    cram_base: Mapping[str, str] | None = None,
    cram_index_dirs: Mapping[str, str] | None = None,
    hard_filters: Mapping[str, Any] | None = None,
    qc_sites: Mapping[str, Any] | None = None,
    sex_cutoffs: Mapping[str, Any] | None = None,
    contamination: Mapping[str, Any] | None = None,
    relatedness: Mapping[str, Any] | None = None,
    ancestry: Mapping[str, Any] | None = None,
    outliers: Mapping[str, Any] | None = None,
    reference_genome: str = "GRCh38",
    settings: SampleQCSettings | None = None,
) -> SampleQCResult:
    """All checks on ``vds`` (column key = center sample_id); nothing is written.

    :param center: :func:`read_center_metrics` output (reported sex, coverage, contamination, CRAM path).
    :param cram_base: batch_id -> folder that CRAM paths in ``center`` are relative to (absolute paths
        are used as they are).
    :param cram_index_dirs: batch_id -> folder where intake put the indexes it built for CRAMs sent without one
        (``results/intake/<batch>/cram``); an index next to the CRAM is used first.
    :param hard_filters: ``sample_qc.hard_filters`` (and likewise ``qc_sites``, ``sex_cutoffs`` =
        ``sample_qc.sex``, ``contamination``, ``relatedness``, ``ancestry``, ``outliers``): keys not given take
        the config schema's defaults (:class:`~callset.sample_qc.settings.SampleQCSettings`).
    :param settings: all of them at once, instead of the sections one by one.
    """
    sections = {"hard_filters": hard_filters, "qc_sites": qc_sites, "sex": sex_cutoffs,
                "contamination": contamination, "relatedness": relatedness, "ancestry": ancestry,
                "outliers": outliers}
    if settings is None:
        settings = SampleQCSettings.from_config(**sections)
    elif any(v is not None for v in sections.values()):
        raise TypeError("run_sample_qc: give settings or the config sections, not both")
    checks: list[CheckStatus] = []  # in report order: contamination, sex, ancestry, relatedness (2)

    df, depth_ht, sites = _sample_metrics(vds, settings.qc_sites)
    for found in (
        _check_contamination(sites, checks, settings.contamination),
        _check_sex(vds, depth_ht, checks, settings.sex_cutoffs),
    ):
        if found is not None:
            df = df.merge(found, on="s", how="left")
    anc_pcs, panel_pcs, pred = _check_ancestry(
        sites, checks, panel_vcf=panel_vcf, panel_labels=panel_labels, reference_genome=reference_genome,
        ancestry=settings.ancestry,
    )
    if pred is not None:
        df = df.merge(pred[["s", "ancestry", "ancestry_prob"]], on="s", how="left")
    pairs, kin_hist, kin_params = _check_relatedness(sites, checks, settings.relatedness, anc_pcs)

    df = _coverage(df, center, cram_base=cram_base or {}, reference_fasta=reference_fasta,
                   cram_index_dirs=cram_index_dirs or {})
    _add_sex_concordance(df)
    df["hard_filter_reasons"] = _hard_filter_reasons(df, settings.hard_filters)
    df["flags"], bounds = _flags(df, anc_pcs, pairs, settings.outliers)
    params = {
        **settings.record(),
        "n_qc_sites": sites.n_sites,
        "n_independent_markers": sites.n_independent,
        "ld_prune": {"r2": sites.ld_r2, "r2_independent_count": sites.count_r2, "bp_window_size": sites.ld_window},
        "kinship": kin_params,
    }
    return SampleQCResult(
        samples=df, related_pairs=pairs, ancestry_pcs=anc_pcs, panel_pcs=panel_pcs, checks=checks,
        kinship_hist=kin_hist, outlier_bounds=bounds, params=params, n_qc_sites=sites.n_sites,
        n_independent_markers=sites.n_independent,
    )


@dataclass
class _QCSites:
    """The dense QC MatrixTables the genetic checks share, and what they rest on."""

    qc_mt: hl.MatrixTable  #: common biallelic autosomal SNPs
    pruned_mt: hl.MatrixTable  #: the LD-pruned (independent) subset
    n_sites: int
    n_independent: int
    min_af: float
    ld_r2: float | None
    ld_window: int
    n_anc_markers: int  #: markers pruned at ld_r2 (ancestry, PC-Relate)
    count_r2: float | None  #: the r² the independent-marker count was pruned at (see detectable_r2)

    @property
    def sites_what(self) -> str:
        return f"{self.n_sites:,} common biallelic autosomal SNPs (AF >= {self.min_af})"

    @property
    def independent_what(self) -> str:
        return f"{self.n_independent:,} independent (LD-pruned) common"


def _sample_metrics(
    vds: hl.vds.VariantDataset, qc_sites: Mapping[str, Any]
) -> tuple[pd.DataFrame, hl.Table, _QCSites]:
    """Per-sample Hail metrics, depth by region and call rate at the QC sites; the depth Table (for the sex
    check) and the QC sites, LD-pruned."""
    log.info("sample QC: Hail metrics (autosomes)")
    df = _frame(met.compute_sample_metrics(vds))
    log.info("sample QC: depth by region")
    depth_ht = met.compute_depth_by_region(vds).checkpoint(hl.utils.new_temp_file("sqc_depth", "ht"))
    df = df.merge(_frame(depth_ht), on="s", how="left")
    log.info("sample QC: dense QC MatrixTable of common biallelic autosomal SNPs")
    min_af = qc_sites["min_af"]
    qc_mt = met.get_qc_mt(vds, min_af=min_af, min_callrate=qc_sites["min_call_rate"]).checkpoint(
        hl.utils.new_temp_file("sqc_qc", "mt")
    )
    n_sites = qc_mt.count_rows()
    log.info("sample QC: %d QC sites; LD pruning", n_sites)
    df = df.merge(_frame(met.compute_call_rate(qc_mt)), on="s", how="left")
    ld_r2 = qc_sites["ld_r2"]
    ld_window = int(qc_sites["ld_window_bp"])
    # ancestry (and PC-Relate) read the markers pruned at ld_r2; how far relatedness can go is judged on the
    # count pruned at the r² this many samples can tell from chance (the same set from 108 samples up)
    count_r2 = None if ld_r2 is None else round(met.detectable_r2(ld_r2, qc_mt.count_cols()), 4)
    pruned_mt = qc_mt
    n_independent = n_anc_markers = n_sites
    if n_sites and ld_r2 is not None:
        pruned_mt = met.ld_prune_qc_mt(qc_mt, r2=ld_r2, bp_window_size=ld_window)
        pruned_mt = pruned_mt.checkpoint(hl.utils.new_temp_file("sqc_ind", "mt"))
        n_independent = n_anc_markers = pruned_mt.count_rows()
        if count_r2 != ld_r2:
            n_independent = met.ld_prune_qc_mt(qc_mt, r2=count_r2, bp_window_size=ld_window).count_rows()
    log.info("sample QC: %d independent markers (r2 < %s within %d bp); %d at r2 < %s for ancestry",
             n_independent, count_r2, ld_window, n_anc_markers, ld_r2)
    return df, depth_ht, _QCSites(
        qc_mt, pruned_mt, n_sites, n_independent, min_af, ld_r2, ld_window, n_anc_markers, count_r2
    )


def _check_contamination(
    sites: _QCSites, checks: list[CheckStatus], contamination: Mapping[str, Any]
) -> pd.DataFrame | None:
    """Contamination per sample from hom-alt calls at the QC sites (None when not assessable)."""
    c = _try(
        checks, "contamination", lambda: _frame(contam.compute_contamination(sites.qc_mt, **contamination)),
        markers=sites.sites_what, n_markers=sites.n_sites,
    )
    if c is not None:
        med = c["contamination_n_sites"].median()
        checks[-1] = CheckStatus(
            "contamination", True, "",
            f"hom-alt calls at {sites.sites_what}: median {med:,.0f} per sample", sites.n_sites,
        )
    return c


def _check_sex(
    vds: hl.vds.VariantDataset, depth_ht: hl.Table, checks: list[CheckStatus], sex_cutoffs: Mapping[str, Any]
) -> pd.DataFrame | None:
    """Karyotype from chrX/chrY depth, with chrX F when the callset supports it (None when not assessable)."""
    sex_info: dict[str, Any] = {}

    def karyotypes() -> pd.DataFrame:
        try:
            f_ht = sex.compute_chrx_fstat(vds)
            sex_info["f_sites"] = hl.eval(f_ht.chrx_f_sites)
        except NotAssessable as e:
            log.warning("sample QC: chrX F-statistic not available (%s): karyotype from depth only", e)
            sex_info["f_note"] = str(e)
            f_ht = None
        return _frame(sex.compute_karyotype(depth_ht, f_ht, **sex_cutoffs))

    what = "chrX/chrY non-PAR depth (reference blocks and calls)"
    s = _try(checks, "sex", karyotypes, markers=what)
    if s is not None:
        if "f_sites" in sex_info:
            what += f" and chrX F on {sex_info['f_sites']:,} common chrX non-PAR SNPs"
        else:
            what += f"; no chrX F ({sex_info.get('f_note', '')})"
        checks[-1] = CheckStatus("sex", True, "", what, sex_info.get("f_sites"))
    return s


def _check_ancestry(
    sites: _QCSites, checks: list[CheckStatus], *, panel_vcf: str | None, panel_labels: str | None,
    reference_genome: str, ancestry: Mapping[str, Any],
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]:
    """Cohort PCs projected onto the labelled panel's, the panel's PCs, and the assigned ancestries
    (``s ancestry ancestry_prob``); three Nones when there is no panel or the check is not assessable."""
    anc_what = f"{sites.n_anc_markers:,} LD-pruned (r2 < {sites.ld_r2}) common SNPs of the cohort"
    if not panel_vcf:
        reason = "no labelled ancestry panel configured (sample_qc.ancestry_panel)"
        checks.append(CheckStatus("ancestry", False, reason, anc_what, sites.n_anc_markers))
        return None, None, None
    anc_info: dict[str, Any] = {}

    def assign() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        panel_mt = anc.read_panel(panel_vcf, labels_tsv=panel_labels, reference_genome=reference_genome)
        c_ht, p_ht, _ = anc.compute_ancestry_pcs(
            sites.pruned_mt, panel_mt, n_pcs=ancestry["n_pcs"], min_sites=ancestry["min_sites"]
        )
        k = len(c_ht.aggregate(hl.agg.take(c_ht.scores, 1))[0])
        anc_info["n_sites"] = hl.eval(c_ht.n_sites)
        anc_info["n_pcs"] = k
        cohort_pcs = anc.scores_frame(c_ht, k)
        panel_frame = anc.scores_frame(p_ht, k, extra=("ancestry",))
        pred = anc.assign_ancestry(
            cohort_pcs, panel_frame, min_prob=ancestry["min_prob"],
            min_panel_accuracy=ancestry["min_panel_accuracy"],
        )
        anc_info["oob"] = pred.attrs["panel_oob_accuracy"]
        return cohort_pcs, panel_frame, pred

    got = _try(checks, "ancestry", assign, markers=anc_what, n_markers=sites.n_anc_markers)
    if got is None:
        return None, None, None
    checks[-1] = CheckStatus(
        "ancestry", True, "",
        f"{anc_info['n_sites']:,} independent common SNPs shared with the labelled panel; "
        f"{anc_info['n_pcs']} PCs; panel groups told apart in {anc_info['oob']:.0%} (out-of-bag)",
        anc_info["n_sites"],
    )
    return got


def _pc_columns(anc_pcs: pd.DataFrame | None) -> list[str]:
    """``PC1..PCk`` of the cohort's ancestry PCs (none without them)."""
    n_pcs = 0 if anc_pcs is None else sum(c.startswith("PC") for c in anc_pcs.columns)
    return [f"PC{i + 1}" for i in range(n_pcs)]


def _check_relatedness(
    sites: _QCSites, checks: list[CheckStatus], relatedness: Mapping[str, Any], anc_pcs: pd.DataFrame | None
) -> tuple[pd.DataFrame, dict[str, Any] | None, dict[str, Any]]:
    """Kinship of every pair: the related pairs (``id1 id2 kinship degree``) at the assessable degrees, the
    kinship histogram (None when not assessable) and the kinship parameters; appends the ``relatedness``
    and ``relatedness_second_degree`` checks."""
    pairs = pd.DataFrame(columns=["id1", "id2", "kinship", "degree"])
    method = relatedness["method"]
    kin_what = f"{sites.independent_what} autosomal SNPs"
    pc_cols = _pc_columns(anc_pcs)
    try:
        kr = rel.compute_kinship(
            sites.qc_mt if method == "king" else sites.pruned_mt,
            n_independent=sites.n_independent if method == "king" else None,
            method=method,
            k=relatedness["k"],
            min_individual_maf=relatedness["min_individual_maf"],
            scores=None
            if anc_pcs is None or method != "pc_relate"
            else {r["s"]: [r[c] for c in pc_cols] for r in anc_pcs.to_dict("records")},
            min_independent_markers=relatedness["min_independent_markers"],
            max_pairs_per_sample=relatedness["max_pairs_per_sample"],
        )
    except NotAssessable as e:
        log.warning("sample QC: relatedness not assessable: %s", e)
        for name in ("relatedness", "relatedness_second_degree"):
            checks.append(CheckStatus(name, False, str(e), e.markers or kin_what, e.n_markers))
        return pairs, None, {}
    h = rel.kinship_histogram(kr.kin_ht)
    kin_hist = {
        "bin_edges": list(h.bin_edges),
        "bin_freq": list(h.bin_freq),
        "n_smaller": h.n_smaller,
        "n_larger": h.n_larger,
    }
    close_ok = kr.assessable["duplicate"] and kr.assessable["first"]
    reason = "" if close_ok else "; ".join(
        f"{d}: {kr.reasons[d]}" for d in ("duplicate", "first") if not kr.assessable[d]
    )
    if kr.assessable["duplicate"] and not kr.assessable["first"]:
        reason = "duplicates assessed, first degree not: " + kr.reasons["first"]
    what = (f"{method} kinship on all {sites.n_sites:,} QC sites; {kin_what}" if method == "king"
            else f"{method} kinship on {kin_what}")
    checks.append(CheckStatus("relatedness", kr.assessable["duplicate"], reason, what, kr.n_markers))
    checks.append(
        CheckStatus("relatedness_second_degree", kr.assessable["second"], kr.reasons["second"], what, kr.n_markers)
    )
    floor = kr.min_reported_kinship(relatedness["min_kinship"])
    if floor is not None:
        p = _frame(rel.filter_related_pairs(kr.kin_ht, min_kinship=floor), key="id1")
        pairs = p[["id1", "id2", "kinship", "degree"]] if len(p) else pairs
    return pairs, kin_hist, kr.params


def _add_sex_concordance(df: pd.DataFrame) -> None:
    """``sex_concordant``: inferred karyotype's sex equals the reported one (None when either is unknown);
    in place, only when the sex check ran."""
    if "inferred_karyotype" not in df:
        return
    rep = df.get("reported_sex", pd.Series("unknown", index=df.index)).fillna("unknown").str.lower()
    expected = df["inferred_karyotype"].map(sex.KARYOTYPE_SEX)
    known = expected.notna() & rep.isin(["female", "male"])
    df["sex_concordant"] = pd.Series(
        [bool(e == r) if k else None for e, r, k in zip(expected, rep, known, strict=True)],
        index=df.index,
        dtype=object,
    )


def _hard_filter_reasons(df: pd.DataFrame, thresholds: Mapping[str, Any]) -> list[list[str]]:
    """Hard-filter reasons per sample; coverage only from measured or center-reported values, never the
    gVCF estimate."""
    return [
        outl.hard_filter_reasons(
            {
                **r,
                "mean_coverage": r.get("mean_coverage") if r.get("coverage_source") in ("cram", "center") else None,
                "coverage_20x": r.get("coverage_20x") if r.get("coverage_source") in ("cram", "center") else None,
            },
            thresholds,
        )
        for r in df.to_dict("records")
    ]


def _flags(
    df: pd.DataFrame, anc_pcs: pd.DataFrame | None, pairs: pd.DataFrame, outliers: Mapping[str, Any]
) -> tuple[list[list[str]], dict[str, pd.DataFrame]]:
    """Flags per sample (metric outliers within ancestry groups, one sample of each related pair among the
    samples passing the hard filters, sex aneuploidy) and the outlier bounds per metric."""
    odf = df.merge(anc_pcs, on="s", how="left") if anc_pcs is not None else df
    oflags, bounds = outl.outlier_flags(
        odf,
        pc_columns=_pc_columns(anc_pcs),
        group_column="ancestry" if anc_pcs is not None else None,
        n_mads=outliers["n_mads"],
        min_group_size=outliers["min_group_size"],
        metrics=outliers["metrics"],
    )
    flags: list[list[str]] = [list(f) for f in oflags]
    if len(pairs):
        passing = set(df.loc[df.hard_filter_reasons.map(len) == 0, "s"])
        keep_pairs = [(a, b) for a, b in zip(pairs.id1, pairs.id2, strict=True) if a in passing and b in passing]
        order = df.assign(_cr=df.call_rate.fillna(0)).sort_values(["_cr", "s"], ascending=[False, True]).s
        flagged = rel.samples_to_flag(keep_pairs, {sid: i for i, sid in enumerate(order)})
        for i, sid in enumerate(df.s):
            if sid in flagged:
                flags[i].append("related")
    if "inferred_karyotype" in df:
        for i, k in enumerate(df.inferred_karyotype):
            if k in ("X0", "XXY"):
                flags[i].append("sex_aneuploidy")
    return flags, bounds


def _coverage(
    df: pd.DataFrame, center: pd.DataFrame | None, *, cram_base: Mapping[str, str], reference_fasta: str | None,
    cram_index_dirs: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """``mean_coverage``/``coverage_20x`` from the CRAM, else the center's value, else the gVCF estimate."""
    from callset.intake.checks.index import alignment_index
    from callset.sample_qc.coverage import cram_coverage_or_none

    df = df.rename(columns={"dp_autosome_covered": "gvcf_mean_depth", "frac_autosome_dp20": "gvcf_coverage_20x"})
    if center is not None and len(center):
        df = df.merge(center.rename(columns={"sample_id": "s"}), on="s", how="left")
    for c in (
        "batch_id",
        "reported_sex",
        "reported_mean_coverage",
        "reported_coverage_20x",
        "reported_contamination",
        "cram",
    ):
        if c not in df:
            df[c] = np.nan if c.startswith("reported_") and c != "reported_sex" else ""
    df["reported_sex"] = df["reported_sex"].fillna("unknown").replace("", "unknown")
    mean: list[Any] = []
    frac: list[Any] = []
    source: list[str] = []
    for r in df.to_dict("records"):
        cram = r.get("cram") or ""
        measured = None  # a CRAM that cannot be measured: the center's value (else the gVCF's), with a warning
        if isinstance(cram, str) and cram:
            p = Path(cram)
            if not p.is_absolute() and r.get("batch_id") in cram_base:
                p = Path(cram_base[r["batch_id"]]) / p
            fallback = "the center's report" if _finite(r.get("reported_mean_coverage")) else "the gVCF estimate"
            built = (cram_index_dirs or {}).get(r.get("batch_id") or "")
            index = alignment_index(p, Path(built)) if built else None
            measured = cram_coverage_or_none(str(p), reference_fasta=reference_fasta, sample=r["s"], fallback=fallback,
                                             index=str(index) if index else None)
        row: tuple[Any, Any, str]
        if measured is not None:
            row = (measured[0], measured[1], "cram")
        elif _finite(r.get("reported_mean_coverage")):
            row = (r["reported_mean_coverage"], r.get("reported_coverage_20x"), "center")
        else:
            row = (r.get("gvcf_mean_depth"), r.get("gvcf_coverage_20x"), "gvcf")
        mean.append(row[0])
        frac.append(row[1])
        source.append(row[2])
    df["mean_coverage"], df["coverage_20x"], df["coverage_source"] = mean, frac, source
    return df


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not (isinstance(x, float) and math.isnan(x))


# ----------------------------------------------------------------------------------------------- writing


def to_research_ids(result: SampleQCResult, research_ids: Mapping[str, str]) -> SampleQCResult:
    """The same result keyed by research IDs (center sample_ids removed everywhere)."""
    missing = sorted(set(result.samples.s) - set(research_ids))
    if missing:
        raise CallsetError(f"{len(missing)} cohort samples have no research ID, e.g. {missing[:5]}")
    m = dict(research_ids)
    samples = result.samples.copy()
    samples.insert(0, "research_id", samples.s.map(m))
    samples = samples.drop(columns=["s", "cram"], errors="ignore")
    pairs = result.related_pairs.copy()
    if len(pairs):
        a, b = pairs.id1.map(m), pairs.id2.map(m)
        pairs["id1"], pairs["id2"] = np.minimum(a, b), np.maximum(a, b)
        pairs = pairs.sort_values(["id1", "id2"]).reset_index(drop=True)
    pcs = None
    if result.ancestry_pcs is not None:
        pcs = result.ancestry_pcs.copy()
        pcs.insert(0, "research_id", pcs.s.map(m))
        pcs = pcs.drop(columns=["s"])
    return SampleQCResult(
        samples=samples.sort_values("research_id").reset_index(drop=True),
        related_pairs=pairs,
        ancestry_pcs=pcs,
        panel_pcs=result.panel_pcs,
        checks=result.checks,
        kinship_hist=result.kinship_hist,
        outlier_bounds=result.outlier_bounds,
        params=result.params,
        n_qc_sites=result.n_qc_sites,
        n_independent_markers=result.n_independent_markers,
    )


def sample_table(result: SampleQCResult) -> pd.DataFrame:
    """``sample_qc.tsv`` rows (research-ID keyed result): the contract columns, lists joined by ``;``."""
    df = result.samples.copy()
    for c in SAMPLE_QC_COLUMNS:
        if c not in df:
            df[c] = None
    df["hard_filter_reasons"] = df.hard_filter_reasons.map(lambda x: ";".join(x))
    df["flags"] = df["flags"].map(lambda x: ";".join(x))
    return df[SAMPLE_QC_COLUMNS]


HT_TYPES = {
    "research_id": hl.tstr,
    "batch_id": hl.tstr,
    "coverage_source": hl.tstr,
    "inferred_karyotype": hl.tstr,
    "reported_sex": hl.tstr,
    "sex_concordant": hl.tbool,
    "ancestry": hl.tstr,
    "hard_filter_reasons": hl.tstr,
    "flags": hl.tstr,
}


def sample_ht(table: pd.DataFrame, globals_: Mapping[str, Any]) -> hl.Table:
    """``sample_qc.ht``: the TSV's columns (integers as int64, ratios as float64), key ``research_id``;
    ``hard_filter_reasons``/``flags`` also as arrays (``hard_filter_reasons_list``, ``flags_list``)."""
    types = {}
    for c in table.columns:
        if c in HT_TYPES:
            types[c] = HT_TYPES[c]
        elif c.startswith("n_") or c.startswith("bases_") or c.endswith("_n_sites"):
            types[c] = hl.tint64
        else:
            types[c] = hl.tfloat64
    rows = []
    for r in table.to_dict("records"):
        out = {}
        for c, t in types.items():
            v = r[c]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                v = None
            elif t == hl.tint64:
                v = int(v)
            elif t == hl.tfloat64:
                v = float(v)
            elif t == hl.tbool:
                v = bool(v)
            elif t == hl.tstr:
                v = str(v)
            out[c] = v
        rows.append(out)
    ht = hl.Table.parallelize(rows, hl.tstruct(**types), key="research_id")
    ht = ht.annotate(
        hard_filter_reasons_list=hl.or_else(ht.hard_filter_reasons, "").split(";").filter(lambda x: x != ""),
        flags_list=hl.or_else(ht.flags, "").split(";").filter(lambda x: x != ""),
    )
    return ht.annotate_globals(sample_qc_params=hl.literal(json.dumps(dict(globals_), default=str)))


def write_sample_qc(result: SampleQCResult, out_dir: str | Path, *, title: str = "Sample QC") -> None:
    """Write every output of ``<results>/qc/`` from a research-ID keyed result."""
    from callset.sample_qc.report import render_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = sample_table(result)
    table.to_csv(out / "sample_qc.tsv", sep="\t", index=False, na_rep="", float_format="%.6g")
    sample_ht(table, result.params | {"checks": [c.__dict__ for c in result.checks]}).write(
        str(out / "sample_qc.ht"), overwrite=True
    )
    pairs = result.related_pairs
    if len(pairs) == 0:
        pairs = pd.DataFrame(columns=["id1", "id2", "kinship", "degree"])
    pairs[["id1", "id2", "kinship", "degree"]].to_csv(
        out / "related_pairs.tsv", sep="\t", index=False, float_format="%.5f"
    )
    pcs = result.ancestry_pcs
    pc_cols = [c for c in pcs.columns if c.startswith("PC")] if pcs is not None else []
    if pcs is None:
        preds = pd.DataFrame(columns=["research_id", "ancestry", "ancestry_prob", *pc_cols])
    else:
        preds = table[["research_id", "ancestry", "ancestry_prob"]].merge(pcs, on="research_id", how="left")
    preds.to_csv(out / "ancestry_preds.tsv", sep="\t", index=False, float_format="%.6g")
    flagged = table[(table["flags"] != "") | (table.hard_filter_reasons != "")]
    flagged[["research_id", "flags", "hard_filter_reasons"]].to_csv(out / "flagged_samples.tsv", sep="\t", index=False)
    checks = pd.DataFrame([c.__dict__ for c in result.checks], columns=CHECK_COLUMNS)
    checks["n_markers"] = checks["n_markers"].astype("Int64")
    checks.to_csv(out / "checks.tsv", sep="\t", index=False)
    (out / "report.html").write_text(render_report(result, table, title=title))
    log.info(
        "sample QC written to %s: %d samples, %d hard-filtered, %d flagged, %d related pairs",
        out,
        len(table),
        int((table.hard_filter_reasons != "").sum()),
        int((table["flags"] != "").sum()),
        len(pairs),
    )


def read_research_ids(path: str | Path) -> dict[str, str]:
    """``sample_id -> research_id`` from the private map (``sample_id research_id batch_id``)."""
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for c in ("sample_id", "research_id"):
        if c not in df.columns:
            raise CallsetError(f"{path}: missing column {c!r}")
    return dict(zip(df.sample_id, df.research_id, strict=True))


def run_from_cohort(
    *,
    cohort_step: str,
    research_ids_tsv: str,
    accepted_tsvs: Sequence[str],
    out_dir: str,
    panel_vcf: str | None = None,
    panel_labels: str | None = None,
    reference_fasta: str | None = None,
    batch_dirs: Mapping[str, str] | None = None,
    reference_genome: str = "GRCh38",
    hard_filters: Mapping[str, Any] | None = None,
    qc_sites: Mapping[str, Any] | None = None,
    sex: Mapping[str, Any] | None = None,
    contamination: Mapping[str, Any] | None = None,
    relatedness: Mapping[str, Any] | None = None,
    ancestry: Mapping[str, Any] | None = None,
    outliers: Mapping[str, Any] | None = None,
) -> SampleQCResult:
    """Read the cohort step's VDS and the intake tables, run every check, write ``out_dir``.

    ``hard_filters`` … ``outliers``: the ``sample_qc.<part>`` config sections (keys not given: the schema's
    defaults)."""
    from callset.core.cohort import cohort_parts, read_cohort_vds

    if not cohort_parts(cohort_step):
        raise CallsetError(f"{cohort_step}: the cohort has no VDS (no sample accepted yet)")
    vds = read_cohort_vds(cohort_step)
    res = run_sample_qc(
        vds,
        center=read_center_metrics(accepted_tsvs),
        panel_vcf=panel_vcf,
        panel_labels=panel_labels,
        reference_fasta=reference_fasta,
        cram_base=batch_dirs,
        # intake builds an index under results/intake/<batch>/cram for a CRAM sent without one
        cram_index_dirs={Path(p).parent.name: str(Path(p).parent / "cram") for p in accepted_tsvs},
        reference_genome=reference_genome,
        settings=SampleQCSettings.from_config(
            hard_filters=hard_filters, qc_sites=qc_sites, sex=sex, contamination=contamination,
            relatedness=relatedness, ancestry=ancestry, outliers=outliers,
        ),
    )
    out = to_research_ids(res, read_research_ids(research_ids_tsv))
    write_sample_qc(out, out_dir, title=f"Sample QC — {Path(cohort_step).name}")
    return out
