"""Variant QC and annotation: filters, learned filter on planted artefacts, consequences against the
simulator's gene models, ClinVar joins on real chr22 data, per-ancestry frequencies, the VAT.

One simulated cohort per module (24 samples, 150 kb autosome, 8 genes, 80 planted artefacts; about
90 s with joint calling and the sites computation), plus the real 5-sample chr22 VDS.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pysam
import pytest
from conftest import TESTDATA

from callset.simulate.cohort import SimulationOptions, simulate_cohort
from callset.simulate.genes import CODE, read_gff3, revcomp

ANNOT = Path(__file__).parent / "data" / "annotation"
CLINVAR = ANNOT / "clinvar_chr22_small.vcf"
REAL_VDS = TESTDATA / "vds" / "1kg_chr22_5_samples.vds"
#: Floors held on the planted artefacts (benchmarks/variant_qc_filter.py prints the measured numbers). All
#: site filters together (hard filters + learned filter) must find the artefacts; the learned filter alone
#: must find the kinds hard filters cannot see (strand bias, low MQ); low-QD artefacts are mostly caught by
#: LowQual/NO_HQ_GENOTYPES. Measured here: all filters precision 0.89 recall 0.99; learned precision 0.86.
MIN_PRECISION = 0.75
MIN_RECALL = 0.9


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vqc_sim")
    simulate_cohort(out, SimulationOptions(
        samples=24, seed=5, region_size=150_000, chrx_size=30_000, par_size=20_000, chry_size=20_000,
        panel_per_ancestry=15, gq_bands="reblock", genes=8, artefacts=80, anomaly_rate=0,
    ))
    return out


@pytest.fixture(scope="module")
def sim_vds(sim: Path, hail_session, tmp_path_factory: pytest.TempPathFactory) -> str:
    from harness.variant_qc_evaluate import combine_simulated

    work = tmp_path_factory.mktemp("vqc_vds")
    return combine_simulated(sim, str(work / "cohort.vds"), str(work / "combine"))


@pytest.fixture(scope="module")
def sim_sites(sim: Path, sim_vds: str, hail_session, tmp_path_factory: pytest.TempPathFactory):
    hl = hail_session
    from callset.variant_qc.pipeline import compute_sites, summarize_sites

    work = tmp_path_factory.mktemp("vqc_sites")
    ht, summary = compute_sites(
        hl.vds.read_vds(sim_vds), work_dir=str(work / "work"), fasta=str(sim / "reference" / "sim.fa.gz"),
        gff3=str(sim / "reference" / "genes.gff3"), training_sites=str(sim / "panel" / "panel.vcf.bgz"),
    )
    ht = ht.checkpoint(str(work / "sites.ht"))
    summary["counts"] = summarize_sites(ht)
    return ht, summary


# --- expressions (no files) ------------------------------------------------------------------------


class TestGenotypeFilter:
    @pytest.mark.parametrize(
        ("gt", "gq", "dp", "ad", "expected"),
        [
            ([0, 1], 30, 20, [10, 10], "PASS"),
            ([1, 1], 10, 5, [0, 5], "LowGQ;LowDP"),
            ([0, 1], 99, 30, [28, 2], "LowAB"),
            ([0, 1], 99, 30, [24, 6], "PASS"),  # AB 0.2 is not below 0.2
            ([0, 0], 20, 10, [10, 0], "PASS"),  # AB applies to hets only
            ([0, 1], None, 30, [15, 15], "LowGQ"),  # missing GQ fails
            (None, 99, 30, [15, 15], None),  # no-call: no FT
        ],
    )
    def test_cases(self, hail_session, gt, gq, dp, ad, expected):
        hl = hail_session
        from callset.variant_qc.filters import genotype_filter_expr

        call = hl.missing(hl.tcall) if gt is None else hl.call(*gt)
        e = genotype_filter_expr(call, hl.literal(gq, hl.tint32), hl.literal(dp, hl.tint32), hl.literal(ad))
        assert hl.eval(e) == expected


def test_strand_bias_statistics_match_fisher_and_gatk_sor(hail_session):
    hl = hail_session
    from scipy.stats import fisher_exact

    from callset.variant_qc.filters import fs_expr, sor_expr

    for table in ([10, 12, 9, 0], [50, 48, 1, 30], [3, 4, 2, 2], [300, 280, 200, 5]):
        rf, rr, af, ar = table
        tot = sum(table)
        scaled = [int(x / (tot / 200)) for x in table] if tot > 400 else table
        p = fisher_exact([[scaled[0], scaled[1]], [scaled[2], scaled[3]]])[1]
        assert hl.eval(fs_expr(*table)) == pytest.approx(-10 * np.log10(p), rel=1e-6, abs=1e-6)
        a, b, c, d = (x + 1 for x in table)
        r = (a * d) / (c * b)
        sor = np.log(r + 1 / r) + np.log(min(a, b) / max(a, b)) - np.log(min(c, d) / max(c, d))
        assert hl.eval(sor_expr(*table)) == pytest.approx(sor)
    assert hl.eval(fs_expr(0, 0, 7, 9)) == 0.0  # no REF reads (hom-alt): no evidence of bias


# --- learned filter: calibration helpers (no Hail) -------------------------------------------------


class TestCalibrationBins:
    def test_labels_and_indices(self):
        from callset.variant_qc.learned import ac_bin_index, ac_bin_labels

        assert ac_bin_labels((1, 5, 20)) == ["1", "2-5", "6-20", ">20"]
        assert list(ac_bin_index(np.array([1, 2, 5, 6, 20, 21, 500]), (1, 5, 20))) == [0, 1, 1, 2, 2, 3, 3]

    @pytest.mark.parametrize(
        ("counts", "groups"),
        [
            ([500, 800, 900, 2000], [0, 1, 2, 3]),  # every bin large enough: calibrated apart
            ([50, 800, 900, 2000], [0, 0, 1, 2]),  # a thin singleton bin joins 2-5
            ([500, 800, 900, 30], [0, 1, 2, 2]),  # a thin last bin joins the previous group
            ([10, 10, 10, 10], [0, 0, 0, 0]),  # nothing large enough: one calibration
        ],
    )
    def test_small_bins_merge_towards_common_variants(self, counts, groups):
        from callset.variant_qc.learned import merge_small_bins

        assert merge_small_bins(counts, 200) == groups

    def test_qd_ratio_removes_the_genotype_composition(self):
        """Hom-alt and hemizygous carriers have about twice the QD of hets: after the ratio a chrY singleton
        (one haploid ALT call, QD ~31) looks like a het singleton (QD ~13)."""
        from callset.variant_qc.learned import INPUTS, model_features

        rng = np.random.default_rng(0)
        haf = rng.uniform(0, 1, 2000)
        qd = 13 + 18 * haf + rng.normal(0, 1, 2000)
        x = np.full((2003, len(INPUTS)), np.nan)
        x[:2000, INPUTS.index("AS_QD")], x[:2000, INPUTS.index("hom_depth_fraction")] = qd, haf
        x[2000:, INPUTS.index("AS_QD")] = [31.7, 13.0, 4.0]  # haploid ALT, het, low-QD artefact
        x[2000:, INPUTS.index("hom_depth_fraction")] = [1.0, 0.0, 0.0]
        x[:, INPUTS.index("ref_fraction")] = [0.5] * 2000 + [0.0, 0.5, 0.9]
        x[:, INPUTS.index("AS_FS")] = 1.0
        train = np.arange(2003) < 2000
        f, info = model_features(x, train)
        assert info["qd_line"] == pytest.approx([13, 18], abs=0.3)
        assert f[2000, 0] == pytest.approx(1.0, abs=0.03) and f[2001, 0] == pytest.approx(1.0, abs=0.03)
        assert f[2002, 0] < 0.35
        # no REF reads among the carriers (hemizygous/hom-alt only): strand statistics not used
        assert np.isnan(f[2000, 2]) and np.isfinite(f[2001, 2])


def test_common_chrx_alleles_are_not_filtered_for_their_hemizygous_carriers(hail_session):
    """QD pools QUAL over the carriers' reads, and a hemizygous male has half a female's reads on chrX: the
    QD expected for an allele comes from the *depth* share of hom-alt/hemizygous carriers. With the share of
    carriers instead (0.5 for 10 het females + 10 males, against a depth share of 1/3) a true common chrX
    allele looked like low QD to a model trained on autosomes, and the filter removed ~3 % of them (seeds
    22, 23 of benchmarks/variant_qc_filter.py)."""
    import hail as hl

    from callset.variant_qc.learned import FILTER_NAMES, annotate_learned_filter

    rng = np.random.default_rng(1)
    depth, het_qd, hom_qd = 30, 13.0, 31.0  # QD of a het / of an all-ALT call (hom-alt or hemizygous)

    def row(i: int, contig: str, hets: int, homs: int, hom_depth: int, qd_noise: float) -> dict:
        qual = het_qd * depth * hets + hom_qd * hom_depth * homs
        vardp = depth * hets + hom_depth * homs
        return dict(
            locus=hl.Locus(contig, 1_000_000 + 10 * i, "GRCh38"), alleles=["A", "G"], filters=set(),
            AC=hets + 2 * homs if contig != "chrX" else hets + homs, n_het=hets, n_hom_alt=homs,
            variant_type="SNV",
            info=dict(AS_QD=qual / vardp + qd_noise, AS_MQ=60.0, AS_FS=float(rng.uniform(0, 2)),
                      AS_SOR=float(rng.normal(0.7, 0.05)), AS_VarDP=vardp,
                      AS_ALT_DP=depth // 2 * hets + hom_depth * homs, AS_HET_DP=depth * hets),
        )

    autosomal = [row(i, "chr20", int(rng.integers(10, 40)), int(rng.integers(0, 15)), depth,
                     float(rng.normal(0, 0.3))) for i in range(2000)]
    chrx = [row(i, "chrX", 10, 10, depth // 2, 0.0) for i in range(20)]  # 10 het females, 10 hemizygous males
    ht = hl.Table.parallelize(autosomal + chrx, hl.tstruct(
        locus=hl.tlocus("GRCh38"), alleles=hl.tarray(hl.tstr), filters=hl.tset(hl.tstr), AC=hl.tint32,
        n_het=hl.tint32, n_hom_alt=hl.tint32, variant_type=hl.tstr,
        info=hl.tstruct(AS_QD=hl.tfloat64, AS_MQ=hl.tfloat64, AS_FS=hl.tfloat64, AS_SOR=hl.tfloat64,
                        AS_VarDP=hl.tint64, AS_ALT_DP=hl.tint64, AS_HET_DP=hl.tint64),
    ), key=["locus", "alleles"])
    training = ht.filter(ht.locus.contig == "chr20").select()  # a panel without chrX, as the simulator's
    scored, report = annotate_learned_filter(ht, training_ht=training)
    out = scored.filter(scored.locus.contig == "chrX").collect()
    assert report.per_type["snv"]["scored"]
    assert report.per_type["snv"]["qd_line"] == pytest.approx([het_qd, hom_qd - het_qd], abs=0.2)
    assert len(out) == 20
    assert not any(FILTER_NAMES["snv"] in r.filters for r in out), [r.learned_filter_score for r in out]
    # the same alleles scored on the share of carriers (the depths unknown) fall far outside the training alleles
    blind = annotate_learned_filter(ht.annotate(info=ht.info.drop("AS_HET_DP")), training_ht=training)[0]
    assert all(FILTER_NAMES["snv"] in r.filters for r in blind.filter(blind.locus.contig == "chrX").collect())


# --- learned filter on planted artefacts ----------------------------------------------------------


def test_learned_filter_precision_recall_on_planted_artefacts(sim: Path, sim_sites):
    from harness.variant_qc_evaluate import artefact_metrics

    ht, summary = sim_sites
    m = artefact_metrics(ht, sim / "artefacts.tsv")
    learned, anyf = m["learned"], m["any_filter"]
    print(f"\nlearned filter: precision {learned['precision']:.3f} recall {learned['recall']:.3f} "
          f"(tp {learned['tp']} fp {learned['fp']} fn {learned['fn']}) by kind {learned['recall_by_kind']}; "
          f"all filters: precision {anyf['precision']:.3f} recall {anyf['recall']:.3f}")
    assert m["n_artefacts_in_table"] == m["n_artefacts"] == 80  # every planted call reached the table
    assert anyf["precision"] >= MIN_PRECISION and anyf["recall"] >= MIN_RECALL
    assert learned["precision"] >= MIN_PRECISION
    assert learned["recall_by_kind"]["strand_bias"] >= MIN_RECALL
    assert learned["recall_by_kind"]["low_mq"] >= MIN_RECALL
    snv = summary["learned_filter"]["snv"]
    assert snv["scored"] and snv["model"] == "gmm" and snv["n_calibration"] > 100
    indel = summary["learned_filter"]["indel"]
    # the simulator makes indels (~12 % of sites); a 150 kb cohort has too few indel training sites to fit one
    assert indel["scored"] or indel["n_training_available"] < 100, indel


# --- learned filter and hard filters on the default simulated genome -------------------------------

#: issue 16 floors on the default cohort (conftest.DEFAULT_COHORT: 10 x 1 Mb, 60 samples, 150 artefacts)
MIN_TRUE_SNV_PASS = 0.995  # per AC bin (1, 2-5, 6-20, > 20), learned filter
MIN_ARTEFACT_RECALL = 0.95  # all site filters, per type
MIN_TRUE_INDEL_PASS = 0.985  # per AC bin, learned filter at indel_sensitivity 0.99 (~2,000 indels per bin)


@pytest.fixture(scope="module")
def default_sites(default_cohort, hail_session, tmp_path_factory: pytest.TempPathFactory):
    """Variant QC sites of the shared default cohort, scored against its truth (harness.site_metrics)."""
    from harness.variant_qc_evaluate import site_metrics

    from callset.core.cohort import read_cohort_vds
    from callset.variant_qc.pipeline import compute_sites

    sim = default_cohort["sim"]
    work = tmp_path_factory.mktemp("vqc_default")
    ht, summary = compute_sites(
        read_cohort_vds(str(default_cohort["step"])), work_dir=str(work / "work"),
        fasta=str(sim / "reference" / "sim.fa.gz"), gff3=str(sim / "reference" / "genes.gff3"),
        training_sites=str(sim / "panel" / "panel.vcf.bgz"),
    )
    ht = ht.checkpoint(str(work / "sites.ht"))
    return ht, summary, site_metrics(ht, sim)


def test_true_snvs_pass_in_every_allele_count_bin(default_sites):
    """The learned filter's promised sensitivity holds for rare variants too (issue 16 §3)."""
    _, summary, m = default_sites
    snv = m["snv"]
    print(f"\ntrue SNV alleles {snv['n_true_by_ac']}; PASS learned {snv['learned']['true_pass_by_ac']}, "
          f"all filters {snv['any']['true_pass_by_ac']}")
    assert summary["learned_filter"]["snv"]["scored"]
    for b, n in snv["n_true_by_ac"].items():
        assert n >= 100, (b, n)  # every bin is populated on the default genome
        assert snv["learned"]["true_pass_by_ac"][b] >= MIN_TRUE_SNV_PASS, (b, snv["learned"])


