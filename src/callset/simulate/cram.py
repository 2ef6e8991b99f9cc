"""Small CRAMs: single-end reads placed directly from a sample's simulated copies (no aligner).

For each window, reads cover the first ``size`` bp: every chromosome copy contributes Poisson
``coverage × weight × size / read_length`` reads (weight ``(1 - contamination) / 2`` for own copies,
``contamination / 2`` for the contaminant's), starting uniformly, carrying that copy's alleles and
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

from callset.simulate.genetics import WindowGenetics
from callset.simulate.genomes import Genome
from callset.simulate.gvcf import ReadModel

log = logging.getLogger(__name__)

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_INDEX = np.full(256, 0, dtype=np.uint8)
_INDEX[_BASES] = np.arange(4, dtype=np.uint8)


def _copy_reads(
    g: WindowGenetics, copy: np.ndarray, size: int, n: int, rng: np.random.Generator, model: ReadModel
) -> tuple[np.ndarray, np.ndarray]:
    rl = model.read_length
    seq = g.refseq[:size].copy()
    in_region = g.positions < size
    carries = in_region & (copy == 1)
    seq[g.positions[carries]] = g.alt[carries]
    starts = np.sort(rng.integers(0, size - rl + 1, size=n))
    reads = np.lib.stride_tricks.sliding_window_view(seq, rl)[starts].copy()
    err = rng.random(reads.shape) < model.error_rate
    if err.any():
        shifted = (_INDEX[reads[err]] + rng.integers(1, 4, size=int(err.sum()))) % 4
        reads[err] = _BASES[shifted]
    return starts, reads


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
            all_starts, all_reads = [], []
            for copy, weight in sources:
                n = int(rng.poisson(coverage * weight * span / rl))
                if n:
                    s, r = _copy_reads(g, copy, span, n, rng, model)
                    all_starts.append(s)
                    all_reads.append(r)
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
                seg.cigartuples = [(0, rl)]
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
    with pysam.AlignmentFile(str(path), "rc", reference_filename=str(fasta)) as f:
        header = f.header.to_dict()
    for sq in header.get("SQ", []):
        sq["UR"] = fasta.name
    tmp = path.with_name(path.name + ".header.sam")
    tmp.write_text(str(pysam.AlignmentHeader.from_dict(header)))
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
