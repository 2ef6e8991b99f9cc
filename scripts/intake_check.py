"""Snakemake entry point: check one chunk of a batch's manifest rows (files, metrics, staging, reblocking) to JSON."""

from callset.intake.sample import IntakeSettings, check_rows, write_sample_results
from callset.runtime.smk import run

sm = snakemake  # noqa: F821 - injected by Snakemake


def main() -> None:
    rows = slice(int(sm.wildcards.first) - 1, int(sm.wildcards.last))
    settings = IntakeSettings.from_params(sm.params.settings)
    results = check_rows(sm.params.batch_dir, settings, out_dir=sm.params.out_dir, rows=rows)
    write_sample_results(sm.output.json, sm.params.batch_dir, results)


run(sm, main)
