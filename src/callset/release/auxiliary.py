"""Sample-QC inputs of a release: ancestry groups, hard-filter exclusions and the ``aux/`` tables
(research IDs only, restricted to released samples).

``aux/`` holds the sample-QC tables under their own names (``sample_qc.tsv``, ``related_pairs.tsv``,
``ancestry_preds.tsv``, ``flagged_samples.tsv``) and, from the same rows, the All of Us auxiliary layout that
researchers' notebooks hard-code (:data:`AOU_LAYOUT`):

- ``ancestry/ancestry_preds.tsv`` — ``research_id, ancestry_pred, probabilities, pca_features``
  (``probabilities`` a JSON object group -> probability: every group when sample QC gives ``prob_<group>``
  columns, else the predicted group's; ``pca_features`` a JSON list of the PCs);
- ``relatedness/relatedness.tsv`` — ``i.s, j.s, kin``; ``relatedness/relatedness_flagged_samples.tsv`` —
  ``sample_id`` of the samples flagged ``related`` (dropping them leaves no related pair);
- ``qc/flagged_samples.tsv`` — ``s, qc_metrics_filters`` (the sample's ``;``-joined flags);
- ``qc/genomic_metrics.tsv`` — ``research_id, mean_coverage, genome_coverage`` (fraction at >= 20x),
  ``contamination, inferred_karyotype``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from callset.errors import ReleaseError

log = logging.getLogger(__name__)

AUX_TABLES = ("sample_qc", "related_pairs", "ancestry_preds", "flagged_samples")
AOU_LAYOUT = ("ancestry/ancestry_preds.tsv", "relatedness/relatedness.tsv",
              "relatedness/relatedness_flagged_samples.tsv", "qc/flagged_samples.tsv", "qc/genomic_metrics.tsv")
NO_GROUP = ("", "NA", "unknown", "None")  # ancestry values that count only in `all` (as variant QC reads them)


def release_ancestry(qc_tables: Mapping[str, str] | None, research_ids: Mapping[str, str]) -> dict[str, str]:
    """research_id -> genetic ancestry group from sample QC's ``sample_qc.tsv`` (empty without it)."""
    if not qc_tables or not qc_tables.get("sample_qc"):
        return {}
    qc = read_sample_qc(qc_tables["sample_qc"], research_ids)
    if "ancestry" not in qc.columns:
        return {}
    return {r: a for r, a in zip(qc["research_id"], qc["ancestry"], strict=True) if a not in NO_GROUP}


def _read_tsv(path: str | os.PathLike[str]) -> Any:
    import pandas as pd

    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _to_research_ids(df: Any, path: str, research_ids: Mapping[str, str], cols: Sequence[str]) -> Any:
    """Express the ID columns ``cols`` of a QC table in research IDs (tables keyed by sample_id are mapped)."""
    known = set(research_ids.values())
    for col in cols:
        if col not in df.columns:
            raise ReleaseError(f"{path}: missing column {col!r} (have {list(df.columns)})")
        vals = df[col]
        if len(vals) and not vals.isin(known).any() and vals.isin(set(research_ids)).any():
            df[col] = vals.map(lambda v: research_ids.get(v, v))
    return df


def read_sample_qc(path: str, research_ids: Mapping[str, str]) -> Any:
    """``sample_qc.tsv`` with a ``research_id`` column (a ``sample_id`` key is mapped to research IDs)."""
    df = _read_tsv(path)
    if "research_id" not in df.columns and "sample_id" in df.columns:
        df = df.rename(columns={"sample_id": "research_id"})
    df = _to_research_ids(df, path, research_ids, ["research_id"])
    for col in ("hard_filter_reasons",):
        if col not in df.columns:
            raise ReleaseError(f"{path}: missing column {col!r} (have {list(df.columns)})")
    return df