@pytest.mark.parametrize("vtype", ["snv", "indel"])
def test_artefacts_found_per_variant_type(default_sites, vtype):
    """Planted SNV and indel artefacts, measured apart: all site filters find >= 95 % of each type, and
    what they flag is mostly artefacts rather than true alleles."""
    _, summary, m = default_sites
    x = m[vtype]
    print(f"\n{vtype}: {x['n_artefacts']} artefacts ({x['n_artefacts_in_table']} in the table), "
          f"{x['n_true']} true alleles; learned P {x['learned']['precision']:.3f} R {x['learned']['recall']:.3f} "
          f"{x['learned']['recall_by_kind']}; all filters P {x['any']['precision']:.3f} R {x['any']['recall']:.3f} "
          f"{x['any']['recall_by_kind']}; true PASS (all filters) {x['any']['true_pass_by_ac']}")
    assert x["n_artefacts"] >= 30 and x["n_artefacts_in_table"] == x["n_artefacts"]
    assert x["any"]["recall"] >= MIN_ARTEFACT_RECALL, x["any"]
    # precision depends on how many artefacts were planted among ~78,000 true alleles (150 here: ~0.2);
    # what the filter promises is its sensitivity on true alleles: 0.997 for SNVs, 0.99 for indels, per AC bin
    floor = {"snv": MIN_TRUE_SNV_PASS, "indel": MIN_TRUE_INDEL_PASS}[vtype]
    assert all(v >= floor for v in x["learned"]["true_pass_by_ac"].values()), x["learned"]
    assert summary["learned_filter"][vtype]["scored"], summary["learned_filter"][vtype]


