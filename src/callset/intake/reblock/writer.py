"""The text the reblocker writes: its header, the lines of the output blocks, and everything in line order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from callset.intake.reblock.bands import Pieces
from callset.intake.reblock.fields import Lines
from callset.intake.reblock.settings import BLOCK_FORMAT, ReblockSettings

_FORMAT_LINES = {
    "GT": '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    "DP": '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">',
    "GQ": '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype Quality">',
    "MIN_DP": '##FORMAT=<ID=MIN_DP,Number=1,Type=Integer,Description="Minimum DP observed within the '
              'GVCF block">',
}


def header_text(lines: Sequence[str], settings: ReblockSettings, recode: Mapping[bytes, bytes]) -> bytes:
    """The output header from the input's (``##...`` and ``#CHROM`` last): the input's ``##GVCFBlock`` lines
    replaced by the bands', block FORMAT lines added where missing, contigs renamed, a ``##callset_reblock``
    line saying how the file was made."""
    s = settings
    floors = list(s.gq_bands)
    uppers = [*floors[1:], 100]
    # one pass of C-level string methods per line (a GRCh38 header has ~3,400 contig lines)
    out = [ln.rstrip("\r\n") for ln in lines if not ln.startswith(("##GVCFBlock", "#CHROM"))]
    have_format = {ln[13:].split(",", 1)[0] for ln in out if ln.startswith("##FORMAT=<ID=")}
    if recode:
        for i, line in enumerate(out):
            if line.startswith("##contig=<ID="):
                cid = line[13:].split(",", 1)[0].rstrip(">")
                new = recode.get(cid.encode())
                if new is not None:
                    out[i] = "##contig=<ID=" + new.decode() + line[13 + len(cid):]
    out += [v for k, v in _FORMAT_LINES.items() if k not in have_format]
    out += [f"##GVCFBlock{lo}-{hi}=minGQ={lo}(inclusive),maxGQ={hi}(exclusive)"
            for lo, hi in zip(floors, uppers, strict=True)]
    rec = s.record()
    out.append(
        "##callset_reblock=<GQBands=\"" + ",".join(map(str, floors)) + f"\",FloorBlocks=true,GQ0={s.gq0},"
        f"MaxBlockLength={s.max_block_length},BlockDP=length_weighted_mean,Version=\"{rec['tool']}\">"
    )
    chrom = next((ln.rstrip("\r\n") for ln in lines if ln.startswith("#CHROM")), None)
    if chrom is not None:
        out.append(chrom)
    return ("\n".join(out) + "\n").encode()


def format_blocks(L: Lines, p: Pieces, gq: np.ndarray, recode: Mapping[bytes, bytes]) -> list[bytes]:
    """The text of the kept blocks (one ``bytes`` per line), formatted per contig; ``gq`` is each piece's GQ
    (its band's floor)."""
    keep, line, ps, pe, ref = p.keep, p.line, p.ps, p.pe, p.ref
    dp, dp_miss, mn, mn_miss = p.dp, p.dp_miss, p.min_dp, p.min_miss
    sel = np.flatnonzero(keep)
    out: list[bytes] = []
    if not len(sel):  # every piece a GQ-0 block dropped (gq0="drop")
        return out
    cid = L.cid[line[sel]]
    bounds = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1], True])
    alts = np.array([b"<NON_REF>", b"<*>"], dtype=object)
    gts = np.array([b"0/0", b"0"], dtype=object)
    for b0, b1 in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        s = sel[b0:b1]
        chrom = L.names[int(cid[b0])]
        chrom = recode.get(chrom, chrom)
        fmt = chrom + b"\t%d\t.\t%c\t%s\t.\t.\tEND=%d\t" + BLOCK_FORMAT + b"\t%s:%d:%d:%d\n"
        cols = (ps[s].tolist(), ref[s].tolist(), alts[L.star[line[s]].astype(int)].tolist(), pe[s].tolist(),
                gts[(L.ploidy[line[s]] == 1).astype(int)].tolist(), dp[s].tolist(), gq[s].tolist(),
                mn[s].tolist())
        out += [fmt % r for r in zip(*cols, strict=True)]
    miss = np.flatnonzero((dp_miss | mn_miss)[sel])
    for j in miss.tolist():  # rare: a block without DP or MIN_DP
        i = sel[j]
        parts = out[j].rsplit(b"\t", 1)
        gt = parts[1].split(b":")[0]
        out[j] = parts[0] + b"\t" + b":".join(
            [gt, b"." if dp_miss[i] else b"%d" % dp[i], b"%d" % gq[i], b"." if mn_miss[i] else b"%d" % mn[i]]
        ) + b"\n"
    return out


