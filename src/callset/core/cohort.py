"""The cohort as joint calling leaves it: one ``<results>/joint/cohort/<batch>/`` step per batch.

Each step records its place in ``cohort.json`` (index, batches, samples) and the VDS *parts* that together hold
the cohort after it; every later stage opens the cohort with :func:`read_cohort_vds`, which unions the parts
lazily with the combiner's own merge. Parse-time helpers here need no Spark (``hail`` is imported only by the
two functions that read VDSs, so the Snakefile parses without starting Hail).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hail as hl

COHORT_JSON = "cohort.json"


def cohort_dir(results: str | Path, batch: str) -> Path:
    return Path(results) / "joint" / "cohort" / batch


def read_cohort_step(step_dir: str | Path) -> dict[str, Any]:
    with open(Path(step_dir) / COHORT_JSON) as f:
        return json.load(f)


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
    :func:`callset.core.cohort.read_cohort_vds`, which unions the parts)."""
    parts = cohort_parts(step_dir)
    if not parts:
        return None
    if len(parts) > 1 or parts[0]["exclude"]:
        raise ValueError(
            f"{step_dir}: the cohort is {len(parts)} VDS parts; open it with callset.core.cohort.read_cohort_vds"
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


def read_cohort_vds(step_dir: str | Path) -> hl.vds.VariantDataset:
    """The cohort after a joint-calling step as one VariantDataset: its parts unioned (lazily, no write).

    The union is the combiner's own merge (:func:`hail.vds.combiner.combine_variant_datasets`): reference
    rows and variant rows zip-joined by locus, alleles merged and local allele indices renumbered, so it equals
    the VDS one combiner run over all gVCFs would write. Samples listed in a part's ``exclude`` (resubmitted in
    a later batch) are filtered out first.
    """
    require_cohort_samples(step_dir)  # CohortEmptyError: every sample so far was rejected
    return union_parts(cohort_parts(step_dir))


def union_parts(parts: Sequence[Mapping[str, object]]) -> hl.vds.VariantDataset:
    """Union of VDS parts (``{"vds": path, "exclude": [...]}``), in order; one part is read as is."""
    from hail.vds.combiner.combine import combine_variant_datasets

    def read(part: Mapping[str, object], drop_end: bool) -> hl.vds.VariantDataset:
        vds = hl.vds.read_vds(str(part["vds"]), _drop_end=drop_end)
        exclude = list(part.get("exclude") or [])  # type: ignore[call-overload]
        if exclude:
            vds = hl.vds.filter_samples(vds, hl.literal(exclude), keep=False, remove_dead_alleles=True)
        return vds

    if len(parts) == 1:
        return read(parts[0], drop_end=False)
    vdss = [read(p, drop_end=True) for p in parts]
    combined = combine_variant_datasets(vdss)
    ref = hl.vds.VariantDataset._add_end(combined.reference_data)
    return hl.vds.VariantDataset(ref, combined.variant_data)


def reference_block_provenance(step: Mapping[str, Any]) -> list[dict[str, Any]]:
    """How the reference data of each batch in a cohort step was made, grouped by setting: ``[{"batches":
    [...], "reblock": settings}]``; ``reblock`` is intake's reblocking record
    (:meth:`callset.intake.reblock.ReblockSettings.record`), or None for batches joint-called from the gVCFs
    as submitted (reblocking off, or steps written before it existed)."""
    made = step.get("reblock") or {}
    groups: list[dict[str, Any]] = []
    for batch in step.get("batches", []):
        settings = made.get(batch)
        for g in groups:
            if g["reblock"] == settings:
                g["batches"].append(batch)
                break
        else:
            groups.append({"batches": [batch], "reblock": settings})
    return groups
