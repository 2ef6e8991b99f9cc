"""Measure variant filters against the simulator's truth (``callset simulate --artefacts``).

Used by ``benchmarks/variant_qc_filter.py`` and the tests. Every split allele of the sites table is one of:
``artefact`` (planted, ``artefacts.tsv``), ``true`` (an allele of ``truth_genotypes.vcf.bgz``, compared in
minimal representation as ``hl.split_multi_hts`` writes it) or ``other`` (a call the simulated reads made
without either: sequencing errors, contamination). Per variant type (``snv`` / ``indel``):
precision = flagged artefacts / flagged artefacts and true alleles, recall = flagged artefacts / planted
artefacts, and the fraction of true alleles that PASS by cohort allele-count bin (1, 2–5, 6–20, > 20) —
for the learned filter alone and for all site filters.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import hail as hl
import yaml

from callset.variant_qc.learned import FILTER_NAMES


def read_artefacts(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of the simulator's ``artefacts.tsv``."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def artefact_metrics(ht: hl.Table, artefacts_tsv: str | os.PathLike[str]) -> dict[str, Any]:
    """Precision/recall of (a) the learned filter alone and (b) any site filter, overall and per artefact kind."""
    arts = read_artefacts(artefacts_tsv)
    kind = hl.literal({(a["contig"], int(a["position"]), a["ref"], a["alt"]): a["kind"] for a in arts})
    key = hl.tuple([ht.locus.contig, ht.locus.position, ht.alleles[0], ht.alleles[1]])
    learned = hl.literal(set(FILTER_NAMES.values()))
    r = ht.aggregate(hl.agg.group_by(
        hl.struct(kind=hl.or_else(kind.get(key), "true"),
                  learned=hl.len(ht.filters.intersection(learned)) > 0, any=hl.len(ht.filters) > 0),
        hl.agg.count(),
    ))
    kinds = sorted({a["kind"] for a in arts})
    n_art = len(arts)
    found = sum(n for k, n in r.items() if k.kind != "true")

    def pr(flag: str) -> dict[str, Any]:
        tp = sum(n for k, n in r.items() if k.kind != "true" and k[flag])
        fp = sum(n for k, n in r.items() if k.kind == "true" and k[flag])
        per = {
            kd: sum(n for k, n in r.items() if k.kind == kd and k[flag])
            / max(1, sum(1 for a in arts if a["kind"] == kd))
            for kd in kinds
        }
        return {"tp": tp, "fp": fp, "fn": n_art - tp, "precision": tp / (tp + fp) if tp + fp else float("nan"),
                "recall": tp / n_art if n_art else float("nan"), "recall_by_kind": per}

    n_true = sum(n for k, n in r.items() if k.kind == "true")
    return {"n_artefacts": n_art, "n_artefacts_in_table": found, "n_other_sites": n_true,
            "learned": pr("learned"), "any_filter": pr("any")}


def min_rep(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Minimal representation of one biallelic allele (as Hail's ``min_rep``): shared suffix trimmed, then
    shared prefix (keeping one base; the position moves with it)."""
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def truth_alleles(truth_vcf: str | os.PathLike[str]) -> set[tuple[str, int, str, str]]:
    """Every ALT allele of the simulator's true genotypes carried by a sample, in minimal representation."""
    import pysam

    out: set[tuple[str, int, str, str]] = set()
    with pysam.VariantFile(str(truth_vcf)) as vcf:
        for rec in vcf:
            carried = {a for smp in rec.samples.values() for a in (smp.allele_indices or ()) if a}
            for i in carried:
                alt = rec.alleles[i]
                if alt == "*" or alt.startswith("<"):
                    continue
                out.add((rec.chrom, *min_rep(rec.pos, rec.ref, alt)))
    return out


#: allele-count bins reported (upper edges; as the learned filter calibrates)
AC_BINS = (1, 5, 20)


