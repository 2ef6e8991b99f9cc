"""Simulator extensions for variant QC: synthetic genes (GFF3 + valid ORFs in the FASTA) and planted
artefact calls (artefacts.tsv). No Hail; one small cohort per module (about 5 s)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pysam
import pytest
import yaml

from callset.simulate.cohort import SimulationOptions, simulate_cohort
from callset.simulate.genes import CODE, STOPS, read_gff3, revcomp

OPTS = dict(samples=12, seed=4, region_size=120_000, chrx_size=20_000, par_size=20_000, chry_size=20_000,
            panel_per_ancestry=5, anomaly_rate=0, gq_bands="reblock")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim_vqc")
    simulate_cohort(out, SimulationOptions(**OPTS, genes=6, artefacts=30))
    return out


def test_options_are_off_by_default_and_recorded_when_on(sim: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    simulate_cohort(plain, SimulationOptions(**{**OPTS, "samples": 3}))
    cfg = yaml.safe_load((plain / "config.yaml").read_text())
    assert "variant_qc" not in cfg and "gff3" not in cfg["simulation"]
    assert not (plain / "artefacts.tsv").exists() and not (plain / "reference" / "genes.gff3").exists()
    cfg = yaml.safe_load((sim / "config.yaml").read_text())
    assert cfg["variant_qc"]["gff3"] == str(sim / "reference" / "genes.gff3")
    assert cfg["variant_qc"]["fasta"] == str(sim / "reference" / "sim.fa.gz")
    assert cfg["variant_qc"]["training_sites"] == str(sim / "panel" / "panel.vcf.bgz")
    assert cfg["simulation"]["artefacts"] == str(sim / "artefacts.tsv")


def test_genes_are_valid_orfs_with_canonical_splice_sites(sim: Path) -> None:
    genes = read_gff3(sim / "reference" / "genes.gff3")
    fa = pysam.FastaFile(str(sim / "reference" / "sim.fa.gz"))
    assert len(genes) == 6 and {g.strand for g in genes} == {"+", "-"}
    for g in genes:
        seq = "".join(fa.fetch(g.contig, a - 1, b) for a, b in g.cds)
        orf = seq if g.strand == "+" else revcomp(seq)
        assert len(orf) % 3 == 0
        codons = [orf[i : i + 3] for i in range(0, len(orf), 3)]
        assert codons[0] == "ATG" and codons[-1] in STOPS
        assert all(CODE[c] != "*" for c in codons[:-1]), g.gene_id
        for a, b in g.introns():
            intron = fa.fetch(g.contig, a - 1, b)
            intron = intron if g.strand == "+" else revcomp(intron)
            assert intron[:2] == "GT" and intron[-2:] == "AG"
        # CDS inside exons, UTRs on both sides
        assert g.exons[0][0] < g.cds[0][0] and g.cds[-1][1] < g.exons[-1][1]
    # GFF3 layout bcftools csq needs (Ensembl)
    text = (sim / "reference" / "genes.gff3").read_text()
    assert "ID=gene:SIMG0001;" in text and "Parent=transcript:SIMT0001" in text and "biotype=protein_coding" in text


def test_simulated_sites_take_the_rewritten_reference(sim: Path) -> None:
    fa = pysam.FastaFile(str(sim / "reference" / "sim.fa.gz"))
    n = 0
    for rec in pysam.VariantFile(str(sim / "truth_genotypes.vcf.bgz")):
        assert fa.fetch(rec.chrom, rec.pos - 1, rec.pos - 1 + len(rec.ref)) == rec.ref and rec.alts[0] != rec.ref
        n += 1
    assert n > 100


def test_artefacts_are_called_in_their_carriers_only(sim: Path) -> None:
    with open(sim / "artefacts.tsv", newline="") as f:
        arts = list(csv.DictReader(f, delimiter="\t"))
    assert len(arts) == 30 and {a["kind"] for a in arts} == {"strand_bias", "low_mq", "low_qd"}
    truth = {r.pos for r in pysam.VariantFile(str(sim / "truth_genotypes.vcf.bgz"))}
    gvcfs = {p.name.split(".")[0]: p for p in (sim / "inbox").glob("*/*.g.vcf.gz")}
    for a in arts:
        pos = int(a["position"])
        assert pos not in truth
        carriers = set(a["carriers"].split(","))
        assert len(carriers) == int(a["n_carriers"]) >= 1
        for sid, path in gvcfs.items():
            recs = list(pysam.VariantFile(str(path)).fetch(a["contig"], pos - 1, pos))
            assert len(recs) == 1  # a variant record or the reference block covering it
            r = recs[0]
            if sid not in carriers:
                assert r.alts == ("<NON_REF>",)
                continue
            assert r.alts == (a["alt"], "<NON_REF>") and r.samples[0]["GT"] == (0, 1)
            raw_sb, raw_mq = r.info["AS_SB_TABLE"], r.info["AS_RAW_MQ"]  # pysam splits strings on commas
            raw_sb = ",".join(raw_sb) if isinstance(raw_sb, tuple) else raw_sb
            raw_mq = ",".join(raw_mq) if isinstance(raw_mq, tuple) else raw_mq
            sb = [list(map(int, x.split(","))) for x in raw_sb.split("|")]
            mq = [float(x) for x in raw_mq.split("|")]
            ad = r.samples[0]["AD"]
            if a["kind"] == "strand_bias":
                assert 0 in sb[1] and sum(sb[1]) == ad[1] >= 2
            elif a["kind"] == "low_mq":
                assert np.sqrt(mq[1] / ad[1]) < 36
            else:
                assert ad[1] / (ad[0] + ad[1]) < 0.3


def test_stage_is_scheduled_only_when_activated(tmp_path: Path) -> None:
    """Dry runs: variant_qc_sites joins the DAG (and tracks the configured resources) when activated."""
    from conftest import make_batch, run_snakemake, write_config

    make_batch(tmp_path / "inbox", "b1", ["HG00187", "HG00190"])
    clinvar = Path(__file__).parent / "data" / "annotation" / "clinvar_chr22_small.vcf"
    on = write_config(tmp_path / "on.yaml", variant_qc={"activate": True, "clinvar_vcf": str(clinvar)})
    off = write_config(tmp_path / "off.yaml")
    out = run_snakemake(tmp_path, on, "-n", "--quiet", "rules").stdout
    assert "variant_qc_sites" in out
    assert "variant_qc_sites" not in run_snakemake(tmp_path, off, "-n", "--quiet", "rules").stdout
