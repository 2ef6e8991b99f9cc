"""Read and validate a batch's ``manifest.tsv`` — the genome centers' submission contract.

Every problem names the file, the row (1-based line number in the file, header = line 1) and the column.
Structural problems (missing required column, unknown column, unreadable file) raise
:class:`ManifestError` before any file is touched. Per-row problems are returned so intake can reject
just that sample.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from callset.core.reference import schema_path
from callset.errors import ManifestError

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.tsv"


@lru_cache(maxsize=1)
def manifest_schema() -> dict[str, Any]:
    with schema_path("manifest.schema.yaml").open() as f:
        return yaml.safe_load(f)


def columns() -> list[str]:
    """All manifest columns, in documented order."""
    return list(manifest_schema()["properties"])


@dataclass
class ManifestRow:
    """One sample row: typed values plus the problems found in it."""

    line: int
    values: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def sample_id(self) -> str:
        return str(self.values.get("sample_id") or "")

    def get(self, key: str) -> Any:
        return self.values.get(key)


def _types(prop: dict[str, Any]) -> list[str]:
    t = prop.get("type", "string")
    return t if isinstance(t, list) else [t]


def _convert(raw: str, prop: dict[str, Any]) -> Any:
    """Convert a TSV cell using the schema's type; raises ValueError naming the expected type."""
    raw = raw.strip()
    types = _types(prop)
    if raw == "":
        return None
    if "number" in types:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
    if "integer" in types:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
    return raw


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Parse and validate ``path``; return one :class:`ManifestRow` per data line.

    :raises ManifestError: the file is missing/unreadable, has no header, lacks a required column or has
        an unknown column, or has no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    schema = manifest_schema()
    props: dict[str, Any] = schema["properties"]
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path}: cannot read manifest: {e}") from e
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ManifestError(f"{path}: line 1: empty file, expected a header row with columns {columns()}")
    reader = csv.reader(lines, delimiter="\t")
    header = [h.strip() for h in next(reader)]
    if len(header) == 1 and "," in header[0]:
        raise ManifestError(f"{path}: line 1: header is comma-separated; manifest.tsv must be tab-separated")
    unknown = [h for h in header if h not in props]
    if unknown:
        raise ManifestError(
            f"{path}: line 1: unknown column(s) {unknown}; allowed columns are {columns()}"
        )
    missing = [c for c in schema["required"] if c not in header]
    if missing:
        raise ManifestError(f"{path}: line 1: missing required column(s) {missing}")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ManifestError(f"{path}: line 1: duplicate column(s) {dupes}")
    rows: list[ManifestRow] = []
    validator = jsonschema.Draft202012Validator(schema)
    for lineno, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells) or cells[0].startswith("#"):
            continue
        row = ManifestRow(line=lineno, values={})
        if len(cells) != len(header):
            row.problems.append(
                f"{path}: line {lineno}: has {len(cells)} fields, header has {len(header)}"
            )
            cells = (cells + [""] * len(header))[: len(header)]
        for col, raw in zip(header, cells, strict=True):
            try:
                row.values[col] = _convert(raw, props[col])
            except ValueError as e:
                row.problems.append(f"{path}: line {lineno}, column {col}: {e}")
                row.values[col] = None
        for col in schema["required"]:
            if row.values.get(col) is None:
                row.problems.append(f"{path}: line {lineno}, column {col}: required value is empty")
        present = {k: v for k, v in row.values.items() if v is not None}
        for err in sorted(validator.iter_errors(present), key=lambda e: list(e.path)):
            if err.validator == "required":
                continue
            col = err.path[0] if err.path else "?"
            row.problems.append(
                f"{path}: line {lineno}, column {col}: invalid value {err.instance!r} ({err.message})"
            )
        rows.append(row)
    if not rows:
        raise ManifestError(f"{path}: no sample rows")
    seen: dict[str, int] = {}
    for row in rows:
        sid = row.sample_id
        if sid and sid in seen:
            row.problems.append(
                f"{path}: line {row.line}, column sample_id: duplicate sample_id {sid!r} "
                f"(first on line {seen[sid]})"
            )
        elif sid:
            seen[sid] = row.line
    return rows


def resolve_member(batch_dir: Path, rel: str) -> tuple[Path | None, str | None]:
    """Resolve a manifest path inside the batch folder.

    :return: ``(path, None)`` when it stays inside ``batch_dir`` (symlinks resolved), else
        ``(None, reason)``.
    """
    if rel.startswith("/") or Path(rel).is_absolute():
        return None, f"absolute path {rel!r} not allowed (paths are relative to the manifest)"
    if ".." in Path(rel).parts:
        return None, f"path {rel!r} leaves the batch folder ('..' not allowed)"
    p = batch_dir / rel
    real = p.resolve()
    if not real.is_relative_to(batch_dir.resolve()):
        log.warning("%s: %r resolves to %s, outside the batch folder", batch_dir, rel, real)
        return None, f"path {rel!r} is a symlink that leads outside the batch folder (symlink escape)"
    return p, None
