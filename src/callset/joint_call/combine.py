"""Joint calling of one batch: the Hail VDS combiner over its accepted gVCFs, as a new cohort part.

A batch costs the batch: the step writes only its own part (plus, when :func:`plan_compaction` says so, the
newest earlier parts merged in), and ``cohort.json`` lists every part of the cohort after it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

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
) -> None:
    """Run (or resume) the VDS combiner over ``gvcf_paths`` (and existing ``vds_paths``); writes ``output_path``.

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

    def make(force: bool) -> hl.vds.combiner.VariantDatasetCombiner:
        return hl.vds.new_combiner(
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
            force=force,
        )

    combiner = make(force=False)
    if combiner.finished and not _finished(output_path):
        # a plan that says "done" but no output: the output was removed after the plan was saved
        log.warning("saved combiner plan is finished but %s is missing: starting again", output_path)
        combiner = make(force=True)
    combiner.run()
    log.info("combiner finished: %s", output_path)


def _finished(path: str) -> bool:
    """A Hail VDS is complete when both component MatrixTables have their _SUCCESS marker."""
    return all((Path(path) / part / "_SUCCESS").exists() for part in ("reference_data", "variant_data"))


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

    ``step_dir/cohort.json`` records the step (index, batch, previous step, samples added, parts). A batch
    with no accepted sample adds nothing: its step lists the previous parts. Resubmitted samples
    (``resubmission=yes``) replace their earlier version: the part holding it excludes it when read (and drops
    it for good when that part is next merged).
    """
    import json
    import os
    import shutil

    from callset.core.reference import load_reference
    from callset.errors import CallsetError
    from callset.intake.run import read_accepted

    step = Path(step_dir)
    step.mkdir(parents=True, exist_ok=True)
    rows = read_accepted(accepted_tsv)
    batch = Path(accepted_tsv).parent.name
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
    info: dict[str, object] = {
        "layout": 2,
        "index": index,
        "batch": batch,
        "previous": Path(previous_step).name if previous_step else None,
        "batches": [*prev_info.get("batches", []), batch],
        "samples_added": new_ids,
        "samples_replaced": replaced,
        "samples": [s for s in prev_samples if s not in replaced] + new_ids,
    }
    parts = prev_parts
    if not rows:
        log.warning("batch %s has no accepted sample (every sample rejected: see %s): the cohort is unchanged "
                    "(%d samples)", batch, Path(accepted_tsv).with_name("report.tsv"), len(prev_samples))
        info["vds"] = None
    else:
        n_merge, level = plan_compaction([int(p["level"]) for p in prev_parts], cohort_fanout)
        kept, merging = prev_parts[: len(prev_parts) - n_merge], prev_parts[len(prev_parts) - n_merge:]
        vds_inputs, vds_counts = [], []
        for i, part in enumerate(merging):
            vds_counts.append(len(part["samples"]) - len(part["exclude"]))
            if part["exclude"]:  # resubmitted samples leave the part for good when it is merged
                filtered = str(Path(work_dir) / f"part{i}_without_resubmitted.vds")
                if not _finished(filtered):
                    log.info("removing %d resubmitted samples from part %s first", len(part["exclude"]), part["vds"])
                    union_parts([part]).write(filtered, overwrite=True)  # the same exclusion as a read
                vds_inputs.append(filtered)
            else:
                vds_inputs.append(part["vds"])
        if merging:
            log.info("compaction: merging the %d newest cohort parts (%d samples) with batch %s into a level-%d part",
                     len(merging), sum(len(p["samples"]) - len(p["exclude"]) for p in merging), batch, level)
        ref = load_reference(reference_genome)
        extents = merge_extents(json.loads(r["extents"]) for r in rows)
        bounds = import_interval_bounds(
            {c: tuple(v) for c, v in extents.items()},  # type: ignore[misc]
            interval_size=import_interval_size,
            contig_lengths=ref.lengths,
            contig_order=ref.contigs,
        )
        out = str(step / "vds")
        if Path(out).exists():
            shutil.rmtree(out)
        combine(
            gvcf_paths=[r["gvcf"] for r in rows],
            vds_paths=vds_inputs,
            vds_sample_counts=vds_counts,
            sample_names=new_ids if sample_names_from_intake else None,
            output_path=out,
            work_dir=work_dir,
            intervals=intervals_expr(bounds, reference_genome),
            reference_genome=reference_genome,
            branch_factor=branch_factor,
            target_records=target_records,
            gvcf_batch_size=gvcf_batch_size,
        )
        merged_samples = [s for p in merging for s in p["samples"] if s not in set(p["exclude"])]
        new_part = {
            "vds": out,
            "batches": [b for p in merging for b in p.get("batches", [])] + [batch],
            "samples": merged_samples + new_ids,
            "level": level,
            "exclude": [],
        }
        parts = [*kept, new_part]
        info["vds"] = "vds"
        info["import_intervals"] = len(bounds)
        info["parts_merged"] = len(merging)
    # part paths relative to this step, so a results folder can be moved as a whole
    info["parts"] = [{**p, "vds": os.path.relpath(p["vds"], step.resolve())} for p in parts]
    (step / COHORT_JSON).write_text(json.dumps(info, indent=1) + "\n")
    shutil.rmtree(work_dir, ignore_errors=True)  # the plan is spent; a rerun of this step starts clean
    log.info("cohort step %s: %d samples (%d added) in %d VDS parts", batch, len(info["samples"]),  # type: ignore[arg-type]
             len(new_ids), len(parts))
    return info
