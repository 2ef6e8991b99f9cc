"""Cut one whole-release output into per-shard files, with no Hail query per shard.

The release writes each product once for all shards (one Hail query each), partitioned so that no partition
crosses a shard boundary, and then cuts the written files into the shards researchers get. Each cut gives
exactly the file(s) a per-shard write would have given, byte for byte in the data:

- a Hail native MatrixTable (:func:`cut_matrix_table`): a shard's MatrixTable is the same folder with only its
  partitions — their row and entry part files and their row indexes are *moved* (no data is rewritten), the
  small column and global components are copied and the partition lists of the metadata are cut to match;
- a block-gzipped VCF (:func:`concat_bgzf`): the header file and the shard's part files that
  ``hl.export_vcf(parallel="separate_header")`` wrote, concatenated (BGZF files concatenate by design; the
  end-of-file marker block is kept only at the end);
- PLINK 1.9 (:func:`cut_plink`): ``.bed`` is a 3-byte magic number and then ``ceil(n_samples / 4)`` bytes per
  variant, ``.bim`` one line per variant, ``.fam`` the same for every shard;
- BGEN 1.2 (:func:`merge_bgen`): the per-partition files of ``hl.export_bgen(parallel="header_per_shard")``
  joined under the first one's header, its variant count set to the total.

Hail's native format is Hail's own: :func:`native_format_supported` checks that a written MatrixTable has the
layout this module knows (the file version and component kinds of Hail 0.2.138); when it does not, the release
falls back to one Hail read-and-write per shard (correct, slower).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the empty BGZF block that ends a BGZF file (SAM/BAM specification, section 4.1.2)
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
PLINK_MAGIC = b"\x6c\x1b\x01"

#: Hail native file versions whose MatrixTable layout :func:`cut_matrix_table` knows
KNOWN_FILE_VERSIONS = frozenset({0x10500, 0x10600, 0x10700})
_PARTITIONED = ("rows", "entries")  # components with one part file per partition (and a shared row index)


@dataclass(frozen=True)
class Region:
    """A closed 1-based interval ``contig:start-end`` that no partition of the source crosses."""

    contig: str
    start: int
    end: int

    def contains(self, contig: str, position: int) -> bool:
        return contig == self.contig and self.start <= position <= self.end

    @classmethod
    def of(cls, shard: Any) -> Region:
        return cls(shard.contig, shard.start, shard.end)


class CutError(RuntimeError):
    """The source cannot be cut as asked (a partition crosses a region, an unknown layout...)."""


def _read_json_gz(path: Path) -> Any:
    with gzip.open(path, "rt") as f:
        return json.load(f)


def _write_json_gz(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        json.dump(value, f, separators=(",", ":"))


def native_format_supported(mt_path: str | os.PathLike[str]) -> bool:
    """Whether ``mt_path`` is a Hail MatrixTable in a layout :func:`cut_matrix_table` knows."""
    root = Path(mt_path)
    try:
        meta = _read_json_gz(root / "metadata.json.gz")
        if meta.get("name") != "MatrixTableSpec" or meta.get("file_version") not in KNOWN_FILE_VERSIONS:
            return False
        comps = meta["components"]
        if {comps[c]["rel_path"] for c in ("rows", "entries")} != {"rows/rows", "entries/rows"}:
            return False
        for comp in _PARTITIONED:
            spec = _read_json_gz(root / comp / "rows" / "metadata.json.gz")
            table = _read_json_gz(root / comp / "metadata.json.gz")
            if spec.get("name") != "IndexedRVDSpec2" or spec["_indexSpec"]["_relPath"] != "../../index":
                return False
            if table["components"]["partition_counts"]["counts"] != comps["partition_counts"]["counts"]:
                return False
        return True
    except (OSError, KeyError, TypeError, ValueError):
        return False


def _bound_locus(bound: Any) -> tuple[str, int]:
    locus = bound["locus"]
    return str(locus["contig"]), int(locus["position"])


def _locate(regions: Sequence[Region]) -> Any:
    """A function (contig, position) -> index of the region holding it, or None (binary search per contig)."""
    import bisect

    by_contig: dict[str, tuple[list[int], list[int]]] = {}
    for k, r in enumerate(regions):
        starts, idx = by_contig.setdefault(r.contig, ([], []))
        if starts and r.start <= regions[idx[-1]].start:
            raise ValueError("regions must be sorted by start within each contig")
        starts.append(r.start)
        idx.append(k)

    def locate(contig: str, position: int) -> int | None:
        if contig not in by_contig:
            return None
        starts, idx = by_contig[contig]
        j = bisect.bisect_right(starts, position) - 1
        return idx[j] if j >= 0 and regions[idx[j]].contains(contig, position) else None

    return locate


def partition_regions(mt_path: str | os.PathLike[str], regions: Sequence[Region]) -> list[int | None]:
    """For each partition of the MatrixTable at ``mt_path``: the index of the region holding it (None: an empty
    partition outside every region).

    :raises CutError: a partition with rows is not inside exactly one region.
    """
    root = Path(mt_path)
    spec = _read_json_gz(root / "rows" / "rows" / "metadata.json.gz")
    counts = _read_json_gz(root / "metadata.json.gz")["components"]["partition_counts"]["counts"]
    locate = _locate(regions)
    out: list[int | None] = []
    for i, (bounds, n) in enumerate(zip(spec["_jRangeBounds"], counts, strict=True)):
        lo, hi = _bound_locus(bounds["start"]), _bound_locus(bounds["end"])
        if not bounds.get("includeEnd", True):  # an exclusive end may be the next region's first locus
            hi = (hi[0], hi[1] - 1) if hi[1] > 1 else lo
        k = locate(*lo)
        if k is None or locate(*hi) != k:
            if n == 0:
                out.append(k)
                continue
            raise CutError(f"{root}: partition {i} ({lo[0]}:{lo[1]}-{hi[0]}:{hi[1]}, {n} rows) is not inside "
                           f"one region")
        out.append(k)
    return out


def group_partitions(owner: Sequence[int | None], n_regions: int) -> list[list[int]]:
    """Partition indexes of each region, in order."""
    out: list[list[int]] = [[] for _ in range(n_regions)]
    for i, k in enumerate(owner):
        if k is not None:
            out[k].append(i)
    return out


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or one without hard links
        shutil.copy2(src, dst)


def _crc(path: Path) -> Path:
    """Hadoop's checksum sidecar of ``path`` (``.name.crc``, written by Hail on local filesystems)."""
    return path.with_name(f".{path.name}.crc")


