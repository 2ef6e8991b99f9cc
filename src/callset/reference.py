"""Reference genome facts needed without a JVM: contig names, lengths and order (bundled TSVs).

The TSVs in ``resources/reference/`` were exported from Hail's own GRCh37/GRCh38 definitions, so what
intake accepts is exactly what Hail will import.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from callset.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
RESOURCES = REPO_ROOT / "resources"
SCHEMAS = REPO_ROOT / "config" / "schemas"


@dataclass(frozen=True)
class Reference:
    """A reference genome: ordered contigs with lengths."""

    name: str
    lengths: dict[str, int] = field(hash=False)

    @property
    def contigs(self) -> list[str]:
        return list(self.lengths)

    def rank(self, contig: str) -> int:
        """Position of ``contig`` in reference order (unknown contigs sort last)."""
        return _ranks(self.name).get(contig, len(self.lengths))


@cache
def _ranks(name: str) -> dict[str, int]:
    return {c: i for i, c in enumerate(load_reference(name).lengths)}


@cache
def load_reference(name: str) -> Reference:
    """Load a bundled reference by name (``GRCh38`` or ``GRCh37``)."""
    path = RESOURCES / "reference" / f"{name}.contigs.tsv"
    if not path.exists():
        known = sorted(p.name.split(".")[0] for p in (RESOURCES / "reference").glob("*.contigs.tsv"))
        raise ConfigError(f"unknown reference_genome {name!r}; bundled: {', '.join(known)}")
    with path.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return Reference(name=name, lengths={r["contig"]: int(r["length"]) for r in rows})


def schema_path(name: str) -> Path:
    """Path of a JSON Schema in ``config/schemas/``."""
    return SCHEMAS / name
