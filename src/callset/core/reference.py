"""Reference genome facts needed without a JVM: contig names, lengths and order (bundled TSVs).

The TSVs in the package (``callset/core/data/``) were exported from Hail's own GRCh37/GRCh38 definitions, so what
intake accepts is exactly what Hail will import.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from callset.errors import ConfigError

#: bundled package data (found by importlib.resources, so a non-editable install works too)
DATA = resources.files("callset.core") / "data"


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
    path = DATA / f"{name}.contigs.tsv"
    if not path.is_file():
        known = sorted(p.name.split(".")[0] for p in DATA.iterdir() if p.name.endswith(".contigs.tsv"))
        raise ConfigError(f"unknown reference_genome {name!r}; bundled: {', '.join(known)}")
    with path.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return Reference(name=name, lengths={r["contig"]: int(r["length"]) for r in rows})


def schema_path(name: str) -> Path:
    """Path of a JSON Schema shipped in the package (``callset/schemas/``; ``config/schemas`` links to it)."""
    return Path(str(resources.files("callset") / "schemas" / name))
