"""Tests of the cohort simulator (``callset simulate``): contract, determinism and planted truth.

One small cohort with the default layout and mutation model (10 autosomal windows of 30 kb) and one small
indel-rich cohort are simulated per module (about 10-20 s each on 2 cores); no Hail/Spark is started.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pysam
import pysam.bcftools
import pysam.samtools
import pytest
import yaml
from cyvcf2 import VCF

from callset.simulate import cli
from callset.simulate.cohort import (
    MANIFEST_COLUMNS,
    TRUTH_COLUMNS,
    SimulationOptions,
    import_interval_size,
    simulate_cohort,
    simulation_windows,
)
from callset.simulate.likelihoods import allele_likelihoods, genotype_likelihoods
from callset.simulate.regions import AUTOSOME_WINDOWS, DEFAULT_AUTOSOMES, PAR1_X, default_windows, grch38_lengths
from callset.simulate.stats import summarize_vcf

SEED = 11
N = 30
REGION = 300_000
OPTS = dict(
    samples=N, seed=SEED, batches=2, region_size=REGION, chrx_size=150_000, par_size=20_000,
    chry_size=20_000, duplicates=2, parent_child=2, contaminated=3, contamination_fractions=(0.05, 0.1, 0.2),
    low_coverage=1, sex_mismatch=1, x0=1, xxy=1, cram_samples=1, cram_region_size=10_000,
    panel_per_ancestry=15,
)
SAMPLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MD5 = re.compile(r"^[0-9a-f]{32}$")


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate_cohort(out, SimulationOptions(**OPTS))
    return out


@pytest.fixture(scope="module")
def truth(cohort: Path) -> dict[str, dict[str, str]]:
    return {r["sample_id"]: r for r in read_tsv(cohort / "truth.tsv")}


@pytest.fixture(scope="module")
def manifest(cohort: Path) -> dict[str, dict[str, str]]:
    rows = {}
    for m in sorted((cohort / "inbox").glob("*/manifest.tsv")):
        for r in read_tsv(m):
            r["_dir"] = str(m.parent)
            rows[r["sample_id"]] = r
    return rows


def gvcf_path(manifest: dict[str, dict[str, str]], sid: str) -> Path:
    return Path(manifest[sid]["_dir"]) / manifest[sid]["gvcf"]


class Calls:
    """Called genotypes of one gVCF, looked up at arbitrary positions (variants or reference blocks)."""

    def __init__(self, path: Path) -> None:
        #: (contig, pos) -> (GT string, GQ, AD, alleles)
        self.var: dict[tuple[str, int], tuple[str, int, list[int], list[str]]] = {}
        blocks: dict[str, list[tuple[int, int, int]]] = {}
        for rec in VCF(str(path)):
            gt = rec.genotypes[0]
            if rec.INFO.get("END") is not None and rec.ALT == ["<NON_REF>"]:
                gq = int(rec.format("GQ")[0][0])
                blocks.setdefault(rec.CHROM, []).append((rec.POS, rec.INFO["END"], gq))
            else:
                alleles = [a for a in gt[:-1] if a >= 0]
                ad = [int(x) for x in rec.format("AD")[0]]
                self.var[(rec.CHROM, rec.POS)] = (
                    "/".join(map(str, alleles)), int(rec.format("GQ")[0][0]), ad, [rec.REF, *rec.ALT],
                )
        self.blocks = {c: np.array(b) for c, b in blocks.items()}

    def dosage(self, contig: str, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Non-REF allele count (0/1/2; hemizygous non-REF → 2) and GQ at positions; -1 where not covered
        (e.g. inside the sample's own deletion)."""
        dos = np.full(positions.size, -1)
        gq = np.zeros(positions.size, dtype=int)
        b = self.blocks.get(contig)
        for i, p in enumerate(positions.tolist()):
            v = self.var.get((contig, p))
            if v is not None:
                a = [int(x) for x in v[0].split("/")]
                n_alt = sum(x != 0 for x in a)
                dos[i] = 2 * n_alt if len(a) == 1 else n_alt
                gq[i] = v[1]
            elif b is not None:
                j = np.searchsorted(b[:, 0], p, side="right") - 1
                if j >= 0 and b[j, 1] >= p:
                    dos[i], gq[i] = 0, b[j, 2]
        return dos, gq


def truth_dosage(rec) -> list[int]:  # noqa: ANN001 - a cyvcf2 record
    """Non-REF copies per sample of a truth_genotypes record (``*`` counts: the base is not REF)."""
    return [sum(1 for a in g[:-1] if a > 0) for g in rec.genotypes]


