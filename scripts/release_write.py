"""Snakemake entry point: write release <name> from the cohort VDS (atomic, immutable)."""

from callset.release.auxiliary import AUX_TABLES
from callset.runtime.smk import run_hail

sm = snakemake  # noqa: F821 - injected by Snakemake

run_hail(
    sm,
    "callset.release.write:write_release_from_cohort",
    cohort_step=sm.input.cohort,
    research_ids_tsv=sm.input.research_ids,
    withdrawals=sm.input.withdrawals or None,
    registry_path=sm.params.registry,
    release_dir=sm.output.release,
    release=sm.params.release,
    reference_genome=sm.params.spark["reference_genome"],
    qc_tables={n: str(getattr(sm.input, n)) for n in AUX_TABLES if getattr(sm.input, n, None)} or None,
    exclude_hard_filtered=sm.params.exclude_hard_filtered,
    variant_qc_sites=str(sm.input.sites) if getattr(sm.input, "sites", None) else None,
    genotype_filter=sm.params.genotype_filter,
    effective_config=sm.params.effective_config,
    code=sm.params.code,
    provenance_record=sm.params.provenance_record,
    release_options=sm.params.options,
)
