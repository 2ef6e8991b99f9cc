"""Joint calling of one batch: the Hail VDS combiner over its accepted gVCFs, as a new cohort part.

A batch costs the batch: the step writes only its own part (plus, when :func:`plan_compaction` says so, the
newest earlier parts merged in), and ``cohort.json`` lists every part of the cohort after it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hail as hl

from callset.core.cohort import COHORT_JSON, cohort_parts, read_cohort_step, union_parts
from callset.joint_call.compaction import plan_compaction
from callset.joint_call.intervals import import_interval_bounds, intervals_expr, merge_extents

log = logging.getLogger(__name__)


#: reference-block entry fields kept from gVCFs (PL is dropped for reference blocks, as in GATK GVS)
REFERENCE_ENTRY_FIELDS = ("DP", "GQ", "MIN_DP")


def combine(
    *,
    gvcf_paths: Sequence[str],
    output_path: str,
    work_dir: str,
    intervals: Sequence[hl.Interval],
    vds_paths: Sequence[str] = (),
    vds_sample_counts: Sequence[int] | None = None,
    sample_names: Sequence[str] | None = None,
    reference_genome: str = "GRCh38",
    branch_factor: int = 100,
    target_records: int = 24_000,
    gvcf_batch_size: int = 50,
    ref_block_max_length: int | None = None,
) -> None:
    """Run (or resume) the VDS combiner over ``gvcf_paths`` (and existing ``vds_paths``); writes ``output_path``.

    ``ref_block_max_length``: the longest reference block of the gVCFs when intake knows it (it reblocked them):
    the combiner then records it instead of reading every reference entry of the written VDS to find it.

    ``work_dir`` holds the combiner's saved plan and its temporary VDSs; keeping it stable for a batch
    makes a killed run resume where it stopped instead of starting again.

    ``sample_names`` (the sample of each gVCF, in order, as intake checked it against the header) saves the
    combiner a Spark job that opens every gVCF to read its sample name; the first gVCF's header is then used
    for all (the combiner parses every file with one header in any case). ``vds_sample_counts`` likewise
    saves counting the columns of each VDS.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    log.info(
        "combining %d gVCFs%s into %s (%d import intervals)",
        len(gvcf_paths),
        f" with {len(vds_paths)} cohort VDS parts" if vds_paths else "",
        output_path,
        len(intervals),
    )

    options = _combiner_options(
        gvcf_paths=gvcf_paths, output_path=output_path, work=work, intervals=intervals, vds_paths=vds_paths,
        vds_sample_counts=vds_sample_counts, sample_names=sample_names, reference_genome=reference_genome,
        branch_factor=branch_factor, target_records=target_records, gvcf_batch_size=gvcf_batch_size,
    )
    combiner = hl.vds.new_combiner(**options, force=False)
    if combiner.finished and not _finished(output_path):
        # a plan that says "done" but no output: the output was removed after the plan was saved
        log.warning("saved combiner plan is finished but %s is missing: starting again", output_path)
        combiner = hl.vds.new_combiner(**options, force=True)
    if ref_block_max_length is not None and not vds_paths:
        with _known_ref_block_max_length(ref_block_max_length):
            combiner.run()
    else:
        combiner.run()
    log.info("combiner finished: %s", output_path)


def _combiner_options(
    *,
    gvcf_paths: Sequence[str],
    output_path: str,
    work: Path,
    intervals: Sequence[hl.Interval],
    vds_paths: Sequence[str],
    vds_sample_counts: Sequence[int] | None,
    sample_names: Sequence[str] | None,
    reference_genome: str,
    branch_factor: int,
    target_records: int,
    gvcf_batch_size: int,
) -> dict[str, Any]:
    """Arguments of :func:`hail.vds.new_combiner` (all but ``force``): plan and temporaries under ``work``."""
    return dict(
        output_path=output_path,
        temp_path=str(work / "tmp"),
        save_path=str(work / "plan.json"),
        gvcf_paths=list(gvcf_paths) or None,
        vds_paths=list(vds_paths) or None,
        vds_sample_counts=list(vds_sample_counts) if vds_paths and vds_sample_counts else None,
        gvcf_external_header=gvcf_paths[0] if sample_names and gvcf_paths else None,
        gvcf_sample_names=list(sample_names) if sample_names and gvcf_paths else None,
        intervals=list(intervals) if gvcf_paths else None,
        reference_genome=reference_genome,
        gvcf_reference_entry_fields_to_keep=list(REFERENCE_ENTRY_FIELDS),
        branch_factor=branch_factor,
        target_records=target_records,
        gvcf_batch_size=gvcf_batch_size,
    )


@contextmanager
def _known_ref_block_max_length(value: int) -> Iterator[None]:
    """While the combiner runs, :func:`hail.vds.store_ref_block_max_length` (its last step: a pass over every
    reference entry for the longest block) writes ``value``, an upper bound known from intake, instead.

    Only an upper bound matters: interval filters read reference data that far before an interval's start.
    """
    from hail.vds.variant_dataset import extra_ref_globals_file

    real = hl.vds.store_ref_block_max_length

    def store(vds_path: str) -> None:
        log.info("reference blocks are at most %d bp long (reblocked at intake): recorded without a pass", value)
        with hl.current_backend().fs.open(os.path.join(vds_path, extra_ref_globals_file), "w") as f:
            json.dump({hl.vds.VariantDataset.ref_block_max_length_field: int(value)}, f)

    hl.vds.store_ref_block_max_length = store
    try:
        yield
    finally:
        hl.vds.store_ref_block_max_length = real


