"""Snakemake entry point: export the private sample_id -> research_id map (never part of a release)."""

from callset.intake.registry import export_research_ids
from callset.runtime.smk import run

sm = snakemake  # noqa: F821 - injected by Snakemake

run(sm, lambda: export_research_ids(sm.params.registry, sm.output.tsv))
