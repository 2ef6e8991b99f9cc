"""Parse-time batch discovery and order for the workflow (no Spark, no writes).

The cohort grows batch by batch: ``<results>/joint/cohort/<batch>/`` is the cohort after that batch. Each step
records its place in ``cohort.json``, so the order of batches already joint-called is read back from the
results, and new batches are appended after them (sorted by name). A batch whose name sorts before older ones
therefore never forces the cohort to be rebuilt.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from callset.core.cohort import COHORT_JSON, cohort_dir
from callset.intake.manifest import MANIFEST_NAME, read_manifest

log = logging.getLogger(__name__)


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
