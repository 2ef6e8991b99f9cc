"""Snakemake entry point: add one batch's accepted gVCFs to the cohort VDS (Hail VDS combiner)."""

from callset.intake.run import read_accepted
from callset.runtime.smk import run, run_hail

sm = snakemake  # noqa: F821 - injected by Snakemake

kwargs = dict(
    accepted_tsv=sm.input.accepted,
    previous_step=sm.input.previous or None,
    step_dir=sm.output.step,
    work_dir=sm.params.work_dir,
    index=sm.params.index,
    reference_genome=sm.params.spark["reference_genome"],
    **sm.params.combiner,
)
if read_accepted(sm.input.accepted):
    run_hail(sm, "callset.joint_call.combine:combine_batch", **kwargs)
else:  # every sample rejected: the step records the unchanged cohort, no Hail needed
    from callset.joint_call.combine import combine_batch

    run(sm, lambda: combine_batch(**kwargs))
