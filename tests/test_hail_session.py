"""The shared Hail session of a local run (callset.hail_session): jobs share one JVM, errors reach the job."""

from __future__ import annotations

from pathlib import Path

import pytest

from callset.errors import CallsetError
from callset.hail_session import SessionError, run_in_session, session_files, stop


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("session")
    settings = {"master": "local[1]", "driver_memory": "1g", "tmp_dir": str(tmp / "tmp"), "spark_conf": {},
                "reference_genome": "GRCh38", "executor_memory": None, "executor_cores": None,
                "executor_instances": None}
    yield settings
    stop(settings["tmp_dir"])


def _run(spark, target, tmp: Path, name: str, **kwargs):
    return run_in_session(target, kwargs, spark=spark, cores=1, log_path=tmp / f"{name}.log",
                          hail_log=tmp / f"{name}.hail.log")


def test_jobs_share_one_server_process_and_spark_app(spark, tmp_path: Path) -> None:
    import os

    ran1, a = _run(spark, "callset.hail_session:session_info", tmp_path, "a")
    ran2, b = _run(spark, "callset.hail_session:session_info", tmp_path, "b")
    assert ran1 and ran2
    assert a["pid"] == b["pid"] != os.getpid()
    assert a["spark_app_id"] == b["spark_app_id"] and a["spark_app_id"]
    assert (tmp_path / "b.hail.log").is_file()  # the job's slice of the session's Hail log


def test_job_error_is_the_jobs_error_and_the_server_survives(spark, tmp_path: Path) -> None:
    missing = tmp_path / "genes.gff3"
    with pytest.raises(CallsetError, match="genes.gff3: exome gene model"):
        _run(spark, "callset.products:read_exon_intervals", tmp_path, "c", gff3=str(missing))
    with pytest.raises(SessionError, match="FileNotFoundError"):
        _run(spark, "callset.release:read_withdrawals", tmp_path, "d", path=str(missing))
    assert "FileNotFoundError" in (tmp_path / "d.log").read_text()  # the traceback is in the job's log
    ran, info = _run(spark, "callset.hail_session:session_info", tmp_path, "e")
    assert ran and info["pid"]


def test_other_spark_settings_are_not_run_in_the_session(spark, tmp_path: Path) -> None:
    ran, _ = run_in_session("callset.hail_session:session_info", {}, spark=spark, cores=2,
                            log_path=tmp_path / "f.log", hail_log=None)
    assert not ran


def test_stop_ends_the_server(spark, tmp_path: Path) -> None:
    import time

    _run(spark, "callset.hail_session:session_info", tmp_path, "g")
    assert stop(spark["tmp_dir"])
    for _ in range(50):
        if not session_files(spark["tmp_dir"])["key"].exists():
            break
        time.sleep(0.1)
    assert not session_files(spark["tmp_dir"])["key"].exists()
    assert not stop(spark["tmp_dir"])