def _shared_files(src: Path) -> list[Path]:
    """Files of the MatrixTable ``src`` that every cut gets unchanged: globals, columns, references, READMEs and
    ``_SUCCESS`` markers (not the partitioned components' parts, the row index, or the metadata that lists
    partitions, nor those metadata files' checksum sidecars)."""
    rewritten = {src / "metadata.json.gz"}
    for c in _PARTITIONED:
        rewritten |= {src / c / "metadata.json.gz", src / c / "rows" / "metadata.json.gz"}
    skip_dirs = {src / c / "rows" / "parts" for c in _PARTITIONED} | {src / "index"}
    out = []
    for dirpath, dirnames, filenames in os.walk(src):
        d = Path(dirpath)
        dirnames[:] = [n for n in dirnames if d / n not in skip_dirs]
        for n in filenames:
            f = d / n
            if f in rewritten or any(f == _crc(r) for r in rewritten):
                continue
            out.append(f)
    return out


def cut_matrix_table(
    mt_path: str | os.PathLike[str], regions: Sequence[Region], dests: Sequence[str | os.PathLike[str] | None]
) -> list[int]:
    """Cut the MatrixTable at ``mt_path`` into one MatrixTable per region (``dests[k]`` for ``regions[k]``;
    None: that region is not written).

    Part files and row indexes are moved out of ``mt_path`` (which is left incomplete: a scratch copy);
    globals, columns and references are hard-linked (copied across filesystems). Returns the row count of each
    region. Check :func:`native_format_supported` first.

    :raises CutError: a partition crosses a region boundary, or a destination exists.
    """
    src = Path(mt_path)
    if len(regions) != len(dests):
        raise ValueError("one destination per region")
    groups = group_partitions(partition_regions(src, regions), len(regions))
    meta = _read_json_gz(src / "metadata.json.gz")
    counts: list[int] = meta["components"]["partition_counts"]["counts"]
    specs = {c: _read_json_gz(src / c / "rows" / "metadata.json.gz") for c in _PARTITIONED}
    tables = {c: _read_json_gz(src / c / "metadata.json.gz") for c in _PARTITIONED}
    part_files: list[str] = specs["rows"]["_partFiles"]
    if specs["entries"]["_partFiles"] != part_files:
        raise CutError(f"{src}: rows and entries list different part files")
    shared = _shared_files(src)
    totals = []
    for k, dest_ in enumerate(dests):
        mine = groups[k]
        sub_counts = [counts[i] for i in mine]
        totals.append(int(sum(sub_counts)))
        if dest_ is None:
            continue
        dest = Path(dest_)
        if dest.exists():
            raise CutError(f"{dest}: exists")
        for f in shared:
            _link_or_copy(f, dest / f.relative_to(src))
        for c in _PARTITIONED:
            spec = dict(specs[c], _partFiles=[part_files[i] for i in mine],
                        _jRangeBounds=[specs[c]["_jRangeBounds"][i] for i in mine])
            _write_json_gz(dest / c / "rows" / "metadata.json.gz", spec)
            table = json.loads(json.dumps(tables[c]))
            table["components"]["partition_counts"]["counts"] = sub_counts
            _write_json_gz(dest / c / "metadata.json.gz", table)
            parts = dest / c / "rows" / "parts"
            parts.mkdir(parents=True, exist_ok=True)
            for i in mine:
                for f in (src / c / "rows" / "parts" / part_files[i],
                          _crc(src / c / "rows" / "parts" / part_files[i])):
                    if f.exists():
                        os.replace(f, parts / f.name)
        (dest / "index").mkdir(exist_ok=True)
        for i in mine:
            idx = src / "index" / f"{part_files[i]}.idx"
            if idx.exists():
                os.replace(idx, dest / "index" / idx.name)
        top = json.loads(json.dumps(meta))
        top["components"]["partition_counts"]["counts"] = sub_counts
        _write_json_gz(dest / "metadata.json.gz", top)
    return totals


