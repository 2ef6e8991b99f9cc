"""End-to-end Snakemake runs on real data: concordance with the input gVCFs, logs, reports, resume,
and clean failures on malformed manifests before any Spark work."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, VENV_BIN, chr22_gvcf, make_batch, run_snakemake, write_config

B1 = ["HG00187", "HG00308", "HG00590"]
B2 = ["HG01058", "NA18507", "NA20760"]


def minrep(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Minimal representation (as Hail's min_rep): trim shared suffix, then shared prefix."""
    if alt == "*":
        return pos, ref, alt
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def expected_calls(sample: str) -> dict[tuple[int, str, str], int]:
    """Non-reference calls in a sample's gVCF, split per alt allele: (pos, ref, alt) -> alt allele count."""
    from cyvcf2 import VCF

    out: dict[tuple[int, str, str], int] = {}
    for rec in VCF(str(chr22_gvcf(sample))):
        alts = rec.ALT
        if all(a == "<NON_REF>" for a in alts):
            continue
        alleles = [a for a in rec.genotypes[0][:-1] if a >= 0]
        for i in sorted({a for a in alleles if a > 0}):
            alt = alts[i - 1]
            if alt == "<NON_REF>":
                continue
            out[minrep(rec.POS, rec.REF, alt)] = alleles.count(i)
    return out


def released_calls(hl, release: Path, rid_to_sample: dict[str, str]) -> dict[str, dict[tuple[int, str, str], int]]:
    manifest = json.loads((release / "manifest.json").read_text())
    calls: dict[str, dict[tuple[int, str, str], int]] = {s: {} for s in rid_to_sample.values()}
    for shard in manifest["shards"]:
        mt = hl.read_matrix_table(str(release / shard["path"]))
        mt = mt.filter_entries(mt.GT.is_non_ref())
        for r in mt.entries().select("GT").collect():
            key = (r.locus.position, r.alleles[0], r.alleles[1])
            calls[rid_to_sample[r.s]][key] = r.GT.n_alt_alleles()
    return calls


