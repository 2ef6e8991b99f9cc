"""A job that dies from a fault says the fault: a full disk (with the path), Java out of memory, a killed JVM.

Each fault is provoked for real and the job runs through Snakemake: the disk is a small tmpfs that fills up
under the results folder (needs root, as on this CI machine), the JVM is killed with SIGKILL while the
combiner runs, and a Hail step collects more than its driver heap holds. The job's log, Snakemake's stderr
and the run's last line must name the cause, not only the last progress lines. After the disk is freed the
same command completes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO, VENV_BIN, make_batch, run_snakemake, write_config

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of the direct children of ``pid`` (from /proc)."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid:
            out.append((int(p.name), name))
    return out


def _snakemake_cmd(workdir: Path, configfile: Path) -> list[str]:
    return [str(VENV_BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2",
            "--configfile", str(configfile)]


def test_killed_jvm_is_named_and_the_rerun_completes(tmp_path: Path) -> None:
    make_batch(tmp_path / "inbox", "b1", ["HG00187", "HG00190", "HG00308"])
    cfg = write_config(tmp_path / "config.yaml")
    results = tmp_path / "results"
    job_log = results / "logs" / "joint_call" / "b1.log"
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(_snakemake_cmd(tmp_path, cfg), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=REPO)
    jvm = None
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and proc.poll() is None:
            if job_log.is_file() and "combining 3 gVCFs" in job_log.read_text():
                server_log = next((results / "tmp" / "hail-session").glob("*[0-9a-f].log"))
                server = int(server_log.read_text().split("Hail session ready on ")[1].split("(pid ")[1].split(")")[0])
                jvm = next(pid for pid, name in _children(server) if name == "java")
                os.kill(jvm, signal.SIGKILL)
                break
            time.sleep(0.2)
        _, stderr = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert jvm is not None, "the combiner never started"
    assert proc.returncode != 0
    cause = f"the Java VM (pid {jvm}) was killed by SIGKILL"
    assert cause in job_log.read_text()
    last = [ln for ln in stderr.splitlines() if ln.startswith("callset: run failed: rule combine_batch: ")]
    assert last and "failed in the shared Hail session: " + cause in last[-1], stderr[-3000:]
    # the session whose JVM died has stopped; the same command starts a fresh one and completes
    run_snakemake(tmp_path, cfg)
    assert json.loads((results / "releases" / "v1" / "manifest.json").read_text())["n_samples"] == 3


def _oom_workflow(tmp_path: Path, *, shared_session: bool) -> tuple[Path, Path]:
    """A one-rule workflow using the project's Hail job glue (callset.runtime.smk.run_hail), whose step collects 30 M
    strings into a 512 MiB driver: what a job that gathers too much to the driver does."""
    (tmp_path / "oom_step.py").write_text(textwrap.dedent('''
        from pathlib import Path

        def collect_everything(n: int, out: str) -> None:
            import hail as hl

            ht = hl.utils.range_table(n, n_partitions=4)
            ids = ht.aggregate(hl.agg.collect(hl.str(ht.idx)))
            Path(out).write_text(f"{len(ids)}\\n")
    '''))
    (tmp_path / "oom_job.py").write_text(textwrap.dedent('''
        from callset.runtime.smk import run_hail

        run_hail(snakemake, "oom_step:collect_everything", n=30_000_000, out=snakemake.output[0])  # noqa: F821
    '''))
    spark = {"master": "local[2]", "driver_memory": "512m", "tmp_dir": str(tmp_path / "tmp"), "spark_conf": {},
             "reference_genome": "GRCh38", "executor_memory": None, "executor_cores": None,
             "executor_instances": None, "shared_session": shared_session}
    (tmp_path / "Snakefile").write_text(textwrap.dedent(f'''
        rule collect:
            output: "ids.txt"
            log: main="logs/collect.log", hail="logs/collect.hail.log"
            params: spark={spark!r}
            threads: 2
            script: "oom_job.py"
    '''))
    return tmp_path / "Snakefile", tmp_path / "logs" / "collect.log"


@pytest.mark.parametrize("shared_session", [True, False], ids=["shared-session", "own-jvm"])
def test_java_out_of_memory_is_named(tmp_path: Path, shared_session: bool) -> None:
    from callset.runtime.hail_session import stop

    snakefile, job_log = _oom_workflow(tmp_path, shared_session=shared_session)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "src"),
                                                         os.environ.get("PYTHONPATH", "")])}
    try:
        proc = subprocess.run([str(VENV_BIN / "snakemake"), "-s", str(snakefile), "--directory", str(tmp_path),
                               "--cores", "2"], capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    finally:
        stop(tmp_path / "tmp")
    assert proc.returncode != 0
    cause = "Java ran out of memory (java.lang.OutOfMemoryError: Java heap space): raise spark.driver_memory"
    log_text = job_log.read_text()
    last = [ln for ln in log_text.splitlines() if " ERROR callset: " in ln][-1]
    assert cause in last, log_text[-3000:]
    assert cause in proc.stderr
    assert not (tmp_path / "ids.txt").exists()


def _tmpfs(path: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("filling a disk needs a small tmpfs, and mounting one needs root")
    path.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")


def test_full_disk_is_named_with_its_path_and_the_rerun_completes(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _tmpfs(results, "100m")
    try:
        make_batch(tmp_path / "inbox", "b1", ["HG00187", "HG00190", "HG00308"])
        cfg = write_config(tmp_path / "config.yaml")
        cohort = results / "joint" / "cohort" / "b1"
        run_snakemake(tmp_path, cfg, str(cohort), str(results / "private" / "research_ids.tsv"))
        # the results disk fills up (another job, another user) before the release is written
        free = os.statvfs(results).f_bavail * os.statvfs(results).f_frsize
        filler = results / "filler"
        subprocess.run(["fallocate", "-l", str(free - (2 << 20)), str(filler)], check=True)

        proc = run_snakemake(tmp_path, cfg, check=False)
        assert proc.returncode != 0
        cause = f"No space left on device: {results} has "
        assert cause in proc.stderr, proc.stderr[-4000:]
        last = proc.stderr.strip().splitlines()
        assert any(ln.startswith("callset: run failed: rule release: ") and cause in ln for ln in last[-8:]), last[-8:]
        assert "--- Logging error ---" not in proc.stderr
        assert not (results / "releases" / "v1").exists()

        filler.unlink()  # space freed: the same command completes
        run_snakemake(tmp_path, cfg)
        assert json.loads((results / "releases" / "v1" / "manifest.json").read_text())["n_samples"] == 3
    finally:
        from callset.runtime.hail_session import stop

        stop(results / "tmp")
        subprocess.run(["umount", "-l", str(results)], check=False)
