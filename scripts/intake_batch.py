"""Snakemake entry point: decide one batch from its per-sample check results (registry, research IDs, reports)."""

from callset.intake.run import gather_batch
from callset.intake.sample import read_sample_results
from callset.runtime.smk import run

sm = snakemake  # noqa: F821 - injected by Snakemake


def main() -> None:
    samples = read_sample_results(list(sm.input.checks), sm.params.batch_dir)
    result = gather_batch(
        sm.params.batch_dir,
        samples,
        out_dir=sm.params.out_dir,
        registry_path=sm.params.registry,
        identity=sm.params.identity,
        reference_genome=sm.params.reference_genome,
        expected_dragen_version=sm.params.expected_dragen_version,
    )
    print(result.summary())


run(sm, main)
