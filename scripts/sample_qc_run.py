"""Snakemake entry point: sample QC of the final cohort VDS -> <results>/qc/ (keyed by research IDs)."""

from callset.runtime.smk import run_hail

sm = snakemake  # noqa: F821 - injected by Snakemake

run_hail(
    sm,
    "callset.sample_qc.pipeline:run_from_cohort",
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
