"""Start and stop a throw-away single-node SLURM and a Spark standalone cluster on 127.0.0.1.

Used by the cluster tests (``tests/test_cluster_*.py``) and by ``python -m harness.cluster`` to try the SLURM
profile or a Spark master by hand. Everything lives under one folder, listens on loopback only, uses free ports
(so parallel runs do not collide), and every daemon is a child process of the caller that :meth:`stop` ends by
PID. What was needed to make each piece work is in docs/cluster.md.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from callset.errors import CallsetError
from callset.runtime.java import find_java_home

log = logging.getLogger(__name__)

SLURM_PACKAGES = ("slurm-wlm", "munge")
SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "srun", "sinfo", "scontrol", "scancel")


class ClusterError(CallsetError):
    """A test cluster daemon did not start (the message names its log file)."""


# --------------------------------------------------------------------------------------------- processes


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process; a zombie (``<defunct>``, state Z) counts as ended.

    ``kill -0`` says yes for zombies, and here PID 1 does not reap daemons stopped by PID, so ask ``ps``.
    """
    out = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    state = out.stdout.strip()
    return bool(state) and not state.startswith("Z")


def wait_for(what: str, check: Callable[[], bool], *, timeout: float, log_file: Path | None = None) -> None:
    """Poll ``check`` every 0.2 s until it is true; raise :class:`ClusterError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise ClusterError(f"{what}: not ready after {timeout:.0f} s: {tail(log_file)}")


def tail(log_file: Path | None, n: int = 20) -> str:
    """``log_file`` and its last ``n`` lines, for error messages."""
    if log_file is None or not log_file.exists():
        return f"(no log {log_file})"
    return f"log {log_file}:\n" + "\n".join(log_file.read_text(errors="replace").splitlines()[-n:])


@dataclass
class Daemon:
    """One daemon started by this process (foreground mode, so its PID is the Popen's)."""

    name: str
    proc: subprocess.Popen[bytes]
    log_file: Path

    def alive(self) -> bool:
        return self.proc.poll() is None and is_running(self.proc.pid)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; always reaps the child (no zombie left)."""
        if self.proc.poll() is None:
            log.info("stopping %s (pid %d)", self.name, self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing it", self.name, self.proc.pid, timeout)
                self.proc.kill()
                self.proc.wait(timeout=timeout)


def start_daemon(name: str, cmd: list[str], log_file: Path, env: dict[str, str] | None = None) -> Daemon:
    """Start ``cmd`` in its own session (terminal signals do not reach it), output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting %s: %s", name, " ".join(cmd))
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    return Daemon(name, proc, log_file)


# --------------------------------------------------------------------------------------------- SLURM


def slurm_missing() -> list[str]:
    """SLURM/munge programs not on PATH (empty when everything is installed)."""
    return [b for b in SLURM_BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]


def install_slurm(timeout: float = 600) -> str | None:
    """Install Debian's ``slurm-wlm`` and ``munge`` when missing; return why it cannot be done, or None.

    Needs root and apt-get (``apt-get update`` first, then ``apt-get install -y``; about 10-20 s).
    """
    if not slurm_missing():
        return None
    if os.geteuid() != 0:
        return f"SLURM programs {slurm_missing()} are missing and installing {SLURM_PACKAGES} needs root"
    if shutil.which("apt-get") is None:
        return f"SLURM programs {slurm_missing()} are missing and there is no apt-get to install {SLURM_PACKAGES}"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *SLURM_PACKAGES]):
        log.info("running %s", " ".join(cmd))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` did not finish in {timeout:.0f} s"
        if proc.returncode != 0:
            return f"`{' '.join(cmd)}` failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"
    missing = slurm_missing()
    return f"still missing after apt-get install: {missing}" if missing else None


def _sbin(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


SLURM_CONF_TEMPLATE = """\
# Single-node test SLURM written by harness.cluster (loopback only, no cgroups, no accounting).
ClusterName=callsettest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={root}/slurm/state
SlurmdSpoolDir={root}/slurm/spool
SlurmctldPidFile={root}/slurm/run/slurmctld.pid
SlurmdPidFile={root}/slurm/run/slurmd.pid
SlurmctldLogFile={root}/slurm/log/slurmctld.log
SlurmdLogFile={root}/slurm/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
CommunicationParameters=NoInAddrAny
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# squeue/scontrol forget finished jobs after MinJobAge s: keep them for the executor's squeue status checks and
# for the tests' `scontrol show job` after the run (there is no accounting, so no sacct)
MinJobAge=3600
ReturnToService=2
# the node below may claim more CPUs/memory than the machine has (the profile's Hail jobs ask for 8 cores):
# use the configured values instead of refusing the node
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""

# The executor's job step strips every SLURM_* variable (SLURM_CONF too) before its nested `srun`; a site keeps
# slurm.conf where srun finds it without SLURM_CONF, the test cluster puts this shim first on PATH instead.
SRUN_SHIM = """#!/bin/sh
# srun shim for the callset test SLURM: nested srun calls lose SLURM_CONF (see docs/cluster.md)
SLURM_CONF={conf}
export SLURM_CONF
exec {srun} "$@"
"""


@dataclass
class SlurmCluster:
    """A running single-node SLURM (munged + slurmctld + slurmd) rooted at ``root``."""

    root: Path
    conf: Path
    bin_dir: Path
    partition: str
    munge_dir: Path
    daemons: list[Daemon] = field(default_factory=list)

    @property
    def ctld_log(self) -> Path:
        return self.root / "slurm" / "log" / "slurmctld.log"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for SLURM clients (sbatch, squeue, snakemake --executor slurm)."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a SLURM client command against this cluster."""
        return subprocess.run(list(cmd), capture_output=True, text=True, env=self.env(), timeout=timeout)

    def node_ready(self) -> bool:
        out = self.run("sinfo", "-h", "-N", "-o", "%t", timeout=10)
        return out.returncode == 0 and out.stdout.strip() in {"idle", "mix", "alloc"}

    def job_ids(self) -> list[str]:
        """IDs of jobs slurmctld has logged as submitted (``_slurm_rpc_submit_batch_job: JobId=N``)."""
        import re

        if not self.ctld_log.exists():
            return []
        return re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", self.ctld_log.read_text(errors="replace"))

    def jobs(self) -> dict[str, dict[str, str]]:
        """Job ID -> ``scontrol show job`` fields (JobState, ExitCode, NumCPUs, TRES, TimeLimit, StdOut, ...) of
        every job slurmctld still holds (finished ones for MinJobAge seconds)."""
        out = self.run("scontrol", "show", "job", "--oneliner", timeout=30)
        if out.returncode != 0:
            raise ClusterError(f"scontrol show job failed: {out.stderr.strip()}")
        jobs = {}
        for line in out.stdout.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if "JobId" in fields:
                jobs[fields["JobId"]] = fields
        return jobs

    def stop(self) -> None:
        """Cancel this cluster's jobs, then stop slurmd, slurmctld and munged (in that order)."""
        if any(d.alive() for d in self.daemons if d.name == "slurmctld"):
            try:
                ids = self.run("squeue", "-h", "-o", "%i", timeout=10).stdout.split()
                if ids:
                    log.info("cancelling %d leftover job(s): %s", len(ids), " ".join(ids))
                    self.run("scancel", *ids, timeout=10)
            except (OSError, subprocess.TimeoutExpired) as e:
                log.warning("could not cancel leftover jobs: %s", e)
        for d in reversed(self.daemons):
            d.stop()
        left = [f"{d.name} (pid {d.proc.pid})" for d in self.daemons if is_running(d.proc.pid)]
        if left:
            raise ClusterError(f"daemons still running after stop: {', '.join(left)}")
        # keep munged's log next to the others, then drop its folder (it holds the key)
        if (self.munge_dir / "log").is_dir():
            shutil.copytree(self.munge_dir / "log", self.root / "munge-log", dirs_exist_ok=True)
        shutil.rmtree(self.munge_dir, ignore_errors=True)


def start_slurm(
    root: Path, *, cpus: int = 8, memory_mb: int = 64000, partition: str = "debug", timeout: float = 60
) -> SlurmCluster:
    """Start munged, slurmctld and slurmd under ``root`` (must be root; see :func:`install_slurm`).

    On failure everything already started is stopped again before the error is raised.
    """
    root = Path(root).resolve()
    # munged wants every folder above its socket world-executable and the socket path under 108 bytes; test
    # folders (pytest's are mode 700) rarely are, so munge lives in its own short /tmp folder, removed by stop()
    munge = Path(tempfile.mkdtemp(prefix="callset-munge-"))
    munge.chmod(0o755)
    for sub, mode in (("etc", 0o700), ("lib", 0o700), ("run", 0o755), ("log", 0o755)):
        (munge / sub).mkdir(parents=True, exist_ok=True)
        (munge / sub).chmod(mode)
    key = munge / "etc" / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    socket_path = munge / "run" / "munge.socket.2"
    for sub in ("state", "spool", "run", "log"):
        (root / "slurm" / sub).mkdir(parents=True, exist_ok=True)
    conf = root / "slurm" / "slurm.conf"
    conf.write_text(
        SLURM_CONF_TEMPLATE.format(
            root=root, munge_socket=socket_path, ctld_port=free_port(), slurmd_port=free_port(),
            cpus=cpus, memory_mb=memory_mb, partition=partition,
        )
    )
    bin_dir = root / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "srun"
    shim.write_text(SRUN_SHIM.format(conf=conf, srun=shutil.which("srun") or "/usr/bin/srun"))
    shim.chmod(0o755)
    cluster = SlurmCluster(root=root, conf=conf, bin_dir=bin_dir, partition=partition, munge_dir=munge)
    env = cluster.env()
    try:
        cluster.daemons.append(
            start_daemon(
                "munged",
                [
                    _sbin("munged"), "--foreground", f"--key-file={key}", f"--socket={socket_path}",
                    f"--pid-file={munge / 'run' / 'munged.pid'}", f"--log-file={munge / 'log' / 'munged.log'}",
                    f"--seed-file={munge / 'lib' / 'munged.seed'}",
                ],
                munge / "log" / "munged.out",
                env,
            )
        )
        munged = cluster.daemons[-1]
        wait_for("munged", lambda: socket_path.exists() or not munged.alive(), timeout=timeout)
        if not munged.alive():
            raise ClusterError(f"munged exited at start: {tail(munge / 'log' / 'munged.log')}")
        log_dir = root / "slurm" / "log"
        cluster.daemons.append(
            start_daemon("slurmctld", [_sbin("slurmctld"), "-D", "-c", "-f", str(conf)], log_dir / "slurmctld.out", env)
        )
        cluster.daemons.append(
            start_daemon(
                "slurmd", [_sbin("slurmd"), "-D", "-N", "localhost", "-f", str(conf)], log_dir / "slurmd.out", env
            )
        )
        for d in cluster.daemons:
            if not d.alive():
                raise ClusterError(f"{d.name} exited at start: {tail(d.log_file)}")
        wait_for("SLURM node", cluster.node_ready, timeout=timeout, log_file=cluster.ctld_log)
    except BaseException:
        cluster.stop()
        raise
    log.info("SLURM up under %s (partition %s, %d CPUs, %d MB)", root, partition, cpus, memory_mb)
    return cluster


@contextmanager
def slurm_cluster(root: Path, **kwargs: int | str | float) -> Iterator[SlurmCluster]:
    """``with slurm_cluster(dir) as c:`` -- started on enter, every daemon stopped on exit (also on error)."""
    cluster = start_slurm(root, **kwargs)  # type: ignore[arg-type]
    try:
        yield cluster
    finally:
        cluster.stop()


# --------------------------------------------------------------------------------------------- Spark


def spark_home() -> Path:
    """The venv's pyspark folder: it ships bin/spark-class and the jars of the driver's own Spark version."""
    import pyspark

    return Path(pyspark.__file__).parent


@dataclass
class SparkCluster:
    """A running Spark standalone master + one worker on 127.0.0.1."""

    root: Path
    master_url: str
    master_webui: str
    worker_dir: Path
    daemons: list[Daemon] = field(default_factory=list)

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for a driver that talks to this cluster (same Java, loopback)."""
        env = dict(os.environ if base is None else base)
        env.update(self._spark_env())
        return env

    def _spark_env(self) -> dict[str, str]:
        java = find_java_home()
        return {
            "JAVA_HOME": str(java),
            "SPARK_HOME": str(spark_home()),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOCAL_DIRS": str(self.root / "local"),
        }

    def status(self) -> dict:
        """The master's JSON status (workers, active and completed applications)."""
        with urllib.request.urlopen(f"{self.master_webui}/json/", timeout=5) as r:
            return json.loads(r.read().decode())

    def stop(self) -> None:
        """Stop the worker, then the master."""
        for d in reversed(self.daemons):
            d.stop()
        left = [f"{d.name} (pid {d.proc.pid})" for d in self.daemons if is_running(d.proc.pid)]
        if left:
            raise ClusterError(f"daemons still running after stop: {', '.join(left)}")


def start_spark(
    root: Path, *, cores: int = 2, memory: str = "4g", timeout: float = 90
) -> SparkCluster:
    """Start a Spark standalone master and one worker (``cores``, ``memory``) on 127.0.0.1 under ``root``."""
    root = Path(root).resolve()
    for sub in ("local", "work", "logs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    port, webui, worker_webui = free_port(), free_port(), free_port()
    cluster = SparkCluster(
        root=root, master_url=f"spark://127.0.0.1:{port}", master_webui=f"http://127.0.0.1:{webui}",
        worker_dir=root / "work",
    )
    env = {**os.environ, **cluster._spark_env(), "SPARK_WORKER_DIR": str(root / "work"),
           "SPARK_LOG_DIR": str(root / "logs"), "SPARK_NO_DAEMONIZE": "1"}
    env["PATH"] = f"{env['JAVA_HOME']}/bin{os.pathsep}{env.get('PATH', '')}"
    spark_class = str(spark_home() / "bin" / "spark-class")
    master_log, worker_log = root / "logs" / "master.log", root / "logs" / "worker.log"

    def logged(path: Path, text: str) -> Callable[[], bool]:
        return lambda: path.exists() and text in path.read_text(errors="replace")

    try:
        cluster.daemons.append(
            start_daemon(
                "spark-master",
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                 "--webui-port", str(webui)],
                master_log, env,
            )
        )
        wait_for("Spark master", logged(master_log, "New state: ALIVE"), timeout=timeout, log_file=master_log)
        cluster.daemons.append(
            start_daemon(
                "spark-worker",
                [spark_class, "org.apache.spark.deploy.worker.Worker", cluster.master_url, "--host", "127.0.0.1",
                 "--cores", str(cores), "--memory", memory, "--webui-port", str(worker_webui),
                 "--work-dir", str(root / "work")],
                worker_log, env,
            )
        )
        wait_for("Spark worker", logged(worker_log, "Successfully registered with master"), timeout=timeout,
                 log_file=worker_log)
    except BaseException:
        cluster.stop()
        raise
    log.info("Spark standalone up: %s (UI %s), worker %d cores %s", cluster.master_url, cluster.master_webui,
             cores, memory)
    return cluster


@contextmanager
def spark_cluster(root: Path, **kwargs: int | str | float) -> Iterator[SparkCluster]:
    """``with spark_cluster(dir) as c:`` -- master + worker started on enter, both stopped on exit."""
    cluster = start_spark(root, **kwargs)  # type: ignore[arg-type]
    try:
        yield cluster
    finally:
        cluster.stop()


# --------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """``python -m harness.cluster {slurm,spark} DIR``: start a test cluster, print how to use it, stop on Ctrl-C."""
    import argparse

    from callset.core.logs import setup_logging

    p = argparse.ArgumentParser(prog="python -m harness.cluster", description=main.__doc__)
    p.add_argument("kind", choices=["slurm", "spark"])
    p.add_argument("dir", type=Path, help="folder for configs, state and logs")
    args = p.parse_args(argv)
    setup_logging(None)
    if args.kind == "slurm":
        reason = install_slurm()
        if reason:
            log.error("%s", reason)
            return 1
        manager = slurm_cluster(args.dir)
    else:
        manager = spark_cluster(args.dir)
    with manager as c:
        if isinstance(c, SlurmCluster):
            sys.stdout.write(f"export SLURM_CONF={c.conf} PATH={c.bin_dir}:$PATH\n")
        else:
            sys.stdout.write(f"spark.master: {c.master_url}   status: {c.master_webui}/json/\n")
        sys.stdout.write("Ctrl-C stops every daemon.\n")
        sys.stdout.flush()
        try:
            while all(d.alive() for d in c.daemons):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
