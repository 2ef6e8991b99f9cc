"""Small CRAMs: single-end reads placed directly from a sample's simulated copies (no aligner).

For each window, reads cover the first ``size`` bp: every chromosome copy contributes Poisson
``coverage × weight × size / read_length`` reads (weight ``(1 - contamination) / 2`` for own copies,
``contamination / 2`` for the contaminant's), starting uniformly on that copy's sequence, carrying its
alleles (SNVs as mismatches, indels as ``I``/``D`` in the CIGAR, inserted read ends soft-clipped) and
independent sequencing errors. Reads are drawn independently from the gVCF's depth track (same coverage
model and copy numbers, different draws).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pysam
import pysam.samtools

from callset.simulate.genetics import STAR, WindowGenetics, trim_alleles
from callset.simulate.genomes import Genome
from callset.simulate.gvcf import ReadModel

log = logging.getLogger(__name__)

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_INDEX = np.full(256, 0, dtype=np.uint8)
_INDEX[_BASES] = np.arange(4, dtype=np.uint8)


def haplotype_sequence(g: WindowGenetics, copy: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``size`` reference bases of a window as carried by one copy: bases and, per base, its
    0-based reference offset (-1 for inserted bases). A record starting inside an allele already applied
    (a ``*`` or a call inside a deletion) is skipped."""
    seq = g.refseq[:size]
    bases: list[np.ndarray] = []
    refpos: list[np.ndarray] = []
    cur = 0
    for r in np.flatnonzero((g.positions < size) & (copy > 0)).tolist():
        p = int(g.positions[r])
        ref, alt = g.alleles[r][0], g.alleles[r][int(copy[r])]
        if alt == STAR:
            continue
        ref, alt = trim_alleles((ref, alt))  # this copy's own change (the record REF may be longer)
        if p < cur or p + len(ref) > size:
            continue
        bases.append(seq[cur:p])
        refpos.append(np.arange(cur, p))
        # align ALT to REF: common suffix, then common prefix, match; the middle is mismatches then an
        # insertion/deletion (suffix first, so the gap sits leftmost: left-aligned like the VCF record)
        m = 0
        while m < min(len(ref), len(alt)) - 1 and ref[-1 - m] == alt[-1 - m]:
            m += 1
        n = 0
        while n < min(len(ref), len(alt)) - m and ref[n] == alt[n]:
            n += 1
        mid_ref, mid_alt = len(ref) - n - m, len(alt) - n - m
        both = min(mid_ref, mid_alt)
        rp = list(range(p, p + n + both))
        if mid_alt > mid_ref:
            rp += [-1] * (mid_alt - mid_ref)
        rp += list(range(p + len(ref) - m, p + len(ref)))
        bases.append(np.frombuffer(alt.encode(), dtype=np.uint8))
        refpos.append(np.array(rp, dtype=np.int64))
        cur = p + len(ref)
    bases.append(seq[cur:size])
    refpos.append(np.arange(cur, size))
    return np.concatenate(bases), np.concatenate(refpos).astype(np.int64)


def _cigar(refpos: np.ndarray) -> tuple[int, list[tuple[int, int]]]:
    """Reference start and CIGAR (pysam op codes) of a read whose bases sit at ``refpos`` (-1 = inserted)."""
    aligned = np.flatnonzero(refpos >= 0)
    first, last = int(aligned[0]), int(aligned[-1])
    ops: list[tuple[int, int]] = []

    def add(op: int, n: int) -> None:
        if n <= 0:
            return
        if ops and ops[-1][0] == op:
            ops[-1] = (op, ops[-1][1] + n)
        else:
            ops.append((op, n))

    add(4, first)  # soft clip: inserted bases before the first aligned one
    prev = -1
    for x in refpos[first : last + 1].tolist():
        if x < 0:
            add(1, 1)
            continue
        if prev >= 0 and x > prev + 1:
            add(2, x - prev - 1)
        add(0, 1)
        prev = x
    add(4, refpos.size - 1 - last)
    return int(refpos[first]), ops


def _copy_reads(
    g: WindowGenetics, copy: np.ndarray, size: int, n: int, rng: np.random.Generator, model: ReadModel
) -> tuple[np.ndarray, np.ndarray, list[list[tuple[int, int]] | None]]:
    """``n`` reads from one copy: reference starts, bases (with sequencing errors) and CIGARs (None = all
    ``M``)."""
    rl = model.read_length
    hap, refpos = haplotype_sequence(g, copy, size)
    starts = np.sort(rng.integers(0, hap.size - rl + 1, size=n))
    reads = np.lib.stride_tricks.sliding_window_view(hap, rl)[starts].copy()
    err = rng.random(reads.shape) < model.error_rate
    if err.any():
        shifted = (_INDEX[reads[err]] + rng.integers(1, 4, size=int(err.sum()))) % 4
        reads[err] = _BASES[shifted]
    ref_start = refpos[starts]
    plain = (ref_start >= 0) & (refpos[starts + rl - 1] - ref_start == rl - 1)
    cigars: list[list[tuple[int, int]] | None] = [None] * n
    for i in np.flatnonzero(~plain).tolist():
        ref_start[i], cigars[i] = _cigar(refpos[starts[i] : starts[i] + rl])
    return ref_start, reads, cigars