def test_hard_filters_are_consistent_with_their_fields(sim_sites, hail_session):
    hl = hail_session
    ht, summary = sim_sites
    ht = ht.annotate(**ht.cohort_stats)
    score = ht.learned_filter_score
    bad = ht.aggregate(hl.struct(
        no_hq=hl.agg.count_where(ht.filters.contains("NO_HQ_GENOTYPES") != (ht.n_hq_carriers == 0)),
        lowqual=hl.agg.count_where(ht.filters.contains("LowQual") != (  # GVS: 60 for SNVs, 69 for indels
            ht.info.AS_QUALapprox < hl.if_else(ht.variant_type == "SNV", 60, 69))),
        excess=hl.agg.count_where(ht.filters.contains("ExcessHet") != (ht.excess_het > 54.69)),
        no_ac=hl.agg.count_where(ht.AC == 0),
        learned=hl.agg.count_where(hl.if_else(
            ht.variant_type == "SNV",
            ht.filters.contains("high_CALIBRATION_SENSITIVITY_SNP") != hl.coalesce(score > 0.997, False),
            ht.filters.contains("high_CALIBRATION_SENSITIVITY_INDEL") != hl.coalesce(score > 0.99, False),
        )),
    ))
    assert dict(bad) == {"no_hq": 0, "lowqual": 0, "excess": 0, "no_ac": 0, "learned": 0}
    c = summary["counts"]
    assert c["by_filter"].get("NO_HQ_GENOTYPES", 0) > 0 and c["by_filter"].get("LowQual", 0) > 0
    assert c["vat_drops"]["hard_filtered"] == ht.aggregate(hl.agg.count_where(
        hl.len(ht.filters.intersection({"ExcessHet", "NO_HQ_GENOTYPES", "EXCESS_ALLELES", "LowQual"})) > 0))