@pytest.fixture(scope="module")
def sites(cohort: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Per autosomal window: contig, truth positions and true non-REF counts (sites × samples)."""
    cfg = yaml.safe_load((cohort / "config.yaml").read_text())
    out = []
    for iv in cfg["simulation"]["autosomal_intervals"]:
        recs = list(VCF(str(cohort / "truth_genotypes.vcf.bgz"))(iv))
        out.append((iv.split(":")[0], np.array([r.POS for r in recs]), np.array([truth_dosage(r) for r in recs])))
    return out


def called(calls: Calls, sites: list[tuple[str, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Called dosage and GQ of one sample at every autosomal truth site (windows concatenated)."""
    parts = [calls.dosage(contig, pos) for contig, pos, _ in sites]
    return np.concatenate([d for d, _ in parts]), np.concatenate([q for _, q in parts])


@pytest.fixture(scope="module")
def truth_index(cohort: Path) -> dict[str, int]:
    return {s: i for i, s in enumerate(VCF(str(cohort / "truth_genotypes.vcf.bgz")).samples)}


@pytest.fixture(scope="module")
def calls(manifest: dict[str, dict[str, str]]) -> dict[str, Calls]:
    return {sid: Calls(gvcf_path(manifest, sid)) for sid in manifest}


# --- contract ----------------------------------------------------------------------------------


def test_layout_and_config(cohort: Path) -> None:
    cfg = yaml.safe_load((cohort / "config.yaml").read_text())
    assert cfg["inbox"] == str(cohort / "inbox")
    assert cfg["results"] == str(cohort / "results")
    assert cfg["release"] == "v1" and cfg["reference_genome"] == "GRCh38"
    for key in ("ancestry_panel", "truth"):
        p = Path(cfg["sample_qc"][key])
        assert p.is_absolute() and p.is_file(), key
    fasta = Path(cfg["simulation"]["fasta"])
    assert fasta.is_absolute() and fasta.is_file()
    assert Path(f"{fasta}.fai").is_file() and Path(f"{fasta}.gzi").is_file()
    assert Path(cfg["simulation"]["panel_labels"]).is_file()
    batches = sorted(p.name for p in (cohort / "inbox").iterdir())
    assert batches == ["batch_001", "batch_002"]


def test_manifest_contract(cohort: Path, manifest: dict[str, dict[str, str]]) -> None:
    for m in (cohort / "inbox").glob("*/manifest.tsv"):
        header = m.read_text().splitlines()[0].split("\t")
        assert tuple(header) == MANIFEST_COLUMNS
    assert len(manifest) == N
    for sid, r in manifest.items():
        folder = Path(r["_dir"])
        assert SAMPLE_ID.match(sid)
        gv = folder / r["gvcf"]
        assert not Path(r["gvcf"]).is_absolute() and gv.is_file() and Path(f"{gv}.tbi").is_file()
        assert MD5.match(r["gvcf_md5"]) and hashlib.md5(gv.read_bytes()).hexdigest() == r["gvcf_md5"]
        if r["cram"]:
            cr = folder / r["cram"]
            assert MD5.match(r["cram_md5"]) and hashlib.md5(cr.read_bytes()).hexdigest() == r["cram_md5"]
        else:
            assert r["cram_md5"] == ""
        assert r["reported_sex"] in {"female", "male", "unknown"}
        assert 0 <= float(r["genome_coverage_20x"]) <= 1
        assert 0 <= float(r["contamination"]) <= 1
        assert float(r["mean_coverage"]) > 0 and float(r["aligned_q30_bases"]) > 1e10
        assert r["array_concordance"] == "" or 0 <= float(r["array_concordance"]) <= 1
        assert r["resubmission"] == ""


def test_manifest_passes_project_reader(cohort: Path) -> None:
    manifest_mod = pytest.importorskip("callset.intake.manifest")
    for m in (cohort / "inbox").glob("*/manifest.tsv"):
        rows = manifest_mod.read_manifest(m)
        assert [p for r in rows for p in r.problems] == []


def test_gvcfs_pass_intake_scan(manifest: dict[str, dict[str, str]]) -> None:
    checks = pytest.importorskip("callset.intake.checks")
    from callset.core.reference import load_reference

    ref = load_reference("GRCh38")
    for sid in list(manifest)[:6]:
        path = gvcf_path(manifest, sid)
        scan = checks.scan_gvcf(path, sample_id=sid, reference=ref)
        assert scan.problems == [], scan.problems
        assert checks.check_bgzf_eof(path) == []
        if hasattr(checks, "check_gvcf_index"):
            problems, _, rebuild = checks.check_gvcf_index(path, scan)
            assert problems == [] and not rebuild


def test_crams_pass_intake_check(cohort: Path, manifest: dict[str, dict[str, str]]) -> None:
    checks = pytest.importorskip("callset.intake.checks")
    if not hasattr(checks, "check_cram"):
        pytest.skip("intake has no CRAM check yet")
    from callset.core.reference import load_reference

    cfg = yaml.safe_load((cohort / "config.yaml").read_text())
    crams = [(s, Path(r["_dir"]) / r["cram"]) for s, r in manifest.items() if r["cram"]]
    assert crams
    for sid, path in crams:
        problems, _ = checks.check_cram(
            path, sample_id=sid, reference=load_reference("GRCh38"),
            reference_fasta=cfg["intake"]["reference_fasta"],
        )
        assert problems == [], problems


def test_gvcf_structure(cohort: Path, manifest: dict[str, dict[str, str]]) -> None:
    """Strict gVCF checks: header, sorting, contiguous coverage of every window, GQ = f(PL)."""
    lengths = grch38_lengths()
    cfg = yaml.safe_load((cohort / "config.yaml").read_text())
    windows = []
    for iv in cfg["simulation"]["intervals"]:
        c, r = iv.split(":")
        a, b = (int(x) for x in r.split("-"))
        windows.append((c, a, b))
    for sid in list(manifest)[:4] + [s for s in manifest if manifest[s]["cram"]]:
        path = gvcf_path(manifest, sid)
        assert pysam.bcftools.view("-H", str(path)).count("\n") > 0  # htslib parses it
        v = VCF(str(path))
        assert v.samples == [sid]
        header_contigs = re.findall(r"##contig=<ID=([^,]+),length=(\d+)", v.raw_header)
        assert {c: int(n) for c, n in header_contigs} == lengths
        assert "##ALT=<ID=NON_REF" in v.raw_header and "##GVCFBlock" in v.raw_header
        covered: dict[str, list[tuple[int, int, bool]]] = {}
        last = ("", 0)
        for rec in v:
            assert set(rec.REF) <= set("ACGT")
            assert rec.ALT[-1] == "<NON_REF>"
            assert all(a == "*" or set(a) <= set("ACGT") for a in rec.ALT[:-1])
            assert "*" not in rec.ALT[:-2]  # * comes last among the ALTs
            end = rec.INFO.get("END", rec.POS + len(rec.REF) - 1)
            assert end >= rec.POS
            assert (rec.CHROM, rec.POS) > last or rec.CHROM != last[0]
            last = (rec.CHROM, rec.POS)
            pl = [int(x) for x in rec.format("PL")[0]]
            gq = int(rec.format("GQ")[0][0])
            n_alleles = 1 + len(rec.ALT)
            ploidy = len([a for a in rec.genotypes[0][:-1]])
            assert len(pl) == (n_alleles if ploidy == 1 else n_alleles * (n_alleles + 1) // 2)
            assert min(pl) == 0
            assert gq == min(99, sorted(pl)[1]), (rec.CHROM, rec.POS, pl, gq)
            is_block = rec.ALT == ["<NON_REF>"]
            if is_block:
                assert rec.INFO.get("END") is not None
                assert rec.FORMAT == ["GT", "DP", "GQ", "MIN_DP", "PL"]
                assert int(rec.format("MIN_DP")[0][0]) <= int(rec.format("DP")[0][0])
            else:
                assert rec.FORMAT == ["GT", "AD", "DP", "GQ", "PL", "SB"]
                ad = [int(x) for x in rec.format("AD")[0]]
                assert len(ad) == n_alleles
                assert sum(ad) == int(rec.format("DP")[0][0]) == rec.INFO["DP"]
                assert 0 not in [a for a in rec.genotypes[0][:-1]] or len(set(rec.genotypes[0][:-1])) > 1
            covered.setdefault(rec.CHROM, []).append((rec.POS, end, is_block))
        for c, a, b in windows:
            # every window is tiled without gaps; reference blocks never overlap anything; a variant record
            # may start inside an earlier call's REF (a call in the other copy, under a deletion)
            iv = [x for x in covered[c] if a <= x[0] <= b]
            assert iv[0][0] == a
            reach = a - 1
            for pos, end, is_block in iv:
                assert pos == reach + 1 if is_block else pos <= reach + 1, f"{sid} {c}:{pos} gap or overlap"
                reach = max(reach, end)
            assert reach == b


def test_truth_table(truth: dict[str, dict[str, str]], manifest: dict[str, dict[str, str]]) -> None:
    rows = list(truth.values())
    assert tuple(rows[0].keys())[: 8] == TRUTH_COLUMNS[:8]
    assert set(truth) == set(manifest)
    for r in rows:
        assert r["karyotype"] in {"XX", "XY", "X0", "XXY"}
        assert r["ancestry"] in {"AFR", "EUR", "EAS"}
        assert manifest[r["sample_id"]]["reported_sex"] == r["reported_sex"]
        implied = "male" if "Y" in r["karyotype"] else "female"
        assert (r["reported_sex"] != implied) == (r["sex_mismatch"] == "yes")
        for item in filter(None, r["relatives"].split(";")):
            other, degree = item.split(":")
            assert degree == "1" and r["sample_id"] in truth[other]["relatives"]
    dups = [r for r in rows if r["duplicate_of"]]
    assert len(dups) == 2
    assert all(truth[d["duplicate_of"]]["true_individual"] == d["true_individual"] for d in dups)
    assert sum(bool(r["relatives"]) for r in rows) == 4
    assert sorted(float(r["contamination"]) for r in rows if r["contaminant"]) == [0.05, 0.1, 0.2]
    assert {r["karyotype"] for r in rows} == {"XX", "XY", "X0", "XXY"}
    assert sum(r["low_coverage"] == "yes" for r in rows) == 1


def test_manifest_metrics_match_simulation(
    truth: dict[str, dict[str, str]], manifest: dict[str, dict[str, str]]
) -> None:
    for sid, t in truth.items():
        m = manifest[sid]
        cov = float(m["mean_coverage"])
        assert cov == pytest.approx(float(t["mean_coverage"]), rel=0.08)
        assert float(m["contamination"]) == pytest.approx(float(t["contamination"]), abs=0.03)
        q30 = float(m["aligned_q30_bases"])
        assert 0.9 * cov * 3.1e9 < q30 <= cov * 3.1e9
        if t["low_coverage"]:
            assert cov < 15 and float(m["genome_coverage_20x"]) < 0.2
        else:
            assert cov >= 30 and float(m["genome_coverage_20x"]) > 0.9


def test_deterministic(tmp_path: Path) -> None:
    """Same seed → byte-identical inbox (gVCFs, CRAMs, manifests), truth, panel and reference; other seed
    differs."""
    small = ["--samples", "4", "--region-size", "20000", "--cram-samples", "1", "--cram-region-size", "2000"]
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert cli.main([*small, "--seed", seed, "--out", str(tmp_path / name), "--jobs", "1"]) == 0

    def files(d: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(d)): p.read_bytes()
            for p in sorted(d.rglob("*"))
            if p.is_file() and p.name != "config.yaml"
        }

    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    assert a.keys() == b.keys() and a == b
    assert any(k.endswith(".g.vcf.gz") for k in a)
    assert (tmp_path / "a/inbox/batch_001/manifest.tsv").read_bytes() != (
        tmp_path / "c/inbox/batch_001/manifest.tsv"
    ).read_bytes()


def test_cli_parser_registration() -> None:
    parser = argparse.ArgumentParser(prog="callset")
    sub = parser.add_subparsers(dest="command")
    cli.add_parser(sub)
    args = parser.parse_args(["simulate", "--samples", "250", "--seed", "3", "--out", "x", "--x0", "1"])
    assert args.func is cli.run
    opts = cli.options_from_args(args)
    assert opts.samples == 250 and opts.seed == 3 and opts.batches == 3 and opts.x0 == 1


# --- genetics ----------------------------------------------------------------------------------


def hudson_fst(g1: np.ndarray, g2: np.ndarray) -> float:
    """Hudson's Fst (ratio of averages) from dosage matrices (sites × individuals)."""
    n1, n2 = 2 * g1.shape[1], 2 * g2.shape[1]
    p1, p2 = g1.sum(1) / n1, g2.sum(1) / n2
    num = (p1 - p2) ** 2 - p1 * (1 - p1) / (n1 - 1) - p2 * (1 - p2) / (n2 - 1)
    den = p1 * (1 - p2) + p2 * (1 - p1)
    return float(num.sum() / den.sum())


def test_fst_between_ancestry_groups(cohort: Path) -> None:
    labels = {r["sample_id"]: r["ancestry"] for r in read_tsv(cohort / "panel/labels.tsv")}
    v = VCF(str(cohort / "panel/panel.vcf.bgz"))
    assert set(v.samples) == set(labels)
    dos = np.array([[a + b for a, b, _ in rec.genotypes] for rec in v])
    groups = {
        a: dos[:, [i for i, s in enumerate(v.samples) if labels[s] == a]] for a in ("AFR", "EUR", "EAS")
    }
    fst = {
        (a, b): hudson_fst(groups[a], groups[b])
        for a, b in (("AFR", "EUR"), ("AFR", "EAS"), ("EUR", "EAS"))
    }
    # 1000 Genomes: about 0.15 (AFR–EUR), 0.18 (AFR–EAS), 0.11 (EUR–EAS); a 300 kb window is noisy
    assert all(0.05 < f < 0.4 for f in fst.values()), fst
    # AFR carries the most diversity
    het = {a: float((g == 1).mean()) for a, g in groups.items()}
    assert het["AFR"] > het["EUR"] and het["AFR"] > het["EAS"], het


def test_duplicates_share_genotypes(
    truth: dict[str, dict[str, str]], calls: dict[str, Calls], sites: list[tuple[str, np.ndarray, np.ndarray]]
) -> None:
    def concordance(a: str, b: str) -> tuple[float, int]:
        da, qa = called(calls[a], sites)
        db, qb = called(calls[b], sites)
        ok = (qa >= 20) & (qb >= 20) & ((da > 0) | (db > 0))
        return float((da[ok] == db[ok]).mean()), int(ok.sum())

    unrelated = [s for s, r in truth.items() if not (r["duplicate_of"] or r["relatives"] or r["contaminant"])]
    base, n0 = concordance(unrelated[0], unrelated[1])
    for sid, r in truth.items():
        if r["duplicate_of"]:
            c, n = concordance(sid, r["duplicate_of"])
            assert n > 100 and c > 0.99, (sid, c, n)
            assert calls[sid].var != calls[r["duplicate_of"]].var  # independent read noise
    assert base < 0.7, base


def test_parent_child_share_an_allele(
    truth: dict[str, dict[str, str]], calls: dict[str, Calls], sites: list[tuple[str, np.ndarray, np.ndarray]],
    truth_index: dict[str, int],
) -> None:
    true = np.concatenate([t for _, _, t in sites])
    idx = truth_index
    pairs = {tuple(sorted((s, item.split(":")[0]))) for s, r in truth.items() for item in
             filter(None, r["relatives"].split(";"))}
    assert len(pairs) == 2
    for a, b in pairs:
        # truth: never opposite homozygotes, and IBD1 means many sites differ by one allele
        ta, tb = true[:, idx[a]], true[:, idx[b]]
        assert not np.any(np.abs(ta - tb) == 2)
        # calls: no opposite homozygotes where both calls are confident
        da, qa = called(calls[a], sites)
        db, qb = called(calls[b], sites)
        ok = (qa >= 30) & (qb >= 30) & (da >= 0) & (db >= 0)
        assert ok.sum() > 200
        assert int(np.sum(np.abs(da[ok] - db[ok]) == 2)) == 0, (a, b)
    # an unrelated pair does show opposite homozygotes
    unrelated = [s for s, r in truth.items() if not (r["duplicate_of"] or r["relatives"])]
    opp = [int(np.sum(np.abs(true[:, idx[unrelated[0]]] - true[:, idx[o]]) == 2)) for o in unrelated[1:4]]
    assert max(opp) > 0


def test_contamination_shifts_allele_balance(
    cohort: Path, truth: dict[str, dict[str, str]], calls: dict[str, Calls], truth_index: dict[str, int],
) -> None:
    """Allele balance at the sample's calls is pulled towards the contaminant's genotype by the planted
    fraction (estimated against the true genotypes at biallelic SNVs); a clean sample shows no pull."""
    cfg = yaml.safe_load((cohort / "config.yaml").read_text())
    tv = VCF(str(cohort / "truth_genotypes.vcf.bgz"))
    recs = [
        rec for iv in cfg["simulation"]["autosomal_intervals"] for rec in tv(iv)
        if len(rec.ALT) == 1 and len(rec.REF) == len(rec.ALT[0]) == 1
    ]
    true = np.array([truth_dosage(rec) for rec in recs])
    keys = [(rec.CHROM, rec.POS) for rec in recs]
    idx = truth_index

    def alpha_hat(sid: str, other: str) -> tuple[float, int]:
        """Least-squares mixing fraction: alt read fraction = (1-a)·t_s/2 + a·t_c/2 at the sample's calls."""
        ts, tc = true[:, idx[sid]] / 2, true[:, idx[other]] / 2
        num = den = 0.0
        n = 0
        for i in np.flatnonzero(ts > 0).tolist():
            v = calls[sid].var.get(keys[i])
            if v is None or len(v[3]) != 3 or v[2][0] + v[2][1] == 0:
                continue
            obs = v[2][1] / (v[2][0] + v[2][1])
            num += (obs - ts[i]) * (tc[i] - ts[i])
            den += (tc[i] - ts[i]) ** 2
            n += 1
        return num / den, n

    contaminated = [
        (float(r["contamination"]), s, r["contaminant"]) for s, r in truth.items() if r["contaminant"]
    ]
    assert len(contaminated) == 3
    clean = [s for s, r in truth.items() if not (r["contaminant"] or r["low_coverage"] or r["duplicate_of"])]
    for alpha, sid, other in contaminated:
        est, n = alpha_hat(sid, other)
        assert n >= 100, (sid, n)
        assert 0.6 * alpha < est < 1.4 * alpha, (sid, alpha, est, n)
        probe = clean[0] if clean[0] != other else clean[1]
        assert abs(alpha_hat(probe, other)[0]) < 0.015

    # heterozygous allele balance spreads out as contamination grows
    autosomes = {iv.split(":")[0] for iv in cfg["simulation"]["autosomal_intervals"]}

    def ab_sd(sid: str) -> float:
        ab = [v[2][1] / sum(v[2]) for (c, _), v in calls[sid].var.items()
              if v[0] == "0/1" and c in autosomes and len(v[3]) == 3]
        return float(np.std(ab))

    worst = max(contaminated)[1]
    assert ab_sd(worst) > max(ab_sd(s) for s in clean[:3])


def test_sex_chromosome_calls(
    cohort: Path, truth: dict[str, dict[str, str]], calls: dict[str, Calls]
) -> None:
    cfg = yaml.safe_load((cohort / "config.yaml").read_text())
    x_iv = [iv for iv in cfg["simulation"]["intervals"] if iv.startswith("chrX:")]
    x_nonpar = [iv for iv in x_iv if int(iv.split(":")[1].split("-")[0]) > PAR1_X[1]][0]
    xa, xb = (int(x) for x in x_nonpar.split(":")[1].split("-"))

    def x_gts(sid: str) -> list[str]:
        return [v[0] for (c, p), v in calls[sid].var.items() if c == "chrX" and xa <= p <= xb]

    def y_calls(sid: str) -> int:
        return sum(1 for (c, _) in calls[sid].var if c == "chrY")

    by_k: dict[str, list[str]] = {}
    for s, r in truth.items():
        by_k.setdefault(r["karyotype"], []).append(s)
    for sid in by_k["XY"] + by_k["X0"]:
        gts = x_gts(sid)
        if truth[sid]["contaminant"]:
            continue
        assert gts and all("/" not in g and g != "0" for g in gts), (sid, set(gts))  # hemizygous, never het
    for sid in by_k["XX"] + by_k["XXY"]:
        if truth[sid]["low_coverage"]:
            continue
        assert "0/1" in x_gts(sid), sid
    for sid in by_k["XX"] + by_k["X0"]:
        if not truth[sid]["contaminant"]:
            assert y_calls(sid) == 0
            ydp = [b for b in calls[sid].blocks["chrY"]]
            assert all(g == 0 for _, _, g in ydp)  # no coverage: GQ 0 blocks only


def test_low_depth_gives_low_gq_and_errors(
    truth: dict[str, dict[str, str]], calls: dict[str, Calls], sites: list[tuple[str, np.ndarray, np.ndarray]],
    truth_index: dict[str, int],
) -> None:
    true = np.concatenate([t for _, _, t in sites])

    def err_and_gq(sid: str) -> tuple[float, float]:
        d, gq = called(calls[sid], sites)
        t = true[:, truth_index[sid]]
        carrier = (t > 0) & (d >= 0)  # d < 0: inside the sample's own called deletion (not a genotype)
        return float((d[carrier] != t[carrier]).mean()), float(np.median(gq[carrier]))

    low = [s for s, r in truth.items() if r["low_coverage"]][0]
    normal = [s for s, r in truth.items() if not (r["low_coverage"] or r["contaminant"])][:3]
    e_low, gq_low = err_and_gq(low)
    for s in normal:
        e, gq = err_and_gq(s)
        assert e < 0.02 and e_low > 3 * e and gq_low < gq, (s, e, e_low, gq, gq_low)


def test_genotype_likelihood_model() -> None:
    pl = genotype_likelihoods(np.array([30, 15, 0, 0]), np.array([0, 15, 30, 0]), 0.002)
    assert pl.shape == (4, 6)
    assert list(pl.argmin(axis=1)[:3]) == [0, 1, 2]
    assert (pl[3] == 0).all()  # no reads: no information
    assert pl[0, 1] == round(30 * 10 * np.log10(0.998 / (0.5 * 0.998 + 0.5 * 0.002 / 3)))
    hap = genotype_likelihoods(np.array([0]), np.array([10]), 0.002, ploidy=1)
    assert hap.shape == (1, 3) and hap[0].argmin() == 1
    # three listed alleles (REF, ALT1, ALT2/*) + <NON_REF>: 10 genotypes in VCF order, 1/2 wins on a 15/15 split
    multi = allele_likelihoods(np.array([[0, 15, 15], [30, 0, 0], [14, 0, 16]], dtype=float), 0.002)
    assert multi.shape == (3, 10)
    assert multi.argmin(axis=1).tolist() == [4, 0, 3]  # 1/2, 0/0, 0/2
    # the biallelic case is the same model
    assert (allele_likelihoods(np.array([[30, 0], [15, 15]], dtype=float), 0.002) == pl[:2]).all()


# --- reference and CRAM ------------------------------------------------------------------------


def test_reference_and_cram(cohort: Path, manifest: dict[str, dict[str, str]]) -> None:
    cfg = yaml.safe_load((cohort / "config.yaml").read_text())
    fasta = cfg["simulation"]["fasta"]
    lengths = grch38_lengths()
    fa = pysam.FastaFile(fasta)
    assert {c: fa.get_reference_length(c) for c in fa.references} == {c: lengths[c] for c in fa.references}
    # variant REF bases agree with the FASTA
    sid = next(s for s in manifest if manifest[s]["cram"])
    n = 0
    for rec in VCF(str(gvcf_path(manifest, sid))):
        assert fa.fetch(rec.CHROM, rec.POS - 1, rec.POS - 1 + len(rec.REF)) == rec.REF
        n += 1
        if n > 2000:
            break
    cram = Path(manifest[sid]["_dir"]) / manifest[sid]["cram"]
    with gzip.open(gvcf_path(manifest, sid), "rt"):
        pass
    truth_recs = {
        (r.chrom, r.pos): r for r in pysam.VariantFile(str(cohort / "truth_genotypes.vcf.bgz"))
        if any(len(a) != len(r.ref) for a in r.alts if a != "*")
    }
    with pysam.AlignmentFile(str(cram), "rc", reference_filename=fasta) as f:
        hdr = f.header.to_dict()
        assert all(sq["LN"] == lengths[sq["SN"]] for sq in hdr["SQ"])
        assert hdr["RG"][0]["SM"] == sid
        size = cfg["simulation"]["options"]["cram_region_size"]
        mism = total = n_indel = 0
        for k, auto in enumerate(cfg["simulation"]["autosomal_intervals"]):
            contig, r = auto.split(":")
            start = int(r.split("-")[0])
            depth = np.zeros(size)
            for read in f.fetch(contig, start - 1, start - 1 + size):
                assert read.mapping_quality == 60 and read.query_length == 150
                assert {op for op, _ in read.cigartuples} <= {0, 1, 2, 4}
                a, b = read.reference_start - (start - 1), read.reference_end - (start - 1)
                depth[max(a, 0) : min(b, size)] += 1
                ref = fa.fetch(contig, read.reference_start, read.reference_end)
                for q, rp in read.get_aligned_pairs(matches_only=True):
                    mism += read.query_sequence[q] != ref[rp - read.reference_start]
                    total += 1
                # every insertion/deletion in a read is one of the sample's true indels, anchored on the base
                # before it (left-aligned as the VCF record)
                rpos = read.reference_start
                for op, ln in read.cigartuples:
                    if op in (1, 2):
                        rec = truth_recs.get((contig, rpos))  # rpos: 1-based position of the anchor base
                        assert rec is not None, (read.query_name, read.cigarstring, rpos)
                        change = ln if op == 1 else -ln
                        assert any(a != "*" and len(a) - len(rec.ref) == change for a in rec.alts), (rec, change)
                        n_indel += 1
                    if op in (0, 2):
                        rpos += ln
            if k == 0:
                inner = depth[200:-200].mean()
    assert n_indel > 0  # the CRAM carries the sample's indels
    assert inner == pytest.approx(float(manifest[sid]["mean_coverage"]), rel=0.2)
    assert mism / total < 0.01
    assert pysam.samtools.quickcheck(str(cram)) == ""


# --- genome layout and config -------------------------------------------------------------------


def test_default_windows_are_ten_autosomes_plus_sex_chromosomes() -> None:
    windows = default_windows()
    autos = [w for w in windows if w.kind == "autosome"]
    assert len(autos) == DEFAULT_AUTOSOMES == 10
    assert {(w.contig, w.start) for w in autos} == set(AUTOSOME_WINDOWS[:10])
    assert len({w.contig for w in autos}) == 10 and all(w.length == 1_000_000 for w in autos)
    assert [w.contig for w in windows] == sorted((w.contig for w in windows), key=list(grch38_lengths()).index)
    sizes = {w.kind: w.length for w in windows if w.kind != "autosome"}
    assert sizes == {"par": 500_000, "x_nonpar": 2_000_000, "y": 500_000}
    # --region-size is the total; the sizes split evenly
    autos = [w for w in default_windows(region_size=3_000_001, autosomes=3) if w.kind == "autosome"]
    assert sum(w.length for w in autos) == 3_000_001 and len(autos) == 3
    # the old single-window layout, by naming the contig
    one = default_windows(region_size=1_000_000, autosome_contig="chr20", autosome_start="10000001")
    assert [w.interval for w in one] == [
        "chr20:10000001-11000000", "chrX:1000001-1050000", "chrX:20000001-20200000", "chrY:12000001-12050000",
    ]
    two = default_windows(region_size=200_000, autosome_contig="chr3,chr7", autosome_start="5000001,6000001")
    assert [w.interval for w in two if w.kind == "autosome"] == ["chr3:5000001-5100000", "chr7:6000001-6100000"]
    for bad in (dict(autosomes=2, autosome_contig="chr1"), dict(autosome_contig="chrX", autosome_start=1),
                dict(autosome_contig="chr1,chr2", autosome_start="1,2,3"), dict(autosomes=23)):
        with pytest.raises(ValueError):
            default_windows(**bad)  # type: ignore[arg-type]
    # combiner import pieces: one per autosomal window
    size = import_interval_size(windows)
    assert size == 5_000_000
    assert all((w.start - 1) // size == (w.end - 1) // size for w in windows if w.kind == "autosome")


def test_config_is_complete_and_valid(cohort: Path) -> None:
    """config.yaml validates against the workflow schema on its own, with combiner import pieces that fit
    the windows and the window layout recorded."""
    from snakemake.utils import validate

    cfg = yaml.safe_load((cohort / "config.yaml").read_text())
    validate(cfg, str(Path(__file__).resolve().parents[1] / "config" / "schemas" / "config.schema.yaml"))
    windows = simulation_windows(SimulationOptions(**OPTS))
    assert cfg["combiner"]["import_interval_size"] == import_interval_size(windows)
    assert cfg["simulation"]["intervals"] == [w.interval for w in windows]
    assert cfg["simulation"]["autosomal_intervals"] == [w.interval for w in windows if w.kind == "autosome"]
    assert len(cfg["simulation"]["autosomal_intervals"]) == DEFAULT_AUTOSOMES
    assert [w["kind"] for w in cfg["simulation"]["windows"]].count("autosome") == DEFAULT_AUTOSOMES


# --- variants: spectrum, indels, multi-allelic sites -------------------------------------------------


def test_mutation_spectrum_ti_tv_and_indels(cohort: Path) -> None:
    """Truth over the cohort: Ti/Tv near 2.05, ~12 % indel sites with 1-20 bp lengths decaying from 1 bp,
    both insertions and deletions, some multi-allelic sites (benchmarks/simulate_scale.py prints these
    numbers at the default size)."""
    s = summarize_vcf(cohort / "truth_genotypes.vcf.bgz", autosomes_only=True)
    assert s.sites > 1000
    assert 1.85 <= s.ti_tv <= 2.3, s.as_dict()
    assert 0.07 <= s.indel_fraction <= 0.18, s.as_dict()
    lengths = s.indel_lengths
    n = sum(lengths.values())
    assert max(lengths) <= 20
    assert lengths[1] > lengths[2] > lengths[3] and 0.4 <= lengths[1] / n <= 0.7, lengths
    assert 0 < sum(v for k, v in lengths.items() if k >= 5) / n < 0.25, lengths
    assert s.insertions > 0.25 * n and s.deletions > 0.25 * n
    assert s.multiallelic_sites > 0
    panel = summarize_vcf(cohort / "panel" / "panel.vcf.bgz")
    assert panel.multiallelic_sites == 0 and panel.indel_sites > 0  # split, min-rep, indels kept


def _run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600)


def test_every_file_reads_with_htslib_without_warnings(cohort: Path, indel_rich: Path) -> None:
    """Every gVCF, the truth and the panel parse with htslib (pysam and bcftools) without a single warning."""
    files = [str(p) for d in (cohort, indel_rich) for p in sorted(d.rglob("*.vcf.gz")) + sorted(d.rglob("*.vcf.bgz"))]
    assert len(files) > 40
    code = (
        "import sys, pysam, pysam.bcftools\n"
        "for f in sys.argv[1:]:\n"
        "    with pysam.VariantFile(f) as v:\n"
        "        for r in v:\n"
        "            r.alts, r.info.items(), [dict(s) for s in r.samples.values()]\n"
        "    pysam.bcftools.view('-Ou', '-o', '/dev/null', f, catch_stdout=False)\n"
        "    sys.stderr.write(''.join(pysam.bcftools.view.get_messages() or ''))\n"
    )
    proc = _run_python(code, *files)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-3000:]