def _finished(path: str) -> bool:
    """A Hail VDS is complete when both component MatrixTables have their _SUCCESS marker."""
    return all((Path(path) / part / "_SUCCESS").exists() for part in ("reference_data", "variant_data"))


def known_max_block(rows: Sequence[Mapping[str, str]]) -> int | None:
    """The longest reference block of the batch's gVCFs, when intake reblocked every one of them (else None)."""
    values = [r.get("reblocked_max_block") or "" for r in rows]
    if not rows or not all(v.isdigit() for v in values):
        return None
    return max(1, *(int(v) for v in values))


def reblock_settings(rows: Sequence[Mapping[str, str]]) -> dict[str, object] | None:
    """How the batch's reference blocks were made: intake's reblocking settings (``accepted.tsv`` ``reblock``), or
    None when the submitted gVCFs were joint-called as they came (reblocking off, or intake before it existed).

    :raises CallsetError: the rows disagree (one batch is always reblocked with one setting).
    """
    from callset.errors import CallsetError

    seen = {r.get("reblock") or "" for r in rows}
    if len(seen) > 1:
        raise CallsetError(f"accepted gVCFs of one batch were reblocked with different settings: {sorted(seen)}")
    value = seen.pop() if seen else ""
    return json.loads(value) if value else None


def combine_batch(
    *,
    accepted_tsv: str,
    previous_step: str | None,
    step_dir: str,
    work_dir: str,
    index: int,
    reference_genome: str = "GRCh38",
    import_interval_size: int = 5_000_000,
    branch_factor: int = 500,
    target_records: int = 24_000,
    gvcf_batch_size: int = 50,
    cohort_fanout: int = 8,
    sample_names_from_intake: bool = True,
) -> dict[str, object]:
    """Write cohort step ``step_dir`` = previous cohort + this batch's accepted gVCFs.

    The cohort is a list of VDS *parts* (``cohort.json`` ``parts``; :func:`read_cohort_vds` unions them). This
    step combines only its own gVCFs into ``step_dir/vds`` — plus, when :func:`plan_compaction` says so, the
    newest earlier parts — so its cost follows the batch, not the cohort. Earlier gVCFs are never re-imported.

    ``step_dir/cohort.json`` records the step (index, batch, previous step, samples added, parts) and, in
    ``reblock``, how each batch's reference blocks were made (:func:`reblock_settings`, batch -> settings). A batch
    with no accepted sample adds nothing: its step lists the previous parts. Resubmitted samples
    (``resubmission=yes``) replace their earlier version: the part holding it excludes it when read (and drops
    it for good when that part is next merged).
    """
    import shutil

    from callset.intake.report import read_accepted

    step = Path(step_dir)
    step.mkdir(parents=True, exist_ok=True)
    rows = read_accepted(accepted_tsv)
    batch = Path(accepted_tsv).parent.name
    info, parts = _new_step(accepted_tsv, rows, batch, previous_step, index)
    if not rows:
        log.warning("batch %s has no accepted sample (every sample rejected: see %s): the cohort is unchanged "
                    "(%d samples)", batch, Path(accepted_tsv).with_name("report.tsv"), len(info["samples"]))
        info["vds"] = None
    else:
        parts = _add_batch_part(
            rows, batch, parts, info, step=step, work_dir=work_dir, reference_genome=reference_genome,
            import_interval_size=import_interval_size, cohort_fanout=cohort_fanout,
            sample_names_from_intake=sample_names_from_intake,
            combiner_settings={"branch_factor": branch_factor, "target_records": target_records,
                               "gvcf_batch_size": gvcf_batch_size},
        )
    _write_step(step, info, parts)
    shutil.rmtree(work_dir, ignore_errors=True)  # the plan is spent; a rerun of this step starts clean
    return info


