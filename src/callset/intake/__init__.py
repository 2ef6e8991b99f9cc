"""Intake: a genome center's batch (``manifest.tsv`` + gVCFs/CRAMs) -> per-sample decisions, reports, registry.

- :mod:`~callset.intake.batches` — batch discovery and joint-calling order (parse time);
- :mod:`~callset.intake.manifest` — the manifest contract;
- :mod:`~callset.intake.checks` — file integrity and content checks (htslib, no Spark);
- :mod:`~callset.intake.registry` — the SQLite registry (research IDs, decisions, history);
- :mod:`~callset.intake.sample` — one manifest row: :func:`~callset.intake.sample.check_sample` (files, metrics,
  reblocking, staging), run in parallel jobs of rows (:func:`~callset.intake.sample.check_rows`);
- :mod:`~callset.intake.run` — one batch: :func:`~callset.intake.run.gather_batch` per batch (within-batch and
  cross-batch checks, registry, reports), or every step in one process (:func:`~callset.intake.run.run_intake`);
- :mod:`~callset.intake.results_json` — per-sample results to JSON and back (per-sample jobs -> gather).
"""
