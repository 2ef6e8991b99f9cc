"""Cohort VDS → the variant-QC sites table ``<results>/variant_qc/sites.ht``.

Rows: every split, min-rep biallelic variant of the cohort (the same keys as the release shards' rows),
keyed by ``locus, alleles``, with

- ``filters: set<str>`` — hard filters (:mod:`filters`) plus the learned filter (:mod:`learned`); empty = PASS;
- ``learned_filter_score: float64`` — calibration sensitivity (0 good … 1 outlier; missing if unscored);
- ``consequence: str`` (worst term; ``intergenic`` without a transcript; missing when no GFF3/FASTA is
  configured), ``gene: str``, ``transcript_consequences: array<struct{gene, transcript, consequence,
  aa_change, dna_change}>`` (:mod:`csq`);
- ``clinvar: struct{clnsig, clndn, clnrevstat}`` (missing when not in ClinVar or none configured);
- ``population: struct{…}`` (only when a population sites VCF is configured);
- ``info: struct{AS_QUALapprox, AS_VarDP, AS_QD, AS_MQ, AS_FS, AS_SOR}``, ``excess_het``, ``variant_type``,
  ``n_alt_alleles`` (ALT alleles at the multi-allelic site before splitting), ``cohort_stats: struct{AC, AN,
  n_het, n_hom_alt, n_hq_carriers}`` (counts over every cohort sample, before sample QC and withdrawals —
  the release recomputes AC/AN/AF and ``freq`` on its own samples).

Globals ``variant_qc_params`` record every threshold and resource used; ``variant_qc_notes`` (array<str>)
what the release notes must say about the filters (:func:`annotation_coverage_notes`: samples from callers
without GATK's allele-specific annotations; empty for a GATK-only cohort).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hail as hl

from callset.variant_qc import VariantQCError
from callset.variant_qc.filters import (
    excess_het_expr,
    fs_expr,
    genotype_filter_reasons_expr,
    site_filters_expr,
    sor_expr,
    variant_type_expr,
)

if TYPE_CHECKING:
    from callset.variant_qc.learned import ModelReport

log = logging.getLogger(__name__)

AS_STATS = hl.tstruct(qual=hl.tfloat64, vardp=hl.tint64, raw_mq=hl.tfloat64, mq_reads=hl.tint64,
                      ref_fw=hl.tint64, ref_rv=hl.tint64, alt_fw=hl.tint64, alt_rv=hl.tint64,
                      alt_dp=hl.tint64, het_alt_dp=hl.tint64, het_dp=hl.tint64)


def annotate_allele_stats(vd: hl.MatrixTable) -> hl.MatrixTable:
    """Row ``_as: array<struct>`` (one per ALT allele) summing allele-specific gVCF annotations over carriers.

    A carrier of global allele ``j`` is a sample whose local genotype contains it. Sums: AS_QUALapprox
    (falls back to the sample's PL[0] when the gVCFs lack it), AS_VarDP REF+ALT (falls back to AD), AS_RAW_MQ
    of ALT reads and ALT read count (falls back to RAW_MQandDP), AS_SB_TABLE REF/ALT strand counts (falls
    back to the per-sample SB of biallelic records).

    The fallbacks apply per entry: in a cohort mixing GATK gVCFs with DRAGEN/DeepVariant ones (normalised to
    the GATK layout at intake, :mod:`callset.intake.flavors`, without AS_RAW_MQ), a carrier adds the
    annotation it has, and the MQ read count only together with its MQ sum: a carrier without AS_RAW_MQ adds
    RAW_MQandDP (DRAGEN: the site's MQ over DP) or nothing (DeepVariant), never ALT reads without their MQ
    (which pulled AS_MQ towards 0: an allele carried only by such samples had AS_MQ 0).
    """
    # gvcf_info fields are read only when present (``has``): a VDS combined from gVCFs without INFO has none
    has: set[str] = set(vd.gvcf_info.dtype.fields) if "gvcf_info" in vd.entry else set()
    entry = set(vd.entry)

    def stats(j: hl.expr.Int32Expression) -> hl.expr.StructExpression:
        li = vd.LA.index(j)
        carrier = hl.is_defined(li) & hl.coalesce(
            hl.range(vd.LGT.ploidy).any(lambda k: vd.LGT[k] == li), False)
        if "AS_QUALapprox" in has:
            qual = hl.float64(vd.gvcf_info.AS_QUALapprox[li])
        else:
            qual = hl.float64(vd.LPL[0]) if "LPL" in entry else hl.missing(hl.tfloat64)
        if "AS_VarDP" in has:
            vardp = hl.int64(vd.gvcf_info.AS_VarDP[0] + vd.gvcf_info.AS_VarDP[li])
        else:
            vardp = hl.int64(vd.LAD[0] + vd.LAD[li])
        if "AS_RAW_MQ" in has and "RAW_MQandDP" in has:
            as_raw = vd.gvcf_info.AS_RAW_MQ[li]
            raw_mq = hl.coalesce(as_raw, hl.float64(vd.gvcf_info.RAW_MQandDP[0]))
            mq_reads = hl.if_else(hl.is_defined(as_raw), hl.int64(vd.LAD[li]),
                                  hl.int64(vd.gvcf_info.RAW_MQandDP[1]))
        elif "AS_RAW_MQ" in has:
            raw_mq = vd.gvcf_info.AS_RAW_MQ[li]
            mq_reads = hl.or_missing(hl.is_defined(raw_mq), hl.int64(vd.LAD[li]))
        elif "RAW_MQandDP" in has:
            raw_mq, mq_reads = hl.float64(vd.gvcf_info.RAW_MQandDP[0]), hl.int64(vd.gvcf_info.RAW_MQandDP[1])
        else:
            raw_mq, mq_reads = hl.missing(hl.tfloat64), hl.missing(hl.tint64)
        if "AS_SB_TABLE" in has and "SB" in entry:
            biallelic = hl.len(vd.LA) == 2
            sb_ref = hl.coalesce(vd.gvcf_info.AS_SB_TABLE[0], hl.or_missing(biallelic, vd.SB[0:2]))
            sb_alt = hl.coalesce(vd.gvcf_info.AS_SB_TABLE[li], hl.or_missing(biallelic, vd.SB[2:4]))
        elif "AS_SB_TABLE" in has:
            sb_ref, sb_alt = vd.gvcf_info.AS_SB_TABLE[0], vd.gvcf_info.AS_SB_TABLE[li]
        elif "SB" in entry:
            biallelic = hl.len(vd.LA) == 2
            sb_ref = hl.or_missing(biallelic, vd.SB[0:2])
            sb_alt = hl.or_missing(biallelic, vd.SB[2:4])
        else:
            sb_ref = sb_alt = hl.missing(hl.tarray(hl.tint32))
        alt_dp = hl.int64(vd.LAD[li])
        het = carrier & (vd.LGT.ploidy == 2) & (vd.LGT[0] != vd.LGT[1]) & (vd.LGT[0] == 0)
        return hl.agg.filter(carrier, hl.struct(
            qual=hl.agg.sum(qual), vardp=hl.agg.sum(vardp), raw_mq=hl.agg.sum(raw_mq),
            mq_reads=hl.agg.sum(mq_reads),
            ref_fw=hl.agg.sum(hl.int64(sb_ref[0])), ref_rv=hl.agg.sum(hl.int64(sb_ref[1])),
            alt_fw=hl.agg.sum(hl.int64(sb_alt[0])), alt_rv=hl.agg.sum(hl.int64(sb_alt[1])),
            alt_dp=hl.agg.sum(alt_dp),
            het_alt_dp=hl.agg.filter(het, hl.agg.sum(alt_dp)),
            het_dp=hl.agg.filter(het, hl.agg.sum(hl.int64(vd.LAD[0] + vd.LAD[li]))),
        ))

    return vd.annotate_rows(_as=hl.agg.array_agg(stats, hl.range(1, hl.len(vd.alleles))))


def annotation_coverage_notes(vds: hl.vds.VariantDataset) -> list[str]:
    """What variant QC could use for samples whose gVCFs lack GATK's allele-specific MQ or strand annotations.

    Samples are grouped by what their variant records carry (one pass over the variant data): AS_RAW_MQ
    (GATK), only RAW_MQandDP (DRAGEN: intake computes it from DRAGEN's MQ), neither (DeepVariant); strand
    counts (AS_SB_TABLE or SB) or none. Empty when every sample with a variant record has AS_RAW_MQ and
    strand counts (a GATK-only cohort): nothing to say.
    """
    vd = vds.variant_data
    has: set[str] = set(vd.gvcf_info.dtype.fields) if "gvcf_info" in vd.entry else set()

    def any_defined(name: str, in_info: bool = True) -> hl.expr.BooleanExpression:
        if in_info:  # gvcf_info is read only when it has the field (see annotate_allele_stats)
            return hl.agg.any(hl.is_defined(vd.gvcf_info[name])) if name in has else hl.bool(False)
        return hl.agg.any(hl.is_defined(vd[name])) if name in vd.entry else hl.bool(False)

    per = vd.select_cols(
        n_var=hl.agg.count_where(hl.is_defined(vd.LGT)),
        as_mq=any_defined("AS_RAW_MQ"), site_mq=any_defined("RAW_MQandDP"),
        strand=any_defined("AS_SB_TABLE") | any_defined("SB", in_info=False),
    ).cols()
    per = per.filter(per.n_var > 0)
    c = per.aggregate(hl.struct(
        n=hl.agg.count(),
        as_mq=hl.agg.count_where(per.as_mq),
        site_mq=hl.agg.count_where(~per.as_mq & per.site_mq),
        no_mq=hl.agg.count_where(~per.as_mq & ~per.site_mq),
        no_strand=hl.agg.count_where(~per.strand),
    ))
    if c.n == c.as_mq and not c.no_strand:
        return []

    def samples(n: int) -> str:
        return f"{n} sample has" if n == 1 else f"{n} samples have"

    notes = [f"{c.as_mq} of {c.n} samples have GATK allele-specific mapping quality (AS_RAW_MQ) in their gVCFs; "
             "the others come from callers that write no AS_ annotations (DRAGEN, DeepVariant: normalised to the "
             "GATK layout at intake). AS_QD and the LowQual filter use AS_QUALapprox/AS_VarDP, which intake "
             "computes for every caller from PL and AD as GATK's ReblockGVCF does."]
    if c.site_mq:
        notes.append(f"{samples(c.site_mq)} only the site's mapping quality (RAW_MQandDP: DRAGEN's MQ and DP): "
                     "as carriers they add it to AS_MQ in place of the allele's (MQ of all reads at the site).")
    if c.no_mq:
        notes.append(f"{samples(c.no_mq)} no mapping-quality annotation (DeepVariant): as carriers they add "
                     "nothing to AS_MQ, which comes from the other carriers.")
    if c.no_strand:
        notes.append(f"{samples(c.no_strand)} no strand counts (SB/AS_SB_TABLE; DeepVariant): as carriers they "
                     "add nothing to AS_FS/AS_SOR, which come from the other carriers.")
    notes.append("An allele whose carriers all lack one of these has no AS_MQ (or AS_FS/AS_SOR); the learned "
                 "filter imputes a missing feature with its training median, so it scores such an allele on the "
                 "rest (at least the QD ratio), calibrated in its allele-count bin like every other allele.")
    return notes


def dense_split_mt(vds: hl.vds.VariantDataset) -> hl.MatrixTable:
    """Dense, split MT with entries GT/AD/DP/GQ and rows ``as_stats`` (this allele's sums), ``n_alt_alleles``.

    Built like the release shards (``callset.release.shards.dense_shard_mt``) so the keys agree.
    """
    vd = annotate_allele_stats(vds.variant_data)
    vd = vd.annotate_rows(n_alt_alleles=hl.len(vd.alleles) - 1)
    vd = vd.annotate_entries(
        GT=hl.vds.lgt_to_gt(vd.LGT, vd.LA),
        AD=hl.vds.local_to_global(vd.LAD, vd.LA, hl.len(vd.alleles), fill_value=0, number="R"),
    )
    vd = vd.select_entries("GT", "AD", "DP", "GQ").select_rows("_as", "n_alt_alleles")
    rd = vds.reference_data
    rd = rd.select_entries(*(f for f in ("LEN", "END", "DP", "GQ") if f in rd.entry))
    mt = hl.vds.to_dense_mt(hl.vds.VariantDataset(rd, vd))
    mt = hl.split_multi_hts(mt)
    return mt.annotate_rows(as_stats=mt._as[mt.a_index - 1]).drop("_as")


def compute_site_metrics(
    mt: hl.MatrixTable, *, min_gq: int | None = 20, min_dp: int | None = 10, min_het_ab: float | None = 0.2
) -> hl.Table:
    """One row per split variant: cohort counts, ExcessHet, high-quality carriers and AS annotations."""
    reasons = genotype_filter_reasons_expr(mt.GT, mt.GQ, mt.DP, mt.AD, min_gq=min_gq, min_dp=min_dp,
                                           min_het_ab=min_het_ab)
    cs = hl.agg.call_stats(mt.GT, 2)
    mt = mt.annotate_rows(
        AC=cs.AC[1], AN=cs.AN,
        n_het=hl.int32(hl.agg.count_where(mt.GT.is_het())),
        n_hom_alt=hl.int32(hl.agg.count_where(mt.GT.is_hom_var())),
        n_hq_carriers=hl.int32(hl.agg.count_where(mt.GT.is_non_ref() & (hl.len(reasons) == 0))),
        excess_het=excess_het_expr(mt.GT),
    )
    ht = mt.rows()
    a = ht.as_stats
    ht = ht.annotate(
        variant_type=variant_type_expr(ht.alleles[0], ht.alleles[1]),
        info=hl.struct(
            AS_QUALapprox=a.qual, AS_VarDP=a.vardp,
            AS_QD=hl.or_missing(a.vardp > 0, a.qual / hl.float64(a.vardp)),
            AS_MQ=hl.or_missing(a.mq_reads > 0, hl.sqrt(a.raw_mq / hl.float64(a.mq_reads))),
            AS_FS=fs_expr(a.ref_fw, a.ref_rv, a.alt_fw, a.alt_rv),
            # no carrier with strand counts (e.g. only DeepVariant carriers): no SOR, as no FS (not SOR of 0 reads)
            AS_SOR=hl.or_missing(hl.coalesce(a.ref_fw + a.ref_rv + a.alt_fw + a.alt_rv > 0, False),
                                 sor_expr(a.ref_fw, a.ref_rv, a.alt_fw, a.alt_rv)),
            AS_ALT_DP=a.alt_dp,
            AS_HET_ALT_DP=a.het_alt_dp,
            AS_HET_DP=a.het_dp,
        ),
    )
    return ht.select("AC", "AN", "n_het", "n_hom_alt", "n_hq_carriers", "excess_het", "n_alt_alleles",
                     "variant_type", "info")


def compute_sites(
    vds: hl.vds.VariantDataset,
    *,
    work_dir: str | os.PathLike[str],
    reference_genome: str = "GRCh38",
    genotype: Mapping[str, Any] | None = None,
    site: Mapping[str, Any] | None = None,
    learned: Mapping[str, Any] | None = None,
    fasta: str | None = None,
    gff3: str | None = None,
    clinvar_vcf: str | None = None,
    population_sites: str | None = None,
    population_fields: list[str] | None = None,
    training_sites: str | None = None,
) -> tuple[hl.Table, dict[str, Any]]:
    """The sites table and a summary (counts per filter, model report, annotation sources).

    Intermediates are checkpointed under ``work_dir``. Consequences need both ``fasta`` and ``gff3``;
    without them ``consequence`` is missing and the summary says so.
    """
    genotype, site, learned = dict(genotype or {}), dict(site or {}), dict(learned or {})
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    coverage = annotation_coverage_notes(vds)  # samples from callers without GATK's AS_ annotations
    for note in coverage:
        log.warning("annotations: %s", note)
    ht, report = _filtered_sites(vds, work, genotype=genotype, site=site, learned=learned,
                                 training_sites=training_sites, reference_genome=reference_genome)
    notes: list[str] = list(coverage)
    ht = _annotate_consequences(ht, fasta=fasta, gff3=gff3, work=work, reference_genome=reference_genome,
                                notes=notes)
    ht = _annotate_sources(ht, clinvar_vcf=clinvar_vcf, population_sites=population_sites,
                           population_fields=population_fields, reference_genome=reference_genome, notes=notes)
    params = {
        "genotype": genotype, "site": site, "learned": learned, "learned_mode": report.mode,
        "fasta": fasta, "gff3": gff3, "clinvar_vcf": clinvar_vcf, "population_sites": population_sites,
        "training_sites": training_sites,
    }
    ht = _select_site_fields(ht, params=params, coverage=coverage, population=bool(population_sites))
    return ht, {"params": params, "learned_filter": report.per_type, "notes": notes}


def _filtered_sites(
    vds: hl.vds.VariantDataset, work: Path, *, genotype: dict[str, Any], site: dict[str, Any],
    learned: dict[str, Any], training_sites: str | None, reference_genome: str,
) -> tuple[hl.Table, ModelReport]:
    """Site metrics, hard filters and the learned filter (checkpointed under ``work``), and the model report."""
    from callset.variant_qc.clinvar import import_training_sites
    from callset.variant_qc.learned import annotate_learned_filter

    log.info("site metrics: densify, split, genotype criteria %s", genotype)
    ht = compute_site_metrics(dense_split_mt(vds), **genotype)
    ht = ht.checkpoint(str(work / "metrics.ht"), overwrite=True)
    ht = ht.annotate(filters=site_filters_expr(ht, **site))

    training_ht = import_training_sites(training_sites, reference_genome=reference_genome) if training_sites else None
    ht, report = annotate_learned_filter(ht, training_ht=training_ht, **learned)
    ht = ht.checkpoint(str(work / "filtered.ht"), overwrite=True)
    return ht, report


def _annotate_consequences(
    ht: hl.Table, *, fasta: str | None, gff3: str | None, work: Path, reference_genome: str, notes: list[str]
) -> hl.Table:
    """Add ``consequence``, ``gene`` and ``transcript_consequences`` (missing / empty, with a note in ``notes``,
    without both ``fasta`` and ``gff3``)."""
    from callset.variant_qc.csq import TRANSCRIPT_CONSEQUENCE, compute_consequences

    if fasta and gff3:
        csq = compute_consequences(ht, fasta=fasta, gff3=gff3, work_dir=work / "csq",
                                   reference_genome=reference_genome)
        c = csq[ht.key]
        return ht.annotate(
            consequence=hl.if_else(ht.alleles[1] == "*", hl.missing(hl.tstr), hl.coalesce(c.consequence, "intergenic")),
            gene=c.gene,
            transcript_consequences=hl.coalesce(c.transcript_consequences, hl.empty_array(TRANSCRIPT_CONSEQUENCE)),
        )
    msg = "no GFF3/FASTA configured (variant_qc.gff3, variant_qc.fasta): consequences not annotated"
    log.warning(msg)
    notes.append(msg)
    return ht.annotate(consequence=hl.missing(hl.tstr), gene=hl.missing(hl.tstr),
                       transcript_consequences=hl.empty_array(TRANSCRIPT_CONSEQUENCE))


def _annotate_sources(
    ht: hl.Table, *, clinvar_vcf: str | None, population_sites: str | None, population_fields: list[str] | None,
    reference_genome: str, notes: list[str],
) -> hl.Table:
    """Add ``clinvar`` (missing everywhere, with a note in ``notes``, without ``clinvar_vcf``) and, with
    ``population_sites``, ``population``."""
    from callset.variant_qc.clinvar import import_clinvar, import_population_sites

    if clinvar_vcf:
        cv = import_clinvar(clinvar_vcf, reference_genome=reference_genome)
        ht = ht.annotate(clinvar=cv[ht.key].clinvar)
    else:
        notes.append("no ClinVar VCF configured: clinvar is missing everywhere")
        ht = ht.annotate(clinvar=hl.missing(hl.tstruct(clnsig=hl.tstr, clndn=hl.tstr, clnrevstat=hl.tstr)))
    if population_sites:
        pop = import_population_sites(population_sites, reference_genome=reference_genome, fields=population_fields)
        ht = ht.annotate(population=pop[ht.key].population)
    return ht


def _select_site_fields(ht: hl.Table, *, params: dict[str, Any], coverage: list[str], population: bool) -> hl.Table:
    """The released fields of the sites table, with the parameters and annotation notes in globals."""
    ht = ht.annotate_globals(variant_qc_params=json.dumps(params, default=str),
                             variant_qc_notes=hl.literal(coverage, hl.tarray(hl.tstr)))
    return ht.select(
        "filters", "learned_filter_score", "consequence", "gene", "transcript_consequences", "clinvar",
        *(["population"] if population else []),
        "info", "excess_het", "variant_type", "n_alt_alleles",
        cohort_stats=hl.struct(AC=ht.AC, AN=ht.AN, n_het=ht.n_het, n_hom_alt=ht.n_hom_alt,
                               n_hq_carriers=ht.n_hq_carriers),
    )


def summarize_sites(ht: hl.Table) -> dict[str, Any]:
    """Counts for the stage log / summary.json (one pass)."""
    from callset.variant_qc.vat import vat_drop_reason_expr

    r = ht.aggregate(hl.struct(
        n=hl.agg.count(),
        n_pass=hl.agg.count_where(hl.len(ht.filters) == 0),
        by_filter=hl.agg.explode(lambda f: hl.agg.counter(f), hl.array(ht.filters)),
        by_type=hl.agg.counter(ht.variant_type),
        by_consequence=hl.agg.counter(hl.or_else(ht.consequence, "not_annotated")),
        n_clinvar=hl.agg.count_where(hl.is_defined(ht.clinvar)),
        vat_drops=hl.agg.counter(hl.or_else(vat_drop_reason_expr(ht), "kept")),
    ))
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in r.items()}


def run_variant_qc(
    *, cohort_step: str, out_ht: str, summary_json: str, work_dir: str, **kwargs: Any
) -> dict[str, Any]:
    """Stage entry: read the cohort VDS of ``cohort_step``, write ``out_ht`` and ``summary_json``."""
    from callset.core.cohort import cohort_parts, read_cohort_vds

    if not cohort_parts(cohort_step):
        raise VariantQCError(f"{cohort_step}: the cohort has no samples yet (every sample so far was rejected)")
    vds = read_cohort_vds(cohort_step)
    ht, summary = compute_sites(vds, work_dir=work_dir, **kwargs)
    ht.write(out_ht, overwrite=True)
    ht = hl.read_table(out_ht)
    summary["counts"] = summarize_sites(ht)
    c = summary["counts"]
    log.info("variant QC: %d split variants, %d PASS; filters %s; types %s", c["n"], c["n_pass"],
             c["by_filter"], c["by_type"])
    log.info("consequences: %s; ClinVar matches: %d", c["by_consequence"], c["n_clinvar"])
    log.info("VAT site drops (AoU rules): %s", c["vat_drops"])
    for note in summary["notes"]:
        log.info("note: %s", note)
    Path(summary_json).write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary
