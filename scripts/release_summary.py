"""Snakemake entry point: the release summary and notes as Markdown for the run report."""

from callset.release.summary import write_release_report
from callset.runtime.smk import run

sm = snakemake  # noqa: F821 - injected by Snakemake

run(sm, lambda: write_release_report(sm.input.release, sm.output[0]))
