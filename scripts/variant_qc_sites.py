"""Snakemake entry point: cohort VDS -> variant-QC sites table (filters, learned score, annotations)."""

from callset.runtime.smk import run_hail

sm = snakemake  # noqa: F821 - injected by Snakemake

run_hail(
    sm,
    "callset.variant_qc.pipeline:run_variant_qc",
    cohort_step=sm.input.cohort,
    out_ht=sm.output.sites,
    summary_json=sm.output.summary,
    work_dir=sm.params.work_dir,
    reference_genome=sm.params.spark["reference_genome"],
    fasta=sm.input.get("fasta"),
    gff3=sm.input.get("gff3"),
    clinvar_vcf=sm.input.get("clinvar_vcf"),
    population_sites=sm.input.get("population_sites"),
    training_sites=sm.input.get("training_sites"),
    **sm.params.options,
)
