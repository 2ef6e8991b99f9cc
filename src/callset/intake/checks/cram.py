"""CRAM/BAM checks: container walk (truncation, EOF), header, @SQ against the reference, @RG SM."""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from callset.core.reference import Reference
from callset.intake.checks.files import CRAM3_EOF, CRAM21_EOF, Decoded, check_bgzf_eof, decode_member
from callset.intake.checks.index import find_index

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------
# CRAM / BAM
# ---------------------------------------------------------------------------------------------------


def _itf8(buf: bytes, off: int) -> tuple[int, int]:
    b0 = buf[off]
    if b0 < 0x80:
        return b0, off + 1
    if b0 < 0xC0:
        return ((b0 & 0x3F) << 8) | buf[off + 1], off + 2
    if b0 < 0xE0:
        return ((b0 & 0x1F) << 16) | (buf[off + 1] << 8) | buf[off + 2], off + 3
    if b0 < 0xF0:
        return ((b0 & 0x0F) << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3], off + 4
    v = (
        ((b0 & 0x0F) << 28)
        | (buf[off + 1] << 20)
        | (buf[off + 2] << 12)
        | (buf[off + 3] << 4)
        | (buf[off + 4] & 0x0F)
    )
    return v, off + 5


def _ltf8_len(b0: int) -> int:
    n = 1
    while n <= 8 and b0 & (0x80 >> (n - 1)):
        n += 1
    return n


def _cram_structure(path: Path) -> tuple[str, list[str]]:
    """Walk CRAM containers: each container complete, the EOF container last (``samtools quickcheck``
    checks the EOF marker only; the walk also finds a truncated container). Returns (version, problems)."""
    problems: list[str] = []
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(26)
        major, minor = head[4], head[5]
        version = f"{major}.{minor}"
        off = 26
        while off < size:
            f.seek(off)
            hdr = f.read(1 << 16)
            try:
                length = struct.unpack_from("<i", hdr, 0)[0]
                p = 4
                for _ in range(4):  # ref_seq_id, start, span, n_records
                    _v, p = _itf8(hdr, p)
                if major >= 3:
                    p += _ltf8_len(hdr[p])  # record counter
                else:
                    _v, p = _itf8(hdr, p)
                p += _ltf8_len(hdr[p])  # bases
                _nblocks, p = _itf8(hdr, p)
                nland, p = _itf8(hdr, p)
                for _ in range(nland):
                    _v, p = _itf8(hdr, p)
                if major >= 3:
                    p += 4  # crc32
                if p > len(hdr):
                    raise IndexError
            except (IndexError, struct.error):
                problems.append(f"{path}: truncated: incomplete CRAM container header at byte offset {off}")
                break
            if length < 0:
                problems.append(f"{path}: corrupt CRAM container at byte offset {off} (negative length)")
                break
            end = off + p + length
            if end > size:
                problems.append(
                    f"{path}: truncated: CRAM container at byte offset {off} needs {end - off} bytes, "
                    f"only {size - off} remain"
                )
                break
            off = end
        eof = CRAM3_EOF if major >= 3 else CRAM21_EOF
        f.seek(max(0, size - len(eof)))
        if f.read() != eof:
            problems.append(f"{path}: CRAM EOF container missing (file truncated?)")
    return version, problems


@lru_cache(maxsize=8)
def fasta_md5s(fasta: str) -> dict[str, str]:
    """Per-contig M5 (md5 of the upper-case sequence) from ``<fasta>.dict``/``<stem>.dict`` when present
    (Picard/samtools dict), else computed from the FASTA (slow for a whole genome; cached per process)."""
    p = Path(fasta)
    for d in (
        Path(f"{fasta}.dict"),
        p.with_suffix(".dict"),
        Path(str(p).removesuffix(".gz")).with_suffix(".dict"),
    ):
        if d.exists():
            out = {}
            for line in d.read_text().splitlines():
                if line.startswith("@SQ"):
                    tags = dict(t.split(":", 1) for t in line.split("\t")[1:] if ":" in t)
                    if "SN" in tags and "M5" in tags:
                        out[tags["SN"]] = tags["M5"].lower()
            if out:
                return out
    import pysam

    out = {}
    with pysam.FastaFile(fasta) as fa:
        for name in fa.references:
            out[name] = hashlib.md5(fa.fetch(name).upper().encode()).hexdigest()
    return out