def _norm_counts(vcf: str, fasta: str) -> dict[str, int]:
    """``bcftools norm -f FASTA --check-ref e`` counts (fails on a REF mismatch)."""
    pysam.bcftools.norm("-f", fasta, "--check-ref", "e", "-Ou", "-o", "/dev/null", vcf, catch_stdout=False)
    msg = "".join(pysam.bcftools.norm.get_messages() or "")
    names, vals = re.search(r"Lines\s+(\S+):\s+(\S+)", msg).groups()  # type: ignore[union-attr]
    return dict(zip(names.split("/"), (int(x) for x in vals.split("/")), strict=True))


def _plain_vcf(gvcf: Path, out: Path) -> int:
    """The variant records of a gVCF without <NON_REF> (bcftools norm does not realign symbolic alleles)."""
    n = 0
    with gzip.open(gvcf, "rt") as f, open(out, "w") as o:
        for line in f:
            if line.startswith("#"):
                o.write(line)
                continue
            c = line.split("\t")
            alts = [a for a in c[4].split(",") if a not in ("<NON_REF>", "*")]
            if not alts:
                continue
            o.write("\t".join([*c[:4], ",".join(alts), c[5], c[6], ".", "GT", "0/1"]) + "\n")
            n += any(len(a) != len(c[3]) for a in alts)
    return n


