"""The release's ``manifest.json`` bookkeeping: file inventory, checksums, row counts, software versions."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import hail as hl

from callset import __version__

MANIFEST_FORMAT = 1


def sha256_file(path: Path, *, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def written_row_count(path: str | os.PathLike[str]) -> int:
    """Rows of a MatrixTable or Table as written: the partition counts in its metadata (no Spark job)."""
    with hl.hadoop_open(f"{path}/metadata.json.gz", "r") as f:  # hadoop_open decompresses .gz itself
        meta = json.load(f)
    return int(sum(meta["components"]["partition_counts"]["counts"]))


def file_inventory(root: Path, sub: str | None = None) -> list[dict[str, Any]]:
    """``{path, size, sha256}`` for every file under ``root/sub`` (paths relative to ``root``), sorted."""
    base = root / sub if sub else root
    out = []
    for p in sorted(base.rglob("*")):
        if p.is_file():
            out.append({"path": p.relative_to(root).as_posix(), "size": p.stat().st_size, "sha256": sha256_file(p)})
    return out


def digest_of(files: Iterable[Mapping[str, Any]]) -> str:
    """One checksum for a set of files: sha256 over sorted ``path\\0sha256`` lines."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f["path"]):
        h.update(f"{f['path']}\0{f['sha256']}\n".encode())
    return "sha256:" + h.hexdigest()


def software_versions() -> dict[str, str]:
    """Versions of the software that wrote a release (installed distributions; Snakemake when installed)."""
    versions = {
        "callset": __version__,
        "hail": hl.version(),
        "spark": version("pyspark"),
        "pysam": version("pysam"),
        "python": platform.python_version(),
    }
    try:
        versions["snakemake"] = version("snakemake")
    except PackageNotFoundError:  # the library used without the workflow engine
        pass
    return versions