def check_cram(
    path: Path,
    *,
    sample_id: str,
    reference: Reference,
    contig_recoding: Mapping[str, str] | None = None,
    reference_fasta: str | None = None,
    index_dir: Path | None = None,
) -> tuple[list[str], list[str]]:
    """CRAM integrity and header checks. Returns ``(problems, notes)``.

    A missing index is built when the file is sound, into ``index_dir`` (the inbox is never written;
    without ``index_dir`` a temporary one proves it can be built).

    Complete (container walk + EOF container, or BGZF EOF for BAM — like ``samtools quickcheck``), header
    readable by htslib, ``@SQ`` names/lengths match ``reference`` (M5 compared when a FASTA is
    configured), every ``@RG`` has ``SM == sample_id``.
    """
    problems: list[str] = []
    notes: list[str] = []
    with open(path, "rb") as f:
        magic = f.read(4)
    is_cram = magic == b"CRAM"
    if not is_cram and magic[:2] != b"\x1f\x8b":
        problems.append(f"{path}: not a CRAM file (magic {magic!r})")
        return problems, notes
    problems.extend(_integrity(path, is_cram=is_cram))
    hdr, unreadable = _read_header(path, reference_fasta)
    if hdr is None:
        problems.append(unreadable)
        return problems, notes
    sq_problems, sq_notes = _sq_problems(path, hdr.get("SQ", []), reference, dict(contig_recoding or {}),
                                         reference_fasta)
    problems.extend(sq_problems)
    notes.extend(sq_notes)
    problems.extend(_rg_problems(path, hdr.get("RG", []), sample_id))
    idx_problems, idx_notes = _index(path, is_cram=is_cram, sound=not problems, index_dir=index_dir)
    problems.extend(idx_problems)
    notes.extend(idx_notes)
    return problems, notes


def _integrity(path: Path, *, is_cram: bool) -> list[str]:
    """A CRAM's container walk and EOF container; a BAM-style file is a problem in itself, and then every BGZF
    block must decode and the EOF block be there."""
    if is_cram:
        _version, structure = _cram_structure(path)
        return structure
    problems = [f"{path}: is BGZF/BAM-style, not a CRAM file"]
    problems.extend(check_bgzf_eof(path))
    try:
        # every block must decode (BAM header is in the first blocks)
        st = Decoded()
        for _ in decode_member(path, st):
            pass
        problems.extend(p for p in st.problems if "EOF" not in p)
    except OSError as e:
        problems.append(f"{path}: cannot read: {e}")
    return problems


def _read_header(path: Path, reference_fasta: str | None) -> tuple[dict[str, Any] | None, str]:
    """The header as htslib reads it (``(header, "")``), or ``(None, problem)``."""
    import pysam

    verbosity = pysam.set_verbosity(0)  # htslib would print "could not load index" noise
    try:
        with pysam.AlignmentFile(str(path), "r", check_sq=False, reference_filename=reference_fasta) as af:
            return af.header.to_dict(), ""
    except (OSError, ValueError) as e:
        return None, f"{path}: header unreadable by htslib: {e}"
    finally:
        pysam.set_verbosity(verbosity)