def _new_step(
    accepted_tsv: str, rows: Sequence[Mapping[str, str]], batch: str, previous_step: str | None, index: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The step's ``cohort.json`` record before combining, and the previous parts with this batch's resubmitted
    samples excluded.

    :raises CallsetError: a sample already in the cohort comes again without ``resubmission=yes``.
    """
    from callset.errors import CallsetError

    prev_info = read_cohort_step(previous_step) if previous_step else {}
    prev_parts = cohort_parts(previous_step) if previous_step else []
    prev_samples: list[str] = list(prev_info.get("samples", []))
    new_ids = [r["sample_id"] for r in rows]
    replaced = [s for s in new_ids if s in set(prev_samples)]
    not_flagged = [r["sample_id"] for r in rows if r["sample_id"] in replaced and r.get("resubmission") != "yes"]
    if not_flagged:
        raise CallsetError(
            f"{accepted_tsv}: samples already in the cohort without resubmission=yes: {not_flagged[:5]}"
        )
    for part in prev_parts:
        part["exclude"] = [*part["exclude"], *(s for s in replaced if s in set(part["samples"]))]
    info: dict[str, Any] = {
        "layout": 2,
        "index": index,
        "batch": batch,
        "previous": Path(previous_step).name if previous_step else None,
        "batches": [*prev_info.get("batches", []), batch],
        "samples_added": new_ids,
        "samples_replaced": replaced,
        "samples": [s for s in prev_samples if s not in replaced] + new_ids,
        "reblock": dict(prev_info.get("reblock", {})),
    }
    return info, prev_parts


def _add_batch_part(
    rows: Sequence[Mapping[str, str]],
    batch: str,
    parts: list[dict[str, Any]],
    info: dict[str, Any],
    *,
    step: Path,
    work_dir: str,
    reference_genome: str,
    import_interval_size: int,
    cohort_fanout: int,
    sample_names_from_intake: bool,
    combiner_settings: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Combine the batch's gVCFs (and the newest parts :func:`plan_compaction` merges in) into ``step/vds``;
    record it in ``info``; return the cohort's parts after the step."""
    import shutil

    n_merge, level = plan_compaction([int(p["level"]) for p in parts], cohort_fanout)
    kept, merging = parts[: len(parts) - n_merge], parts[len(parts) - n_merge:]
    vds_inputs, vds_counts = _merged_part_inputs(merging, batch, level, Path(work_dir))
    bounds = _import_bounds(rows, reference_genome, import_interval_size)
    out = str(step / "vds")
    if Path(out).exists():
        shutil.rmtree(out)
    new_ids = [r["sample_id"] for r in rows]
    combine(
        gvcf_paths=[r.get("reblocked_gvcf") or r["gvcf"] for r in rows],  # reblocked at intake when it was on
        vds_paths=vds_inputs,
        vds_sample_counts=vds_counts,
        sample_names=new_ids if sample_names_from_intake else None,
        output_path=out,
        work_dir=work_dir,
        intervals=intervals_expr(bounds, reference_genome),
        reference_genome=reference_genome,
        ref_block_max_length=known_max_block(rows),
        **combiner_settings,
    )
    merged_samples = [s for p in merging for s in p["samples"] if s not in set(p["exclude"])]
    new_part = {
        "vds": out,
        "batches": [b for p in merging for b in p.get("batches", [])] + [batch],
        "samples": merged_samples + new_ids,
        "level": level,
        "exclude": [],
    }
    info["vds"] = "vds"
    info["reblock"] = {**info["reblock"], batch: reblock_settings(rows)}
    info["import_intervals"] = len(bounds)
    info["parts_merged"] = len(merging)
    return [*kept, new_part]


def _merged_part_inputs(
    merging: Sequence[Mapping[str, Any]], batch: str, level: int, work_dir: Path
) -> tuple[list[str], list[int]]:
    """The VDS paths (and sample counts) of the cohort parts compacted into this step's part; a part with
    resubmitted samples is first written without them (they leave the part for good when it is merged)."""
    vds_inputs, vds_counts = [], []
    for i, part in enumerate(merging):
        vds_counts.append(len(part["samples"]) - len(part["exclude"]))
        if part["exclude"]:
            filtered = str(work_dir / f"part{i}_without_resubmitted.vds")
            if not _finished(filtered):
                log.info("removing %d resubmitted samples from part %s first", len(part["exclude"]), part["vds"])
                union_parts([dict(part)]).write(filtered, overwrite=True)  # the same exclusion as a read
            vds_inputs.append(filtered)
        else:
            vds_inputs.append(part["vds"])
    if merging:
        log.info("compaction: merging the %d newest cohort parts (%d samples) with batch %s into a level-%d part",
                 len(merging), sum(vds_counts), batch, level)
    return vds_inputs, vds_counts


def _import_bounds(
    rows: Sequence[Mapping[str, str]], reference_genome: str, interval_size: int
) -> list[tuple[str, int, int]]:
    """Import intervals covering the batch's gVCF extents (intake recorded each file's per-contig extent)."""
    from callset.core.reference import load_reference

    ref = load_reference(reference_genome)
    extents = merge_extents(json.loads(r["extents"]) for r in rows)
    return import_interval_bounds(
        {c: tuple(v) for c, v in extents.items()},  # type: ignore[misc]
        interval_size=interval_size,
        contig_lengths=ref.lengths,
        contig_order=ref.contigs,
    )


def _write_step(step: Path, info: dict[str, Any], parts: Sequence[Mapping[str, Any]]) -> None:
    """``cohort.json`` with part paths relative to the step, so a results folder can be moved as a whole."""
    info["parts"] = [{**p, "vds": os.path.relpath(p["vds"], step.resolve())} for p in parts]
    (step / COHORT_JSON).write_text(json.dumps(info, indent=1) + "\n")
    log.info("cohort step %s: %d samples (%d added) in %d VDS parts", info["batch"], len(info["samples"]),
             len(info["samples_added"]), len(parts))
