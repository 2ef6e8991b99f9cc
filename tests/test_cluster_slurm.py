"""The workflow on a real single-node SLURM (Debian slurm-wlm + munge started by the test) via profiles/slurm.

Proves the jobs went through SLURM (per-job logs of the executor plugin named by SLURM job ID, the same IDs in
slurmctld's log) and that the release equals a local run's. Every daemon is stopped in the fixture's teardown.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from cluster_common import RUN_CONFIG, assert_same_release, local_reference, make_inbox, snakemake
from conftest import REPO, write_config
from harness.cluster import install_slurm, is_running, slurm_cluster

pytestmark = pytest.mark.slow

# The test cluster has no accounting (no slurmdbd), so the profile's `sacct` status command cannot work here:
# squeue instead (MinJobAge=300 in the test slurm.conf) and a 1 s first status check (docs/cluster.md, traps 2-3).
TEST_CLUSTER_OPTIONS = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1")
# every job of the default workflow, including the release summary and the public browser site (issue 19)
RULES = {"intake_batch": 2, "research_ids": 1, "combine_batch": 2, "release": 1, "release_summary": 1, "browser": 1}


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
    proc = snakemake(root, cfg, "--profile", str(REPO / "profiles" / "slurm"), *TEST_CLUSTER_OPTIONS,
                     env=slurm.env(), timeout=900)
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


def test_release_equals_local_run(slurm_run, tmp_path_factory, hail_session):
    root, _ = slurm_run
    reference = local_reference(tmp_path_factory)
    n = assert_same_release(hail_session, root / "results", reference / "results")
    assert n > 100
