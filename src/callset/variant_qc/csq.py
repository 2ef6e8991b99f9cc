"""Functional consequences with ``bcftools csq`` (the copy bundled in pysam) from a GFF3 and a FASTA.

The split sites are exported as a sites-only VCF, annotated with ``bcftools csq --local-csq -s -``
(every record on its own, genotypes ignored; ``--force`` so contigs absent from the GFF3 pass through),
and the ``BCSQ`` field is read back with Hail. ``BCSQ`` entries are
``consequence|gene|transcript|biotype|strand|amino_acid_change|dna_change``; compound consequences are
``&``-joined (``missense&splice_region``). Variants with no entry are ``intergenic``. bcftools reports
intronic variants per gene, without a transcript (``intron|GENE||protein_coding``): their ``transcript``
is missing.

The GFF3 must follow Ensembl's layout (``ID=gene:…`` with ``biotype``, ``ID=transcript:…`` with
``Parent=gene:…``, exon/CDS/UTR lines with ``Parent=transcript:…``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import hail as hl

from callset.variant_qc import VariantQCError

log = logging.getLogger(__name__)

#: Most severe first (Ensembl's ordering, restricted to the names bcftools csq prints, then intergenic).
SEVERITY = (
    "splice_acceptor", "splice_donor", "stop_gained", "frameshift", "stop_lost", "start_lost",
    "start_retained", "inframe_altering", "inframe_insertion", "inframe_deletion", "missense",
    "splice_region", "synonymous", "stop_retained", "coding_sequence", "5_prime_utr", "3_prime_utr",
    "non_coding", "intron", "feature_elongation", "upstream", "downstream", "intergenic",
)
TRANSCRIPT_CONSEQUENCE = hl.tstruct(
    gene=hl.tstr, transcript=hl.tstr, consequence=hl.tstr, aa_change=hl.tstr, dna_change=hl.tstr
)


def severity_rank_expr(consequence: hl.expr.StringExpression) -> hl.expr.Int32Expression:
    """Rank of the most severe term of a (possibly ``&``-joined) consequence; unknown terms rank last."""
    rank = hl.literal({c: i for i, c in enumerate(SEVERITY)})
    return hl.min(consequence.split("&").map(lambda c: rank.get(c, len(SEVERITY))))


def worst_term_expr(consequence: hl.expr.StringExpression) -> hl.expr.StringExpression:
    """The most severe single term of an ``&``-joined consequence."""
    terms = consequence.split("&")
    rank = hl.literal({c: i for i, c in enumerate(SEVERITY)})
    return hl.sorted(terms, key=lambda c: rank.get(c, len(SEVERITY)))[0]


def export_sites_vcf(ht: hl.Table, path: str) -> str:
    """Sites-only VCF (bgzipped) of a table keyed by locus/alleles (spanning deletions left out)."""
    sites = ht.select()
    sites = sites.filter(sites.alleles[1] != "*")
    sites = sites.annotate(rsid=hl.missing(hl.tstr), qual=hl.missing(hl.tfloat64),
                           filters=hl.empty_set(hl.tstr), info=hl.struct())
    hl.export_vcf(sites, path)
    return path


def run_csq(vcf: str, out: str, *, fasta: str, gff3: str) -> str:
    """``bcftools csq`` via pysam; returns ``out`` (bgzipped VCF). Raises VariantQCError on failure."""
    import pysam.bcftools

    for p, what in ((fasta, "FASTA"), (gff3, "GFF3")):
        if not Path(p).exists():
            raise VariantQCError(f"variant_qc: {what} {p} does not exist")
    try:
        pysam.bcftools.csq(
            "--force", "--local-csq", "-s", "-", "-f", fasta, "-g", gff3, "-Oz", "-o", out, vcf,
            catch_stdout=False,
        )
    except pysam.utils.SamtoolsError as e:
        raise VariantQCError(f"bcftools csq failed on {vcf} with GFF3 {gff3} and FASTA {fasta}: {e}") from None
    return out


def read_csq(path: str, *, reference_genome: str = "GRCh38") -> hl.Table:
    """Consequence table keyed by locus/alleles: ``consequence`` (worst term), ``gene`` (of the worst
    transcript), ``transcript_consequences`` (one struct per transcript)."""
    mt = hl.import_vcf(path, reference_genome=reference_genome, force_bgz=True, drop_samples=True)
    ht = mt.rows()
    if "BCSQ" not in ht.info:
        ht = ht.annotate(info=ht.info.annotate(BCSQ=hl.missing(hl.tarray(hl.tstr))))
    entries = hl.coalesce(ht.info.BCSQ, hl.empty_array(hl.tstr)).filter(lambda s: ~s.startswith("@"))

    def parse(s: hl.expr.StringExpression) -> hl.expr.StructExpression:
        f = s.split(r"\|")
        get = lambda i: hl.or_missing((hl.len(f) > i) & (f[i] != ""), f[i])  # noqa: E731
        cons = get(0).replace(r"^\*", "")
        return hl.struct(gene=get(1), transcript=get(2), consequence=cons, aa_change=get(5), dna_change=get(6))

    tcs = entries.map(parse)
    tcs = hl.sorted(tcs, key=lambda t: severity_rank_expr(t.consequence))
    ht = ht.select(
        transcript_consequences=tcs,
        consequence=hl.if_else(hl.len(tcs) == 0, "intergenic", worst_term_expr(hl.or_else(tcs[0].consequence, ""))),
        gene=hl.or_missing(hl.len(tcs) > 0, tcs[0].gene),
    )
    return ht


def compute_consequences(
    ht: hl.Table, *, fasta: str, gff3: str, work_dir: str | os.PathLike[str], reference_genome: str = "GRCh38"
) -> hl.Table:
    """Consequences for every (split) site of ``ht``; written under ``work_dir`` (sites.vcf.bgz, csq.vcf.gz)."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    vcf = export_sites_vcf(ht, str(work / "sites.vcf.bgz"))
    out = run_csq(vcf, str(work / "csq.vcf.bgz"), fasta=fasta, gff3=gff3)
    log.info("bcftools csq: %s + %s -> %s", gff3, fasta, out)
    return read_csq(out, reference_genome=reference_genome).checkpoint(str(work / "csq.ht"), overwrite=True)
