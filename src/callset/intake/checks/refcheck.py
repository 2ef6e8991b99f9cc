"""REF bases of gVCF records against the reference FASTA (what ``bcftools norm --check-ref e`` checks), vectorised.

A gVCF made against another reference with the same contig names and lengths passes every header and contig
check, and would give wrong joint alleles wherever two samples disagree about a base. The intake scan hands
each block of records to :meth:`RefChecker.check` (positions and where each REF sits in the decoded text);
the FASTA bases under them are fetched once per stretch of records and compared with numpy.

Upper/lower case is ignored (soft-masked FASTAs); a FASTA base other than A/C/G/T (N, IUPAC codes) and a REF
base N match anything, as GATK writes such bases either way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from callset.intake.checks.gvcf_vec import concat_spans

log = logging.getLogger(__name__)

_UPPER = np.arange(256, dtype=np.uint8)
_UPPER[ord("a") : ord("z") + 1] -= 32
_ACGT = np.zeros(256, dtype=bool)
_ACGT[np.frombuffer(b"ACGT", np.uint8)] = True
#: records further apart than this are checked against separate FASTA fetches
MAX_GAP = 100_000


class RefChecker:
    """Compares REF alleles with ``fasta`` (indexed; bgzip with ``.gzi`` or plain) as the scan feeds them."""

    def __init__(self, fasta: str | Path, contig_recoding: Mapping[str, str] | None = None, *, max_listed: int = 5):
        import pysam

        self.fasta = str(fasta)
        self.fa = pysam.FastaFile(self.fasta)
        self.lengths = dict(zip(self.fa.references, self.fa.lengths, strict=True))
        self.recode = dict(contig_recoding or {})
        self.max_listed = max_listed
        self.n_checked = 0
        self.n_mismatch = 0
        self.first: list[tuple[int, str, int, str, str]] = []  # line, contig, pos, REF, FASTA bases
        self.missing: set[str] = set()

    def check(self, chrom: str, a: np.ndarray, line_no: np.ndarray, pos: np.ndarray, ref_begin: np.ndarray,
              ref_len: np.ndarray) -> None:
        """Records of one contig: text ``a`` (uint8), REF of record i at ``a[ref_begin[i]:+ref_len[i]]``."""
        target = self.recode.get(chrom, chrom)
        ok = (pos > 0) & (ref_len > 0)
        if target not in self.lengths:
            if ok.any():
                self.missing.add(target)
            return
        ok &= pos + ref_len - 1 <= self.lengths[target]  # beyond the contig: reported by the scan itself
        idx = np.flatnonzero(ok)
        if not len(idx):
            return
        cut = np.flatnonzero(np.diff(pos[idx]) > MAX_GAP) + 1
        for grp in np.split(idx, cut):
            self._check_group(target, a, line_no[grp], pos[grp], ref_begin[grp], ref_len[grp])

    def _check_group(self, contig: str, a: np.ndarray, line_no: np.ndarray, pos: np.ndarray, begin: np.ndarray,
                     length: np.ndarray) -> None:
        lo = int(pos.min()) - 1
        hi = int((pos + length - 1).max())
        seq = np.frombuffer(self.fa.fetch(contig, lo, hi).encode("ascii", "replace"), np.uint8)
        seq = _UPPER[seq]
        src, seg = concat_spans(begin, length)
        off = np.arange(len(src)) - np.repeat(seg, length)
        want = seq[np.repeat(pos - 1 - lo, length) + off]
        got = _UPPER[a[src]]
        bad = (got != want) & _ACGT[want] & (got != ord("N"))
        per = np.add.reduceat(bad, seg) > 0
        self.n_checked += len(pos)
        nbad = int(per.sum())
        if not nbad:
            return
        self.n_mismatch += nbad
        for i in np.flatnonzero(per)[: max(0, self.max_listed - len(self.first))].tolist():
            s, n = int(seg[i]), int(length[i])
            self.first.append((int(line_no[i]), contig, int(pos[i]), bytes(a[src[s : s + n]]).decode(),
                               bytes(seq[pos[i] - 1 - lo : pos[i] - 1 - lo + n]).decode()))

    def problems(self, path: Path) -> list[str]:
        """The rejection (one line) when REF bases disagree with the FASTA."""
        if not self.n_mismatch:
            return []
        shown = ", ".join(f"{c}:{p} (line {ln}: REF {r}, FASTA {f})" for ln, c, p, r, f in self.first)
        return [
            f"{path}: REF differs from the reference FASTA {self.fasta} at {self.n_mismatch} of {self.n_checked} "
            f"records, first at {shown} (gVCF made against another reference?)"
        ]

    def notes(self, path: Path) -> list[str]:
        """What could not be checked (contigs the FASTA lacks)."""
        if not self.missing:
            return []
        return [f"{path}: REF not checked on {len(self.missing)} contig(s) missing from {self.fasta}: "
                f"{sorted(self.missing)[:5]}"]

    def close(self) -> None:
        self.fa.close()
