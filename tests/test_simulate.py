"""Tests of the cohort simulator (``callset simulate``): contract, determinism and planted truth.

One small cohort is simulated per module (about 10 s on 2 cores); no Hail/Spark is started.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pysam
import pysam.bcftools
import pysam.samtools
import pytest
import yaml
from cyvcf2 import VCF

from callset.simulate import cli
from callset.simulate.cohort import MANIFEST_COLUMNS, TRUTH_COLUMNS, SimulationOptions, simulate_cohort
from callset.simulate.gvcf import genotype_likelihoods
from callset.simulate.regions import PAR1_X, grch38_lengths

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
        self.var: dict[tuple[str, int], tuple[str, int, list[int]]] = {}
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
                    "/".join(map(str, alleles)), int(rec.format("GQ")[0][0]), ad,
                )
        self.blocks = {c: np.array(b) for c, b in blocks.items()}

    def dosage(self, contig: str, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ALT dosage (0/1/2; hemizygous 1 → 2) and GQ at positions; -1 where not covered."""
        dos = np.full(positions.size, -1)
        gq = np.zeros(positions.size, dtype=int)
        b = self.blocks.get(contig)
        for i, p in enumerate(positions.tolist()):
            v = self.var.get((contig, p))
            if v is not None:
                a = [int(x) for x in v[0].split("/")]
                dos[i] = 2 * sum(a) // len(a) if len(a) == 1 else sum(a)
                gq[i] = v[1]
            elif b is not None:
                j = np.searchsorted(b[:, 0], p, side="right") - 1
                if j >= 0 and b[j, 1] >= p:
                    dos[i], gq[i] = 0, b[j, 2]
        return dos, gq


