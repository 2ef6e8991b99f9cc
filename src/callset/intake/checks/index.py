"""Tabix/CSI index checks: present, not stale, consistent with the data."""

from __future__ import annotations

import logging
import struct
import zlib
from pathlib import Path

from callset.intake.checks.gvcf import GvcfScan

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------
# Indexes (.tbi / .csi / .crai)
# ---------------------------------------------------------------------------------------------------


def find_index(path: Path, kinds: tuple[str, ...] = (".tbi", ".csi")) -> Path | None:
    for k in kinds:
        p = Path(f"{path}{k}")
        if p.exists():
            return p
    return None


def alignment_index(path: Path, built_dir: Path | None = None) -> Path | None:
    """The index of a CRAM (``.crai``) or BAM (``.bai``/``.csi``): the center's, next to it, else the one intake
    built into ``built_dir`` (``results/intake/<batch>/cram``) for a sound file sent without one."""
    kinds = (".crai",) if path.name.endswith(".cram") else (".bai", ".csi")
    found = find_index(path, kinds)
    if found is None and built_dir is not None:
        found = next((p for k in kinds if (p := built_dir / f"{path.name}{k}").is_file()), None)
    return found


def read_index_counts(index: Path) -> dict[str, int]:
    """``contig -> mapped record count`` from a .tbi or .csi (the htslib pseudo-bin metadata)."""
    data = _bgzf_or_plain(index)
    if data[:4] == b"TBI\x01":
        (n_ref,) = struct.unpack_from("<i", data, 4)
        (l_nm,) = struct.unpack_from("<i", data, 32)
        names = [x.decode() for x in data[36 : 36 + l_nm].split(b"\x00") if x]
        off = 36 + l_nm
        pseudo = 37450
        min_shift_depth = None
    elif data[:4] == b"CSI\x01":
        min_shift, depth, l_aux = struct.unpack_from("<iii", data, 4)
        aux = data[16 : 16 + l_aux]
        (l_nm,) = struct.unpack_from("<i", aux, 24) if len(aux) >= 28 else (0,)
        names = [x.decode() for x in aux[28 : 28 + l_nm].split(b"\x00") if x]
        off = 16 + l_aux
        (n_ref,) = struct.unpack_from("<i", data, off)
        off += 4
        n_ref_names = n_ref
        if len(names) != n_ref_names:
            names = [str(i) for i in range(n_ref)]
        pseudo = ((1 << ((depth + 1) * 3)) - 1) // 7 + 1
        min_shift_depth = (min_shift, depth)
    else:
        raise ValueError(f"{index}: not a tabix/CSI index")
    if data[:4] == b"TBI\x01":
        off = 36 + l_nm
    counts: dict[str, int] = {}
    for r in range(n_ref):
        (n_bin,) = struct.unpack_from("<i", data, off)
        off += 4
        for _ in range(n_bin):
            if min_shift_depth is None:
                bin_, n_chunk = struct.unpack_from("<Ii", data, off)
                off += 8
            else:
                bin_, _loff, n_chunk = struct.unpack_from("<IQi", data, off)
                off += 16
            if bin_ == pseudo and n_chunk == 2:
                _a, _b, n_mapped, _n_unmapped = struct.unpack_from("<QQQQ", data, off)
                counts[names[r] if r < len(names) else str(r)] = int(n_mapped)
            off += 16 * n_chunk
        if min_shift_depth is None:
            (n_intv,) = struct.unpack_from("<i", data, off)
            off += 4 + 8 * n_intv
    return counts


def _bgzf_or_plain(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        out = []
        d = zlib.decompressobj(31)
        while raw:
            out.append(d.decompress(raw))
            raw = d.unused_data
            if d.eof:
                d = zlib.decompressobj(31)
            else:
                break
        return b"".join(out)
    return raw


def check_gvcf_index(path: Path, scan: GvcfScan) -> tuple[list[str], list[str], bool]:
    """The gVCF's index: present, not older than the data, and agreeing with the records.

    :return: ``(problems, notes, rebuild)``: ``rebuild`` when the staged copy needs a fresh index
        (missing, older but consistent, or .csi only).
    """
    idx = find_index(path)
    if idx is None:
        return [], [f"{path}: no .tbi/.csi index: built one for the staged copy"], True
    problems: list[str] = []
    notes: list[str] = []
    older = idx.stat().st_mtime < path.stat().st_mtime
    try:
        counts = read_index_counts(idx)
    except (ValueError, struct.error, zlib.error, OSError, UnicodeDecodeError) as e:
        return [f"{idx}: index unreadable ({e})"], notes, True
    mine = {c: n for c, n in scan.contig_counts.items() if n}
    theirs = {c: n for c, n in counts.items() if n}
    if scan.complete and mine != theirs:
        diff = sorted(set(mine) | set(theirs))
        ex = [
            f"{c}: index {theirs.get(c, 0)} vs file {mine.get(c, 0)}"
            for c in diff
            if mine.get(c) != theirs.get(c)
        ]
        problems.append(
            f"{idx}: index does not match the data (records per contig {', '.join(ex[:3])})"
            + (" and is older than the data file" if older else "")
            + ": stale or wrong index"
        )
        return problems, notes, True
    if older:
        notes.append(
            f"{idx}: index older than the data file but consistent with it: rebuilt for the staged copy"
        )
        return problems, notes, True
    if idx.suffix == ".csi":
        notes.append(f"{idx}: .csi index given; a .tbi was built for the staged copy (Hail reads .tbi)")
        return problems, notes, True
    return problems, notes, False


