"""Joint calling: accepted gVCFs of a batch (+ the cohort VDS so far) -> the new cohort VDS.

Hail's VDS combiner does the work. A new batch is merged into the existing cohort VDS; earlier gVCFs are
never re-imported. Import partitioning comes from the data actually present (per-contig extents that
intake measured), cut into ``interval_size`` pieces — not Hail's genome-wide default (2,586 partitions,
measured 20x slower on small inputs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import hail as hl

log = logging.getLogger(__name__)

#: reference-block entry fields kept from gVCFs (PL is dropped for reference blocks, as in GATK GVS)
REFERENCE_ENTRY_FIELDS = ("DP", "GQ", "MIN_DP")


def merge_extents(extents: Iterable[Mapping[str, tuple[int, int]]]) -> dict[str, tuple[int, int]]:
    """Union per-contig ``(first_pos, last_end)`` extents of many files."""
    out: dict[str, tuple[int, int]] = {}
    for ext in extents:
        for contig, (start, end) in ext.items():
            if contig in out:
                s, e = out[contig]
                out[contig] = (min(s, start), max(e, end))
            else:
                out[contig] = (start, end)
    return out


def import_interval_bounds(
    extents: Mapping[str, tuple[int, int]],
    *,
    interval_size: int,
    contig_lengths: Mapping[str, int],
    contig_order: Sequence[str],
) -> list[tuple[str, int, int]]:
    """Cut each contig's data extent into aligned, half-open ``[start, end)`` pieces.

    Pieces are aligned to multiples of ``interval_size`` so that batches with different extents get
    compatible boundaries; together they cover every position from the first record to the last END.

    :return: ``(contig, start, end_exclusive)`` tuples in reference order.
    """
    if interval_size < 1:
        raise ValueError(f"interval_size must be positive, got {interval_size}")
    bounds: list[tuple[str, int, int]] = []
    rank = {c: i for i, c in enumerate(contig_order)}
    for contig in sorted(extents, key=lambda c: rank.get(c, len(rank))):
        first, last = extents[contig]
        length = contig_lengths[contig]
        start = ((first - 1) // interval_size) * interval_size + 1
        while start <= last:
            end = min(start + interval_size, length + 1)
            bounds.append((contig, start, end))
            start = end
    return bounds


def intervals_expr(bounds: Sequence[tuple[str, int, int]], reference_genome: str) -> list[hl.Interval]:
    """Closed Hail intervals ``[start, end_exclusive - 1]`` (the form Hail's own partitioner makes: the
    gVCF reader treats an interval's end as inclusive, so half-open ends would read boundary records twice).
    """
    return [
        hl.Interval(
            start=hl.Locus(contig=c, position=s, reference_genome=reference_genome),
            end=hl.Locus(contig=c, position=e - 1, reference_genome=reference_genome),
            includes_start=True,
            includes_end=True,
        )
        for c, s, e in bounds
    ]


def combine(
    *,
    gvcf_paths: Sequence[str],
    output_path: str,
    work_dir: str,
    intervals: Sequence[hl.Interval],
    previous_vds: str | None = None,
    reference_genome: str = "GRCh38",
    branch_factor: int = 100,
    target_records: int = 24_000,
    gvcf_batch_size: int = 50,
) -> None:
    """Run (or resume) the VDS combiner; writes ``output_path``.

    ``work_dir`` holds the combiner's saved plan and its temporary VDSs; keeping it stable for a batch
    makes a killed run resume where it stopped instead of starting again.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    vds_paths = [previous_vds] if previous_vds else None
    log.info(
        "combining %d gVCFs%s into %s (%d import intervals)",
        len(gvcf_paths),
        f" with cohort VDS {previous_vds}" if previous_vds else "",
        output_path,
        len(intervals),
    )
    def make(force: bool) -> hl.vds.combiner.VariantDatasetCombiner:
        return hl.vds.new_combiner(
            output_path=output_path,
            temp_path=str(work / "tmp"),
            save_path=str(work / "plan.json"),
            gvcf_paths=list(gvcf_paths) or None,
            vds_paths=vds_paths,
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
    import_interval_size: int = 1_000_000,
    branch_factor: int = 100,
    target_records: int = 24_000,
    gvcf_batch_size: int = 50,
) -> dict[str, object]:
    """Write cohort step ``step_dir`` = previous cohort + this batch's accepted gVCFs.

    ``step_dir/cohort.json`` records the step (index, batch, previous step, samples added, VDS path).
    A batch with no accepted sample adds nothing: its step points at the previous VDS. Resubmitted
    samples (``resubmission=yes``) replace their earlier version: the previous cohort is filtered first.
    """
    import json
    import shutil

    from callset.errors import CallsetError
    from callset.intake import read_accepted
    from callset.reference import load_reference
    from callset.workflow import COHORT_JSON, cohort_vds_path, read_cohort_step

    step = Path(step_dir)
    step.mkdir(parents=True, exist_ok=True)
    rows = read_accepted(accepted_tsv)
    batch = Path(accepted_tsv).parent.name
    prev_vds = cohort_vds_path(previous_step) if previous_step else None
    prev_info = read_cohort_step(previous_step) if previous_step else {}
    prev_samples: list[str] = list(prev_info.get("samples", []))
    new_ids = [r["sample_id"] for r in rows]
    replaced = [s for s in new_ids if s in set(prev_samples)]
    not_flagged = [r["sample_id"] for r in rows if r["sample_id"] in replaced and r.get("resubmission") != "yes"]
    if not_flagged:
        raise CallsetError(
            f"{accepted_tsv}: samples already in the cohort without resubmission=yes: {not_flagged[:5]}"
        )
    info: dict[str, object] = {
        "index": index,
        "batch": batch,
        "previous": Path(previous_step).name if previous_step else None,
        "batches": [*prev_info.get("batches", []), batch],
        "samples_added": new_ids,
        "samples_replaced": replaced,
        "samples": [s for s in prev_samples if s not in replaced] + new_ids,
    }
    if not rows:
        log.warning("batch %s has no accepted samples: the cohort is unchanged", batch)
        info["vds"] = str(Path(prev_vds).resolve()) if prev_vds else None
    else:
        if replaced and prev_vds:
            filtered = str(Path(work_dir) / "previous_without_resubmitted.vds")
            if not _finished(filtered):
                log.info("removing %d resubmitted samples from the previous cohort first", len(replaced))
                vds = hl.vds.read_vds(prev_vds)
                hl.vds.filter_samples(vds, hl.literal(replaced), keep=False, remove_dead_alleles=True).write(
                    filtered, overwrite=True
                )
            prev_vds = filtered
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
            previous_vds=prev_vds,
            output_path=out,
            work_dir=work_dir,
            intervals=intervals_expr(bounds, reference_genome),
            reference_genome=reference_genome,
            branch_factor=branch_factor,
            target_records=target_records,
            gvcf_batch_size=gvcf_batch_size,
        )
        info["vds"] = "vds"
        info["import_intervals"] = len(bounds)
    (step / COHORT_JSON).write_text(json.dumps(info, indent=1) + "\n")
    shutil.rmtree(work_dir, ignore_errors=True)  # the plan is spent; a rerun of this step starts clean
    log.info("cohort step %s: %d samples (%d added)", batch, len(info["samples"]), len(new_ids))  # type: ignore[arg-type]
    return info
