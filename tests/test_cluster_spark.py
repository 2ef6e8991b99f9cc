"""Joint calling, sample QC, variant QC and release on a real Spark standalone cluster (master + one worker on
127.0.0.1, started from the venv's pyspark), selected only by ``spark.master`` in the config.

Proves that executors on the worker did the work of every Hail job (the master's JSON status lists one finished
application per Hail job with cores granted; each job's Hail log names its application; each application's Spark
event log, switched on through ``spark.conf``, shows its tasks ended on an executor of the worker at 127.0.0.1,
not in the driver; the worker received the Hail jar), that the QC outputs exist, and that the release verifies
and equals the local run's. Both daemons are stopped in the fixture's teardown.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from cluster_common import (
    RUN_CONFIG,
    assert_qc_ran,
    assert_release_verifies,
    assert_same_release,
    local_reference,
    snakemake,
)
from conftest import write_config
from harness.cluster import is_running, spark_cluster

pytestmark = pytest.mark.slow

# every Hail job of the run -> its log under <results>/logs (intake is copied from the local run)
HAIL_JOBS = {
    "combine_batch batch_a": "joint_call/batch_a.log",
    "combine_batch batch_b": "joint_call/batch_b.log",
    "sample_qc": "sample_qc/sample_qc.log",
    "variant_qc_sites": "variant_qc/sites.log",
    "release": "release/v1.log",
}


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    with spark_cluster(tmp_path_factory.mktemp("spark"), cores=2, memory="3g") as cluster:
        yield cluster
    assert not any(is_running(d.proc.pid) for d in cluster.daemons)


@pytest.fixture(scope="module")
def spark_run(spark, tmp_path_factory):
    """Intake results copied from the local reference run (same registry, so the same research IDs); joint
    calling and release then run with spark.master pointing at the standalone master."""
    reference = local_reference(tmp_path_factory)
    root = tmp_path_factory.mktemp("spark_run")
    results = root / "results"
    for part in ("intake", "private"):
        shutil.copytree(reference / "results" / part, results / part)  # copy2: mtimes kept, so intake is up to date
    shutil.copy2(reference / "results" / "registry.sqlite", results / "registry.sqlite")
    events = root / "spark-events"
    events.mkdir()
    cfg = write_config(
        root / "config.yaml",
        inbox=str(reference / "inbox"),
        spark={
            "master": spark.master_url, "driver_memory": "2g", "executor_memory": "2g",
            "conf": {"spark.eventLog.enabled": True, "spark.eventLog.dir": events.as_uri()},
        },
        **RUN_CONFIG,
    )
    proc = snakemake(root, cfg, "--cores", "2", "--rerun-triggers", "mtime", env=spark.env(), timeout=900)
    return root, proc


def test_only_hail_rules_ran(spark_run):
    _, proc = spark_run
    ran = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout + proc.stderr, flags=re.M))
    assert ran.get("combine_batch") == "2" and ran.get("release") == "1", ran
    assert ran.get("sample_qc") == "1" and ran.get("variant_qc_sites") == "1", ran
    assert "intake_batch" not in ran


def tasks_by_executor(event_log: Path) -> tuple[str, dict[str, int], dict[str, str]]:
    """(app id, executor id -> tasks ended successfully, executor id -> host) from a Spark event log."""
    app, tasks, hosts = "", {}, {}
    for line in event_log.read_text().splitlines():
        e = json.loads(line)
        if e["Event"] == "SparkListenerApplicationStart":
            app = e["App ID"]
        elif e["Event"] == "SparkListenerExecutorAdded":
            hosts[e["Executor ID"]] = e["Executor Info"]["Host"]
        elif e["Event"] == "SparkListenerTaskEnd" and e["Task End Reason"]["Reason"] == "Success":
            ex = e["Task Info"]["Executor ID"]
            tasks[ex] = tasks.get(ex, 0) + 1
    return app, tasks, hosts


def job_log_app(job_log: Path, master: str) -> str:
    """The Spark application ID a Hail job's driver got from the standalone master (the job's log says it)."""
    ids = re.findall(rf"Spark application (app-[\w-]+) on {re.escape(master)}$", job_log.read_text(), flags=re.M)
    assert len(ids) == 1, (job_log, ids)
    return ids[0]


def test_executors_on_the_worker_did_the_work(spark, spark_run):
    root, _ = spark_run
    status = spark.status()
    assert status["status"] == "ALIVE" and len(status["workers"]) == 1
    apps = status["completedapps"]
    assert len(apps) == len(HAIL_JOBS), [a["name"] for a in apps]  # one application per Hail job
    assert all(a["name"] == "callset" and a["cores"] > 0 and a["state"] == "FINISHED" for a in apps), apps
    logs = sorted((root / "spark-events").iterdir())
    assert len(logs) == len(HAIL_JOBS)
    ran: dict[str, dict[str, int]] = {}
    for event_log in logs:
        app, tasks, hosts = tasks_by_executor(event_log)
        ran[app] = tasks
        assert tasks and "driver" not in tasks, (app, tasks)  # every task ran on an executor
        assert all(hosts[ex] == "127.0.0.1" for ex in tasks), hosts
        # the executor got Hail's jar from the driver (spark.jars, set by hl.init) in its work folder
        assert list((spark.worker_dir / app).glob("*/hail-all-spark.jar")), app
    assert set(ran) == {a["id"] for a in apps}
    # each Hail job, QC stages included, was one of those applications: its log names the application the
    # standalone master granted it
    by_job = {job: job_log_app(root / "results" / "logs" / log, spark.master_url) for job, log in HAIL_JOBS.items()}
    assert sorted(by_job.values()) == sorted(ran), by_job
    assert all(sum(ran[app].values()) > 0 for app in by_job.values()), {j: ran[a] for j, a in by_job.items()}


def test_release_equals_local_run(spark_run, tmp_path_factory, hail_session):
    root, _ = spark_run
    reference = local_reference(tmp_path_factory)
    n = assert_same_release(hail_session, root / "results", reference / "results")
    assert n > 100
    assert_qc_ran(root / "results")
    assert_release_verifies(root / "results" / "releases" / "v1", tmp_path_factory.mktemp("verify"))
    # same registry, same research IDs: the sample sheets match byte for byte
    assert (root / "results/releases/v1/samples.tsv").read_text() == (
        reference / "results/releases/v1/samples.tsv").read_text()
