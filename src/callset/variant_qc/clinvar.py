"""ClinVar and population-frequency resources (VCFs), as tables keyed by split, min-rep locus/alleles.

ClinVar's VCF (``clinvar.vcf.gz`` from NCBI) names contigs ``1``…``22``, ``X``, ``Y``, ``MT`` and declares
``CLNSIG``, ``CLNDN`` and ``CLNREVSTAT`` as ``Number=.`` strings, so Hail splits them on commas; they are
joined back with commas here, giving the text exactly as in the file (``criteria_provided,_single_submitter``).
Records without a usable ALT (``.``) are skipped.
"""

from __future__ import annotations

import logging

import hail as hl

from callset.variant_qc import VariantQCError

log = logging.getLogger(__name__)

CLINVAR_FIELDS = ("CLNSIG", "CLNDN", "CLNREVSTAT")
CLINVAR_TYPE = hl.tstruct(clnsig=hl.tstr, clndn=hl.tstr, clnrevstat=hl.tstr)


def contig_recoding(reference_genome: str) -> dict[str, str]:
    """``1`` → ``chr1`` … ``MT`` → ``chrM`` for GRCh38 (identity for GRCh37)."""
    if reference_genome != "GRCh38":
        return {}
    names = [str(i) for i in range(1, 23)] + ["X", "Y"]
    return {**{n: f"chr{n}" for n in names}, "MT": "chrM"}


def _import_sites(path: str, reference_genome: str) -> hl.Table:
    try:
        mt = hl.import_vcf(
            path, reference_genome=reference_genome, contig_recoding=contig_recoding(reference_genome),
            force_bgz=path.endswith((".gz", ".bgz")), drop_samples=True, skip_invalid_loci=True,
        )
    except Exception as e:  # noqa: BLE001 - Hail raises many types; name the file
        raise VariantQCError(f"cannot read VCF {path}: {e}") from None
    ht = mt.rows()
    ht = ht.filter((hl.len(ht.alleles) > 1) & (ht.alleles[1] != ".") & (ht.alleles[1] != "*"))
    return ht


def _split(ht: hl.Table) -> hl.Table:
    """Split multi-allelic rows (adds ``a_index``) and min-rep each allele."""
    return hl.split_multi(ht, permit_shuffle=True)


def import_clinvar(path: str, *, reference_genome: str = "GRCh38") -> hl.Table:
    """``clinvar: struct{clnsig, clndn, clnrevstat}`` keyed by locus/alleles (split, min-rep)."""
    ht = _import_sites(path, reference_genome)
    missing = [f for f in CLINVAR_FIELDS if f not in ht.info]
    if missing:
        raise VariantQCError(f"{path}: not a ClinVar VCF, INFO fields {missing} are not declared in its header")
    ht = _split(ht)

    def text(f: str) -> hl.expr.StringExpression:
        v = ht.info[f]
        return hl.delimit(v, ",") if isinstance(v, hl.expr.ArrayExpression) else hl.str(v)

    ht = ht.select(clinvar=hl.struct(clnsig=text("CLNSIG"), clndn=text("CLNDN"), clnrevstat=text("CLNREVSTAT")))
    return ht.distinct()


def import_population_sites(
    path: str, *, reference_genome: str = "GRCh38", fields: list[str] | None = None
) -> hl.Table:
    """``population: struct{…}`` keyed by locus/alleles from a gnomAD-style sites VCF.

    ``fields`` selects INFO fields (default: those of ``AC, AN, AF, nhomalt`` that exist). Number=A arrays are
    reduced to the split allele's value.
    """
    ht = _import_sites(path, reference_genome)
    info_t = ht.info.dtype
    want = fields or [f for f in ("AC", "AN", "AF", "nhomalt") if f in info_t.fields]
    unknown = [f for f in want if f not in info_t.fields]
    if unknown:
        raise VariantQCError(f"{path}: INFO fields {unknown} requested in variant_qc.population_fields are absent")
    ht = _split(ht)
    vals = {
        f: ht.info[f][ht.a_index - 1] if isinstance(ht.info[f], hl.expr.ArrayExpression) else ht.info[f]
        for f in want
    }
    return ht.select(population=hl.struct(**vals)).distinct()


def import_training_sites(path: str, *, reference_genome: str = "GRCh38") -> hl.Table:
    """Known-good alleles (any sites VCF, e.g. HapMap/1000G or the simulator's panel), keyed by locus/alleles."""
    ht = _split(_import_sites(path, reference_genome))
    return ht.select().distinct()
