"""The shared Hail session of a local run (callset.runtime.hail_session): jobs share one JVM, errors reach the job."""

from __future__ import annotations

from pathlib import Path

import pytest

from callset.errors import CallsetError
from callset.runtime.hail_session import SessionError, run_in_session, session_files, stop


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

    ran1, a = _run(spark, "callset.runtime.hail_session:session_info", tmp_path, "a")
    ran2, b = _run(spark, "callset.runtime.hail_session:session_info", tmp_path, "b")
    assert ran1 and ran2
    assert a["pid"] == b["pid"] != os.getpid()
    assert a["spark_app_id"] == b["spark_app_id"] and a["spark_app_id"]
    assert (tmp_path / "b.hail.log").is_file()  # the job's slice of the session's Hail log


def test_job_error_is_the_jobs_error_and_the_server_survives(spark, tmp_path: Path) -> None:
    missing = tmp_path / "genes.gff3"
    with pytest.raises(CallsetError, match="genes.gff3: exome gene model"):
        _run(spark, "callset.release.callsets:read_exon_intervals", tmp_path, "c", gff3=str(missing))
    with pytest.raises(SessionError, match="FileNotFoundError"):
        _run(spark, "callset.release:read_withdrawals", tmp_path, "d", path=str(missing))
    assert "FileNotFoundError" in (tmp_path / "d.log").read_text()  # the traceback is in the job's log
    ran, info = _run(spark, "callset.runtime.hail_session:session_info", tmp_path, "e")
    assert ran and info["pid"]


def test_other_spark_settings_are_not_run_in_the_session(spark, tmp_path: Path) -> None:
    ran, _ = run_in_session("callset.runtime.hail_session:session_info", {}, spark=spark, cores=2,
                            log_path=tmp_path / "f.log", hail_log=None)
    assert not ran


def test_stop_ends_the_server(spark, tmp_path: Path) -> None:
    import time

    _run(spark, "callset.runtime.hail_session:session_info", tmp_path, "g")
    assert stop(spark["tmp_dir"])
    for _ in range(50):
        if not session_files(spark["tmp_dir"])["key"].exists():
            break
        time.sleep(0.1)
    assert not session_files(spark["tmp_dir"])["key"].exists()
    assert not stop(spark["tmp_dir"])


def test_killed_job_ends_the_session(spark, tmp_path: Path) -> None:
    """A job killed while it runs must not go on writing its outputs: its session (JVM included) ends."""
    import json
    import subprocess
    import sys
    import time

    _, first = _run(spark, "callset.runtime.hail_session:session_info", tmp_path, "h")
    code = ("import json, sys; from callset.runtime.hail_session import run_in_session; "
            "run_in_session('callset.runtime.hail_session:session_info', {'wait_seconds': 60}, "
            f"spark=json.loads(sys.argv[1]), cores=1, log_path={str(tmp_path / 'i.log')!r}, hail_log=None)")
    client = subprocess.Popen([sys.executable, "-c", code, json.dumps(spark)])
    try:
        time.sleep(3)
        assert client.poll() is None
    finally:
        client.kill()
        client.wait()
    for _ in range(100):
        if not _alive(first["pid"]):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the session server outlived its killed job")
    _, after = _run(spark, "callset.runtime.hail_session:session_info", tmp_path, "j")
    assert after["pid"] != first["pid"]


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for this test process, which started it, to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_rule_starts_hail_itself_when_no_session_can_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A session that cannot start (e.g. no Unix socket here) costs the speed-up, not the job."""
    from types import SimpleNamespace

    import callset.runtime.hail_session as hs
    import callset.runtime.hail_setup as setup
    from callset.runtime.smk import run_hail

    def no_session(*_a, **_k):
        raise hs.SessionStartError("no socket here")

    started = []
    monkeypatch.setattr(hs, "connect_or_start", no_session)
    monkeypatch.setattr(setup, "setup_hail", lambda **kw: started.append(kw))

    class Logs(list):
        hail = str(tmp_path / "job.hail.log")

    job = SimpleNamespace(params=SimpleNamespace(spark={"tmp_dir": str(tmp_path), "shared_session": True}),
                          threads=1, log=Logs([str(tmp_path / "job.log")]), rule="demo_rule")
    (tmp_path / "in.txt").write_text("x")
    run_hail(job, "shutil:copyfile", src=str(tmp_path / "in.txt"), dst=str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "x"  # ran here, after Hail was started here
    assert started == [{"cores": 1, "log_path": Logs.hail, "tmp_dir": str(tmp_path)}]
    assert "no shared Hail session (no socket here): starting Hail in this job" in (tmp_path / "job.log").read_text()
