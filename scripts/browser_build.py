"""Snakemake entry point: release -> public variant browser site (static files)."""

from callset.browser.build import build_site
from callset.core.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake

setup_logging(sm.log[0])
build_site(sm.input.release, sm.output.site, chunk_size=sm.params.chunk_size)
