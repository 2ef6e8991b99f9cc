"""The workflow on a real single-node SLURM (Debian slurm-wlm + munge started by the test) via profiles/slurm.

The whole default pipeline, sample QC and variant QC included. Proves the jobs went through SLURM (per-job logs
of the executor plugin named by SLURM job ID, the same IDs in slurmctld's log, each job COMPLETED with the CPUs,
memory and time limit the profile gives its rule), that the QC outputs exist, that the release verifies and
equals a local run's, and that the command that used to scale every Hail job down to 2 threads (`--profile`,
which Snakemake combines with profiles/default) stops before submitting anything. Every daemon is stopped in
the fixture's teardown.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from cluster_common import (
    RUN_CONFIG,
    assert_qc_ran,
    assert_release_verifies,
    assert_same_release,
    local_reference,
    make_inbox,
    snakemake,
)
from conftest import REPO, VENV_BIN, write_config
from harness.cluster import install_slurm, is_running, slurm_cluster

pytestmark = pytest.mark.slow

# The test cluster has no accounting (no slurmdbd), so the profile's `sacct` status command cannot work here:
# squeue instead (MinJobAge=3600 in the test slurm.conf) and a 1 s first status check (docs/cluster.md, traps 2-3).
TEST_CLUSTER_OPTIONS = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1")
PROFILE = REPO / "profiles" / "slurm"
# every job of the default workflow: intake fans out (one check job per chunk of rows, one gather per batch),
# sample QC and variant QC, the release summary and the public browser site (issue 19)
RULES = {
    "intake_check": 2,
    "intake_batch": 2,
    "research_ids": 1,
    "combine_batch": 2,
    "sample_qc": 1,
    "variant_qc_sites": 1,
    "release": 1,
    "release_summary": 1,
    "browser": 1,
}


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("single-node SLURM test needs root (slurmd runs jobs as root; apt-get installs slurm-wlm)")
    reason = install_slurm()
    if reason:
        pytest.skip(f"cannot install SLURM: {reason}")
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster
    assert not any(is_running(d.proc.pid) for d in cluster.daemons)


@pytest.fixture(scope="module")
def slurm_run(slurm, tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm_run")
    make_inbox(root)
    cfg = write_config(root / "config.yaml", **RUN_CONFIG)
    proc = snakemake(root, cfg, "--workflow-profile", str(PROFILE), *TEST_CLUSTER_OPTIONS, env=slurm.env(),
                     timeout=900)
    return root, proc


def slurm_job_logs(workdir: Path) -> dict[str, list[str]]:
    """rule -> SLURM job IDs, from the plugin's per-job logs ``.snakemake/slurm_logs/rule_<rule>/.../<jobid>.log``."""
    out: dict[str, list[str]] = {}
    for f in sorted((workdir / ".snakemake" / "slurm_logs").glob("rule_*/**/*.log")):
        rule = f.relative_to(workdir / ".snakemake" / "slurm_logs").parts[0].removeprefix("rule_")
        out.setdefault(rule, []).append(f.stem)
    return out


def test_jobs_ran_through_slurm(slurm, slurm_run):
    root, _ = slurm_run
    logs = slurm_job_logs(root)
    assert {rule: len(ids) for rule, ids in logs.items()} == RULES
    ids = [i for ids in logs.values() for i in ids]
    assert all(re.fullmatch(r"\d+", i) for i in ids), ids
    # slurmctld accepted every one of them as a batch job
    assert set(ids) <= set(slurm.job_ids())
    # and each job ran on the node: its log has the job step's output
    for f in (root / ".snakemake" / "slurm_logs").glob("rule_combine_batch/**/*.log"):
        text = f.read_text()
        assert "combine_batch" in text and "Finished job" in text, f


def test_each_job_got_its_rules_cpus_memory_and_time_from_the_profile(slurm, slurm_run):
    """Every Hail rule asks 8 CPUs, 32 GB, 12 h in profiles/slurm: the SLURM job of each rule has exactly what
    the profile (set-threads, set-resources, else default-resources) gives that rule, and it completed."""
    root, _ = slurm_run
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    jobs = slurm.jobs()
    for rule, ids in slurm_job_logs(root).items():
        res = {**profile["default-resources"], **profile["set-resources"].get(rule, {})}
        for i in ids:
            job = jobs[i]
            assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", (rule, job)
            assert job["StdOut"].endswith(f"{i}.log") and f"rule_{rule}" in job["StdOut"], (rule, job["StdOut"])
            tres = dict(t.split("=") for t in job["TRES"].split(","))
            assert tres["mem"] == f"{res['mem_mb']}M", (rule, job["TRES"])
            hours, minutes = divmod(res["runtime"], 60)
            assert job["TimeLimit"] == f"{hours:02d}:{minutes:02d}:00", (rule, job["TimeLimit"])
            if rule in profile["set-threads"]:
                assert int(job["NumCPUs"]) == profile["set-threads"][rule], (rule, job["NumCPUs"])


def test_qc_stages_ran_and_the_release_verifies(slurm_run, tmp_path):
    root, _ = slurm_run
    assert_qc_ran(root / "results")
    # inside each Hail job Spark ran on the job's own cores: the job's Snakemake gives the rule its set-threads,
    # scaled down to the CPUs the node lets the job use (all of this machine's: the test SLURM binds no CPUs)
    threads = yaml.safe_load((PROFILE / "config.yaml").read_text())["set-threads"]
    for rule, rule_log in (("sample_qc", "sample_qc/sample_qc.log"), ("variant_qc_sites", "variant_qc/sites.log"),
                           ("release", "release/v1.log")):
        text = (root / "results" / "logs" / rule_log).read_text()
        want = min(threads[rule], len(os.sched_getaffinity(0)))
        assert f"starting Hail: master=local[{want}] " in text, rule_log
    assert_release_verifies(root / "results" / "releases" / "v1", tmp_path / "hail")


def test_profile_given_as_profile_stops_before_any_job(slurm, tmp_path):
    """`--profile profiles/slurm` gets profiles/default's `cores: 2` on top, which would scale every Hail job
    down to 2 threads: the run stops with one line saying so and how to run it, and submits nothing."""
    make_inbox(tmp_path)
    cfg = write_config(tmp_path / "config.yaml", **RUN_CONFIG)
    before = set(slurm.job_ids())
    cmd = [str(VENV_BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--profile", str(PROFILE), *TEST_CLUSTER_OPTIONS, "--configfile", str(cfg)]
    env = slurm.env()
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert proc.returncode != 0
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("callset: the Hail jobs")), None)
    assert line, proc.stderr[-3000:]
    asked = yaml.safe_load((PROFILE / "config.yaml").read_text())["set-threads"]["combine_batch"]
    cores = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())["cores"]
    assert f"combine_batch: set-threads {asked} scaled down to {cores} by cores: {cores}" in line
    assert "--workflow-profile profiles/slurm" in line
    assert "Traceback" not in proc.stderr
    assert set(slurm.job_ids()) == before
    assert not (tmp_path / ".snakemake" / "slurm_logs").exists()


def test_release_equals_local_run(slurm_run, tmp_path_factory, hail_session):
    root, _ = slurm_run
    reference = local_reference(tmp_path_factory)
    n = assert_same_release(hail_session, root / "results", reference / "results")
    assert n > 100
