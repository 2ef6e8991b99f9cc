"""Synthetic protein-coding genes on the simulated reference, written as an Ensembl-style GFF3.

Genes are spread over the autosomal windows (evenly spaced, alternating strands, intergenic space between
them). Each has one transcript with 3–5 exons, a 5' and a 3' UTR, and a CDS whose sequence is written into
the reference so it is a valid open reading frame (``ATG``, no internal stop codon, a stop codon at the
end) with canonical splice sites (intron ``GT…AG`` on the transcript strand). The sequence is rewritten
before mutations are placed, so variants take their REF from it (no tandem repeats inside genes).

:func:`expected_consequence` is the independent truth for tests: the consequence of an SNV or a short
indel on these gene models, computed from the codons (names as ``bcftools csq`` prints them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CODE = {
    a + b + c: aa
    for (a, b, c), aa in zip(
        ((x, y, z) for x in "TCAG" for y in "TCAG" for z in "TCAG"),
        "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        strict=True,
    )
}
STOPS = ("TAA", "TAG", "TGA")
SENSE = tuple(c for c in CODE if CODE[c] != "*")
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
#: How far from an exon edge bcftools csq calls a splice site: donor/acceptor = first/last 2 intron bases;
#: splice_region = 3 exonic or 3–8 intronic bases next to an intron.
SPLICE_CORE = 2
SPLICE_REGION_EXON = 3
SPLICE_REGION_INTRON = 8


def revcomp(s: str) -> str:
    """Reverse complement of a DNA string."""
    return s.translate(COMPLEMENT)[::-1]


@dataclass(frozen=True)
class Gene:
    """One gene with one protein-coding transcript; coordinates 1-based inclusive, ascending."""

    gene_id: str
    name: str
    transcript_id: str
    contig: str
    strand: str
    exons: tuple[tuple[int, int], ...]
    cds: tuple[tuple[int, int], ...]

    @property
    def start(self) -> int:
        return self.exons[0][0]

    @property
    def end(self) -> int:
        return self.exons[-1][1]

    def cds_positions(self) -> list[int]:
        """Genomic positions of the CDS in transcript order (5'→3' on the gene's strand)."""
        pos = [p for a, b in self.cds for p in range(a, b + 1)]
        return pos if self.strand == "+" else pos[::-1]

    def introns(self) -> list[tuple[int, int]]:
        return [(a[1] + 1, b[0] - 1) for a, b in zip(self.exons, self.exons[1:], strict=False)]


def design_genes(
    contig: str, start: int, length: int, n: int, rng: np.random.Generator, *, first: int = 1
) -> list[Gene]:
    """Lay out ``n`` genes in ``contig:start..start+length-1`` (each gets an equal slot with ≥ 1 kb margins),
    numbered from ``first`` (SIMG0001, …)."""
    if n <= 0:
        return []
    slot = length // n
    if slot < 6_000:
        raise ValueError(f"{n} genes do not fit into {length} bp (need >= 6 kb per gene)")
    genes = []
    for i in range(n):
        n_ex = int(rng.integers(3, 6))
        ex_len = rng.integers(90, 260, size=n_ex)
        in_len = rng.integers(150, 900, size=n_ex - 1)
        span = int(ex_len.sum() + in_len.sum())
        g0 = start + i * slot + int(rng.integers(1_000, max(1_001, slot - span - 1_000)))
        exons, p = [], g0
        for k in range(n_ex):
            exons.append((p, p + int(ex_len[k]) - 1))
            p += int(ex_len[k]) + (int(in_len[k]) if k < n_ex - 1 else 0)
        strand = "+" if (first + i) % 2 == 1 else "-"
        tx = [q for a, b in exons for q in range(a, b + 1)]
        if strand == "-":
            tx = tx[::-1]
        utr5, utr3 = int(rng.integers(20, 60)), int(rng.integers(30, 90))
        n_cds = (len(tx) - utr5 - utr3) // 3 * 3
        cds_pos = sorted(tx[utr5 : utr5 + n_cds])
        cds = _runs(cds_pos)
        k = first + i
        genes.append(Gene(f"SIMG{k:04d}", f"SIM{k}", f"SIMT{k:04d}", contig, strand, tuple(exons), tuple(cds)))
    return genes


def _runs(sorted_pos: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for p in sorted_pos:
        if out and out[-1][1] == p - 1:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return out


def apply_genes(seq: np.ndarray, offset: int, genes: list[Gene], rng: np.random.Generator) -> None:
    """Rewrite ``seq`` (a window's reference, ``seq[0]`` at 1-based position ``offset``) so every gene has a
    valid ORF and canonical splice sites. Done before mutations are placed, so variant REF bases come from
    the rewritten sequence."""
    for gene in genes:
        n_codons = len(gene.cds_positions()) // 3
        codons = ["ATG"] + [SENSE[j] for j in rng.integers(0, len(SENSE), size=n_codons - 2)]
        codons.append(STOPS[int(rng.integers(0, 3))])
        orf = "".join(codons)
        pos = gene.cds_positions()
        bases = orf if gene.strand == "+" else orf.translate(COMPLEMENT)
        for p, b in zip(pos, bases, strict=True):
            seq[p - offset] = ord(b)
        for lo, hi in gene.introns():
            donor, acceptor = ("GT", "AG") if gene.strand == "+" else ("CT", "AC")  # genomic, low..high
            seq[lo - offset : lo - offset + 2] = np.frombuffer(donor.encode(), dtype=np.uint8)
            seq[hi - offset - 1 : hi - offset + 1] = np.frombuffer(acceptor.encode(), dtype=np.uint8)


def gene_spans(genes: list[Gene], offset: int, *, margin: int = 20) -> list[tuple[int, int]]:
    """Half-open offset ranges (relative to ``offset``) covered by the genes, widened by ``margin``."""
    return [(g.start - offset - margin, g.end - offset + 1 + margin) for g in genes]


def write_gff3(path: Path, genes: list[Gene], contig_lengths: dict[str, int]) -> Path:
    """Ensembl-format GFF3 (gene / mRNA / UTRs / exon / CDS with ``ID=gene:…``, ``Parent=transcript:…``)."""
    lines = ["##gff-version 3"]
    for c in sorted({g.contig for g in genes}, key=list(contig_lengths).index):
        lines.append(f"##sequence-region   {c} 1 {contig_lengths[c]}")
    for g in genes:
        c, s, src = g.contig, g.strand, "callset.simulate"
        lines.append(f"{c}\t{src}\tgene\t{g.start}\t{g.end}\t.\t{s}\t.\t"
                     f"ID=gene:{g.gene_id};Name={g.name};biotype=protein_coding;gene_id={g.gene_id}")
        lines.append(f"{c}\t{src}\tmRNA\t{g.start}\t{g.end}\t.\t{s}\t.\t"
                     f"ID=transcript:{g.transcript_id};Parent=gene:{g.gene_id};Name={g.name}-201;"
                     f"biotype=protein_coding;tag=Ensembl_canonical;transcript_id={g.transcript_id}")
        cds_lo, cds_hi = g.cds[0][0], g.cds[-1][1]
        utr_lo = "five_prime_UTR" if s == "+" else "three_prime_UTR"
        utr_hi = "three_prime_UTR" if s == "+" else "five_prime_UTR"
        order = g.exons if s == "+" else g.exons[::-1]
        for rank, (a, b) in enumerate(order, 1):
            lines.append(f"{c}\t{src}\texon\t{a}\t{b}\t.\t{s}\t.\t"
                         f"Parent=transcript:{g.transcript_id};Name={g.transcript_id}.exon{rank};rank={rank}")
        for a, b in g.exons:
            if a < cds_lo:
                lines.append(f"{c}\t{src}\t{utr_lo}\t{a}\t{min(b, cds_lo - 1)}\t.\t{s}\t.\t"
                             f"Parent=transcript:{g.transcript_id}")
            if b > cds_hi:
                lines.append(f"{c}\t{src}\t{utr_hi}\t{max(a, cds_hi + 1)}\t{b}\t.\t{s}\t.\t"
                             f"Parent=transcript:{g.transcript_id}")
        done = 0
        for a, b in (g.cds if s == "+" else g.cds[::-1]):
            phase = (3 - done % 3) % 3
            lines.append(f"{c}\t{src}\tCDS\t{a}\t{b}\t.\t{s}\t{phase}\t"
                         f"ID=CDS:SIMP{g.gene_id[4:]};Parent=transcript:{g.transcript_id};"
                         f"protein_id=SIMP{g.gene_id[4:]}")
            done += b - a + 1
    path.write_text("\n".join(lines) + "\n")
    return path


def expected_consequence(genes: list[Gene], contig: str, pos: int, ref: str, alt: str, fetch) -> str:
    """Most severe consequence of one variant on the gene models (bcftools csq names).

    ``fetch(contig, start, end)`` returns reference bases (1-based inclusive). Handles SNVs and indels that
    stay inside one CDS segment; ``splice_region`` only when nothing stronger applies. ``intergenic`` when
    no gene overlaps.
    """
    hits = [g for g in genes if g.contig == contig and g.start <= pos + len(ref) - 1 and pos <= g.end]
    if not hits:
        return "intergenic"
    return min((_consequence_on(g, pos, ref, alt, fetch) for g in hits), key=SEVERITY.index)


SEVERITY = [
    "splice_acceptor", "splice_donor", "stop_gained", "frameshift", "stop_lost", "start_lost",
    "inframe_insertion", "inframe_deletion", "missense", "splice_region", "synonymous", "stop_retained",
    "5_prime_utr", "3_prime_utr", "intron", "intergenic",
]


def _consequence_on(g: Gene, pos: int, ref: str, alt: str, fetch) -> str:
    if len(ref) != len(alt):  # indel with its anchor base: classify every deleted/flanking base
        span = range(pos + 1, pos + len(ref)) if len(ref) > len(alt) else range(pos, pos + 2)
        classes = [_intron_class(g, p) for p in span]
        coding = [p for p in span if any(a <= p <= b for a, b in g.cds)]
        if coding:
            classes.append("frameshift" if abs(len(ref) - len(alt)) % 3 else (
                "inframe_deletion" if len(ref) > len(alt) else "inframe_insertion"))
        found = [c for c in classes if c is not None]
        if found:
            return min(found, key=SEVERITY.index)
    elif (c := _intron_class(g, pos)) is not None:
        return c
    cds_pos = g.cds_positions()
    if pos in cds_pos and len(ref) == len(alt) == 1:
        i = cds_pos.index(pos)
        c0 = i - i % 3
        codon_pos = cds_pos[c0 : c0 + 3]
        codon = "".join(fetch(g.contig, p, p) for p in codon_pos)
        base = alt if g.strand == "+" else alt.translate(COMPLEMENT)
        if g.strand == "-":
            codon = codon.translate(COMPLEMENT)
        new = codon[: i % 3] + base + codon[i % 3 + 1 :]
        aa0, aa1 = CODE[codon], CODE[new]
        if c0 == 0 and aa1 != "M":
            return "start_lost"
        if aa0 == "*":
            return "stop_retained" if aa1 == "*" else "stop_lost"
        if aa1 == "*":
            return "stop_gained"
        change = "synonymous" if aa0 == aa1 else "missense"
        # bcftools csq adds splice_region to coding SNVs in the 3 exonic bases next to an intron
        # ("synonymous&splice_region"); the most severe term is what is reported
        return min(change, "splice_region", key=SEVERITY.index) if _exonic_splice_region(g, pos) else change
    cds_lo, cds_hi = g.cds[0][0], g.cds[-1][1]
    if pos < cds_lo:
        return "5_prime_utr" if g.strand == "+" else "3_prime_utr"
    if pos > cds_hi:
        return "3_prime_utr" if g.strand == "+" else "5_prime_utr"
    return "intron"  # exonic indel outside the CDS and the splice sites: not expected in tests


def _exonic_splice_region(g: Gene, pos: int) -> bool:
    """``pos`` is one of the :data:`SPLICE_REGION_EXON` exonic bases next to an intron."""
    return any(a - SPLICE_REGION_EXON <= pos < a or b < pos <= b + SPLICE_REGION_EXON for a, b in g.introns())


def _intron_class(g: Gene, pos: int) -> str | None:
    """splice_donor / splice_acceptor / splice_region / intron for an intronic position, else None."""
    for a, b in g.introns():
        if a <= pos <= b:
            donor_side = a if g.strand == "+" else b
            acc_side = b if g.strand == "+" else a
            if abs(pos - donor_side) < SPLICE_CORE:
                return "splice_donor"
            if abs(pos - acc_side) < SPLICE_CORE:
                return "splice_acceptor"
            if pos - a < SPLICE_REGION_INTRON or b - pos < SPLICE_REGION_INTRON:
                return "splice_region"
            return "intron"
    return None


def read_gff3(path: Path) -> list[Gene]:
    """Gene models back from a GFF3 written by :func:`write_gff3` (one transcript per gene)."""
    info: dict[str, dict[str, str]] = {}
    parts: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for line in Path(path).read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        c, _src, kind, a, b, _sc, strand, _ph, attrs = line.split("\t")
        kv = dict(x.split("=", 1) for x in attrs.split(";"))
        if kind == "mRNA":
            tid = kv["ID"].removeprefix("transcript:")
            info[tid] = {
                "gene_id": kv["Parent"].removeprefix("gene:"), "name": kv["Name"].rsplit("-", 1)[0],
                "contig": c, "strand": strand,
            }
            parts[tid] = {"exons": [], "cds": []}
        elif kind in ("exon", "CDS"):
            parts[kv["Parent"].removeprefix("transcript:")]["exons" if kind == "exon" else "cds"].append(
                (int(a), int(b))
            )
    return [
        Gene(t["gene_id"], t["name"], tid, t["contig"], t["strand"],
             tuple(sorted(parts[tid]["exons"])), tuple(sorted(parts[tid]["cds"])))
        for tid, t in info.items()
    ]
