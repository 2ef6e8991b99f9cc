"""Snakemake entry point: validate one batch, register decisions and research IDs, write its report."""

from callset.intake.run import run_intake
from callset.runtime.smk import run

sm = snakemake  # noqa: F821 - injected by Snakemake


def main() -> None:
    result = run_intake(
        sm.params.batch_dir,
        out_dir=sm.params.out_dir,
        registry_path=sm.params.registry,
        reference_genome=sm.params.reference_genome,
        contig_recoding=sm.params.contig_recoding,
        thresholds=sm.params.thresholds,
        require_metrics=sm.params.require_metrics,
        reference_fasta=sm.params.reference_fasta,
        identity=sm.params.identity,
        gvcf_flavors=sm.params.gvcf_flavors,
        expected_dragen_version=sm.params.expected_dragen_version,
    )
    print(result.summary())


run(sm, main)
