"""Intake: a genome center's batch (``manifest.tsv`` + gVCFs/CRAMs) -> per-sample decisions, reports, registry.

- :mod:`~callset.intake.batches` — batch discovery and joint-calling order (parse time);
- :mod:`~callset.intake.manifest` — the manifest contract;
- :mod:`~callset.intake.checks` — file integrity and content checks (htslib, no Spark);
- :mod:`~callset.intake.registry` — the SQLite registry (research IDs, decisions, history);
- :mod:`~callset.intake.run` — one batch through all of it: :func:`~callset.intake.run.check_sample` per row (in
  parallel jobs), :func:`~callset.intake.run.gather_batch` per batch, or both in one process
  (:func:`~callset.intake.run.run_intake`);
- :mod:`~callset.intake.results_json` — per-sample results to JSON and back (per-sample jobs -> gather).
"""
