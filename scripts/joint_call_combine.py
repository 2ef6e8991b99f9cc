"""Snakemake entry point: add one batch's accepted gVCFs to the cohort VDS (Hail VDS combiner)."""

from callset.runtime.smk import run_hail

sm = snakemake  # noqa: F821 - injected by Snakemake

run_hail(
    sm,
    "callset.joint_call.combine:combine_batch",
    accepted_tsv=sm.input.accepted,
    previous_step=sm.input.previous or None,
    step_dir=sm.output.step,
    work_dir=sm.params.work_dir,
    index=sm.params.index,
    reference_genome=sm.params.spark["reference_genome"],
    **sm.params.combiner,
)
