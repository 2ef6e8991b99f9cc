"""``callset verify <release dir>``: is a release complete and intact?

Checks, each failure named with its file: the release is finished (a ``manifest.json``, not a
``.<name>.partial`` directory); every file listed in the manifest exists with its size and sha256; no
file is present that the manifest does not list; each shard's checksum matches its files; every
MatrixTable and the VDS open with Hail, with the row and sample counts of the manifest; every VCF,
PLINK and BGEN export has a readable header with the manifest's sample and variant counts (VCFs are read
to their BGZF end-of-file block); the public summary has its header.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from callset.errors import ReleaseError
from callset.release.manifest import digest_of, sha256_file

log = logging.getLogger(__name__)

# Files a workflow engine writes into a finished release that are not part of it. Snakemake touches
# ``.snakemake_timestamp`` inside every ``directory()`` output when the job ends. Only these exact paths (at the
# release root) are ignored; any other unlisted file is reported.
WORKFLOW_BOOKKEEPING = frozenset({".snakemake_timestamp"})

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
PLINK_MAGIC = bytes([0x6C, 0x1B, 0x01])


def load_finished_manifest(release_dir: str | Path) -> dict[str, Any]:
    """The manifest of a finished release; refuses an unfinished one.

    :raises ReleaseError: a ``.partial`` directory, no ``manifest.json``, or an unreadable one.
    """
    root = Path(release_dir)
    if root.name.startswith(".") and root.name.endswith(".partial"):
        raise ReleaseError(f"{root}: an unfinished release (a .partial directory is still being written or was "
                           "abandoned); it is not a release")
    if not root.is_dir():
        raise ReleaseError(f"{root}: no such release directory")
    m = root / "manifest.json"
    if not m.is_file():
        partial = root.parent / f".{root.name}.partial"
        extra = f" ({partial} exists: still being written?)" if partial.exists() else ""
        raise ReleaseError(f"{root}: no manifest.json: an unfinished release{extra}")
    try:
        return json.loads(m.read_text())
    except json.JSONDecodeError as e:
        raise ReleaseError(f"{m}: not valid JSON ({e})") from None


def _all_shards(manifest: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for s in manifest.get("shards", []):
        yield "main", s
    for name, cs in (manifest.get("callsets") or {}).items():
        for s in cs.get("shards", []):
            yield name, s


def check_files(root: Path, manifest: Mapping[str, Any]) -> list[str]:
    """Missing, resized, altered and unlisted files; shard checksums."""
    problems = []
    listed = {f["path"]: f for f in manifest.get("files", [])}
    for rel, f in listed.items():
        p = root / rel
        if not p.is_file():
            problems.append(f"{p}: listed in manifest.json but missing")
            continue
        size = p.stat().st_size
        if size != f["size"]:
            problems.append(f"{p}: size {size} != {f['size']} in manifest.json")
        elif sha256_file(p) != f["sha256"]:
            problems.append(f"{p}: sha256 differs from manifest.json (file altered)")
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    on_disk -= {"manifest.json", *WORKFLOW_BOOKKEEPING}
    for rel in sorted(on_disk - set(listed)):
        problems.append(f"{root / rel}: present but not listed in manifest.json")
    for callset, s in _all_shards(manifest):
        if "checksum" not in s:
            continue
        prefix = s["path"].rstrip("/") + "/"
        files = [f for f in listed.values() if f["path"].startswith(prefix)]
        if not (root / s["path"]).is_dir():
            problems.append(f"{root / s['path']}: {callset} shard {s['interval']} missing")
        elif digest_of(files) != s["checksum"]:
            problems.append(f"{root / s['path']}: shard checksum in manifest.json does not match its file list")
    return problems


def check_hail(root: Path, manifest: Mapping[str, Any]) -> list[str]:
    """Open every MatrixTable and the VDS; compare row and sample counts with the manifest."""
    import hail as hl

    problems = []
    n_samples = manifest.get("n_samples")
    for _callset, s in _all_shards(manifest):
        p = root / s["path"]
        if not p.is_dir():
            continue  # reported by check_files
        try:
            mt = hl.read_matrix_table(str(p))
            n = mt._force_count_rows()
            k = mt.count_cols()
        except Exception as e:  # noqa: BLE001 - any Hail/JVM failure is a finding, reported with its message
            problems.append(f"{p}: cannot be read by Hail: {_first_line(e)}")
            continue
        if n != s["n_variants"]:
            problems.append(f"{p}: {n} rows, manifest.json says {s['n_variants']}")
        if n_samples is not None and k != n_samples:
            problems.append(f"{p}: {k} samples, manifest.json says {n_samples}")
    vds_rel = (manifest.get("vds") or {}).get("path")
    if vds_rel:
        p = root / vds_rel
        try:
            vds = hl.vds.read_vds(str(p))
            k = vds.variant_data.count_cols()
            vds.variant_data.rows()._force_count()
            vds.reference_data.rows()._force_count()
        except Exception as e:  # noqa: BLE001
            problems.append(f"{p}: VDS cannot be read by Hail: {_first_line(e)}")
        else:
            if n_samples is not None and k != n_samples:
                problems.append(f"{p}: {k} samples, manifest.json says {n_samples}")
    return problems


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    for line in text:
        if "Exception" in line or "Error" in line:
            return line.strip()[:300]
    return (text[0] if text else type(e).__name__)[:300]


def check_vcf(path: Path, *, n_samples: int, n_variants: int) -> list[str]:
    """Header, samples, records and the BGZF end-of-file block of one bgzipped VCF (+ its .tbi)."""
    import pysam

    problems = []
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - len(BGZF_EOF)))
        if f.read() != BGZF_EOF:
            problems.append(f"{path}: no BGZF end-of-file block (truncated)")
    if not Path(f"{path}.tbi").is_file():
        problems.append(f"{path}.tbi: tabix index missing")
    try:
        with pysam.VariantFile(str(path)) as vf:
            k = len(vf.header.samples)
            n = sum(1 for _ in vf)
    except (OSError, ValueError) as e:
        return [*problems, f"{path}: unreadable VCF: {e}"]
    if k != n_samples:
        problems.append(f"{path}: {k} samples in the header, manifest.json says {n_samples}")
    if n != n_variants:
        problems.append(f"{path}: {n} records, manifest.json says {n_variants}")
    return problems


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def check_plink(prefix: Path, *, n_samples: int, n_variants: int) -> list[str]:
    """Magic bytes and size of the .bed, line counts of .bim/.fam."""
    bed, bim, fam = (Path(f"{prefix}.{x}") for x in ("bed", "bim", "fam"))
    missing = [p for p in (bed, bim, fam) if not p.is_file()]
    if missing:
        return [f"{p}: PLINK file missing" for p in missing]
    problems = []
    with bed.open("rb") as f:
        if f.read(3) != PLINK_MAGIC:
            problems.append(f"{bed}: not a SNP-major PLINK 1 .bed (bad magic bytes)")
    want = 3 + n_variants * ((n_samples + 3) // 4)
    if bed.stat().st_size != want:
        problems.append(f"{bed}: {bed.stat().st_size} bytes, expected {want} for {n_variants} variants x "
                        f"{n_samples} samples")
    if (n := _count_lines(bim)) != n_variants:
        problems.append(f"{bim}: {n} variants, manifest.json says {n_variants}")
    if (n := _count_lines(fam)) != n_samples:
        problems.append(f"{fam}: {n} samples, manifest.json says {n_samples}")
    return problems


def read_bgen_header(path: Path) -> tuple[int, int]:
    """(n_variants, n_samples) from a BGEN header; raises ValueError when it is not one."""
    with path.open("rb") as f:
        head = f.read(20)
    if len(head) < 20:
        raise ValueError("file shorter than a BGEN header")
    _offset, _hlen, n_var, n_samp, magic = struct.unpack("<IIII4s", head)
    if magic not in (b"bgen", b"\0\0\0\0"):
        raise ValueError(f"bad magic {magic!r}")
    return n_var, n_samp


def check_bgen(path: Path, *, n_samples: int, n_variants: int) -> list[str]:
    """BGEN header counts, the .sample file and the Hail .idx2 index."""
    problems = []
    try:
        n_var, n_samp = read_bgen_header(path)
    except (OSError, ValueError) as e:
        return [f"{path}: unreadable BGEN header: {e}"]
    if n_var != n_variants:
        problems.append(f"{path}: header says {n_var} variants, manifest.json says {n_variants}")
    if n_samp != n_samples:
        problems.append(f"{path}: header says {n_samp} samples, manifest.json says {n_samples}")
    sample = path.with_suffix(".sample")
    if not sample.is_file():
        problems.append(f"{sample}: BGEN sample file missing")
    elif (n := _count_lines(sample) - 2) != n_samples:
        problems.append(f"{sample}: {n} samples, manifest.json says {n_samples}")
    if not (Path(f"{path}.idx2") / "index").is_file():
        problems.append(f"{path}.idx2: BGEN index missing")
    return problems


def check_exports(root: Path, manifest: Mapping[str, Any]) -> list[str]:
    problems = []
    k = manifest.get("n_samples", 0)
    for _callset, s in _all_shards(manifest):
        for fmt, files in (s.get("exports") or {}).items():
            n = s["n_variants"]
            first = root / files[0]
            if fmt == "vcf":
                if first.is_file():
                    problems += check_vcf(first, n_samples=k, n_variants=n)
            elif fmt == "plink":
                problems += check_plink(first.with_suffix(""), n_samples=k, n_variants=n)
            elif fmt == "bgen":
                if first.is_file():
                    problems += check_bgen(first, n_samples=k, n_variants=n)
    return problems


def check_public(root: Path, manifest: Mapping[str, Any]) -> list[str]:
    import gzip

    from callset.release.public import COLUMNS, SUMMARY_NAME

    pub = manifest.get("public")
    if not pub:
        return []
    p = root / "public" / SUMMARY_NAME
    if not p.is_file():
        return []  # reported by check_files
    try:
        with gzip.open(p, "rt") as f:
            header = f.readline().rstrip("\n").split("\t")
            for _ in f:
                pass
    except (OSError, EOFError) as e:
        return [f"{p}: unreadable: {e}"]
    return [] if tuple(header) == COLUMNS else [f"{p}: header {header} != {list(COLUMNS)}"]


def verify_release(release_dir: str | Path, *, open_with_hail: bool = True) -> list[str]:
    """All problems found in a release (empty when it is complete and intact).

    :raises ReleaseError: the directory is not a finished release (no manifest, or a ``.partial``).
    """
    root = Path(release_dir)
    manifest = load_finished_manifest(root)
    problems = check_files(root, manifest)
    problems += check_exports(root, manifest)
    problems += check_public(root, manifest)
    if open_with_hail:
        problems += check_hail(root, manifest)
    log.info("verify %s: %d problem(s)", root, len(problems))
    return problems
