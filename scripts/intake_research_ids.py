"""Snakemake entry point: export the private sample_id -> research_id map (never part of a release)."""

from callset.intake.registry import export_identity_matches, export_research_ids
from callset.runtime.smk import run

sm = snakemake  # noqa: F821 - injected by Snakemake


def main() -> None:
    export_research_ids(sm.params.registry, sm.output.tsv)
    export_identity_matches(sm.params.registry, sm.output.identity_matches)


run(sm, main)
