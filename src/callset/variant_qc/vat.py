"""The variant annotation table (VAT), in the spirit of All of Us's: one row per variant × transcript.

Columns that mean what an All of Us VAT column means carry its name (``vid, transcript, contig, position,
ref_allele, alt_allele, variant_type, dbsnp_rsid, gene_symbol, consequence, aa_change,
dna_change_in_transcript, clinvar_classification, clinvar_phenotype, gvs_<group>_ac/an/af/sc, gvs_max_af,
gvs_max_subpop``); the others are this project's (``worst_consequence``, ``clinvar_review_status``,
``filter_status``, ``learned_filter_score``, ``gvs_<group>_hc`` homozygote counts).

``write_vat(rows, out_dir)`` writes into ``out_dir``:

- ``vat.tsv.bgz`` (+ ``.tbi``) — tab-separated, BGZF-compressed, header line first, sorted by contig and
  position, tabix-indexed on ``contig``/``position``; empty cell = no value;
- ``vat.schema.json`` — every column with its type and meaning; ``README.md`` — the same, for people;
- ``vat_summary.json`` — rows written, variants written and variants dropped per reason.

Sites are dropped as the AoU VAT does: spanning deletions (ALT ``*``), sites whose multi-allelic record had
more than 50 ALT alleles, and hard-filtered sites (``ExcessHet``, ``NO_HQ_GENOTYPES``, ``EXCESS_ALLELES``,
``LowQual``). Sites failing only the learned filter are kept, with ``filter_status`` saying so.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hail as hl

from callset.variant_qc import VariantQCError
from callset.variant_qc.filters import SITE_FILTERS

log = logging.getLogger(__name__)

VAT_MAX_ALT_ALLELES = 50
VAT_NAME = "vat.tsv.bgz"

BASE_COLUMNS: list[tuple[str, str, str]] = [
    ("vid", "string", "variant id CONTIG-POSITION-REF-ALT, contig without 'chr' (AoU style), e.g. 20-10001234-A-G"),
    ("contig", "string", "contig as in the reference (e.g. chr20)"),
    ("position", "integer", "1-based position of the (split, min-rep) variant"),
    ("ref_allele", "string", "reference allele"),
    ("alt_allele", "string", "alternate allele"),
    ("variant_type", "string", "SNV, insertion, deletion or MNV"),
    ("dbsnp_rsid", "string", "rsID(s) of the variant (the gVCF ID column, ';'-joined; empty when none)"),
    ("gene_symbol", "string", "gene of this transcript (empty when intergenic or not annotated)"),
    ("transcript", "string", "transcript id (empty when intergenic or not annotated)"),
    ("consequence", "string",
     "bcftools csq consequence on this transcript ('&'-joined when compound); 'intergenic' without a "
     "transcript; empty when consequences were not annotated (no GFF3 configured)"),
    ("aa_change", "string", "amino-acid change on this transcript (bcftools csq, e.g. 57R>57W)"),
    ("dna_change_in_transcript", "string", "DNA change on this transcript (bcftools csq, e.g. 10000170C>T); "
     "named `dna_change` before issue 19"),
    ("worst_consequence", "string", "most severe consequence of the variant over all transcripts"),
    ("clinvar_classification", "string", "ClinVar CLNSIG (as in the ClinVar VCF)"),
    ("clinvar_phenotype", "string", "ClinVar CLNDN"),
    ("clinvar_review_status", "string", "ClinVar CLNREVSTAT"),
    ("filter_status", "string", "PASS, or the ';'-joined site filters the variant fails (learned filter only: "
     "hard-filtered sites are not in the VAT)"),
    ("learned_filter_score", "float", "calibration sensitivity of the learned filter (0 typical … 1 outlier)"),
]


def vat_drop_reason_expr(t: hl.Table, *, max_alt_alleles: int = VAT_MAX_ALT_ALLELES) -> hl.expr.StringExpression:
    """Why a site is left out of the VAT (``spanning_deletion``, ``excess_alt_alleles``, ``hard_filtered``),
    missing when kept. Needs ``alleles`` and ``filters``; ``n_alt_alleles`` when present."""
    hard = hl.literal(set(SITE_FILTERS))
    excess = (t.n_alt_alleles > max_alt_alleles) if "n_alt_alleles" in t.row else hl.bool(False)
    filters = hl.coalesce(t.filters, hl.empty_set(hl.tstr))
    return (
        hl.case()
        .when(t.alleles[1] == "*", "spanning_deletion")
        .when(hl.coalesce(excess, False), "excess_alt_alleles")
        .when(hl.len(filters.intersection(hard)) > 0, "hard_filtered")
        .or_missing()
    )


def _rows(mt_or_rows: hl.MatrixTable | hl.Table | Sequence[hl.MatrixTable | hl.Table]) -> hl.Table:
    if isinstance(mt_or_rows, hl.MatrixTable):
        return mt_or_rows.rows()
    if isinstance(mt_or_rows, hl.Table):
        return mt_or_rows
    tables = [_rows(x) for x in mt_or_rows]
    if not tables:
        raise VariantQCError("write_vat: no shards given")
    return tables[0].union(*tables[1:]) if len(tables) > 1 else tables[0]


def _s(x: hl.expr.Expression) -> hl.expr.StringExpression:
    return hl.or_else(hl.str(x), "")


def write_vat(
    mt_or_rows: hl.MatrixTable | hl.Table | Sequence[hl.MatrixTable | hl.Table],
    out_dir: str | os.PathLike[str],
    *,
    max_alt_alleles: int = VAT_MAX_ALT_ALLELES,
) -> dict[str, Any]:
    """Write the VAT of ``mt_or_rows`` (a release shard MT, its rows, or a list of them) into ``out_dir``.

    Needs rows ``locus, alleles, filters, learned_filter_score, consequence, gene, transcript_consequences,
    clinvar`` (from :func:`release.annotate_sites`) and either ``freq``/``max_af``/``max_af_group`` (from
    :func:`release.annotate_frequencies`) or ``AC``/``AN``/``AF``. Optional ``population``: one
    ``population_<field>`` column per field. Returns (and writes) the summary with drop counts.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ht = _checked_rows(mt_or_rows, max_alt_alleles=max_alt_alleles)
    ht, n_in, drops = _drop_sites(ht, max_alt_alleles=max_alt_alleles)
    groups = _frequency_groups(ht)
    ht = _one_row_per_transcript(ht)
    columns = [_VatColumn(n, t, d, v) for (n, t, d), v in zip(BASE_COLUMNS, _base_values(ht), strict=True)]
    columns += _frequency_columns(ht, groups) + _population_columns(ht)
    n_rows = _export(ht, columns, out / VAT_NAME)
    n_variants = n_in - sum(drops.values())
    schema = [{"name": c.name, "type": c.type, "description": c.description} for c in columns]
    (out / "vat.schema.json").write_text(json.dumps(schema, indent=1) + "\n")
    (out / "README.md").write_text(_readme(schema, drops))
    summary = {"file": VAT_NAME, "n_rows": n_rows, "n_variants": n_variants, "n_variants_in": n_in,
               "dropped": drops, "groups": groups}
    (out / "vat_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log.info("VAT: %d rows (%d variants) written to %s", n_rows, n_variants, out / VAT_NAME)
    return summary


@dataclass(frozen=True)
class _VatColumn:
    """One VAT column: its name, type and meaning (``vat.schema.json``) and its value (a string expression)."""

    name: str
    type: str
    description: str
    value: hl.expr.Expression


def _checked_rows(
    mt_or_rows: hl.MatrixTable | hl.Table | Sequence[hl.MatrixTable | hl.Table], *, max_alt_alleles: int
) -> hl.Table:
    """The rows, after checking they carry the variant-QC site fields the VAT needs."""
    ht = _rows(mt_or_rows)
    need = ["filters", "learned_filter_score", "consequence", "gene", "transcript_consequences", "clinvar"]
    missing = [f for f in need if f not in ht.row]
    if missing:
        raise VariantQCError(f"write_vat: rows lack {missing}; join the variant-QC sites first (annotate_sites)")
    if "n_alt_alleles" not in ht.row:
        log.warning("write_vat: no n_alt_alleles field: the > %d ALT alleles rule cannot be applied", max_alt_alleles)
    return ht


def _drop_sites(ht: hl.Table, *, max_alt_alleles: int) -> tuple[hl.Table, int, dict[str, int]]:
    """The sites the VAT keeps (AoU rules, :func:`vat_drop_reason_expr`), the number of sites in, and the
    number dropped per reason."""
    ht = ht.annotate(_drop=vat_drop_reason_expr(ht, max_alt_alleles=max_alt_alleles))
    counts = ht.aggregate(hl.struct(reasons=hl.agg.counter(hl.or_else(ht._drop, "kept")), n=hl.agg.count()))
    drops = {k: int(v) for k, v in counts.reasons.items() if k != "kept"}
    log.info("VAT: %d variants in, %d dropped (AoU rules): %s", counts.n, sum(drops.values()), drops)
    return ht.filter(hl.is_missing(ht._drop)), int(counts.n), drops


def _frequency_groups(ht: hl.Table) -> list[str]:
    """The ancestry groups of ``freq`` ("all" first; the ``freq_groups`` global when present), or none."""
    if "freq" not in ht.row:
        return []
    if "freq_groups" in ht.globals:
        return list(hl.eval(ht.freq_groups))
    groups = sorted(ht.aggregate(hl.agg.explode(hl.agg.collect_as_set, ht.freq.keys())))
    return ["all"] + [g for g in groups if g != "all"]


def _one_row_per_transcript(ht: hl.Table) -> hl.Table:
    """One row per variant × transcript in ``_tx`` (one row with a missing transcript when it has none)."""
    tx_t = ht.transcript_consequences.dtype.element_type
    none_tx = hl.struct(**{f: hl.missing(tx_t[f]) for f in tx_t})
    ht = ht.annotate(_tx=hl.if_else(hl.len(ht.transcript_consequences) == 0, hl.array([none_tx]),
                                    ht.transcript_consequences))
    return ht.explode("_tx")


def _base_values(ht: hl.Table) -> list[hl.expr.Expression]:
    """The values of :data:`BASE_COLUMNS`, in their order."""
    ref, alt = ht.alleles[0], ht.alleles[1]
    contig_short = ht.locus.contig.replace("^chr", "")
    filters = hl.sorted(hl.array(ht.filters))
    vals: dict[str, hl.expr.Expression] = {
        "vid": hl.delimit([contig_short, hl.str(ht.locus.position), ref, alt], "-"),
        "contig": ht.locus.contig,
        "position": hl.str(ht.locus.position),
        "ref_allele": ref,
        "alt_allele": alt,
        "variant_type": _s(hl.case().when((hl.len(ref) == 1) & (hl.len(alt) == 1), "SNV")
                           .when(hl.len(ref) == hl.len(alt), "MNV")
                           .when(hl.len(ref) < hl.len(alt), "insertion").default("deletion")),
        "dbsnp_rsid": _s(ht.rsid) if "rsid" in ht.row else hl.str(""),
        "gene_symbol": _s(hl.or_else(ht._tx.gene, ht.gene)),
        "transcript": _s(ht._tx.transcript),
        "consequence": _s(hl.or_else(ht._tx.consequence, ht.consequence)),
        "aa_change": _s(ht._tx.aa_change),
        "dna_change_in_transcript": _s(ht._tx.dna_change),
        "worst_consequence": _s(ht.consequence),
        "clinvar_classification": _s(ht.clinvar.clnsig),
        "clinvar_phenotype": _s(ht.clinvar.clndn),
        "clinvar_review_status": _s(ht.clinvar.clnrevstat),
        "filter_status": hl.if_else(hl.len(filters) == 0, "PASS", hl.delimit(filters, ";")),
        "learned_filter_score": _s(ht.learned_filter_score),
    }
    return [vals[name] for name, _t, _d in BASE_COLUMNS]


def _frequency_columns(ht: hl.Table, groups: list[str]) -> list[_VatColumn]:
    """``gvs_<group>_ac/an/af/sc/hc`` per group and ``gvs_max_af/subpop``; without ``freq``, ``gvs_all_*`` from
    the rows' ``AC``/``AN``/``AF`` (those present)."""
    if not groups:
        return [_VatColumn(f"gvs_all_{col}", typ, f"{fld} over all samples in this release", _s(ht[fld]))
                for col, fld, typ in (("ac", "AC", "integer"), ("an", "AN", "integer"), ("af", "AF", "float"))
                if fld in ht.row]
    columns = []
    for g in groups:
        f = ht.freq.get(g)
        who = "all samples" if g == "all" else f"samples of genetic ancestry group {g}"
        for col, fld, typ, what in (
            ("ac", "AC", "integer", "alternate allele count"), ("an", "AN", "integer", "allele number"),
            ("af", "AF", "float", "alternate allele frequency"),
            ("sc", "sample_count", "integer", "number of samples carrying the allele"),
            ("hc", "homozygote_count", "integer", "number of homozygous-alternate samples"),
        ):
            columns.append(_VatColumn(f"gvs_{g.lower()}_{col}", typ, f"{what} among {who} in this release",
                                      _s(f[fld])))
    return [*columns, _VatColumn("gvs_max_af", "float", "highest AF over the ancestry groups", _s(ht.max_af)),
            _VatColumn("gvs_max_subpop", "string", "the ancestry group with the highest AF", _s(ht.max_af_group))]


def _population_columns(ht: hl.Table) -> list[_VatColumn]:
    """``population_<field>`` for every field of the optional ``population`` struct."""
    fields = list(ht.population.dtype.fields) if "population" in ht.row else []
    return [_VatColumn(f"population_{f}", "string", f"{f} from the configured population sites VCF",
                       _s(ht.population[f])) for f in fields]


def _export(ht: hl.Table, columns: list[_VatColumn], path: Path) -> int:
    """Export the columns to ``path`` (BGZF TSV with a header line), tabix-index it; the number of rows."""
    import pysam

    ht = ht.select(**{c.name: c.value for c in columns}).key_by().select(*[c.name for c in columns])
    ht.export(str(path), header=True, delimiter="\t")
    pysam.tabix_index(str(path), seq_col=1, start_col=2, end_col=2, line_skip=1, zerobased=False,
                      force=True, preset=None)
    return int(ht.count())


def _readme(schema: list[dict[str, str]], drops: dict[str, int]) -> str:
    lines = [
        "# Variant annotation table (VAT)", "",
        f"`{VAT_NAME}`: one row per variant × transcript (one row with empty transcript for intergenic "
        "variants), tab-separated, BGZF-compressed, sorted, with a header line; indexed with tabix on "
        "`contig`/`position` (`tabix vat.tsv.bgz chr20:10000000-10100000`). Empty cell = no value.", "",
        "Variants are split to biallelic, min-rep alleles, like the release MatrixTables. Left out (All of Us "
        "rules): spanning deletions (`*`), sites with more than 50 ALT alleles, hard-filtered sites "
        "(ExcessHet, NO_HQ_GENOTYPES, EXCESS_ALLELES, LowQual). Counts left out in this release: "
        + (", ".join(f"{k} {v}" for k, v in sorted(drops.items())) or "none") + ".", "",
        "| column | type | description |", "|---|---|---|",
        *(f"| `{c['name']}` | {c['type']} | {c['description']} |" for c in schema), "",
    ]
    return "\n".join(lines)