def read_map(results: Path) -> dict[str, str]:
    with open(results / "private" / "research_ids.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert list(rows[0]) == ["sample_id", "research_id", "batch_id"]
    return {r["research_id"]: r["sample_id"] for r in rows}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Two batches of real chr22 gVCFs through the whole workflow."""
    root = tmp_path_factory.mktemp("e2e")
    make_batch(root / "inbox", "batch_a", B1)
    make_batch(root / "inbox", "batch_b", B2)
    cfg = write_config(root / "config.yaml")
    proc = run_snakemake(root, cfg)
    return root, proc


@pytest.mark.slow
def test_release_genotypes_match_every_input_gvcf(hail_session, pipeline):
    root, _ = pipeline
    results = root / "results"
    rid_to_sample = read_map(results)
    assert sorted(rid_to_sample.values()) == sorted(B1 + B2)
    got = released_calls(hail_session, results / "releases" / "v1", rid_to_sample)
    n_checked = 0
    for sample in B1 + B2:
        want = expected_calls(sample)
        assert want, sample
        missing = {k: v for k, v in want.items() if got[sample].get(k) != v}
        extra = {k: v for k, v in got[sample].items() if k not in want}
        assert not missing, f"{sample}: gVCF calls absent or different in release: {list(missing.items())[:5]}"
        assert not extra, f"{sample}: non-ref genotypes with no call in its gVCF: {list(extra.items())[:5]}"
        n_checked += len(want)
    assert n_checked > 150  # 185 non-ref calls in these six files


@pytest.mark.slow
def test_run_outputs_reports_logs_and_summary(pipeline):
    root, proc = pipeline
    results = root / "results"
    release = results / "releases" / "v1"
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["input_batches"] == ["batch_a", "batch_b"] and manifest["n_samples"] == 6
    assert manifest["reference_genome"] == "GRCh38" and manifest["software"]["hail"].startswith("0.2.138")
    assert len(manifest["shards"]) > 1
    for batch, samples in (("batch_a", B1), ("batch_b", B2)):
        with open(results / "intake" / batch / "report.tsv") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        assert [(r["sample_id"], r["status"], r["reasons"]) for r in rows] == [(s, "accepted", "") for s in samples]
    logs = {p.relative_to(results / "logs").as_posix() for p in (results / "logs").rglob("*.log")}
    for expected in ("intake/batch_a.log", "intake/batch_b.log", "intake/research_ids.log",
                     "joint_call/batch_a.log", "joint_call/batch_b.log", "joint_call/batch_b.hail.log",
                     "release/v1.log", "release/v1.hail.log"):
        assert expected in logs
    # batch_b imported only its own 3 gVCFs (never batch_a's again) into its own cohort part
    step_b = json.loads((results / "joint" / "cohort" / "batch_b" / "cohort.json").read_text())
    assert step_b["previous"] == "batch_a" and step_b["samples_added"] == B2
    assert [p["batches"] for p in step_b["parts"]] == [["batch_a"], ["batch_b"]]
    assert "combining 3 gVCFs into" in (results / "logs" / "joint_call" / "batch_b.log").read_text()
    assert "samples:  6" in proc.stderr and "shards:" in proc.stderr
    # nothing under releases/ names a center sample ID in plain text
    for p in release.rglob("*"):
        if p.is_file() and p.suffix in {".json", ".tsv"}:
            text = p.read_text()
            assert not any(s in text for s in B1 + B2), p


@pytest.mark.slow
def test_rerun_is_a_no_op_and_release_is_protected(pipeline):
    root, _ = pipeline
    proc = run_snakemake(root, root / "config.yaml", "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_killed_run_resumes_inside_the_combiner(hail_session, pipeline, tmp_path):
    root, _ = pipeline
    make_batch(tmp_path / "inbox", "batch_a", B1)
    make_batch(tmp_path / "inbox", "batch_b", B2)
    cfg = write_config(tmp_path / "config.yaml", combiner={"gvcf_batch_size": 1, "branch_factor": 2})
    cmd = [str(VENV_BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--cores", "2", "--configfile", str(cfg)]
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    tmp_dir = tmp_path / "results" / "joint" / "_work" / "batch_a" / "tmp"
    deadline = time.time() + 600
    try:
        # wait until the combiner has finished at least one intermediate step (saved plan + temp data)
        while time.time() < deadline and p.poll() is None:
            if (tmp_dir.parent / "plan.json").exists() and any(tmp_dir.rglob("_SUCCESS")):
                break
            time.sleep(0.2)
        assert p.poll() is None, "run finished before it could be killed"
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert not (tmp_path / "results" / "releases" / "v1").exists()
    run_snakemake(tmp_path, cfg, "--unlock")  # the kill left Snakemake's lock, as after a power loss
    run_snakemake(tmp_path, cfg)
    hail_log = (tmp_path / "results" / "logs" / "joint_call" / "batch_a.hail.log").read_text()
    assert "found existing combiner plan" in hail_log
    a = released_calls(hail_session, root / "results" / "releases" / "v1", read_map(root / "results"))
    b = released_calls(hail_session, tmp_path / "results" / "releases" / "v1", read_map(tmp_path / "results"))
    assert a == b
    ma = json.loads((root / "results" / "releases" / "v1" / "manifest.json").read_text())
    mb = json.loads((tmp_path / "results" / "releases" / "v1" / "manifest.json").read_text())
    strip = lambda m: [(s["interval"], s["n_variants"]) for s in m["shards"]]  # noqa: E731
    assert strip(ma) == strip(mb) and ma["n_variants"] == mb["n_variants"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("header", "row", "expect"),
    [
        ("sample_id\treported_sex", "HG00187\tfemale", r"line 1: missing required column\(s\) \['gvcf'\]"),
        ("sample_id\tgvcf\tfavourite_colour", "HG00187\tHG00187.hg38.g.vcf.gz\tblue",
         r"line 1: unknown column\(s\) \['favourite_colour'\]"),
    ],
)
def test_structurally_malformed_manifest_stops_before_any_job(tmp_path, header, row, expect):
    import re

    d = tmp_path / "inbox" / "batch_x"
    d.mkdir(parents=True)
    (d / "manifest.tsv").write_text(f"{header}\n{row}\n")
    cfg = write_config(tmp_path / "config.yaml")
    proc = run_snakemake(tmp_path, cfg, check=False, timeout=300)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert str(d / "manifest.tsv") in out and re.search(expect, out), out[-3000:]
    assert not (tmp_path / "results" / "logs").exists()  # no job (and no Spark) started


@pytest.mark.slow
def test_bad_manifest_rows_are_rejected_with_file_line_and_column(tmp_path):
    d = make_batch(tmp_path / "inbox", "batch_x", ["HG00187"])
    with open(d / "manifest.tsv", "a") as f:
        f.write("GHOST1\tmissing.g.vcf.gz\t\tunknown\n")
        f.write("HG00190\tHG00187.hg38.g.vcf.gz\t\tyes-please\n")
    cfg = write_config(tmp_path / "config.yaml")
    run_snakemake(tmp_path, cfg, str(tmp_path / "results" / "intake" / "batch_x" / "report.tsv"))
    with open(tmp_path / "results" / "intake" / "batch_x" / "report.tsv") as f:
        rows = {r["sample_id"]: r for r in csv.DictReader(f, delimiter="\t")}
    assert rows["HG00187"]["status"] == "accepted"
    m = str(d / "manifest.tsv")
    assert rows["GHOST1"]["status"] == "rejected"
    assert f"{m}: line 3, column gvcf" in rows["GHOST1"]["reasons"] and "does not exist" in rows["GHOST1"]["reasons"]
    assert rows["HG00190"]["status"] == "rejected"
    assert f"{m}: line 4, column reported_sex" in rows["HG00190"]["reasons"]
    assert not (tmp_path / "results" / "logs" / "joint_call").exists()


@pytest.mark.slow
def test_dry_run_and_lint_on_the_demo_config(tmp_path):
    import yaml

    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    cfg = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    cfg.update(inbox=str(REPO / cfg["inbox"]), results=str(tmp_path / "results"))
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [str(VENV_BIN / "snakemake"), "--cores", "2", "--directory", str(tmp_path), "-s", str(REPO / "Snakefile"),
           "--configfile", str(tmp_path / "demo.yaml")]
    dry = subprocess.run([*cmd[:-2], "-n", *cmd[-2:]], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "combine_batch" in dry.stdout and "release" in dry.stdout
    assert not (tmp_path / "results").exists()
    lint = subprocess.run([*cmd[:-2], "--lint", *cmd[-2:]], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-3000:]
    assert "Lints for" not in lint.stdout + lint.stderr, lint.stdout[-3000:]


@pytest.mark.slow
def test_callset_verify_passes_on_the_release_snakemake_wrote(pipeline):
    """Snakemake's own bookkeeping in the release folder (.snakemake_timestamp) is not a problem; the files
    the manifest lists all check out (QC-off config; tests/test_release_trust.py covers the default one)."""
    root, _ = pipeline
    release = root / "results" / "releases" / "v1"
    assert (release / ".snakemake_timestamp").exists()
    proc = subprocess.run([str(VENV_BIN / "callset"), "verify", str(release), "--no-hail"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout + proc.stderr