def recode_lines(seg: bytes, recode: Mapping[bytes, bytes]) -> bytes:
    """Complete record lines with their contigs renamed by ``recode`` (names it lacks stay)."""
    lines = seg.split(b"\n")
    out = []
    for ln in lines[:-1]:
        tab = ln.find(b"\t")
        new = recode.get(ln[:tab]) if tab > 0 else None
        out.append(new + ln[tab:] if new is not None else ln)
    return b"\n".join(out) + b"\n"


def in_line_order(
    data: bytes, L: Lines, m: np.ndarray, runs: np.ndarray, lines: list[bytes], run_lo: list[int],
    run_hi: list[int], recode: Mapping[bytes, bytes],
) -> bytes:
    """Lines ``[0, len(m))`` as written: the stretches of lines not merged (``~m``) copied from ``data``, and in
    place of each run (first line ``runs[r]``) its blocks ``lines[run_lo[r]:run_hi[r]]``."""
    copy_start = np.flatnonzero(~m & np.r_[True, m[:-1]])
    copy_end = np.flatnonzero(~m & np.r_[m[1:], True])
    segs = [data[a0: a1 + 1] for a0, a1 in zip(L.starts[copy_start].tolist(), L.nl[copy_end].tolist(),
                                               strict=True)]
    if recode:
        segs = [recode_lines(seg, recode) for seg in segs]
    if not len(runs):  # nothing merged in this chunk: the lines as they were
        return b"".join(segs)
    # items: the copied stretches, then every block line; put them in line order
    n_copy = len(copy_start)
    n_run_lines = np.asarray(run_hi, np.int64) - np.asarray(run_lo, np.int64)
    ev = np.argsort(np.r_[copy_start, runs], kind="stable")
    size = np.where(ev < n_copy, 1, n_run_lines[np.maximum(ev - n_copy, 0)])
    first = np.where(ev < n_copy, ev, n_copy + np.asarray(run_lo, np.int64)[np.maximum(ev - n_copy, 0)])
    order = np.repeat(first - np.cumsum(size) + size, size) + np.arange(int(size.sum()))
    items = segs + lines
    return b"".join([items[i] for i in order.tolist()])


class FastaBases:
    """REF bases of blocks cut inside an input block, looked up in a FASTA (opened on first use)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fasta: Any = None

    def fill(self, L: Lines, p: Pieces, recode: Mapping[bytes, bytes]) -> np.ndarray:
        """``p.ref`` with the FASTA's base (A, C, G, T or N) where a piece does not start an input block."""
        import pysam

        if self._fasta is None:
            self._fasta = pysam.FastaFile(self.path)
        out = p.ref.copy()
        for j in np.flatnonzero(~p.at_start).tolist():
            chrom = L.names[int(L.cid[p.line[j]])]
            chrom = recode.get(chrom, chrom)
            try:
                base = self._fasta.fetch(chrom.decode(), int(p.ps[j]) - 1, int(p.ps[j])).upper()
            except (KeyError, ValueError):
                base = ""
            if base and base in "ACGTN":
                out[j] = ord(base)
        return out

    def close(self) -> None:
        if self._fasta is not None:
            self._fasta.close()
            self._fasta = None
