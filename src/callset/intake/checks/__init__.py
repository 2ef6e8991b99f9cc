"""Per-file checks used by intake. Each returns problems as strings that name the file, and the line or
record where that applies. No Spark.

gVCFs are checked in **one streaming pass** over the raw bytes (:func:`scan_gvcf`): the md5 is computed on
the raw bytes as they are read, every BGZF block is decoded and CRC-checked (so "the whole file decodes"
is proven, not assumed — htslib readers can stop silently on a damaged stream), and the decoded text is
checked in large chunks with numpy. Lines that look like plain GATK records (reference blocks, simple
variants) are validated entirely by array operations; any line that does not fit those shapes, or fails
a vectorized check, goes through :func:`_check_record`, a line-by-line Python check that writes the reason.
Per-record cyvcf2 iteration alone costs ~1.7x a full ``bcftools view`` decode, which is why records are
not read through cyvcf2; the header is also parsed by htslib (pysam) as a cross-check.

Plain-text and plain-gzip files get the same content checks (plus a reason for the wrong compression), so
every problem in a file is reported, not just the first.

CRAM/BAM files are checked with pysam/htslib (header, ``@SQ``, ``@RG SM``) plus a walk over the container
(or BGZF block) structure that detects truncation and a missing EOF marker, like ``samtools quickcheck``.
"""

from __future__ import annotations

from callset.intake.checks.cram import check_cram, fasta_md5s
from callset.intake.checks.files import (
    BGZF_EOF,
    CRAM3_EOF,
    CRAM21_EOF,
    FIXED_COLUMNS,
    check_bgzf_eof,
    check_present,
    md5sum,
)
from callset.intake.checks.gvcf import GvcfScan, scan_gvcf
from callset.intake.checks.index import alignment_index, check_gvcf_index, find_index, read_index_counts

__all__ = [
    "BGZF_EOF",
    "CRAM21_EOF",
    "CRAM3_EOF",
    "FIXED_COLUMNS",
    "GvcfScan",
    "alignment_index",
    "check_bgzf_eof",
    "check_cram",
    "check_gvcf_index",
    "check_present",
    "fasta_md5s",
    "find_index",
    "md5sum",
    "read_index_counts",
    "scan_gvcf",
]
