"""The simulated reference: full-length GRCh38 contigs for the windows' contigs, ``N`` outside windows.

Written bgzipped with ``.fai`` and ``.gzi`` indexes (``samtools faidx`` compatible), so CRAMs can be
encoded/decoded against it and their ``@SQ`` lengths equal GRCh38's.

The contigs are mostly ``N`` (several hundred Mb for a handful of 1 Mb windows), so the file is written
block by block (BGZF, the same 65,280-byte blocks htslib writes) and a block whose bytes were already
compressed is reused, and the indexes are written alongside; this takes a few seconds instead of the
~15 s of compressing every block and re-reading the file with ``samtools faidx``.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callset.simulate.genetics import WindowGenetics

log = logging.getLogger(__name__)

LINE_WIDTH = 60
BLOCK_SIZE = 0xFF00  # uncompressed bytes per BGZF block, as htslib's bgzf_write
#: The BGZF end-of-file marker (an empty block).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


@dataclass
class Contig:
    """A full-length contig that is ``N`` except for ``pieces`` (0-based start, bases as uint8 ASCII)."""

    size: int
    pieces: list[tuple[int, np.ndarray]]

    def slice(self, a: int, b: int) -> np.ndarray | None:
        """Bases ``a:b``, or None when they are all ``N``."""
        hit = [(s, x) for s, x in self.pieces if s < b and s + x.size > a]
        if not hit:
            return None
        out = np.full(b - a, ord("N"), dtype=np.uint8)
        for s, x in hit:
            lo, hi = max(a, s), min(b, s + x.size)
            out[lo - a : hi - a] = x[lo - s : hi - s]
        return out

    def array(self) -> np.ndarray:
        out = self.slice(0, self.size)
        return np.full(self.size, ord("N"), dtype=np.uint8) if out is None else out


def contig_sequences(genetics: list[WindowGenetics], lengths: dict[str, int]) -> dict[str, Contig]:
    """Full-length contigs (``N`` outside the windows) of every contig carrying a window, in reference order."""
    names = [c for c in lengths if any(g.window.contig == c for g in genetics)]
    return {
        c: Contig(lengths[c], [(g.window.start - 1, g.refseq) for g in genetics if g.window.contig == c])
        for c in names
    }


def _bgzf_block(data: bytes) -> bytes:
    """One BGZF block (gzip member with the BC extra field) holding ``data``."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = c.compress(data) + c.flush()
    header = struct.pack("<4BI2BH2BHH", 0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, ord("B"), ord("C"), 2,
                         len(deflated) + 25)
    return header + deflated + struct.pack("<2I", zlib.crc32(data), len(data))


class _BgzfWriter:
    """Minimal BGZF writer that reuses compressed blocks and records the ``.gzi`` offsets."""

    def __init__(self, path: Path) -> None:
        self.fh = open(path, "wb")
        self.buf = bytearray()
        self.cache: dict[bytes, bytes] = {}
        self.offsets: list[tuple[int, int]] = []  # (compressed, uncompressed) start of each block
        self.c_off = self.u_off = 0

    def write(self, data: bytes) -> None:
        if self.buf:
            data = bytes(self.buf) + data
        mv = memoryview(data)
        i = 0
        while len(data) - i >= BLOCK_SIZE:
            self._flush_block(bytes(mv[i : i + BLOCK_SIZE]))
            i += BLOCK_SIZE
        self.buf = bytearray(mv[i:])

    def _flush_block(self, data: bytes) -> None:
        block = self.cache.get(data)
        if block is None:
            block = _bgzf_block(data)
            if data.count(b"N") > len(data) // 2:  # only the repetitive N blocks recur
                self.cache[data] = block
        self.offsets.append((self.c_off, self.u_off))
        self.fh.write(block)
        self.c_off += len(block)
        self.u_off += len(data)

    def close(self) -> list[tuple[int, int]]:
        if self.buf:
            self._flush_block(bytes(self.buf))
        self.fh.write(BGZF_EOF)
        self.fh.close()
        return self.offsets


def write_fasta(path: Path, seqs: Mapping[str, Contig | np.ndarray]) -> dict[str, str]:
    """Write a BGZF FASTA plus ``.fai`` and ``.gzi``; return the ``M5`` (md5 of the sequence) per contig."""
    md5s: dict[str, str] = {}
    out = _BgzfWriter(path)
    fai = []
    lines_per_chunk = 1 << 16
    n_line = b"N" * LINE_WIDTH
    n_bases, n_text = n_line * lines_per_chunk, (n_line + b"\n") * lines_per_chunk
    for name, seq in seqs.items():
        s = seq if isinstance(seq, Contig) else Contig(seq.size, [(0, seq)])
        h = hashlib.md5()
        head = f">{name}\n".encode()
        out.write(head)
        fai.append(f"{name}\t{s.size}\t{out.u_off + len(out.buf)}\t{LINE_WIDTH}\t{LINE_WIDTH + 1}\n")
        n_full = s.size // LINE_WIDTH
        for i in range(0, n_full, lines_per_chunk):
            j = min(n_full, i + lines_per_chunk)
            chunk = s.slice(i * LINE_WIDTH, j * LINE_WIDTH)
            if chunk is None:  # a stretch of N outside the windows
                h.update(n_bases if j - i == lines_per_chunk else n_line * (j - i))
                out.write(n_text if j - i == lines_per_chunk else (n_line + b"\n") * (j - i))
                continue
            h.update(chunk.tobytes())
            body = np.empty((j - i, LINE_WIDTH + 1), dtype=np.uint8)
            body[:, :LINE_WIDTH] = chunk.reshape(j - i, LINE_WIDTH)
            body[:, LINE_WIDTH] = ord("\n")
            out.write(body.tobytes())
        tail = s.slice(n_full * LINE_WIDTH, s.size)
        if tail is None:
            tail = np.full(s.size - n_full * LINE_WIDTH, ord("N"), dtype=np.uint8)
        if tail.size:
            h.update(tail.tobytes())
            out.write(tail.tobytes() + b"\n")
        md5s[name] = h.hexdigest()
    offsets = out.close()
    Path(f"{path}.fai").write_text("".join(fai))
    gzi = offsets[1:]  # htslib leaves out the first block (0, 0)
    Path(f"{path}.gzi").write_bytes(struct.pack(f"<Q{2 * len(gzi)}Q", len(gzi), *(x for p in gzi for x in p)))
    log.info("wrote reference %s (%s)", path, ", ".join(f"{c}:{s.size}" for c, s in seqs.items()))
    return md5s
