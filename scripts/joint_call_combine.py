"""Snakemake entry point: add one batch's accepted gVCFs to the cohort VDS (Hail VDS combiner)."""

from callset.hail_setup import setup_hail
from callset.joint_call import combine_batch
from callset.smk import run

sm = snakemake  # noqa: F821 - injected by Snakemake


def main() -> None:
    setup_hail(cores=sm.threads, log_path=sm.log.hail, **sm.params.spark)
    combine_batch(
        accepted_tsv=sm.input.accepted,
        previous_step=sm.input.previous or None,
        step_dir=sm.output.step,
        work_dir=sm.params.work_dir,
        index=sm.params.index,
        reference_genome=sm.params.spark["reference_genome"],
        **sm.params.combiner,
    )


run(sm, main)