def _sq_problems(
    path: Path, sq: list[Any], reference: Reference, recode: Mapping[str, str],
    reference_fasta: str | None,
) -> tuple[list[str], list[str]]:
    """``@SQ`` lines (pysam's header dicts) against the reference: names (after ``recode``), lengths, and M5 when a
    FASTA is configured; returns ``(problems, notes)``."""
    problems: list[str] = []
    notes: list[str] = []
    if not sq:
        problems.append(f"{path}: header has no @SQ lines")
    bad_len, unknown = [], []
    m5 = fasta_md5s(reference_fasta) if reference_fasta and any("M5" in s for s in sq) else {}
    bad_m5 = []
    for s in sq:
        name, ln = s.get("SN"), s.get("LN")
        target = recode.get(name, name)
        want = reference.lengths.get(target)
        if want is None:
            unknown.append(name)
        elif ln != want:
            bad_len.append(f"{name} ({ln} vs {reference.name} {want})")
        if m5 and "M5" in s and target in m5 and s["M5"].lower() != m5[target]:
            bad_m5.append(name)
    if unknown:
        problems.append(
            f"{path}: {len(unknown)} of {len(sq)} @SQ names are not in {reference.name}, e.g. {unknown[:3]} "
            "(wrong reference build?)"
        )
    if bad_len:
        problems.append(
            f"{path}: {len(bad_len)} @SQ lengths differ from {reference.name}, e.g. {', '.join(bad_len[:3])}"
        )
    if bad_m5:
        problems.append(
            f"{path}: @SQ M5 differs from the reference FASTA for {bad_m5[:3]} (wrong reference?)"
        )
    if any("M5" in s for s in sq) and not reference_fasta:
        notes.append(
            f"{path}: @SQ M5 not checked (no intake.reference_fasta configured); names/lengths checked"
        )
    return problems, notes


def _rg_problems(path: Path, rgs: list[dict[str, Any]], sample_id: str) -> list[str]:
    """At least one ``@RG`` line, each with ``SM`` equal to the manifest's ``sample_id``."""
    problems: list[str] = []
    if not rgs:
        problems.append(f"{path}: header has no @RG line (SM must equal sample_id {sample_id!r})")
    wrong_sm = [rg for rg in rgs if rg.get("SM") != sample_id]
    if wrong_sm:
        sms = sorted({str(rg.get("SM")) for rg in wrong_sm})
        problems.append(
            f"{path}: {len(wrong_sm)} of {len(rgs)} @RG lines have SM {sms[:3]} "
            f"(e.g. @RG ID:{wrong_sm[0].get('ID')}), "
            f"not the manifest sample_id {sample_id!r}"
        )
    return problems


def _index(path: Path, *, is_cram: bool, sound: bool, index_dir: Path | None) -> tuple[list[str], list[str]]:
    """The index (``.crai``, or ``.bai``/``.csi`` for a BAM-style file) is there and not older than the file;
    a missing one is built when the file is ``sound`` (into ``index_dir``, else a temporary folder). Returns
    ``(problems, notes)``."""
    crai = find_index(path, (".crai",)) if is_cram else find_index(path, (".bai", ".csi"))
    if crai is None:
        if sound:
            return _build_index(path, is_cram=is_cram, index_dir=index_dir)
        kind = ".crai" if is_cram else ".bai/.csi"
        return [f"{path}: no index ({kind}) and the file is not sound enough to build one"], []
    if crai.stat().st_mtime < path.stat().st_mtime:
        return [f"{crai}: index older than its data file (stale index: re-index or resubmit)"], []
    return [], []


def _build_index(path: Path, *, is_cram: bool, index_dir: Path | None) -> tuple[list[str], list[str]]:
    import tempfile

    import pysam

    ext = "crai" if is_cram else "bai"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(index_dir or tmp) / f"{path.name}.{ext}"
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            pysam.index(str(path), str(out))
        except pysam.SamtoolsError as e:
            return [f"{path}: no index and building one failed: {e}"], []
    where = f" ({out})" if index_dir else " (then discarded: no index_dir given)"
    return [], [f"{path}: no index: built one{where}"]
