"""The simulated reference: full-length GRCh38 contigs for the windows' contigs, ``N`` outside windows.

Written bgzipped with ``.fai`` and ``.gzi`` indexes (``samtools faidx`` compatible), so CRAMs can be
encoded/decoded against it and their ``@SQ`` lengths equal GRCh38's.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pysam

from callset.simulate.genetics import WindowGenetics

log = logging.getLogger(__name__)

LINE_WIDTH = 60


def contig_sequences(genetics: list[WindowGenetics], lengths: dict[str, int]) -> dict[str, np.ndarray]:
    """Full-length sequences (uint8 ASCII) of every contig carrying a window, in reference order."""
    names = [c for c in lengths if any(g.window.contig == c for g in genetics)]
    seqs: dict[str, np.ndarray] = {}
    for c in names:
        s = np.full(lengths[c], ord("N"), dtype=np.uint8)
        for g in genetics:
            if g.window.contig == c:
                s[g.window.start - 1 : g.window.end] = g.refseq
        seqs[c] = s
    return seqs


def write_fasta(path: Path, seqs: dict[str, np.ndarray]) -> dict[str, str]:
    """Write a BGZF FASTA plus faidx indexes; return the ``M5`` (md5 of the sequence) per contig."""
    md5s: dict[str, str] = {}
    with pysam.BGZFile(str(path), "wb") as fh:
        for name, s in seqs.items():
            md5s[name] = hashlib.md5(s.tobytes()).hexdigest()
            fh.write(f">{name}\n".encode())
            n_full = s.size // LINE_WIDTH
            body = np.empty((n_full, LINE_WIDTH + 1), dtype=np.uint8)
            body[:, :LINE_WIDTH] = s[: n_full * LINE_WIDTH].reshape(n_full, LINE_WIDTH)
            body[:, LINE_WIDTH] = ord("\n")
            step = 1 << 16  # lines per write, to bound memory
            for i in range(0, n_full, step):
                fh.write(body[i : i + step].tobytes())
            tail = s[n_full * LINE_WIDTH :]
            if tail.size:
                fh.write(tail.tobytes() + b"\n")
    pysam.faidx(str(path))
    log.info("wrote reference %s (%s)", path, ", ".join(f"{c}:{s.size}" for c, s in seqs.items()))
    return md5s