def write_cram(
    path: Path, sample_id: str, genetics: list[WindowGenetics], genome: Genome,
    contaminant: Genome | None, contamination: float, coverage: float, rng: np.random.Generator, *,
    fasta: Path, contig_lengths: dict[str, int], contig_md5: dict[str, str], size: int = 20_000,
    model: ReadModel | None = None,
) -> Path:
    """Write ``path`` (CRAM 3, coordinate-sorted, with ``.crai``) for one sample."""
    model = model or ReadModel()
    rl = model.read_length
    contigs = [c for c in contig_lengths if c in contig_md5]
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": c, "LN": contig_lengths[c], "M5": contig_md5[c]} for c in contigs],
        "RG": [{"ID": sample_id, "SM": sample_id, "LB": f"{sample_id}_lib", "PL": "ILLUMINA"}],
        "PG": [{"ID": "callset.simulate", "PN": "callset.simulate", "VN": "1"}],
    }
    tid = {c: i for i, c in enumerate(contigs)}
    quals = pysam.qualitystring_to_array("?" * rl)  # Q30
    a = contamination if contaminant is not None else 0.0
    with pysam.AlignmentFile(str(path), "wc", header=header, reference_filename=str(fasta)) as out:
        for g in genetics:
            w = g.window
            span = min(size, w.length)
            if span < rl:
                continue
            sources = [(c, (1 - a) / 2) for c in genome[w.name]]
            if contaminant is not None:
                sources += [(c, a / 2) for c in contaminant[w.name]]
            all_starts, all_reads, all_cigars = [], [], []
            for copy, weight in sources:
                n = int(rng.poisson(coverage * weight * span / rl))
                if n:
                    s, r, cg = _copy_reads(g, copy, span, n, rng, model)
                    all_starts.append(s)
                    all_reads.append(r)
                    all_cigars += cg
            if not all_starts:
                continue
            starts = np.concatenate(all_starts)
            reads = np.concatenate(all_reads)
            order = np.argsort(starts, kind="stable")
            strands = rng.integers(0, 2, size=order.size)
            for j, i in enumerate(order.tolist()):
                seg = pysam.AlignedSegment(out.header)
                seg.query_name = f"{sample_id}:{w.name}:{j}"
                seg.flag = 16 if strands[j] else 0
                seg.reference_id = tid[w.contig]
                seg.reference_start = w.start - 1 + int(starts[i])
                seg.mapping_quality = 60
                seg.cigartuples = all_cigars[i] or [(0, rl)]
                seg.query_sequence = reads[i].tobytes().decode()
                seg.query_qualities = quals
                seg.set_tag("RG", sample_id)
                out.write(seg)
    _stable_header(path, fasta)
    _stable_file_id(path)
    pysam.index(str(path))
    return path


def _stable_file_id(path: Path) -> None:
    """htslib stores the (absolute) output path as the 20-byte CRAM file id; use the bare file name."""
    with open(path, "r+b") as f:
        magic = f.read(6)
        if magic[:4] != b"CRAM":
            raise ValueError(f"{path}: not a CRAM file")
        f.write(path.name.encode()[:20].ljust(20, b"\0"))


def _stable_header(path: Path, fasta: Path) -> None:
    """Replace the absolute ``@SQ UR`` htslib inserts by the FASTA's file name (in place).

    Keeps CRAM bytes independent of the output folder, so a seed gives the same ``cram_md5`` anywhere.
    """
    # samtools view -H reads the header without looking for an index (an AlignmentFile would, and htslib
    # logs an error because the index is written only afterwards)
    text = pysam.samtools.view("-H", "--no-PG", "-T", str(fasta), str(path))
    lines = []
    for line in text.splitlines() if isinstance(text, str) else text:  # a list only with split_lines=True
        if line.startswith("@SQ"):
            fields = [f for f in line.split("\t") if not f.startswith("UR:")]
            line = "\t".join([*fields, f"UR:{fasta.name}"])
        lines.append(line)
    tmp = path.with_name(path.name + ".header.sam")
    tmp.write_text("\n".join(lines) + "\n")
    out = path.with_name(path.name + ".reheadered")
    try:
        # a new file, not `-i` (in place): in place, the header container keeps the size of the first header,
        # whose compressed size depends on the absolute FASTA path, so one seed's cram_md5 varied with the folder
        _to_file(out, lambda: pysam.samtools.reheader("--no-PG", str(tmp), str(path), catch_stdout=False))
        out.replace(path)
    finally:
        tmp.unlink()
        out.unlink(missing_ok=True)


def _to_file(out: Path, run: Callable[[], object]) -> None:
    """Run ``run`` with file descriptor 1 (where samtools writes its output) pointed at ``out``."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with out.open("wb") as f:
            os.dup2(f.fileno(), 1)
            run()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
