"""One Hail session for all the Hail jobs of a local Snakemake run (config ``spark.shared_session``).

Snakemake runs every Hail rule as its own Python process, and each one starts a JVM, loads Hail and
compiles its first queries cold: ~12 s per job before any work here, and the first queries of a cold JVM
run slower than the same queries in a warm one. With ``spark.shared_session`` (on by default for an
embedded Spark with jobs run on this host) the first Hail job starts a small session server: a Python process with
one Hail session, listening on a Unix socket on this host. Each Hail job's script sends it the package
function to call and its arguments, waits, and exits with the job's outcome. Jobs still run one at a time,
in Snakemake's order, with Snakemake's inputs, outputs, logs and benchmarks.

- The job's log file gets the same lines as before (the server logs into it while it runs the job), and
  the job's ``.hail.log`` gets the part of the session's Hail log written during the job.
- The server runs one job at a time and exits after ``IDLE_SECONDS`` without a job, or when the workflow
  ends (the Snakefile's ``onsuccess``/``onerror`` call :func:`stop`).
- A job whose Spark settings differ from the running session's runs in its own process, as before.
- A job that fails names the fault when one is found (:mod:`callset.runtime.faults`: a full disk with the path,
  Java out of memory, a JVM or server killed by a signal), from the job's exception chain, its Java stack
  trace, its part of the Hail log and the exit status of the JVM. If the server itself dies, the job's error
  says how (the server runs under a small watcher process that records its exit status and last error in
  the host's temp dir), with the server log's last lines; the next job starts a fresh server. A session
  whose JVM died stops after answering the job, so later jobs never reach a dead JVM.
- If the job's client dies (Snakemake killed or cancelled the job), the server stops at once, its JVM with
  it, as a job's own JVM would: nothing keeps writing the job's outputs.

The rules turn this off for a Spark cluster master (a long session would hold executors through the
non-Hail jobs too) and for a cluster executor such as SLURM (each job runs on its own node).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import logging
import os
import pickle
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from callset.errors import CallsetError

log = logging.getLogger(__name__)

IDLE_SECONDS = 60.0
START_TIMEOUT = 300.0


class SessionError(CallsetError):
    """The shared Hail session server could not be started, died, or a job failed in it.

    ``str()`` is one line (what failed and why); ``details`` is what the job's log does not have yet (the end of
    a dead server's log); ``job_traceback`` is the job's traceback (the server wrote it into the job's log).
    """

    def __init__(self, message: str, details: str = "", job_traceback: str = "") -> None:
        super().__init__(message)
        self.details = details
        self.job_traceback = job_traceback


class SessionStartError(SessionError):
    """No session server could be started (the job can still start Hail itself)."""


def code_fingerprint() -> str:
    """Changes whenever a file of the installed callset package changes: a server never runs stale code."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha1()
    for p in sorted(root.rglob("*.py")):
        st = p.stat()
        h.update(f"{p.relative_to(root)}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
    return h.hexdigest()


def _base(tmp_dir: str | os.PathLike[str]) -> Path:
    """Host-local path stem of the session: one per results tree (its Spark tmp dir) and code version."""
    key = hashlib.sha1(f"{os.path.abspath(str(tmp_dir))}\0{code_fingerprint()}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"callset-hail-{os.getuid()}-{key}"


def session_files(tmp_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Socket and key in this host's temp dir (a Unix socket path must be short); the start-up lock, the server's
    own log and the session's Hail log under the workflow's Spark tmp dir."""
    from callset.runtime.hail_setup import is_remote_path

    base = _base(tmp_dir)
    local = Path(tempfile.gettempdir()) if is_remote_path(tmp_dir) else Path(str(tmp_dir).removeprefix("file://"))
    logs = local.absolute() / "hail-session"
    out = {name: Path(f"{base}.{name}") for name in ("sock", "key", "exit", "fatal")}
    out["lock"] = logs / f"{base.name}.lock"
    out["log"] = logs / f"{base.name}.log"
    out["hail_log"] = logs / f"{base.name}.hail.log"
    return out


def resolve_target(name: str) -> Any:
    """The function named ``module:function`` (how a rule names its Hail step)."""
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def _settings(spark: Mapping[str, Any], cores: int | None) -> dict[str, Any]:
    """The session's identity, as JSON gives it back (the server receives it on its command line)."""
    return json.loads(json.dumps({"spark": _plain(spark), "cores": cores}, default=str))


def session_info(wait_seconds: float = 0.0) -> dict[str, Any]:
    """Which process and Spark application a job runs in (diagnostics); ``wait_seconds`` holds the session
    that long first (how a killed job ends the session)."""
    from pyspark import SparkContext

    time.sleep(wait_seconds)
    sc = SparkContext._active_spark_context
    return {"pid": os.getpid(), "spark_app_id": sc.applicationId if sc is not None else None}


def _plain(value: Any) -> Any:
    """Snakemake's str/list subclasses (IOFile, Namedlist) as plain values, to send them to the server."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# --- client -------------------------------------------------------------------------------------


def _connect(files: Mapping[str, Path]) -> Connection | None:
    if not files["sock"].exists() or not files["key"].exists():
        return None
    try:
        return Client(str(files["sock"]), family="AF_UNIX", authkey=files["key"].read_bytes())
    except (OSError, EOFError):
        return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _log_tail(path: Path, n: int = 15) -> str:
    """The last ``n`` lines of a log (long lines, such as Hail's query plans, cut at 300 characters)."""
    from callset.runtime.faults import read_tail

    text = read_tail(path, limit=1 << 20)
    if not text:
        return "(no server log)"
    return "\n".join(ln[:300] for ln in text.splitlines()[-n:])


def connect_or_start(spark: Mapping[str, Any], cores: int | None) -> Connection:
    """A connection to this workflow's session server, starting one if none is running."""
    files = session_files(spark["tmp_dir"])
    files["log"].parent.mkdir(parents=True, exist_ok=True)
    with _locked(files["lock"]):
        conn = _connect(files)
        if conn is not None:
            return conn
        for stale in (files["sock"], files["key"]):
            stale.unlink(missing_ok=True)
        log.info("starting a shared Hail session (server log %s)", files["log"])
        started = time.time()
        with files["log"].open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "callset.runtime.hail_session", "serve", json.dumps(_settings(spark, cores))],
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            conn = _connect(files)
            if conn is not None:
                return conn
            if proc.poll() is not None:
                cause = _start_failure(files, started)
                raise SessionStartError(f"the Hail session server exited ({proc.returncode}) while starting"
                                        + (f": {cause}" if cause else ""), _log_tail(files["log"]))
            time.sleep(0.2)
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # the watcher, the server and its JVM
        raise SessionStartError(f"the Hail session server did not start within {START_TIMEOUT:.0f} s: {files['log']}")


def run_in_session(
    target: str, kwargs: Mapping[str, Any], *, spark: Mapping[str, Any], cores: int | None,
    log_path: str | os.PathLike[str], hail_log: str | os.PathLike[str] | None,
) -> tuple[bool, Any]:
    """Run ``module:function(**kwargs)`` in the shared session. Returns ``(ran, result)``; ``ran`` is False
    when the running session has other Spark settings (the caller then runs the job itself).

    :raises CallsetError: the function raised one (its message, as the job's own error).
    :raises SessionError: the function failed otherwise, or the server died.
    """
    from callset.runtime.faults import job_paths

    files = session_files(spark["tmp_dir"])
    conn = connect_or_start(spark, cores)
    started = time.time()
    offsets = {k: _size(files[k]) for k in ("log", "hail_log")}
    try:
        conn.send({"op": "run", "target": target, "kwargs": _plain(kwargs), "settings": _settings(spark, cores),
                   "log": str(log_path), "hail_log": str(hail_log) if hail_log else None, "cwd": os.getcwd()})
        reply = conn.recv()
    except (EOFError, OSError):
        cause = _death_cause(files, since=started, offsets=offsets,
                             paths=job_paths(kwargs, log_path, hail_log, spark["tmp_dir"]))
        raise SessionError(f"{target} failed: the Hail session server died: {cause}",
                           f"the server log {files['log']} ends:\n{_log_tail(files['log'])}") from None
    finally:
        conn.close()
    status = reply["status"]
    if status == "mismatch":
        return False, None
    if status == "ok":
        return True, reply["result"]
    if status == "callset_error":
        raise CallsetError(reply["message"])
    cause = reply.get("cause") or _last_line(reply["message"])
    raise SessionError(f"{target} failed in the shared Hail session: {cause}", job_traceback=reply["message"])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _last_line(text: str) -> str:
    """The last non-empty line of a traceback: the exception and its message."""
    return next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "unknown error")[:400]


def _read_exit(files: Mapping[str, Path], since: float, wait: float) -> dict[str, Any] | None:
    """The watcher's record of how the server ended, if it ended after ``since`` (waits up to ``wait`` s)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            rec = json.loads(files["exit"].read_text())
            if rec.get("time", 0) >= since - 1:
                return rec
        except (OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def _exit_evidence(rec: Mapping[str, Any] | None) -> tuple[list[str], list[Any]]:
    from callset.runtime.faults import ProcessExit

    if not rec:
        return [], []
    return ([rec.get("traceback") or "", rec.get("error") or ""],
            [ProcessExit("the Hail session server", rec.get("pid"), int(rec["returncode"]))])


def _start_failure(files: Mapping[str, Path], since: float) -> str | None:
    """Why a server exited while starting (e.g. Spark refused the driver memory), or None."""
    from callset.runtime.faults import root_cause

    rec = _read_exit(files, since=since, wait=2.0)
    texts, exits = _exit_evidence(rec)
    cause = root_cause(None, texts=[*texts, _log_tail(files["log"], 200)], paths=[files["log"]])
    return cause or (rec or {}).get("error") or (exits[0].describe() if exits else None)


def _death_cause(files: Mapping[str, Path], *, since: float, offsets: Mapping[str, int], paths: list[str]) -> str:
    """Why the server died while running a job: its exit status and last error (the watcher's record), its
    log and the session's Hail log since the job started, and how full the job's file systems are."""
    from callset.runtime.faults import read_tail, root_cause

    rec = _read_exit(files, since=since, wait=5.0)
    texts, exits = _exit_evidence(rec)
    texts += [read_tail(files["log"], offset=offsets["log"]), read_tail(files["hail_log"], offset=offsets["hail_log"])]
    cause = root_cause(None, texts=texts, exits=exits, paths=[*paths, files["log"]])
    if cause:
        return cause
    if rec and rec.get("error"):
        return f"{rec['error']} ({exits[0].describe()})"
    return ("it left no exit record, so its whole process group was killed (e.g. `kill -9` of the group, or the "
            "kernel's out-of-memory killer; see `dmesg`)")


def stop(tmp_dir: str | os.PathLike[str]) -> bool:
    """Ask this workflow's session server to exit; True if one was running."""
    conn = _connect(session_files(tmp_dir))
    if conn is None:
        return False
    with contextlib.closing(conn):
        try:
            conn.send({"op": "stop"})
            conn.recv()
        except (EOFError, OSError):
            pass
    return True


# --- server -------------------------------------------------------------------------------------


def _copy_from(src: Path, offset: int, dst: str | None) -> None:
    if not dst:
        return
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as f, open(dst, "wb") as out:
        f.seek(offset)
        while block := f.read(1 << 20):
            out.write(block)


def _job_cause(exc: BaseException | None, msg: Mapping[str, Any], hail_log: Path, offset: int,
               ended: Any = None) -> str | None:
    """The fault behind a job's failure (:func:`callset.runtime.faults.root_cause`), from the exception, the session's
    Hail log since the job started, the JVM's exit status and the job's file systems."""
    from callset.runtime.faults import job_paths, jvm_exit, lost_connection, read_tail, root_cause

    if ended is None:
        ended = jvm_exit(wait=2.0 if lost_connection(exc) else 0.5)
    return root_cause(exc, texts=[read_tail(hail_log, offset=offset)], exits=[ended],
                      paths=job_paths(msg["kwargs"], msg["log"], msg.get("hail_log"), hail_log))


def _run_job(msg: Mapping[str, Any], hail_log: Path, offset: int) -> dict[str, Any]:
    """Run one job; never raises (a failure, including a full disk for the job's own log, is the reply)."""
    from callset.core.logs import setup_logging
    from callset.runtime.faults import first_line

    try:
        setup_logging(msg["log"])  # this job's log file (stderr is the server log)
        os.chdir(msg["cwd"])
        result = resolve_target(msg["target"])(**msg["kwargs"])
        try:
            pickle.dumps(result)
        except Exception:  # noqa: BLE001 - results are informative only; the outputs are on disk
            result = None
        return {"status": "ok", "result": result}
    except CallsetError as e:
        return {"status": "callset_error", "message": str(e)}
    except Exception as e:  # noqa: BLE001 - reported to the job, which fails; the server keeps serving
        text = traceback.format_exc()
        log.error("%s", text)
        cause = _job_cause(e, msg, hail_log, offset)
        if cause:
            log.error("cause: %s", cause)
        return {"status": "error", "message": text, "cause": cause or first_line(e)}
    finally:
        try:
            _copy_from(hail_log, offset, msg.get("hail_log"))
        except OSError as e:  # e.g. the disk is full: the job's own failure says so; the server lives on
            log.error("could not copy this job's part of the Hail log to %s: %s", msg.get("hail_log"), e)
        setup_logging(None)


def _watch_job(conn: Connection, done: threading.Event, lock: threading.Lock, msg: Mapping[str, Any],
               files: Mapping[str, Path], hail_log: Path, offset: int) -> None:
    """While a job runs: end the server if the job's client goes away, or if the JVM dies.

    A killed job must stop, as it did in its own process: left running it would keep writing outputs that
    Snakemake has marked incomplete, next to the rerun. The client sends nothing while it waits, so the
    connection becoming readable means it was closed. The JVM (a child of this process) exits with it.

    A JVM that dies (killed, out of memory) leaves Hail retrying its connection for ever: the job is answered
    here with the cause, and the server exits (its Hail session is gone; the next job starts a new one).
    """
    from callset.runtime.faults import jvm_exit

    def leave(code: int) -> None:
        for f in (files["key"], files["sock"]):
            f.unlink(missing_ok=True)
        logging.shutdown()
        os._exit(code)

    while not done.wait(0.5):
        if conn.poll(0):
            if done.is_set():
                return
            log.error("the client of %s went away (job killed): stopping this Hail session", msg["target"])
            leave(3)
        ended = jvm_exit()
        if ended is not None:
            with lock:
                if done.is_set():
                    return  # the job ended on its own and its reply says why
                cause = _job_cause(None, msg, hail_log, offset, ended) or ended.describe()
                log.error("%s: %s; this Hail session stops", msg["target"], cause)
                with contextlib.suppress(OSError):
                    _copy_from(hail_log, offset, msg.get("hail_log"))
                with contextlib.suppress(OSError):
                    conn.send({"status": "error", "message": cause, "cause": cause})
                leave(1)


def serve(settings: Mapping[str, Any], *, idle: float = IDLE_SECONDS) -> int:
    """The server: start Hail with ``settings``, then run jobs one at a time until idle, stopped, or its JVM
    is gone. Returns the exit code (1: the JVM died)."""
    from callset.core.logs import setup_logging
    from callset.runtime.faults import jvm_exit
    from callset.runtime.hail_setup import setup_hail

    spark = settings["spark"]
    files = session_files(spark["tmp_dir"])
    setup_logging(None)
    hail_log = files["hail_log"]
    hail_log.unlink(missing_ok=True)
    setup_hail(cores=settings["cores"], log_path=hail_log, **spark)
    key = secrets.token_bytes(32)
    fd = os.open(files["key"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    listener = Listener(str(files["sock"]), family="AF_UNIX", authkey=key)
    listener._listener._socket.settimeout(idle)  # type: ignore[attr-defined]  # accept() gives up when idle
    log.info("Hail session ready on %s (pid %d)", files["sock"], os.getpid())
    n = 0
    try:
        while True:
            try:
                conn = listener.accept()
            except TimeoutError:
                log.info("no job for %.0f s: exiting after %d jobs", idle, n)
                return 0
            except (OSError, AuthenticationError) as e:  # an unauthenticated or broken connection
                log.warning("connection refused: %s", e)
                continue
            with contextlib.closing(conn):
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    continue
                if msg.get("op") == "stop":
                    conn.send({"status": "ok"})
                    log.info("stopped after %d jobs", n)
                    return 0
                if msg.get("settings") != dict(settings):
                    conn.send({"status": "mismatch"})
                    continue
                n += 1
                t0 = time.monotonic()
                done, lock = threading.Event(), threading.Lock()
                offset = _size(hail_log)
                threading.Thread(target=_watch_job, args=(conn, done, lock, msg, files, hail_log, offset),
                                 daemon=True).start()
                try:
                    reply = _run_job(msg, hail_log, offset)
                finally:
                    with lock:
                        done.set()
                log.info("job %d %s: %s in %.1f s", n, msg["target"], reply["status"], time.monotonic() - t0)
                with contextlib.suppress(OSError):
                    conn.send(reply)
            ended = jvm_exit()
            if ended is not None:  # nothing more can run here; the next job starts a new session
                log.error("%s: this Hail session stops", ended.describe())
                return 1
    finally:
        listener.close()
        files["key"].unlink(missing_ok=True)
        files["sock"].unlink(missing_ok=True)


def _record_fatal(path: Path, exc: BaseException) -> None:
    from callset.runtime.faults import first_line

    with contextlib.suppress(OSError):
        path.write_text(json.dumps({"error": first_line(exc), "traceback": traceback.format_exc()[-20000:]}))


def supervise(settings: Mapping[str, Any]) -> int:
    """Run :func:`serve` in a child process and record how it ended (``files["exit"]``: pid, return code as
    :mod:`subprocess` gives it, time, and the server's last error), so a job whose server died can say why.

    The record is in the host's temp dir, beside the socket, not under the workflow's (possibly full) tmp dir.
    """
    files = session_files(settings["spark"]["tmp_dir"])
    for f in (files["exit"], files["fatal"]):
        f.unlink(missing_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the server
        code = 1
        try:
            code = serve(settings)
        except BaseException as e:  # noqa: BLE001 - recorded for the jobs' error messages, then the exit
            _record_fatal(files["fatal"], e)
            with contextlib.suppress(Exception):
                traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                logging.shutdown()
            os._exit(code)

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    rec: dict[str, Any] = {"pid": pid, "returncode": rc, "time": time.time()}
    with contextlib.suppress(OSError, ValueError):
        rec.update(json.loads(files["fatal"].read_text()))
    files["fatal"].unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        tmp = files["exit"].with_suffix(".exit.tmp")
        tmp.write_text(json.dumps(rec))
        tmp.replace(files["exit"])
    if rc != 0:
        from callset.runtime.faults import ProcessExit

        with contextlib.suppress(Exception):
            print(f"{ProcessExit('the Hail session server', pid, rc).describe()}", file=sys.stderr, flush=True)
    return 0 if rc == 0 else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        return supervise(json.loads(args[1]))
    print("usage: python -m callset.runtime.hail_session serve SETTINGS_JSON", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