# --- consequences ---------------------------------------------------------------------------------


def check_consequences(ht, sim: Path) -> dict:  # noqa: ANN001
    """:func:`harness.variant_qc_evaluate.consequence_check`, printed, with the gene/transcript fields checked."""
    from harness.variant_qc_evaluate import consequence_check

    out = consequence_check(ht, sim)
    print(f"\nconsequences of {sum(out['seen'].values())} simulated alleles: {out['seen']}; indels on genes: "
          f"{out['genic_indels']}; alleles of multi-allelic sites: {out['multi']} ({out['genic_multi']} on genes)")
    assert not out["malformed"], out["malformed"][:10]
    return out


def test_consequences_of_simulated_variants_match_gene_model_truth(sim: Path, sim_sites):
    """Every split allele of a small simulation — SNVs, indels (frameshift / inframe where they hit a CDS),
    the alleles of multi-allelic sites — gets the consequence the gene models imply."""
    got = check_consequences(sim_sites[0], sim)
    assert not got["wrong"], got["wrong"][:10]
    assert {"intergenic", "intron", "missense", "synonymous"} <= set(got["seen"])
    assert {"frameshift", "inframe_deletion", "inframe_insertion"} & set(got["genic_indels"]), got["genic_indels"]
    assert got["multi"] > 0


