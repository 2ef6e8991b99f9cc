"""What a simulated callset looks like: Ti/Tv, indel and multi-allelic fractions, indel lengths.

Read from a VCF (``truth_genotypes.vcf.bgz`` or a joint callset), so tests and benchmarks measure the
files the simulator wrote rather than its internals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pysam

TRANSITIONS = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}


@dataclass
class VariantSummary:
    """Counts over the records (sites) of a VCF; an allele is an ALT other than ``*`` and symbolic ones."""

    sites: int = 0
    snv_sites: int = 0  #: every ALT an SNV
    indel_sites: int = 0  #: at least one ALT an insertion or deletion
    multiallelic_sites: int = 0  #: more than one ALT (``*`` included)
    star_sites: int = 0  #: ``*`` among the ALTs
    transitions: int = 0  #: SNV alleles (REF/ALT trimmed to their differing base)
    transversions: int = 0
    indel_lengths: Counter[int] = field(default_factory=Counter)  #: |len(ALT) - len(REF)| per indel allele
    insertions: int = 0
    deletions: int = 0

    @property
    def ti_tv(self) -> float:
        return self.transitions / self.transversions if self.transversions else float("nan")

    @property
    def indel_fraction(self) -> float:
        return self.indel_sites / self.sites if self.sites else float("nan")

    @property
    def multiallelic_fraction(self) -> float:
        return self.multiallelic_sites / self.sites if self.sites else float("nan")

    def as_dict(self) -> dict[str, float | int]:
        return {
            "sites": self.sites, "ti_tv": round(self.ti_tv, 3), "indel_fraction": round(self.indel_fraction, 4),
            "multiallelic_fraction": round(self.multiallelic_fraction, 4), "star_sites": self.star_sites,
            "insertions": self.insertions, "deletions": self.deletions,
        }


def summarize_vcf(path: str | Path, *, region: str | None = None, autosomes_only: bool = False) -> VariantSummary:
    """Count sites, Ti/Tv and indels of a VCF (``region`` as ``contig[:start-end]``)."""
    out = VariantSummary()
    with pysam.VariantFile(str(path)) as vf:
        recs = vf.fetch(region=region) if region else vf
        for rec in recs:
            if autosomes_only and not rec.chrom.removeprefix("chr").isdigit():
                continue
            all_alts = rec.alts or ()
            alts = [a for a in all_alts if a != "*" and not a.startswith("<")]
            if not alts:
                continue
            out.sites += 1
            ref = rec.ref or ""  # pysam gives every record a REF; "" only types the impossible None
            if len(all_alts) > 1 and sum(not a.startswith("<") for a in all_alts) > 1:
                out.multiallelic_sites += 1
            if "*" in all_alts:
                out.star_sites += 1
            has_indel = False
            for alt in alts:
                r, a = _trim(ref, alt)
                if len(r) == len(a) == 1:
                    if (r, a) in TRANSITIONS:
                        out.transitions += 1
                    else:
                        out.transversions += 1
                elif len(r) != len(a):
                    has_indel = True
                    out.indel_lengths[abs(len(a) - len(r))] += 1
                    if len(a) > len(r):
                        out.insertions += 1
                    else:
                        out.deletions += 1
            if has_indel:
                out.indel_sites += 1
            elif all(len(_trim(ref, a)[0]) == 1 for a in alts):
                out.snv_sites += 1
    return out


def _trim(ref: str, alt: str) -> tuple[str, str]:
    """REF/ALT without their common suffix, then common prefix (keeping one base)."""
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt = ref[1:], alt[1:]
    return ref, alt
