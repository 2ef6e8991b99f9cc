"""Coverage measured from a submitted CRAM (pysam): mean depth and fraction of bases at >= 20x.

Measured over the aligned span of each autosome (first read start to last read end), which for a
whole-genome CRAM is the contig itself; reads are counted with their aligned blocks (no duplicates,
secondary or QC-failed reads, MAPQ >= ``min_mapq``), like ``samtools depth``/mosdepth defaults. A CRAM that
cannot be opened or decoded is a :class:`CallsetError` naming it and why; sample QC then uses the center's reported
coverage (:func:`cram_coverage_or_none`: one warning line).
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
    path: str, *, reference_fasta: str | None, min_dp: int = 20, min_mapq: int = 0, chunk: int = 1_000_000,
    index: str | None = None,
) -> tuple[float, float]:
    """``(mean_depth, fraction_at_least_min_dp)`` over the autosomal aligned span of ``path``.

    Raises :class:`CallsetError` naming the file and the reason when it cannot be opened or decoded (truncated,
    corrupt, no index, reference missing) or has no autosomal reads. htslib's own messages are silenced meanwhile:
    the error says what went wrong.
    """
    import pysam

    verbosity = pysam.set_verbosity(0)
    try:
        return _measure(path, reference_fasta=reference_fasta, min_dp=min_dp, min_mapq=min_mapq, chunk=chunk,
                        index=index)
    except (OSError, ValueError) as e:  # pysam's errors while decoding (e.g. OSError "truncated file")
        raise CallsetError(f"{path}: cannot decode CRAM for coverage ({e})") from None
    finally:
        pysam.set_verbosity(verbosity)


def cram_coverage_or_none(
    path: str, *, reference_fasta: str | None, sample: str, fallback: str, index: str | None = None
) -> tuple[float, float] | None:
    """:func:`cram_coverage`, or None with one warning line naming the sample, the file and the reason when the
    CRAM cannot be measured; ``fallback`` says what the caller uses instead (for the warning)."""
    try:
        return cram_coverage(path, reference_fasta=reference_fasta, index=index)
    except CallsetError as e:
        log.warning("sample %s: %s: coverage from %s instead", sample, e, fallback)
        return None


def _measure(
    path: str, *, reference_fasta: str | None, min_dp: int, min_mapq: int, chunk: int, index: str | None = None
) -> tuple[float, float]:
    import pysam

    try:  # the index next to the CRAM, else ``index`` (e.g. the one intake built for a CRAM sent without)
        crai = next((c for c in (f"{path}.crai", f"{path[:-5]}.crai", index) if c and Path(c).is_file()), None)
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
