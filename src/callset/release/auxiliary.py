"""Sample-QC inputs of a release: ancestry groups, hard-filter exclusions and the ``aux/`` tables
(research IDs only, restricted to released samples)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from callset.errors import ReleaseError

log = logging.getLogger(__name__)

AUX_TABLES = ("sample_qc", "related_pairs", "ancestry_preds", "flagged_samples")
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
        log.info("aux/%s.tsv: %d rows (released samples only)", name, len(df))
    return written


