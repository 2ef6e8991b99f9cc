"""Snakemake entry point: sample QC of the final cohort VDS -> <results>/qc/ (keyed by research IDs)."""

from callset.hail_setup import setup_hail
from callset.sample_qc.pipeline import run_from_cohort
from callset.smk import run

sm = snakemake  # noqa: F821 - injected by Snakemake


def main() -> None:
    setup_hail(cores=sm.threads, log_path=sm.log.hail, **sm.params.spark)
    run_from_cohort(
        cohort_step=sm.input.cohort,
        research_ids_tsv=sm.input.research_ids,
        accepted_tsvs=list(sm.input.accepted),
        out_dir=str(sm.output.tsv).rsplit("/", 1)[0],
        panel_vcf=sm.input.panel or None,
        panel_labels=sm.params.ancestry_labels,
        reference_fasta=sm.params.reference_fasta,
        batch_dirs=sm.params.batch_dirs,
        reference_genome=sm.params.spark["reference_genome"],
        **sm.params.options,
    )


run(sm, main)
