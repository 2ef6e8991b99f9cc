"""Coverage measured from a submitted CRAM (pysam): mean depth and fraction of bases at >= 20x.

Measured over the aligned span of each autosome (first read start to last read end), which for a
whole-genome CRAM is the contig itself; reads are counted with their aligned blocks (no duplicates,
secondary or QC-failed reads, MAPQ >= ``min_mapq``), like ``samtools depth``/mosdepth defaults.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from callset.errors import CallsetError

if TYPE_CHECKING:
    import pysam

log = logging.getLogger(__name__)

AUTOSOME = re.compile(r"^(chr)?([1-9]|1[0-9]|2[0-2])$")
SKIP_FLAGS = 0x4 | 0x100 | 0x200 | 0x400 | 0x800


def cram_coverage(
    path: str, *, reference_fasta: str | None, min_dp: int = 20, min_mapq: int = 0, chunk: int = 1_000_000
) -> tuple[float, float]:
    """``(mean_depth, fraction_at_least_min_dp)`` over the autosomal aligned span of ``path``.

    Raises :class:`CallsetError` naming the file when it cannot be read or has no autosomal reads.
    """
    import pysam

    try:
        crai = next((c for c in (f"{path}.crai", f"{path[:-5]}.crai") if Path(c).is_file()), None)
        f = pysam.AlignmentFile(path, "rc", reference_filename=reference_fasta, index_filename=crai)
    except (OSError, ValueError) as e:
        raise CallsetError(f"{path}: cannot open CRAM for coverage ({e})") from None
    total_depth = 0
    total_bases = 0
    total_hi = 0
    with f:
        for contig in f.references:
            if not AUTOSOME.match(contig):
                continue
            span = _span(f, contig)
            if span is None:
                continue
            lo, hi = span
            for start in range(lo, hi, chunk):
                end = min(start + chunk, hi)
                depth = np.zeros(end - start + 1, dtype=np.int64)
                for read in f.fetch(contig, start, end):
                    if read.flag & SKIP_FLAGS or read.mapping_quality < min_mapq:
                        continue
                    for bs, be in read.get_blocks():
                        a, b = max(bs, start), min(be, end)
                        if a < b:
                            depth[a - start] += 1
                            depth[b - start] -= 1
                d = np.cumsum(depth)[:-1]
                total_depth += int(d.sum())
                total_bases += len(d)
                total_hi += int((d >= min_dp).sum())
    if total_bases == 0:
        raise CallsetError(f"{path}: no autosomal reads to measure coverage on")
    return total_depth / total_bases, total_hi / total_bases


def _span(f: pysam.AlignmentFile, contig: str) -> tuple[int, int] | None:
    """0-based half-open span from the first read start to the last read end on ``contig``."""
    first = None
    for read in f.fetch(contig):
        first = read.reference_start
        break
    if first is None:
        return None
    last = first
    length = f.get_reference_length(contig)
    # walk back from the contig end in growing windows to find the last read without reading everything
    step = 100_000
    start = max(0, length - step)
    while True:
        ends = [r.reference_end for r in f.fetch(contig, start, length) if r.reference_end]
        if ends:
            last = max(ends)
            break
        if start <= first:
            break
        step *= 4
        start = max(first, length - step)
    return first, last
