"""Disk pruning of a results folder (``callset prune``): what no later step and no release needs (issue 18 §4).

The cohort grows as a list of VDS parts (:mod:`callset.core.cohort`); every ``combiner.cohort_fanout`` batches
the newest parts are merged into one and the merged parts stay on disk in their old step folders, unused by the
cohort. A killed run can also leave a combiner work folder (``joint/_work/<batch>/``: saved plan and temporary
VDSs) behind a step that a later run finished. Pruning removes exactly these:

- ``joint/cohort/<batch>/vds/`` of a **finished** step (one with ``cohort.json``) when the current cohort — the
  finished step with the highest index — does not list it among its parts. The step's ``cohort.json`` stays
  (it records the batch's place in the joint-calling order), and so does Snakemake's ``.snakemake_timestamp``,
  so no job of the workflow reruns. Such a step can no longer be *read* (``read_cohort_vds`` says it was
  pruned) and a step before the last merge can no longer be recomputed, which no later step needs.
- ``joint/_work/<batch>/`` when that batch's step is finished (the combiner removes it itself on success; a
  work folder of an unfinished step is how the combiner resumes, and is kept).

Never touched: the current cohort's parts, unfinished steps (no ``cohort.json``), anything under
``releases/`` (a release holds its own VDS and shards, it needs no cohort step), intake outputs, QC outputs.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from callset.core.cohort import COHORT_JSON, cohort_parts
from callset.core.logs import human_bytes
from callset.errors import CallsetError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneItem:
    path: Path
    bytes: int
    why: str


@dataclass
class PrunePlan:
    """What :func:`plan_prune` would remove and what it keeps (with reasons)."""

    results: Path
    current_step: Path | None
    remove: list[PruneItem] = field(default_factory=list)
    keep: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.remove)


def _size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_symlink() and p.is_file())


def _finished_steps(results: Path) -> dict[Path, dict]:
    steps = {}
    root = results / "joint" / "cohort"
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        f = d / COHORT_JSON
        if f.is_file():
            try:
                steps[d] = json.loads(f.read_text())
            except json.JSONDecodeError as e:
                raise CallsetError(f"{f}: unreadable ({e}); nothing pruned") from None
    return steps


def plan_prune(results: str | Path) -> PrunePlan:
    """What can go from ``results`` (see module docstring); reads only ``cohort.json`` files and folder sizes."""
    results = Path(results)
    if not results.is_dir():
        raise CallsetError(f"{results}: no such results folder")
    steps = _finished_steps(results)
    if not steps:
        return PrunePlan(results, None)
    current = max(steps, key=lambda d: int(steps[d]["index"]))
    plan = PrunePlan(results, current)
    in_use = {Path(p["vds"]).resolve() for p in cohort_parts(current)}
    for step in steps:
        vds = step / "vds"
        if not vds.is_dir():
            continue
        if vds.resolve() in in_use:
            plan.keep.append((vds, f"part of the current cohort (step {current.name})"))
        else:
            plan.remove.append(PruneItem(vds, _size(vds), f"not a part of the current cohort (step {current.name})"
                                         " any more: merged into a later part"))
    for d in sorted(p for p in (results / "joint" / "cohort").iterdir() if p.is_dir() and p not in steps):
        plan.keep.append((d, "unfinished step (no cohort.json): a run is writing it or will resume it"))
    work = results / "joint" / "_work"
    for w in sorted(p for p in work.iterdir() if p.is_dir()) if work.is_dir() else []:
        step = results / "joint" / "cohort" / w.name
        if step in steps:
            plan.remove.append(PruneItem(w, _size(w), f"combiner work folder of finished step {w.name}"))
        else:
            plan.keep.append((w, f"combiner work folder of unfinished step {w.name}: the combiner resumes from it"))
    return plan


def apply_prune(plan: PrunePlan) -> int:
    """Remove the plan's folders; return the bytes freed. Re-checks each item just before removing it."""
    fresh = {i.path for i in plan_prune(plan.results).remove}
    freed = 0
    for item in plan.remove:
        if item.path not in fresh:
            log.warning("%s: kept (no longer prunable: a run changed the cohort meanwhile)", item.path)
            continue
        log.info("removing %s (%d bytes): %s", item.path, item.bytes, item.why)
        shutil.rmtree(item.path)
        freed += item.bytes
    return freed


def format_plan(plan: PrunePlan, *, dry_run: bool) -> str:
    verb = "would remove" if dry_run else "removes"
    lines = [f"callset prune: {plan.results}: current cohort = "
             + (f"step {plan.current_step.name}" if plan.current_step else "none (no finished joint-calling step)")]
    for i in plan.remove:
        lines.append(f"  {verb} {i.path} ({human_bytes(i.bytes)}): {i.why}")
    for path, why in plan.keep:
        lines.append(f"  keeps {path}: {why}")
    lines.append(f"callset prune: {len(plan.remove)} folder(s), {human_bytes(plan.bytes)}"
                 + (" would be freed (dry run: nothing removed)" if dry_run else " freed"))
    return "\n".join(lines)


def _cli(args) -> int:  # noqa: ANN001 - argparse.Namespace
    plan = plan_prune(args.results)
    if args.dry_run:
        print(format_plan(plan, dry_run=True))
        return 0
    apply_prune(plan)
    print(format_plan(plan, dry_run=False))
    return 0


def add_parser(sub) -> None:  # noqa: ANN001 - argparse subparsers
    """``callset prune RESULTS [--dry-run]``."""
    p = sub.add_parser(
        "prune",
        help="free disk: remove cohort parts merged away and combiner work folders of finished steps "
        "(never the current cohort, an unfinished step or a release)",
    )
    p.add_argument("results", help="the workflow's results folder (config key `results`)")
    p.add_argument("--dry-run", "-n", action="store_true", help="list what would be removed, remove nothing")
    p.set_defaults(func=_cli)
