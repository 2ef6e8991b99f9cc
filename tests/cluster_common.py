"""Shared by the cluster tests: one small local reference run per pytest process, and release comparison.

The reference run is made once (first caller) and reused by tests/test_cluster_slurm.py and
tests/test_cluster_spark.py, so CI pays for one local Snakemake run, not two.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, VENV_BIN, make_batch, run_snakemake, write_config

BATCHES = {"batch_a": ["HG00187", "HG00308"], "batch_b": ["HG01058", "NA20760"]}
# the whole pipeline as by default: sample QC and variant QC on (the test config of other stages turns them off);
# one release shard: shard tiling is tested elsewhere, and each shard costs a Spark job (CI time)
RUN_CONFIG = {
    "sample_qc": {"activate": True},
    "variant_qc": {"activate": True},
    "release_options": {"target_variants_per_shard": 10_000},
}
_reference: dict[str, Path] = {}


def make_inbox(root: Path) -> Path:
    """Two batches of two real chr22 samples each (the same for every run, so releases can be compared)."""
    for batch, samples in BATCHES.items():
        make_batch(root / "inbox", batch, samples)
    return root / "inbox"


def local_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root of a finished local (``local[*]``) run on :data:`BATCHES`; results in ``<root>/results``."""
    if "root" not in _reference:
        root = tmp_path_factory.mktemp("cluster_local_ref")
        make_inbox(root)
        cfg = write_config(root / "config.yaml", **RUN_CONFIG)
        run_snakemake(root, cfg)
        _reference["root"] = root
    return _reference["root"]


def snakemake(workdir: Path, configfile: Path, *extra: str, env: dict[str, str], timeout: int = 900
              ) -> subprocess.CompletedProcess[str]:
    """Run the workflow in ``workdir`` with ``extra`` options (targets/profile) and a given environment."""
    cmd = [str(VENV_BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *extra,
           "--configfile", str(configfile)]
    env = {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    (workdir / "snakemake.stderr.log").write_text(proc.stderr)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-8000:]}")
    return proc


def research_to_sample(results: Path) -> dict[str, str]:
    with open(results / "private" / "research_ids.tsv") as f:
        return {r["research_id"]: r["sample_id"] for r in csv.DictReader(f, delimiter="\t")}


def release_genotypes(hl, release: Path, rid_to_sample: dict[str, str]) -> set[tuple]:
    """Every released (contig, position, alleles, center sample, GT, DP, GQ) entry, across all shards."""
    manifest = json.loads((release / "manifest.json").read_text())
    out: set[tuple] = set()
    for shard in manifest["shards"]:
        mt = hl.read_matrix_table(str(release / shard["path"]))
        for r in mt.entries().select("GT", "DP", "GQ").collect():
            gt = None if r.GT is None else (tuple(r.GT.alleles), r.GT.phased)
            out.add((r.locus.contig, r.locus.position, tuple(r.alleles), rid_to_sample[r.s], gt, r.DP, r.GQ))
    return out


def shard_layout(release: Path) -> list[tuple]:
    """(interval, n_variants) of every shard, in manifest order."""
    manifest = json.loads((release / "manifest.json").read_text())
    return [(json.dumps(s["interval"], sort_keys=True), s["n_variants"]) for s in manifest["shards"]]


def assert_same_release(hl, results: Path, reference_results: Path, release: str = "v1") -> int:
    """The release under ``results`` equals the reference run's: shards, sample set and every genotype by center
    sample (research IDs are random per registry, so entries are compared through each run's private map).
    Returns the number of entries compared."""
    new, ref = results / "releases" / release, reference_results / "releases" / release
    assert shard_layout(new) == shard_layout(ref)
    new_map, ref_map = research_to_sample(results), research_to_sample(reference_results)
    assert sorted(new_map.values()) == sorted(ref_map.values())
    new_gt, ref_gt = release_genotypes(hl, new, new_map), release_genotypes(hl, ref, ref_map)
    assert len(ref_gt) > 0
    missing, extra = ref_gt - new_gt, new_gt - ref_gt
    assert not missing and not extra, f"{len(missing)} entries missing, {len(extra)} extra, e.g. {sorted(missing)[:3]}"
    return len(ref_gt)


def assert_qc_ran(results: Path, release: str = "v1") -> None:
    """Sample QC and variant QC ran on the cohort and the release carries them: one QC row per released research
    ID, every check of the small cohort either assessed or saying why not, the variant-QC sites table and summary,
    the release's QC tables and its VAT over every released variant."""
    research_ids = set(research_to_sample(results))
    with open(results / "qc" / "sample_qc.tsv") as f:
        qc = list(csv.DictReader(f, delimiter="\t"))
    assert {r["research_id"] for r in qc} == research_ids and len(qc) == len(research_ids)
    with open(results / "qc" / "checks.tsv") as f:
        checks = {r["check"]: r for r in csv.DictReader(f, delimiter="\t")}
    assert {"sex", "contamination", "relatedness", "ancestry"} <= set(checks), sorted(checks)
    assert all(c["assessable"] == "True" or c["reason"] for c in checks.values()), checks
    for name in ("related_pairs.tsv", "ancestry_preds.tsv", "flagged_samples.tsv", "report.html"):
        assert (results / "qc" / name).is_file(), name
    assert (results / "variant_qc" / "sites.ht" / "_SUCCESS").is_file()
    summary = json.loads((results / "variant_qc" / "summary.json").read_text())
    manifest = json.loads((results / "releases" / release / "manifest.json").read_text())
    assert summary["counts"]["n"] > 0 and manifest["n_variants"] > 0
    assert manifest["sample_qc"]["applied"] and manifest["sample_qc"]["aux"]
    assert all((results / "releases" / release / a).is_file() for a in manifest["sample_qc"]["aux"])
    assert manifest["vat"]["summary"]["n_variants_in"] == manifest["n_variants"]


def assert_release_verifies(release: Path, tmp: Path) -> None:
    """``callset verify`` (checksums, every MatrixTable/VDS and export opened with Hail) says OK."""
    proc = subprocess.run([str(VENV_BIN / "callset"), "verify", str(release), "--tmp-dir", str(tmp)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0 and "OK" in proc.stdout and "PROBLEM" not in proc.stdout, proc.stdout + proc.stderr