def write_aux_tables(
    qc_tables: Mapping[str, str], out_dir: Path, released: set[str], research_ids: Mapping[str, str]
) -> list[str]:
    """Copy the sample QC tables into ``aux/``, keeping only released research IDs (pairs: both released)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    frames: dict[str, Any] = {}
    for name in AUX_TABLES:
        src = qc_tables.get(name)
        if not src:
            continue
        df = _read_tsv(src)
        if name == "related_pairs":
            df = _to_research_ids(df, src, research_ids, ["id1", "id2"])
            df = df[df["id1"].isin(released) & df["id2"].isin(released)]
        else:
            if "research_id" not in df.columns and "sample_id" in df.columns:
                df = df.rename(columns={"sample_id": "research_id"})
            df = _to_research_ids(df, src, research_ids, ["research_id"])
            df = df[df["research_id"].isin(released)]
        df.to_csv(out_dir / f"{name}.tsv", sep="\t", index=False)
        written.append(f"{name}.tsv")
        frames[name] = df
        log.info("aux/%s.tsv: %d rows (released samples only)", name, len(df))
    return written + write_aou_layout(frames, out_dir)


def _num(x: str) -> float | str:
    try:
        return float(x)
    except ValueError:
        return x


def write_aou_layout(frames: Mapping[str, Any], out_dir: Path) -> list[str]:
    """The All of Us auxiliary files (module docstring) from the released aux tables; return their paths."""
    import json

    import pandas as pd

    out: dict[str, Any] = {}
    preds = frames.get("ancestry_preds")
    if preds is not None:
        pcs = [c for c in preds.columns if c.startswith("PC") and c[2:].isdigit()]
        pcs.sort(key=lambda c: int(c[2:]))
        probs = sorted(c for c in preds.columns if c.startswith("prob_"))

        def probabilities(r: Any) -> str:
            if probs:
                return json.dumps({c[5:]: _num(r[c]) for c in probs})
            return json.dumps({r["ancestry"]: _num(r["ancestry_prob"])} if r.get("ancestry") else {})

        out["ancestry/ancestry_preds.tsv"] = pd.DataFrame({
            "research_id": preds["research_id"],
            "ancestry_pred": preds.get("ancestry", ""),
            "probabilities": [probabilities(r) for _, r in preds.iterrows()],
            "pca_features": [json.dumps([_num(r[c]) for c in pcs]) for _, r in preds.iterrows()],
        }, columns=["research_id", "ancestry_pred", "probabilities", "pca_features"])
    pairs = frames.get("related_pairs")
    if pairs is not None:
        out["relatedness/relatedness.tsv"] = pd.DataFrame(
            {"i.s": pairs["id1"], "j.s": pairs["id2"], "kin": pairs["kinship"]}, columns=["i.s", "j.s", "kin"])
    qc = frames.get("sample_qc")
    flagged = frames.get("flagged_samples")
    src = qc if qc is not None and "flags" in qc.columns else flagged
    if src is not None and "flags" in src.columns:
        has = src[src["flags"].str.strip() != ""]
        # an explicit bool mask: on an empty frame .map() gives an object Series, which pandas reads as columns
        is_related = [("related" in f.split(";")) for f in has["flags"]]
        related = has[pd.Series(is_related, index=has.index, dtype=bool)]
        out["relatedness/relatedness_flagged_samples.tsv"] = pd.DataFrame(
            {"sample_id": related["research_id"]}, columns=["sample_id"])
        out["qc/flagged_samples.tsv"] = pd.DataFrame(
            {"s": has["research_id"], "qc_metrics_filters": has["flags"]}, columns=["s", "qc_metrics_filters"])
    if qc is not None:
        cols = {"research_id": "research_id", "mean_coverage": "mean_coverage", "genome_coverage": "coverage_20x",
                "contamination": "contamination", "inferred_karyotype": "inferred_karyotype"}
        out["qc/genomic_metrics.tsv"] = pd.DataFrame(
            {k: qc[v] if v in qc.columns else "" for k, v in cols.items()}, columns=list(cols))
    for rel, df in out.items():
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out_dir / rel, sep="\t", index=False)
        log.info("aux/%s: %d rows (All of Us layout)", rel, len(df))
    return list(out)


