"""Parse-time helpers for the Snakemake workflow (no Spark, no writes): batch discovery and order.

The cohort grows batch by batch: ``<results>/joint/cohort/<batch>/`` is the cohort after that batch.
Each step records its place in ``cohort.json``, so the order of batches already joint-called is read back
from the results, and new batches are appended after them (sorted by name). A batch whose name sorts
before older ones therefore never forces the cohort to be rebuilt.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from callset.manifest import MANIFEST_NAME, read_manifest

log = logging.getLogger(__name__)

COHORT_JSON = "cohort.json"


def discover_batches(inbox: str | Path) -> list[str]:
    """Batch IDs in ``inbox``: sub-folders holding a ``manifest.tsv`` (others are skipped, with a warning)."""
    inbox = Path(inbox)
    if not inbox.is_dir():
        return []
    out = []
    for d in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (d / MANIFEST_NAME).is_file():
            out.append(d.name)
        else:
            log.warning("%s: no %s, skipped (upload incomplete?)", d, MANIFEST_NAME)
    return out


def check_manifests(inbox: str | Path, batches: list[str]) -> None:
    """Structural manifest validation for every batch; raises ManifestError on the first bad one."""
    for b in batches:
        read_manifest(Path(inbox) / b / MANIFEST_NAME)


def cohort_dir(results: str | Path, batch: str) -> Path:
    return Path(results) / "joint" / "cohort" / batch


def read_cohort_step(step_dir: str | Path) -> dict[str, Any]:
    with open(Path(step_dir) / COHORT_JSON) as f:
        return json.load(f)


def batch_order(batches: list[str], results: str | Path) -> list[str]:
    """Joint-calling order: batches already in the cohort (by their recorded index), then new ones."""
    done: list[tuple[int, str]] = []
    for b in batches:
        p = cohort_dir(results, b) / COHORT_JSON
        if p.is_file():
            try:
                done.append((int(json.loads(p.read_text())["index"]), b))
            except (ValueError, KeyError, json.JSONDecodeError):
                log.warning("%s: unreadable, batch %s treated as new", p, b)
    done_names = [b for _, b in sorted(done)]
    return done_names + [b for b in batches if b not in done_names]


def cohort_parts(step_dir: str | Path) -> list[dict[str, Any]]:
    """The VDS parts that together hold the cohort after a step, with absolute ``vds`` paths.

    Layout 2 (``"parts"`` in ``cohort.json``): the cohort is the union of several VDSs, each written by the
    step that added its batches (see :mod:`callset.joint_call`); a part lists its ``samples``, its compaction
    ``level`` and the samples to ``exclude`` when it is read (resubmitted elsewhere). A step written before
    layout 2 (one ``vds``) reads as a single part. A step with no accepted sample ever has no parts.
    """
    step_dir = Path(step_dir)
    step = read_cohort_step(step_dir)
    if "parts" in step:
        parts = [dict(p) for p in step["parts"]]
    elif step.get("vds") is not None:
        parts = [{"vds": step["vds"], "samples": list(step.get("samples", [])), "level": 0, "exclude": [],
                  "batches": list(step.get("batches", []))}]
    else:
        parts = []
    for part in parts:
        p = Path(part["vds"])
        part["vds"] = str(p if p.is_absolute() else (step_dir / p).resolve())
        part.setdefault("exclude", [])
        part.setdefault("level", 0)
    return parts


def cohort_vds_path(step_dir: str | Path) -> str | None:
    """Path of the cohort VDS after a step when the cohort is one VDS (else use
    :func:`callset.joint_call.read_cohort_vds`, which unions the parts)."""
    parts = cohort_parts(step_dir)
    if not parts:
        return None
    if len(parts) > 1 or parts[0]["exclude"]:
        raise ValueError(
            f"{step_dir}: the cohort is {len(parts)} VDS parts; open it with callset.joint_call.read_cohort_vds"
        )
    return str(parts[0]["vds"])


def require_cohort_samples(step_dir: str | Path) -> None:
    """Refuse, with one line naming the batches and their intake reports, a cohort with no sample yet (every
    batch so far had every sample rejected): there is nothing to QC or release. No Hail needed.

    :raises CohortEmptyError: the cohort after ``step_dir`` has no VDS part.
    """
    from callset.errors import CohortEmptyError

    step_dir = Path(step_dir)
    if cohort_parts(step_dir):
        return
    batches = list(read_cohort_step(step_dir).get("batches") or [step_dir.name])
    results = step_dir.parents[2]  # <results>/joint/cohort/<batch>
    said = []
    for b in batches:
        report = results / "intake" / b / "report.tsv"
        try:
            rows = report.read_text().splitlines()[1:]
            n = len([r for r in rows if r.strip()])
            said.append(f"batch {b}: {n} of {n} samples rejected, reasons in {report}")
        except OSError:
            said.append(f"batch {b}: no accepted sample")
    raise CohortEmptyError(
        f"no sample has been accepted yet ({'; '.join(said)}): nothing to QC or release until a batch with "
        "accepted samples is added to the inbox"
    )
