"""A synthetic release of any size for the browser's tests and benchmark: what the browser reads, no more.

``write_synthetic_release(out, n_variants=...)`` writes ``manifest.json``, ``samples.tsv`` (research IDs),
``public/variant_summary.tsv.bgz`` (+ ``.tbi``) and ``vat/vat.tsv.bgz`` (+ ``.tbi``, ``vat_summary.json``).
Genotype counts per ancestry group are drawn at random; the summary's shown values come from
:func:`callset.release.public.suppress_row` (the release's own hiding, levels and bounds), in the release's line
format. The VAT has the release VAT's columns, with its exact ``gvs_*`` counts, so a site that leaked them
would fail the privacy tests. About 1 % of the variants are hard-filtered: in the summary, not in the VAT.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from callset.release.public import Counts

GROUP_SIZES = {"AFR": 420, "EAS": 160, "EUR": 640, "SAS": 35}
UNASSIGNED = 12
CODING = ("missense", "synonymous", "stop_gained", "frameshift", "splice_region", "5_prime_utr", "3_prime_utr",
          "intron")
SEVERITY = ("stop_gained", "frameshift", "splice_region", "missense", "synonymous", "5_prime_utr", "3_prime_utr",
            "intron", "intergenic")
CLINVAR = (("Pathogenic", "criteria_provided,_multiple_submitters,_no_conflicts"),
           ("Likely_pathogenic", "criteria_provided,_single_submitter"),
           ("Uncertain_significance", "criteria_provided,_single_submitter"),
           ("Benign", "reviewed_by_expert_panel"))
#: hom-ref, het and hom-alt counts of every variant (one group)
Counts3 = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class SyntheticRelease:
    """Where things are, and the genes (symbol -> contig, start, end) laid out."""

    path: Path
    n_variants: int
    genes: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    contigs: list[str] = field(default_factory=list)


def _vat_columns(groups: list[str]) -> list[str]:
    from callset.variant_qc.vat import BASE_COLUMNS

    cols = [c[0] for c in BASE_COLUMNS]
    for g in ["all", *groups]:
        cols += [f"gvs_{g.lower()}_{x}" for x in ("ac", "an", "af", "sc", "hc")]
    return cols + ["gvs_max_af", "gvs_max_subpop"]


def write_synthetic_release(
    out: str | os.PathLike[str],
    *,
    n_variants: int = 5000,
    contigs: int = 2,
    span: int = 400_000,
    genes_per_contig: int = 6,
    gene_length: int = 30_000,
    seed: int = 1,
    k: int = 20,
    release: str = "v1",
) -> SyntheticRelease:
    """Write a synthetic release of ``n_variants`` over ``contigs`` contigs (chr1, chr2, ...) of ``span`` bp."""
    rng = np.random.default_rng(seed)  # one stream, drawn in this order: counts, layout, rows
    root = Path(out)
    (root / "public").mkdir(parents=True, exist_ok=True)
    (root / "vat").mkdir(parents=True, exist_ok=True)
    groups = sorted(GROUP_SIZES)
    counts = _draw_counts(rng, n_variants, groups)
    syn = SyntheticRelease(root, n_variants)
    layout, gene_of = _lay_out(rng, syn, n_variants, contigs, span, genes_per_contig, gene_length)
    n_dropped = _write_tables(rng, root, syn, layout, gene_of, counts, groups, k)
    _compress_and_index(root)
    _write_metadata(root, release, k, len(layout), n_dropped, groups)
    return syn


def _draw_counts(rng: np.random.Generator, n: int, groups: list[str]) -> dict[str, Counts3]:
    """Per group (and ``_none``, the unassigned samples): hom-ref, het and hom-alt counts of each variant."""
    # per-variant counts: a frequency spectrum rich in rare variants, group frequencies around it
    p = 10 ** rng.uniform(-4, -0.3, n)
    counts: dict[str, Counts3] = {}
    for g in [*groups, "_none"]:
        size = GROUP_SIZES.get(g, UNASSIGNED)
        pg = np.clip(p * rng.lognormal(0, 0.6, n), 0, 0.98)
        called = rng.binomial(size, 0.985, n)
        v = rng.binomial(called, pg * pg)
        h = rng.binomial(called - v, np.clip(2 * pg * (1 - pg) / np.maximum(1 - pg * pg, 1e-9), 0, 1))
        counts[g] = (called - h - v, h, v)
    total_ac = sum(counts[g][1] + 2 * counts[g][2] for g in counts)
    zero = total_ac == 0  # released sites have AC > 0
    r0, h0, v0 = counts["EUR"]
    counts["EUR"] = (np.where(zero & (r0 > 0), r0 - 1, r0), np.where(zero & (r0 > 0), h0 + 1, h0), v0)
    return counts


def _lay_out(
    rng: np.random.Generator, syn: SyntheticRelease, n: int, contigs: int, span: int, genes_per_contig: int,
    gene_length: int,
) -> tuple[list[tuple[str, int]], list[list[tuple[str, int, int]]]]:
    """Variant positions (contig, pos) in order and the genes of each contig; fills ``syn.contigs``/``genes``."""
    per = -(-n // contigs)
    layout: list[tuple[str, int]] = []
    gene_of: list[list[tuple[str, int, int]]] = []
    for ci in range(contigs):
        name = f"chr{ci + 1}"
        m = min(per, n - len(layout))
        if m <= 0:
            break
        syn.contigs.append(name)
        positions = np.sort(rng.choice(np.arange(1_000_001, 1_000_001 + span), size=m, replace=False))
        layout += [(name, int(x)) for x in positions]
        step = span // max(1, genes_per_contig)
        genes = []
        for j in range(genes_per_contig):
            start = 1_000_001 + j * step + step // 10
            sym = f"SYN{ci + 1}G{j + 1}"
            genes.append((sym, start, start + gene_length - 1))
            syn.genes[sym] = (name, start, start + gene_length - 1)
        gene_of.append(genes)
    return layout, gene_of


def _write_tables(
    rng: np.random.Generator, root: Path, syn: SyntheticRelease, layout: list[tuple[str, int]],
    gene_of: list[list[tuple[str, int, int]]], counts: dict[str, Counts3], groups: list[str], k: int,
) -> int:
    """Write the plain public summary and VAT, one variant at a time; return the number hard-filtered."""
    from callset.release.public import COLUMNS, Counts, suppress_row

    bases = np.array(list("ACGT"))
    vat_cols = _vat_columns(groups)
    n_dropped = 0
    with (root / "public" / "variant_summary.tsv").open("w") as fs, (root / "vat" / "vat.tsv").open("w") as fv:
        fs.write("\t".join(COLUMNS) + "\n")
        fv.write("\t".join(vat_cols) + "\n")
        contig_index = {c: i for i, c in enumerate(syn.contigs)}
        last: tuple[str, int, str, str] | None = None
        for i, (chrom, pos) in enumerate(layout):
            ref, alt = _draw_alleles(rng, bases)
            if last == (chrom, pos, ref, alt):
                continue
            last = (chrom, pos, ref, alt)
            gc = {g: Counts(int(counts[g][0][i]), int(counts[g][1][i]), int(counts[g][2][i]),
                            int(counts[g][1][i] + 2 * counts[g][2][i]),
                            2 * int(counts[g][0][i] + counts[g][1][i] + counts[g][2][i])) for g in counts}
            total = sum(gc.values(), Counts(0, 0, 0, 0, 0))
            shown = suppress_row({g: gc[g] for g in groups}, total, k=k)
            for g, shown_counts in shown.items():
                fs.write("\t".join((chrom, str(pos), ref, alt, g, *(shown_counts[c] for c in COLUMNS[5:]))) + "\n")
            if rng.random() < 0.01:
                n_dropped += 1  # hard-filtered: in the public summary, left out of the VAT
                continue
            in_genes = [gname for gname, a, b in gene_of[contig_index[chrom]] if a <= pos <= b]
            fv.writelines(_vat_lines(rng, (chrom, pos, ref, alt), in_genes, gc, total, groups, vat_cols))
    return n_dropped


def _draw_alleles(rng: np.random.Generator, bases: np.ndarray) -> tuple[str, str]:
    """REF and ALT: 85 % SNVs, 8 % insertions, 7 % deletions of 1-3 bases."""
    ref = str(bases[rng.integers(4)])
    u = rng.random()
    if u < 0.85:
        alt = str(bases[(np.where(bases == ref)[0][0] + rng.integers(1, 4)) % 4])
    elif u < 0.93:
        alt = ref + "".join(bases[rng.integers(0, 4, rng.integers(1, 4))])
    else:
        ref, alt = ref + "".join(bases[rng.integers(0, 4, rng.integers(1, 4))]), ref
    return ref, alt


def _vat_lines(
    rng: np.random.Generator, variant: tuple[str, int, str, str], in_genes: list[str], gc: dict[str, Counts],
    total: Counts, groups: list[str], vat_cols: list[str],
) -> list[str]:
    """The VAT lines of one variant: one per transcript (one intergenic line outside genes)."""
    chrom, pos, ref, alt = variant
    txs: list[tuple[str, str, str, str, str]] = []
    for gname in in_genes:
        for n_tx in range(1 + int(rng.random() < 0.4)):
            csq = str(CODING[rng.integers(len(CODING))])
            aa = f"{rng.integers(1, 900)}R>{rng.integers(1, 900)}W" if csq == "missense" else ""
            txs.append((gname, f"{gname}-T{n_tx + 1}", csq, aa, f"{pos}{ref}>{alt}"))
    worst = min((t[2] for t in txs), key=SEVERITY.index) if txs else "intergenic"
    clin = CLINVAR[rng.integers(len(CLINVAR))] if txs and rng.random() < 0.05 else ("", "")
    filt = "PASS" if rng.random() < 0.92 else "high_CALIBRATION_SENSITIVITY_SNP"
    rsid = f"rs{rng.integers(1, 10**9)}" if rng.random() < 0.3 else ""
    vtype = "SNV" if len(ref) == len(alt) == 1 else ("insertion" if len(ref) < len(alt) else "deletion")
    freq = []
    af_by_group = {}
    for g in ["all", *groups]:
        c = total if g == "all" else gc[g]
        af = c.ac / c.an if c.an else 0.0
        if g != "all":
            af_by_group[g] = af
        freq += [str(c.ac), str(c.an), f"{af:.6g}", str(c.h + c.v), str(c.v)]
    best = max(af_by_group, key=lambda g: af_by_group[g])
    base = {"vid": f"{chrom[3:]}-{pos}-{ref}-{alt}", "contig": chrom, "position": str(pos),
            "ref_allele": ref, "alt_allele": alt, "variant_type": vtype, "worst_consequence": worst,
            "clinvar_classification": clin[0], "clinvar_phenotype": "Synthetic_condition" if clin[0] else "",
            "clinvar_review_status": clin[1], "filter_status": filt,
            "learned_filter_score": f"{rng.random():.4f}", "dbsnp_rsid": rsid}
    lines = []
    for t in txs or [("", "", "intergenic", "", "")]:
        row: dict[str, Any] = {**base, "gene_symbol": t[0], "transcript": t[1], "consequence": t[2],
                               "aa_change": t[3], "dna_change_in_transcript": t[4] if t[1] else ""}
        vals = [str(row.get(c, "")) for c in vat_cols[: len(vat_cols) - len(freq) - 2]]
        lines.append("\t".join([*vals, *freq, f"{af_by_group[best]:.6g}", best]) + "\n")
    return lines


def _compress_and_index(root: Path) -> None:
    """bgzip + tabix the plain summary (contig in column 1) and VAT (contig in column 2); remove the plain files."""
    import pysam

    for plain, seq_col in ((root / "public" / "variant_summary.tsv", 0), (root / "vat" / "vat.tsv", 1)):
        bgz = plain.with_suffix(".tsv.bgz")
        pysam.tabix_compress(str(plain), str(bgz), force=True)
        plain.unlink()
        pysam.tabix_index(str(bgz), seq_col=seq_col, start_col=seq_col + 1, end_col=seq_col + 1, line_skip=1,
                          zerobased=False, force=True, preset=None)


def _write_metadata(root: Path, release: str, k: int, n_variants: int, n_dropped: int, groups: list[str]) -> None:
    """``vat/vat_summary.json``, ``samples.tsv`` (research IDs) and ``manifest.json``."""
    vat_summary = {"file": "vat.tsv.bgz", "dropped": {"hard_filtered": n_dropped}, "groups": ["all", *groups]}
    (root / "vat" / "vat_summary.json").write_text(json.dumps(vat_summary, indent=1) + "\n")
    n_samples = sum(GROUP_SIZES.values()) + UNASSIGNED
    (root / "samples.tsv").write_text("research_id\n" + "".join(f"CS{900000000 + i:09d}\n" for i in range(n_samples)))
    manifest = {"release": release, "created": "2026-12-01T12:00:00+00:00", "reference_genome": "GRCh38",
                "n_samples": n_samples, "n_variants": n_variants,
                "public": {"files": ["public/variant_summary.tsv.bgz"], "suppress_below": k},
                "vat": {"path": "vat", "summary": vat_summary}, "synthetic": True}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
