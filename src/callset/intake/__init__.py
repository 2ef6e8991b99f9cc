"""Intake: a genome center's batch (``manifest.tsv`` + gVCFs/CRAMs) -> per-sample decisions, reports, registry.

- :mod:`~callset.intake.batches` — batch discovery and joint-calling order (parse time);
- :mod:`~callset.intake.manifest` — the manifest contract;
- :mod:`~callset.intake.checks` — file integrity and content checks (htslib, no Spark);
- :mod:`~callset.intake.registry` — the SQLite registry (research IDs, decisions, history);
- :mod:`~callset.intake.run` — one batch through all of it (:func:`~callset.intake.run.run_intake`).
"""
