"""Release: the cohort -> an immutable, verifiable release directory for researchers (and its public summary).

- :mod:`~callset.release.write` — the orchestration (:func:`write_release`, :func:`write_release_from_cohort`);
- :mod:`~callset.release.shards` — shard intervals and the dense split MatrixTable of a shard;
- :mod:`~callset.release.callsets` — cohort frequencies and the smaller callsets (ACAF, exome, ClinVar);
- :mod:`~callset.release.exports` — VCF/PLINK/BGEN exports of a shard;
- :mod:`~callset.release.public` — the suppressed public summary;
- :mod:`~callset.release.auxiliary` — sample-QC tables in research IDs (``aux/``);
- :mod:`~callset.release.notes` — ``RELEASE_NOTES.md`` against the previous release;
- :mod:`~callset.release.manifest` — file inventory and checksums of ``manifest.json``;
- :mod:`~callset.release.guard` — a finished release is never rewritten (checked at workflow start-up);
- :mod:`~callset.release.verify`, :mod:`~callset.release.query`, :mod:`~callset.release.summary` — the
  ``callset verify/query/summary`` commands.

``from callset.release import write_release`` (and the other names below) keeps working for sites' own
scripts; they are loaded on first use, so importing a light submodule (e.g. the guard, at Snakefile parse
time) does not start Hail.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "write_release": "callset.release.write",
    "write_release_from_cohort": "callset.release.write",
    "prepare_release_vds": "callset.release.write",
    "read_research_ids": "callset.release.write",
    "compute_shards": "callset.release.shards",
    "dense_shard_mt": "callset.release.shards",
    "Shard": "callset.release.shards",
    "read_withdrawals": "callset.release.guard",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'callset.release' has no attribute {name!r}")