def cut_matrix_table_with_hail(
    mt_path: str | os.PathLike[str], regions: Sequence[Region], dests: Sequence[str | os.PathLike[str] | None],
    *, reference_genome: str,
) -> list[int]:
    """:func:`cut_matrix_table` done by Hail: one read-and-write query per region (for layouts the file cut does
    not know; correct, but each region costs a query)."""
    import hail as hl

    totals = []
    for r, dest in zip(regions, dests, strict=True):
        iv = hl.Interval(hl.Locus(r.contig, r.start, reference_genome), hl.Locus(r.contig, r.end, reference_genome),
                         includes_start=True, includes_end=True)
        mt = hl.read_matrix_table(str(mt_path), _intervals=[iv])
        if dest is None:
            totals.append(int(mt.count_rows()))
            continue
        mt.write(str(dest))
        with open(Path(dest) / "metadata.json.gz", "rb") as f:
            totals.append(int(sum(json.loads(gzip.decompress(f.read()))["components"]["partition_counts"]["counts"])))
    return totals


def concat_bgzf(parts: Sequence[Path], dest: Path) -> None:
    """Concatenate BGZF files into ``dest``, dropping every end-of-file marker block but a final one."""
    with dest.open("wb") as out:
        for p in parts:
            data = p.read_bytes()
            out.write(data[: -len(BGZF_EOF)] if data.endswith(BGZF_EOF) else data)
        out.write(BGZF_EOF)


def cut_plink(stem: Path, row_counts: Sequence[int], dest_stems: Sequence[Path | None], n_samples: int) -> None:
    """Cut ``stem.bed/.bim/.fam`` (variant-major PLINK 1.9) into consecutive blocks of ``row_counts`` variants;
    block ``k`` goes to ``dest_stems[k]`` (None: dropped)."""
    per_variant = (n_samples + 3) // 4
    with (stem.with_suffix(".bed")).open("rb") as bed, (stem.with_suffix(".bim")).open("rb") as bim:
        if bed.read(3) != PLINK_MAGIC:
            raise CutError(f"{stem}.bed: not a variant-major PLINK 1.9 .bed file")
        for n, dest in zip(row_counts, dest_stems, strict=True):
            data = bed.read(n * per_variant)
            lines = [bim.readline() for _ in range(n)]
            if len(data) != n * per_variant or (n and not lines[-1]):
                raise CutError(f"{stem}: fewer variants than the partition counts say")
            if dest is None:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.with_suffix(".bed").write_bytes(PLINK_MAGIC + data)
            dest.with_suffix(".bim").write_bytes(b"".join(lines))
            shutil.copyfile(stem.with_suffix(".fam"), dest.with_suffix(".fam"))
        if bed.read(1) or bim.readline():
            raise CutError(f"{stem}: more variants than the partition counts say")


def merge_bgen(parts: Sequence[Path], dest: Path) -> int:
    """Join BGEN files with the same samples and header into ``dest``; return its variant count.

    A BGEN file is ``offset`` (4 bytes), the header block (whose bytes 4-7 are the variant count ``M``), the
    sample identifier block when present, and from byte ``offset + 4`` on the variant blocks.
    """
    if not parts:
        raise ValueError("no BGEN part to merge")
    total = 0
    head = b""
    with dest.open("wb") as out:
        for j, p in enumerate(parts):
            data = p.read_bytes()
            offset = int.from_bytes(data[0:4], "little")
            total += int.from_bytes(data[8:12], "little")
            this = data[:8] + bytes(4) + data[12 : offset + 4]  # header and sample block, variant count zeroed
            if j == 0:
                head = this
                out.write(data[: offset + 4])
            elif this != head:
                raise CutError(f"{p}: header differs from {parts[0]} (not parts of one export)")
            out.write(data[offset + 4 :])
    with dest.open("r+b") as f:
        f.seek(8)
        f.write(total.to_bytes(4, "little"))
    return total