def test_consequences_on_the_default_cohort_match_gene_model_truth(default_cohort, default_sites):
    """The same on the default simulated genome (issue 16 §3): ~78,000 alleles, ~1,000 of multi-allelic sites
    (genes cover ~0.3 % of it, so few or none of those fall on a gene)."""
    got = check_consequences(default_sites[0], default_cohort["sim"])
    assert not got["wrong"], got["wrong"][:10]
    assert {"frameshift", "inframe_deletion", "inframe_insertion"} & set(got["genic_indels"]), got["genic_indels"]
    assert got["multi"] > 100


def _designed_variants(genes, fetch):
    """One hand-picked variant per consequence class (on a + and a - strand gene), expected class."""
    out = []
    for g in genes[:2]:
        cds = g.cds_positions()
        want = {"synonymous", "missense", "stop_gained"}
        for i in range(3, len(cds) - 6):
            p = cds[i]
            ref = fetch(g.contig, p, p)
            for alt in "ACGT":
                if alt == ref:
                    continue
                # the expected class straight from the codon table (independent of bcftools)
                c0 = i - i % 3
                codon = "".join(fetch(g.contig, q, q) for q in cds[c0 : c0 + 3])
                codon = codon if g.strand == "+" else codon.translate(str.maketrans("ACGT", "TGCA"))
                base = alt if g.strand == "+" else revcomp(alt)
                new = codon[: i % 3] + base + codon[i % 3 + 1 :]
                cls = ("stop_gained" if CODE[new] == "*" else
                       "synonymous" if CODE[new] == CODE[codon] else "missense")
                if cls in want and i % 3 != 0 and _interior(g, p):
                    want.discard(cls)
                    out.append((g.contig, p, ref, alt, cls))
        seg = max(g.cds, key=lambda ab: ab[1] - ab[0])
        mid = (seg[0] + seg[1]) // 2
        out.append((g.contig, mid, fetch(g.contig, mid, mid + 1), fetch(g.contig, mid, mid), "frameshift"))
        a, b = g.introns()[0]
        donor, acceptor = (a, b) if g.strand == "+" else (b, a)
        for p, cls in ((donor, "splice_donor"), (acceptor, "splice_acceptor"), ((a + b) // 2, "intron")):
            r = fetch(g.contig, p, p)
            out.append((g.contig, p, r, "A" if r != "A" else "C", cls))
        p = g.start - 500
        r = fetch(g.contig, p, p)
        out.append((g.contig, p, r, "A" if r != "A" else "C", "intergenic"))
    return out


def _interior(g, p: int) -> bool:
    return any(a + 10 <= p <= b - 10 for a, b in g.cds)


def test_designed_variants_get_the_hand_computed_consequence(sim: Path, hail_session, tmp_path: Path):
    from callset.variant_qc.csq import read_csq, run_csq

    genes = read_gff3(sim / "reference" / "genes.gff3")
    assert {g.strand for g in genes[:2]} == {"+", "-"}
    fasta = str(sim / "reference" / "sim.fa.gz")
    fa = pysam.FastaFile(fasta)
    cases = _designed_variants(genes, lambda c, a, b: fa.fetch(c, a - 1, b))
    classes = {c[-1] for c in cases}
    assert {"synonymous", "missense", "stop_gained", "frameshift", "splice_donor", "splice_acceptor",
            "intron", "intergenic"} <= classes
    vcf = tmp_path / "designed.vcf"
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chr20,length=64444167>",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines += [f"{c}\t{p}\t.\t{r}\t{a}\t.\t.\t." for c, p, r, a, _ in sorted(cases, key=lambda x: x[1])]
    vcf.write_text("\n".join(lines) + "\n")
    out = run_csq(str(vcf), str(tmp_path / "csq.vcf.gz"), fasta=fasta, gff3=str(sim / "reference" / "genes.gff3"))
    got = {(r.locus.position, r.alleles[0], r.alleles[1]): r for r in read_csq(out).collect()}
    for _c, p, r, a, cls in cases:
        row = got[(p, r, a)]
        assert row.consequence == cls, (p, r, a, cls, row)
        if cls in ("missense", "stop_gained", "synonymous"):
            t = row.transcript_consequences[0]
            assert t.aa_change and t.dna_change and t.transcript.startswith("SIMT")


# --- ClinVar and real chr22 data ------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_sites(hail_session, tmp_path_factory: pytest.TempPathFactory):
    hl = hail_session
    from callset.variant_qc.pipeline import compute_sites

    work = tmp_path_factory.mktemp("vqc_real")
    ht, summary = compute_sites(hl.vds.read_vds(str(REAL_VDS)), work_dir=str(work), clinvar_vcf=str(CLINVAR),
                                population_sites=str(ANNOT / "gnomad_style_chr22_small.vcf"))
    return ht.checkpoint(str(work / "sites.ht")), summary


def test_clinvar_join_on_real_chr22(real_sites, hail_session):
    hl = hail_session
    ht, _ = real_sites
    got = {
        (r.locus.position, r.alleles[0], r.alleles[1]): r.clinvar
        for r in ht.filter(hl.is_defined(ht.clinvar)).select("clinvar").collect()
    }
    assert set(got) == {(10678964, "A", "G"), (10685603, "T", "G"), (10685603, "T", "C"),
                        (10730515, "TA", "T"), (10731564, "TAAA", "T")}
    a = got[(10678964, "A", "G")]
    assert a.clnsig == "Pathogenic"
    assert a.clndn == "Breast-ovarian_cancer,_familial,_susceptibility_to,_1|not_provided"  # commas kept
    assert a.clnrevstat == "criteria_provided,_multiple_submitters,_no_conflicts"
    assert got[(10685603, "T", "G")].clnsig == "Conflicting_classifications_of_pathogenicity"
    assert got[(10731564, "TAAA", "T")].clnsig == "Likely_benign"  # ClinVar's TAAAC>TC, min-rep'd


def test_clinvar_callset_known_empty_only_without_classifications(real_sites, hail_session, tmp_path):
    """The release skips the per-shard ClinVar write only when no site is classified (one pass over sites)."""
    hl = hail_session
    from callset.release.write import clinvar_empty_reason

    ht, _ = real_sites
    assert clinvar_empty_reason(_written(ht, tmp_path, "with")) == {}
    no_cv = ht.annotate(clinvar=hl.missing(ht.clinvar.dtype))
    why = clinvar_empty_reason(_written(no_cv, tmp_path, "without"))["clinvar"]
    assert "no site has a ClinVar classification" in why
    dropped = ht.drop("clinvar")
    assert "no ClinVar annotation" in clinvar_empty_reason(_written(dropped, tmp_path, "dropped"))["clinvar"]


def _written(ht, tmp_path, name: str) -> str:
    path = str(tmp_path / f"{name}.ht")
    ht.write(path)
    return path


def test_population_frequencies_join_split_alleles(real_sites, hail_session):
    hl = hail_session
    ht, _ = real_sites
    got = {(r.locus.position, r.alleles[1]): r.population
           for r in ht.filter(hl.is_defined(ht.population)).select("population").collect()}
    assert set(got) == {(10678964, "G"), (10685603, "C"), (10685603, "G")}  # 10700041 C>A: allele differs
    assert dict(got[(10685603, "G")]) == {"AC": 3, "AN": 150000, "AF": 2e-05, "nhomalt": 0}
    assert got[(10685603, "C")].nhomalt == 1


def test_stage_runs_on_real_chr22_without_gene_models(real_sites, hail_session):
    hl = hail_session
    ht, summary = real_sites
    assert any("consequences not annotated" in n for n in summary["notes"])
    r = ht.aggregate(hl.struct(n=hl.agg.count(), cons=hl.agg.count_where(hl.is_defined(ht.consequence)),
                               types=hl.agg.counter(ht.variant_type), mq=hl.agg.mean(ht.info.AS_MQ),
                               score=hl.agg.count_where(hl.is_defined(ht.learned_filter_score))))
    assert r.n > 80 and r.cons == 0
    assert r.types["SNV"] > 0 and r.types["deletion"] > 0
    assert 30 < r.mq <= 70  # AS_RAW_MQ / AD of real reads
    # no training resource: unsupervised on hard-filter-passing alleles, when there are enough
    assert summary["params"]["learned_mode"] == "unsupervised"
    assert (r.score > 0) == summary["learned_filter"]["snv"]["scored"]


# --- release functions on a dense split MT ------------------------------------------------------


def _tiny_mt(hl):
    """2 variants x 5 samples with known genotypes (hand-computable counts); no shuffle to build it."""
    gts = {  # s: (GT row 1, GT row 2, GQ, DP, AD)
        "s1": ([0, 1], [0, 0], 30, 20, [10, 10]),
        "s2": ([1, 1], [0, 1], 10, 5, [0, 5]),
        "s3": ([0, 0], [1, 1], 40, 30, [30, 0]),
        "s4": ([0, 1], [0, 0], 99, 30, [28, 2]),
        "s5": (None, [0, 1], 99, 30, [15, 15]),
    }
    names = list(gts)
    ent = hl.literal([[
        hl.Struct(GT=None if v[i] is None else hl.Call(v[i]), GQ=v[2], DP=v[3], AD=v[4]) for v in gts.values()
    ] for i in range(2)])
    mt = hl.utils.range_matrix_table(2, len(names), n_partitions=1)
    mt = mt.key_rows_by(locus=hl.locus("chr1", 100 * (mt.row_idx + 1), "GRCh38"), alleles=["A", "G"])
    mt = mt.key_cols_by(s=hl.literal(names)[mt.col_idx])
    mt = mt.annotate_entries(**ent[mt.row_idx][mt.col_idx])
    return mt.drop("row_idx", "col_idx")


def test_genotype_filter_and_frequencies_hand_computed(hail_session):
    hl = hail_session
    from callset.variant_qc.shard_annotations import annotate_frequencies, annotate_genotype_filter

    mt = annotate_genotype_filter(_tiny_mt(hl))
    anc = {"s1": "EUR", "s2": "EUR", "s3": "AFR", "s5": "AFR"}
    mt = annotate_frequencies(mt, hl.literal(anc).get(mt.s))
    ft = {(e.locus.position, e.s): e.FT for e in mt.entries().collect()}
    assert ft[(100, "s1")] == "PASS" and ft[(100, "s2")] == "LowGQ;LowDP" and ft[(100, "s4")] == "LowAB"
    assert ft[(100, "s5")] is None and ft[(100, "s3")] == "PASS"
    rows = {r.locus.position: r for r in mt.rows().collect()}
    f = rows[100].freq
    assert set(f) == {"all", "AFR", "EUR"}  # s4 has no group: counted in "all" only
    assert (f["all"].AC, f["all"].AN, f["all"].homozygote_count, f["all"].sample_count) == (4, 8, 1, 3)
    assert f["all"].AF == pytest.approx(0.5)
    assert (f["EUR"].AC, f["EUR"].AN, f["EUR"].AF, f["EUR"].sample_count) == (3, 4, 0.75, 2)
    assert (f["AFR"].AC, f["AFR"].AN, f["AFR"].AF, f["AFR"].sample_count) == (0, 2, 0.0, 0)  # s5 no-call
    assert rows[100].max_af_group == "EUR" and rows[100].max_af == 0.75
    g = rows[200].freq
    assert (g["AFR"].AC, g["AFR"].AN, g["AFR"].homozygote_count) == (3, 4, 1)
    assert rows[200].max_af_group == "AFR"
    assert hl.eval(mt.freq_groups) == ["all", "AFR", "EUR"]
    no_groups = annotate_frequencies(_tiny_mt(hl), None).rows().collect()
    assert set(no_groups[0].freq) == {"all"} and no_groups[0].max_af_group is None


def test_read_ancestry_from_sample_qc_tsv(hail_session, tmp_path: Path):
    from callset.variant_qc import VariantQCError
    from callset.variant_qc.shard_annotations import read_ancestry

    p = tmp_path / "sample_qc.tsv"
    p.write_text("research_id\tancestry\tpass\nR1\tAFR\tyes\nR2\t\tyes\nR3\tEUR\tno\n")
    assert {r.s: r.ancestry for r in read_ancestry(p).collect()} == {"R1": "AFR", "R2": None, "R3": "EUR"}
    (tmp_path / "bad.tsv").write_text("research_id\tpop\nR1\tAFR\n")
    with pytest.raises(VariantQCError, match="ancestry"):
        read_ancestry(tmp_path / "bad.tsv")


@pytest.fixture(scope="module")
def release_mt(sim: Path, sim_vds: str, sim_sites, hail_session, tmp_path_factory: pytest.TempPathFactory):
    """The simulated cohort as a release-like shard: dense, split, GT/AD/DP/GQ, AC>0, with all annotations."""
    hl = hail_session
    from callset.variant_qc.pipeline import dense_split_mt
    from callset.variant_qc.shard_annotations import (
        annotate_frequencies,
        annotate_genotype_filter,
        annotate_sites,
        read_ancestry,
    )

    ht, _ = sim_sites
    mt = dense_split_mt(hl.vds.read_vds(sim_vds)).select_entries("GT", "AD", "DP", "GQ")
    mt = hl.variant_qc(mt)
    mt = mt.annotate_rows(AC=mt.variant_qc.AC[1], AN=mt.variant_qc.AN, AF=mt.variant_qc.AF[1])
    mt = mt.filter_rows(mt.AC > 0).select_rows("variant_qc", "AC", "AN", "AF")
    with open(sim / "truth.tsv", newline="") as f:
        anc = {r["sample_id"]: r["ancestry"] for r in csv.DictReader(f, delimiter="\t")}
    # ancestry as sample QC writes it (research_id = this MT's column key here)
    qc = tmp_path_factory.mktemp("qc") / "sample_qc.tsv"
    qc.write_text("research_id\tancestry\n" + "".join(f"{k}\t{v}\n" for k, v in anc.items()))
    mt = annotate_genotype_filter(mt)
    mt = annotate_frequencies(mt, read_ancestry(qc))
    mt = annotate_sites(mt, ht)
    return mt.checkpoint(hl.utils.new_temp_file("release_mt", "mt")), anc


def test_release_functions_on_simulated_shard(release_mt, hail_session):
    hl = hail_session
    mt, anc = release_mt
    r = mt.aggregate_rows(hl.struct(
        n=hl.agg.count(),
        unmatched=hl.agg.count_where(hl.is_missing(mt.learned_filter_score) & hl.is_missing(mt.filters)),
        all_ac_eq=hl.agg.all(mt.freq["all"].AC == mt.AC),
        all_an_eq=hl.agg.all(mt.freq["all"].AN == mt.AN),
        groups_sum=hl.agg.all(mt.freq["AFR"].AC + mt.freq["EUR"].AC + mt.freq["EAS"].AC == mt.AC),
        has_tc=hl.agg.count_where(hl.len(mt.transcript_consequences) > 0),
    ))
    assert r.unmatched == 0 and r.all_ac_eq and r.all_an_eq and r.groups_sum
    assert "AC" in mt.row and "cohort_stats" in mt.row  # the release's own counts are not replaced
    assert r.has_tc > 0
    # genotype filter against an independent numpy computation over all entries
    e = mt.entries().select("GT", "GQ", "DP", "AD", "FT").collect()
    for x in e:
        if x.GT is None:
            assert x.FT is None
            continue
        reasons = []
        if x.GQ is None or x.GQ < 20:
            reasons.append("LowGQ")
        if x.DP is None or x.DP < 10:
            reasons.append("LowDP")
        if x.GT.is_het() and (x.AD is None or sum(x.AD[:2]) == 0 or x.AD[1] / sum(x.AD[:2]) < 0.2):
            reasons.append("LowAB")
        assert x.FT == (";".join(reasons) or "PASS")
    assert {x.FT for x in e} >= {"PASS", "LowAB"}
    # per-ancestry homozygote and carrier counts against numpy, for one group
    sub = mt.filter_cols(hl.literal(anc)[mt.s] == "EUR")
    check = sub.annotate_rows(
        hom=hl.agg.count_where(sub.GT.is_hom_var()), sc=hl.agg.count_where(sub.GT.is_non_ref()),
    ).rows()
    bad = check.aggregate(hl.agg.count_where((check.hom != check.freq["EUR"].homozygote_count)
                                             | (check.sc != check.freq["EUR"].sample_count)))
    assert bad == 0


def test_vat_written_tabix_indexed_with_schema(release_mt, sim_sites, hail_session, tmp_path: Path):
    hl = hail_session
    from callset.variant_qc.vat import VAT_NAME, write_vat

    mt, _ = release_mt
    summary = write_vat(mt, tmp_path / "vat")
    vat = tmp_path / "vat" / VAT_NAME
    schema = json.loads((tmp_path / "vat" / "vat.schema.json").read_text())
    names = [c["name"] for c in schema]
    with gzip.open(vat, "rt") as f:
        header = f.readline().rstrip("\n").split("\t")
        body = [dict(zip(header, line.rstrip("\n").split("\t"), strict=True)) for line in f]
    assert header == names
    assert {"vid", "gene_symbol", "consequence", "aa_change", "clinvar_classification", "filter_status",
            "gvs_all_ac", "gvs_afr_af", "gvs_eur_sc", "gvs_max_af", "gvs_max_subpop"} <= set(names)
    assert "gvs_all_ac" in (tmp_path / "vat" / "README.md").read_text()
    # expected rows: kept variants x max(1, transcripts); dropped = hard-filtered sites
    rows = mt.rows()
    exp = rows.aggregate(hl.struct(
        kept=hl.agg.filter(hl.len(rows.filters.intersection(
            {"ExcessHet", "NO_HQ_GENOTYPES", "EXCESS_ALLELES", "LowQual"})) == 0,
            hl.struct(n=hl.agg.count(), rows=hl.agg.sum(hl.max(1, hl.len(rows.transcript_consequences))))),
        n=hl.agg.count(),
    ))
    assert summary["n_variants"] == exp.kept.n and len(body) == exp.kept.rows == summary["n_rows"]
    assert summary["dropped"].get("hard_filtered", 0) == exp.n - exp.kept.n > 0
    assert {r["filter_status"] for r in body} <= {"PASS", "high_CALIBRATION_SENSITIVITY_SNP",
                                                  "high_CALIBRATION_SENSITIVITY_INDEL"}
    coding = [r for r in body if r["consequence"] == "missense"]
    assert coding and all(r["transcript"].startswith("SIMT") and r["aa_change"] for r in coding)
    assert all(r["vid"] == f"{r['contig'][3:]}-{r['position']}-{r['ref_allele']}-{r['alt_allele']}" for r in body)
    # tabix: a region query returns exactly the rows in it
    first = body[len(body) // 2]
    tb = pysam.TabixFile(str(vat))
    p = int(first["position"])
    hits = list(tb.fetch(first["contig"], p - 1, p + 1000))
    assert len(hits) == sum(1 for r in body if r["contig"] == first["contig"] and p <= int(r["position"]) <= p + 1000)
