"""Snakemake entry point: decide one batch from its per-sample check results (registry, research IDs, reports)."""

from callset.intake.run import gather_batch, read_sample_results
from callset.runtime.smk import run

sm = snakemake  # noqa: F821 - injected by Snakemake


def main() -> None:
    samples = read_sample_results(list(sm.input.checks), sm.params.batch_dir)
    result = gather_batch(sm.params.batch_dir, samples, out_dir=sm.params.out_dir, registry_path=sm.params.registry)
    print(result.summary())


run(sm, main)