@pytest.fixture(scope="module")
def sites(cohort: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Truth-genotype sites per window contig/region: autosome positions."""
    cfg = yaml.safe_load((cohort / "config.yaml").read_text())
    auto = cfg["simulation"]["intervals"][0]
    contig, rng = auto.split(":")
    start, end = (int(x) for x in rng.split("-"))
    pos = [
        rec.POS for rec in VCF(str(cohort / "truth_genotypes.vcf.bgz"))(f"{contig}:{start}-{end}")
    ]
    return {"autosome": (contig, np.array(pos))}


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
        covered: dict[str, list[tuple[int, int]]] = {}
        last = ("", 0)
        for rec in v:
            assert rec.REF in {"A", "C", "G", "T"}
            assert rec.ALT[-1] == "<NON_REF>"
            end = rec.INFO.get("END", rec.POS)
            assert end >= rec.POS
            assert (rec.CHROM, rec.POS) > last or rec.CHROM != last[0]
            last = (rec.CHROM, end)
            pl = [int(x) for x in rec.format("PL")[0]]
            gq = int(rec.format("GQ")[0][0])
            assert min(pl) == 0
            assert gq == min(99, sorted(pl)[1]), (rec.CHROM, rec.POS, pl, gq)
            if rec.ALT == ["<NON_REF>"]:
                assert rec.INFO.get("END") is not None
                assert rec.FORMAT == ["GT", "DP", "GQ", "MIN_DP", "PL"]
                assert int(rec.format("MIN_DP")[0][0]) <= int(rec.format("DP")[0][0])
            else:
                assert rec.FORMAT == ["GT", "AD", "DP", "GQ", "PL", "SB"]
                ad = [int(x) for x in rec.format("AD")[0]]
                assert sum(ad) == int(rec.format("DP")[0][0]) == rec.INFO["DP"]
            covered.setdefault(rec.CHROM, []).append((rec.POS, end))
        for c, a, b in windows:
            iv = [x for x in covered[c] if a <= x[0] <= b]
            assert iv[0][0] == a and iv[-1][1] == b
            assert all(n[0] == p[1] + 1 for p, n in zip(iv, iv[1:], strict=False)), f"{sid} {c} gap"


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
    """Same seed → byte-identical inbox (gVCFs, CRAMs, manifests), truth and panel; other seed differs."""
    small = ["--samples", "4", "--region-size", "20000", "--cram-samples", "1", "--cram-region-size", "2000"]
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert cli.main([*small, "--seed", seed, "--out", str(tmp_path / name), "--jobs", "1"]) == 0

    def files(d: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(d)): p.read_bytes()
            for p in sorted(d.rglob("*"))
            if p.is_file() and p.name != "config.yaml" and "reference" not in p.parts
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
    truth: dict[str, dict[str, str]], calls: dict[str, Calls], sites: dict[str, tuple[str, np.ndarray]]
) -> None:
    contig, pos = sites["autosome"]

    def concordance(a: str, b: str) -> tuple[float, int]:
        da, qa = calls[a].dosage(contig, pos)
        db, qb = calls[b].dosage(contig, pos)
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
    cohort: Path, truth: dict[str, dict[str, str]], calls: dict[str, Calls],
    sites: dict[str, tuple[str, np.ndarray]],
) -> None:
    contig, pos = sites["autosome"]
    tv = VCF(str(cohort / "truth_genotypes.vcf.bgz"))
    idx = {s: i for i, s in enumerate(tv.samples)}
    true = np.array([[sum(g[:-1]) for g in rec.genotypes] for rec in tv(f"{contig}:{pos[0]}-{pos[-1]}")])
    pairs = {tuple(sorted((s, item.split(":")[0]))) for s, r in truth.items() for item in
             filter(None, r["relatives"].split(";"))}
    assert len(pairs) == 2
    for a, b in pairs:
        # truth: never opposite homozygotes, and IBD1 means many sites differ by one allele
        ta, tb = true[:, idx[a]], true[:, idx[b]]
        assert not np.any(np.abs(ta - tb) == 2)
        # calls: no opposite homozygotes where both calls are confident
        da, qa = calls[a].dosage(contig, pos)
        db, qb = calls[b].dosage(contig, pos)
        ok = (qa >= 30) & (qb >= 30)
        assert ok.sum() > 200
        assert int(np.sum(np.abs(da[ok] - db[ok]) == 2)) == 0, (a, b)
    # an unrelated pair does show opposite homozygotes
    unrelated = [s for s, r in truth.items() if not (r["duplicate_of"] or r["relatives"])]
    opp = [int(np.sum(np.abs(true[:, idx[unrelated[0]]] - true[:, idx[o]]) == 2)) for o in unrelated[1:4]]
    assert max(opp) > 0


def test_contamination_shifts_allele_balance(
    cohort: Path, truth: dict[str, dict[str, str]], calls: dict[str, Calls],
    sites: dict[str, tuple[str, np.ndarray]],
) -> None:
    """Allele balance at the sample's calls is pulled towards the contaminant's genotype by the planted
    fraction (estimated against the true genotypes); a clean sample shows no pull."""
    contig, pos = sites["autosome"]
    tv = VCF(str(cohort / "truth_genotypes.vcf.bgz"))
    idx = {s: i for i, s in enumerate(tv.samples)}
    recs = list(tv(f"{contig}:{pos[0]}-{pos[-1]}"))
    true = np.array([[sum(g[:-1]) for g in rec.genotypes] for rec in recs])
    positions = [rec.POS for rec in recs]

    def alpha_hat(sid: str, other: str) -> tuple[float, int]:
        """Least-squares mixing fraction: alt read fraction = (1-a)·t_s/2 + a·t_c/2 at the sample's calls."""
        ts, tc = true[:, idx[sid]] / 2, true[:, idx[other]] / 2
        num = den = 0.0
        n = 0
        for i in np.flatnonzero(ts > 0).tolist():
            v = calls[sid].var.get((contig, positions[i]))
            if v is None or sum(v[2]) == 0:
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
    def ab_sd(sid: str) -> float:
        ab = [v[2][1] / sum(v[2]) for (c, _), v in calls[sid].var.items() if v[0] == "0/1" and c == contig]
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
        assert gts and all(g == "1" for g in gts), (sid, set(gts))  # hemizygous, never heterozygous
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
    cohort: Path, truth: dict[str, dict[str, str]], calls: dict[str, Calls],
    sites: dict[str, tuple[str, np.ndarray]],
) -> None:
    contig, pos = sites["autosome"]
    tv = VCF(str(cohort / "truth_genotypes.vcf.bgz"))
    idx = {s: i for i, s in enumerate(tv.samples)}
    true = np.array([[sum(g[:-1]) for g in rec.genotypes] for rec in tv(f"{contig}:{pos[0]}-{pos[-1]}")])

    def err_and_gq(sid: str) -> tuple[float, float]:
        d, gq = calls[sid].dosage(contig, pos)
        t = true[:, idx[sid]]
        carrier = t > 0
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
        assert fa.fetch(rec.CHROM, rec.POS - 1, rec.POS) == rec.REF
        n += 1
        if n > 2000:
            break
    cram = Path(manifest[sid]["_dir"]) / manifest[sid]["cram"]
    with gzip.open(gvcf_path(manifest, sid), "rt"):
        pass
    with pysam.AlignmentFile(str(cram), "rc", reference_filename=fasta) as f:
        hdr = f.header.to_dict()
        assert all(sq["LN"] == lengths[sq["SN"]] for sq in hdr["SQ"])
        assert hdr["RG"][0]["SM"] == sid
        auto = cfg["simulation"]["intervals"][0]
        contig, r = auto.split(":")
        start = int(r.split("-")[0])
        size = cfg["simulation"]["options"]["cram_region_size"]
        depth = np.zeros(size)
        mism = total = 0
        for read in f.fetch(contig, start - 1, start - 1 + size):
            assert read.mapping_quality == 60 and read.cigarstring == "150M"
            a, b = read.reference_start - (start - 1), read.reference_end - (start - 1)
            depth[max(a, 0) : min(b, size)] += 1
            ref = fa.fetch(contig, read.reference_start, read.reference_end)
            mism += sum(x != y for x, y in zip(ref, read.query_sequence, strict=True))
            total += len(ref)
    inner = depth[200:-200].mean()
    assert inner == pytest.approx(float(manifest[sid]["mean_coverage"]), rel=0.2)
    assert mism / total < 0.01
    assert pysam.samtools.quickcheck(str(cram)) == ""