def test_alleles_match_the_fasta_and_indels_are_left_aligned(cohort: Path, indel_rich: Path, tmp_path: Path) -> None:
    """bcftools norm --check-ref e finds no REF mismatch and realigns nothing, in the truth, the panel and
    every gVCF; a deliberately right-shifted deletion and a wrong REF are caught (the check can fail)."""
    for d in (cohort, indel_rich):
        fasta = str(d / "reference" / "sim.fa.gz")
        for f in (d / "truth_genotypes.vcf.bgz", d / "panel" / "panel.vcf.bgz"):
            counts = _norm_counts(str(f), fasta)
            assert counts["total"] > 100 and counts["realigned"] == 0 and counts["mismatch_removed"] == 0, (f, counts)
        n_indels = 0
        for g in sorted((d / "inbox").glob("*/*.g.vcf.gz")):
            plain = tmp_path / f"{g.name}.vcf"
            n_indels += _plain_vcf(g, plain)
            assert _norm_counts(str(plain), fasta)["realigned"] == 0, g
        assert n_indels > 50
    # the check can fail: shift a truth deletion one base right inside its repeat
    fasta = str(cohort / "reference" / "sim.fa.gz")
    fa = pysam.FastaFile(fasta)
    header = "".join(x for x in gzip.open(cohort / "truth_genotypes.vcf.bgz", "rt") if x.startswith("##"))
    shifted = None
    for rec in pysam.VariantFile(str(cohort / "truth_genotypes.vcf.bgz")):
        if len(rec.alts) == 1 and len(rec.alts[0]) == 1 and len(rec.ref) > 1:
            n_del = len(rec.ref) - 1
            p = rec.pos  # 1-based anchor; try anchor p+1
            if fa.fetch(rec.chrom, p, p + 1) == fa.fetch(rec.chrom, p + n_del, p + n_del + 1):
                ref = fa.fetch(rec.chrom, p, p + n_del + 1)
                shifted = f"{rec.chrom}\t{p + 1}\t.\t{ref}\t{ref[0]}\t.\tPASS\t.\n"
                break
    assert shifted is not None
    bad = tmp_path / "shifted.vcf"
    bad.write_text(header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + shifted)
    assert _norm_counts(str(bad), fasta)["realigned"] == 1
    chrom, pos, _, ref, *_ = shifted.split("\t")
    wrong = {"A": "C", "C": "G", "G": "T", "T": "A"}[ref[0]] + ref[1:]
    bad.write_text(header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   + shifted.replace(f"\t{ref}\t", f"\t{wrong}\t", 1))
    with pytest.raises(pysam.utils.SamtoolsError):
        _norm_counts(str(bad), fasta)