def site_metrics(ht: hl.Table, sim_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Per type (``snv``/``indel``): artefact precision/recall of the learned filter and of all filters,
    recall per artefact kind, and true-allele PASS fractions per AC bin; plus counts of each class.

    ``ht``: a sites table with ``filters`` and ``cohort_stats.AC`` (or ``AC``) keyed by split locus/alleles.
    """
    from callset.variant_qc.learned import ac_bin_labels

    sim = Path(sim_dir)
    arts = read_artefacts(sim / "artefacts.tsv") if (sim / "artefacts.tsv").exists() else []
    art = hl.literal({(a["contig"], int(a["position"]), a["ref"], a["alt"]): a["kind"] for a in arts})
    truth = hl.literal(truth_alleles(sim / "truth_genotypes.vcf.bgz"))
    key = hl.tuple([ht.locus.contig, ht.locus.position, ht.alleles[0], ht.alleles[1]])
    ac = ht.cohort_stats.AC if "cohort_stats" in ht.row else ht.AC
    labels = ac_bin_labels(AC_BINS)
    bin_expr = hl.case()
    for e, lab in zip(AC_BINS, labels, strict=False):
        bin_expr = bin_expr.when(ac <= e, lab)
    bin_expr = bin_expr.default(labels[-1])
    learned = hl.literal(set(FILTER_NAMES.values()))
    r = ht.aggregate(hl.agg.group_by(
        hl.struct(
            type=hl.if_else(hl.is_snp(ht.alleles[0], ht.alleles[1]), "snv",
                            hl.if_else(ht.alleles[1] == "*", "star", "indel")),
            cls=hl.case().when(art.contains(key), "artefact").when(truth.contains(key), "true").default("other"),
            kind=art.get(key), bin=bin_expr,
            learned=hl.len(ht.filters.intersection(learned)) > 0, any=hl.len(ht.filters) > 0,
        ),
        hl.agg.count(),
    ))
    out: dict[str, Any] = {}
    for t in ("snv", "indel"):
        rows = [(k, n) for k, n in r.items() if k.type == t]
        planted = [a for a in arts if a.get("type", "snv" if len(a["ref"]) == len(a["alt"]) == 1 else "indel") == t]
        n_art = len(planted)

        def count(pred: Any, rows: list = rows) -> int:
            return sum(n for k, n in rows if pred(k))

        per: dict[str, Any] = {
            "n_artefacts": n_art,
            "n_artefacts_in_table": count(lambda k: k.cls == "artefact"),
            "n_true": count(lambda k: k.cls == "true"),
            "n_other": count(lambda k: k.cls == "other"),
        }
        for flag in ("learned", "any"):
            tp = count(lambda k, f=flag: k.cls == "artefact" and k[f])
            fp = count(lambda k, f=flag: k.cls == "true" and k[f])
            kinds = sorted({a["kind"] for a in planted})
            per[flag] = {
                "tp": tp, "fp": fp, "fn": n_art - tp,
                "precision": tp / (tp + fp) if tp + fp else float("nan"),
                "recall": tp / n_art if n_art else float("nan"),
                "recall_by_kind": {
                    kd: count(lambda k, kd=kd, f=flag: k.kind == kd and k[f])
                    / max(1, sum(a["kind"] == kd for a in planted))
                    for kd in kinds
                },
                "true_pass_by_ac": {
                    b: (1 - count(lambda k, b=b, f=flag: k.cls == "true" and k.bin == b and k[f])
                        / n_b) if (n_b := count(lambda k, b=b: k.cls == "true" and k.bin == b)) else float("nan")
                    for b in labels
                },
                "other_flagged": count(lambda k, f=flag: k.cls == "other" and k[f]),
            }
        per["n_true_by_ac"] = {b: count(lambda k, b=b: k.cls == "true" and k.bin == b) for b in labels}
        out[t] = per
    return out


def combine_simulated(sim_dir: str | os.PathLike[str], vds_path: str, work_dir: str) -> str:
    """Joint-call every gVCF of a simulated cohort straight into ``vds_path`` (no intake; one interval per
    simulated window). For tests and benchmarks."""
    from callset.joint_call.combine import combine
    from callset.joint_call.intervals import intervals_expr

    sim = Path(sim_dir)
    cfg = yaml.safe_load((sim / "config.yaml").read_text())
    gvcfs = sorted(str(p) for p in (sim / "inbox").glob("*/*.g.vcf.gz"))
    bounds = []
    for iv in cfg["simulation"]["intervals"]:
        contig, rng = iv.split(":")
        a, b = (int(x) for x in rng.split("-"))
        bounds.append((contig, a, b + 1))
    combine(gvcf_paths=gvcfs, output_path=vds_path, work_dir=work_dir,
            intervals=intervals_expr(bounds, "GRCh38"))
    return vds_path


def consequence_check(ht: hl.Table, sim_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Every split allele of ``ht`` (but ``*``) against the consequence the simulator's gene models imply
    (``genes.expected_consequence``). Returns ``seen`` (expected class -> alleles, intergenic included),
    ``by_class`` (class on a gene -> ``[agree, alleles]``), ``n`` / ``n_agree`` (alleles on genes),
    ``genic_indels`` (class -> indel alleles on genes), ``multi`` / ``genic_multi`` / ``genic_multi_agree``
    (alleles of multi-allelic sites: all / on genes / agreeing), ``wrong`` (disagreements) and ``malformed``
    (alleles whose gene / transcript fields do not fit their class: a gene allele names a SIM gene and, but
    for introns, which bcftools csq reports per gene, a SIMT transcript; an intergenic one names none)."""
    import pysam

    from callset.simulate.genes import expected_consequence, read_gff3

    sim = Path(sim_dir)
    genes = read_gff3(sim / "reference" / "genes.gff3")
    rows = ht.select("consequence", "gene", "transcript_consequences", "n_alt_alleles").collect()
    out: dict[str, Any] = {"seen": {}, "by_class": {}, "n": 0, "n_agree": 0, "genic_indels": {}, "multi": 0,
                           "genic_multi": 0, "genic_multi_agree": 0, "wrong": [], "malformed": []}
    with pysam.FastaFile(str(sim / "reference" / "sim.fa.gz")) as fa:
        for r in rows:
            c, p, (ref, alt) = r.locus.contig, r.locus.position, r.alleles
            if alt == "*":
                continue
            exp = expected_consequence(genes, c, p, ref, alt, lambda c, a, b: fa.fetch(c, a - 1, b))
            ok = r.consequence == exp
            out["seen"][exp] = out["seen"].get(exp, 0) + 1
            out["multi"] += r.n_alt_alleles > 1
            if not ok:
                out["wrong"].append((c, p, ref, alt, exp, r.consequence))
            if exp == "intergenic":
                if r.gene is not None or r.transcript_consequences:
                    out["malformed"].append((c, p, ref, alt, exp, r.gene, r.transcript_consequences))
                continue
            tx = r.transcript_consequences[0].transcript if r.transcript_consequences else "?"
            if not (r.gene or "").startswith("SIM") or (
                tx is not None if exp == "intron" else not (tx or "").startswith("SIMT")
            ):
                out["malformed"].append((c, p, ref, alt, exp, r.gene, r.transcript_consequences))
            out["n"] += 1
            out["n_agree"] += ok
            agree_n = out["by_class"].setdefault(exp, [0, 0])
            agree_n[0] += ok
            agree_n[1] += 1
            if len(ref) != len(alt):
                out["genic_indels"][exp] = out["genic_indels"].get(exp, 0) + 1
            if r.n_alt_alleles > 1:
                out["genic_multi"] += 1
                out["genic_multi_agree"] += ok
    return out