INDEL_RICH = dict(
    samples=16, seed=21, batches=1, region_size=200_000, chrx_size=30_000, par_size=20_000, chry_size=20_000,
    panel_per_ancestry=5, anomaly_rate=0, gq_bands="reblock", indel_ratio=0.6, repeat_indel_rate=2e-5,
    artefacts=18,
)


@pytest.fixture(scope="module")
def indel_rich(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small cohort with indel rates raised (5-10×) so multi-allelic and * records occur in a few gVCFs."""
    out = tmp_path_factory.mktemp("sim_indel")
    simulate_cohort(out, SimulationOptions(**INDEL_RICH))  # type: ignore[arg-type]
    return out


def _minimal(pos: int, ref: str, alt: str) -> tuple[int, str, str] | str:
    if alt == "*":
        return "*"
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def test_multiallelic_and_star_records_match_the_truth(indel_rich: Path) -> None:
    """gVCFs carry multi-allelic records (1/2 calls, extra ALTs) and * where the sample's deletion spans the
    record, written as HaplotypeCaller does (PL for every genotype, AD per allele, no reference block
    under a called deletion); the called alleles are the sample's true alleles."""
    tv = pysam.VariantFile(str(indel_rich / "truth_genotypes.vcf.bgz"))
    truth = {(r.chrom, r.pos): r for r in tv}
    assert sum("*" in r.alts for r in truth.values()) >= 3
    assert sum(len(r.alts) > 1 for r in truth.values()) >= 20
    n_multi = n_star = agree = 0
    for g in sorted((indel_rich / "inbox").glob("*/*.g.vcf.gz")):
        sid = g.name.split(".")[0]
        spans: list[tuple[str, int, int]] = []
        for rec in pysam.VariantFile(str(g)):
            alts = [a for a in rec.alts if a != "<NON_REF>"]
            if not alts:  # no reference block under a call
                assert not any(c == rec.chrom and a < rec.pos <= b for c, a, b in spans), (sid, rec.chrom, rec.pos)
                continue
            call = rec.samples[0]
            n_gt = len(rec.alleles) * (len(rec.alleles) + 1) // 2 if len(call["GT"]) == 2 else len(rec.alleles)
            assert len(call["PL"]) == n_gt and len(call["AD"]) == len(rec.alleles)
            spans.append((rec.chrom, rec.pos, rec.pos + len(rec.ref) - 1))
            if len(alts) < 2 or call["GQ"] < 20:
                continue
            n_multi += 1
            n_star += "*" in alts
            t = truth[(rec.chrom, rec.pos)]
            true_alleles = sorted(str(_minimal(t.pos, t.ref, t.alleles[a])) if a else "REF"
                                  for a in t.samples[sid]["GT"])
            got = sorted(str(_minimal(rec.pos, rec.ref, rec.alleles[a])) if a else "REF" for a in call["GT"])
            agree += got == true_alleles
    assert n_multi >= 10 and n_star >= 1, (n_multi, n_star)
    assert agree >= 0.95 * n_multi, (agree, n_multi)


def test_indel_artefacts(indel_rich: Path) -> None:
    """--artefacts plants SNV and indel artefacts (type column), each kind as both types; indel artefacts
    are 1 bp, left-aligned, REF from the FASTA, called 0/1 in their carriers only."""
    arts = read_tsv(indel_rich / "artefacts.tsv")
    assert len(arts) == INDEL_RICH["artefacts"]
    assert {(a["kind"], a["type"]) for a in arts} == {
        (k, t) for k in ("strand_bias", "low_mq", "low_qd") for t in ("snv", "indel")
    }
    assert sum(a["type"] == "indel" for a in arts) == INDEL_RICH["artefacts"] // 3
    fa = pysam.FastaFile(str(indel_rich / "reference" / "sim.fa.gz"))
    gvcfs = {p.name.split(".")[0]: p for p in (indel_rich / "inbox").glob("*/*.g.vcf.gz")}
    for a in arts:
        pos, ref, alt = int(a["position"]), a["ref"], a["alt"]
        assert fa.fetch(a["contig"], pos - 1, pos - 1 + len(ref)) == ref
        if a["type"] == "indel":
            assert abs(len(ref) - len(alt)) == 1 and ref[0] == alt[0]
            changed = (ref if len(ref) > len(alt) else alt)[1]
            assert changed != ref[0]  # left-aligned: the anchor differs from the inserted/deleted base
        for sid in a["carriers"].split(","):
            recs = [r for r in pysam.VariantFile(str(gvcfs[sid])).fetch(a["contig"], pos - 1, pos) if r.pos == pos]
            assert len(recs) == 1 and recs[0].alts == (alt, "<NON_REF>") and recs[0].samples[0]["GT"] == (0, 1)


def test_windows_have_independent_genealogies(
    cohort: Path, truth: dict[str, dict[str, str]]
) -> None:
    """LD (r² between true haplotypes) is high between nearby SNVs of one window and at the chance level
    (≈ 1/n) between SNVs of different windows; measured within one ancestry group so that population
    structure does not add LD."""
    cfg = yaml.safe_load((cohort / "config.yaml").read_text())
    tv = VCF(str(cohort / "truth_genotypes.vcf.bgz"))
    keep = [i for i, s in enumerate(tv.samples)
            if truth[s]["ancestry"] == "AFR" and not truth[s]["duplicate_of"] and not truth[s]["relatives"]]
    per_window = []
    for iv in cfg["simulation"]["autosomal_intervals"]:
        rows, pos = [], []
        for rec in tv(iv):
            if len(rec.ALT) != 1 or len(rec.REF) != 1 or len(rec.ALT[0]) != 1:
                continue
            h = np.array([rec.genotypes[i][c] for i in keep for c in (0, 1)], dtype=float)
            if 0.2 <= h.mean() <= 0.8:
                rows.append(h)
                pos.append(rec.POS)
        per_window.append((np.array(pos), np.array(rows)))
    n_hap = 2 * len(keep)
    assert n_hap >= 12 and all(len(p) >= 10 for p, _ in per_window)

    def r2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        c = np.corrcoef(np.vstack([a, b]))[: len(a), len(a) :]
        return c**2

    near = []
    for pos, h in per_window:
        m = r2(h, h)
        d = np.abs(pos[:, None] - pos[None, :])
        near.append(m[(d > 0) & (d < 2_000)])
    cross = [r2(per_window[i][1], per_window[j][1]).ravel()
             for i in range(len(per_window)) for j in range(i + 1, len(per_window))]
    near_mean, cross_mean = float(np.concatenate(near).mean()), float(np.concatenate(cross).mean())
    chance = 1 / (n_hap - 1)
    assert cross_mean < 1.5 * chance, (cross_mean, chance)
    assert near_mean > 4 * cross_mean, (near_mean, cross_mean)


# --- the workflow on a default-model simulation --------------------------------------------------


@pytest.mark.slow
def test_workflow_runs_on_the_simulated_config_alone(tmp_path: Path, hail_session) -> None:  # noqa: ANN001
    """``snakemake --configfile DIR/config.yaml`` on a default-model simulation (indels, multi-allelic
    records, *, indel artefacts), with nothing but that config (the workflow loads no default configfile):
    intake, joint calling, sample QC, variant QC and the release all run, and the release holds indels
    and split multi-allelic sites."""
    import json

    from conftest import REPO, run_snakemake

    hl = hail_session
    assert not any(line.startswith("configfile:") for line in (REPO / "Snakefile").read_text().splitlines())
    sim = tmp_path / "sim"
    args = ["--samples", "14", "--seed", "8", "--region-size", "500000", "--artefacts", "9", "--out", str(sim)]
    assert cli.main(args) == 0
    cfg = sim / "config.yaml"
    proc = run_snakemake(tmp_path, cfg, timeout=3000)
    assert "callset release v1" in proc.stderr + proc.stdout
    results = Path(yaml.safe_load(cfg.read_text())["results"])
    manifest = json.loads((results / "releases" / "v1" / "manifest.json").read_text())
    assert manifest["n_samples"] >= 10 and manifest["n_variants"] > 1000
    mt = None
    for shard in manifest["shards"]:
        part = hl.read_matrix_table(str(results / "releases" / "v1" / shard["path"]))
        mt = part if mt is None else mt.union_rows(part)
    assert mt is not None
    counts = mt.aggregate_rows(hl.struct(
        indels=hl.agg.count_where(hl.len(mt.alleles[0]) != hl.len(mt.alleles[1])),
        split=hl.agg.count_where(mt.was_split),
    ))
    assert counts.indels > 0.05 * manifest["n_variants"] and counts.split > 0, counts
    assert (results / "variant_qc" / "summary.json").is_file() and (results / "qc" / "report.html").is_file()
