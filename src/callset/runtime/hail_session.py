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
- If the server dies (e.g. the JVM runs out of memory), the job fails with the server log's last lines;
  the next job starts a fresh server. If the job's client dies (Snakemake killed or cancelled the job), the
  server stops at once, its JVM with it, as a job's own JVM would: nothing keeps writing the job's outputs.

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
    """The shared Hail session server could not be started or died while running a job."""


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
    out = {name: Path(f"{base}.{name}") for name in ("sock", "key")}
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
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no server log)"


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
                raise SessionStartError(f"the Hail session server exited ({proc.returncode}) while starting:\n"
                                   f"{_log_tail(files['log'])}")
            time.sleep(0.2)
        proc.kill()
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
    files = session_files(spark["tmp_dir"])
    conn = connect_or_start(spark, cores)
    try:
        conn.send({"op": "run", "target": target, "kwargs": _plain(kwargs), "settings": _settings(spark, cores),
                   "log": str(log_path), "hail_log": str(hail_log) if hail_log else None, "cwd": os.getcwd()})
        reply = conn.recv()
    except (EOFError, OSError) as e:
        raise SessionError(f"the Hail session server died while running {target} ({e}); its log "
                           f"{files['log']} ends:\n{_log_tail(files['log'])}") from None
    finally:
        conn.close()
    status = reply["status"]
    if status == "mismatch":
        return False, None
    if status == "ok":
        return True, reply["result"]
    if status == "callset_error":
        raise CallsetError(reply["message"])
    raise SessionError(f"{target} failed in the shared Hail session:\n{reply['message']}")


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


def _run_job(msg: Mapping[str, Any], hail_log: Path) -> dict[str, Any]:
    from callset.core.logs import setup_logging

    setup_logging(msg["log"])  # this job's log file (stderr is the server log)
    offset = hail_log.stat().st_size if hail_log.exists() else 0
    os.chdir(msg["cwd"])
    try:
        result = resolve_target(msg["target"])(**msg["kwargs"])
        try:
            pickle.dumps(result)
        except Exception:  # noqa: BLE001 - results are informative only; the outputs are on disk
            result = None
        return {"status": "ok", "result": result}
    except CallsetError as e:
        return {"status": "callset_error", "message": str(e)}
    except Exception:  # noqa: BLE001 - reported to the job, which fails; the server keeps serving
        text = traceback.format_exc()
        log.error("%s", text)
        return {"status": "error", "message": text}
    finally:
        _copy_from(hail_log, offset, msg.get("hail_log"))
        setup_logging(None)


def _watch_client(conn: Connection, done: threading.Event, target: str, files: Mapping[str, Path]) -> None:
    """End the server if the job's client goes away (Snakemake killed or cancelled the job).

    A killed job must stop, as it did in its own process: left running it would keep writing outputs that
    Snakemake has marked incomplete, next to the rerun. The client sends nothing while it waits, so the
    connection becoming readable means it was closed. The JVM (a child of this process) exits with it.
    """
    while not done.wait(0.5):
        if conn.poll(0):
            if done.is_set():
                return
            log.error("the client of %s went away (job killed): stopping this Hail session", target)
            for f in (files["key"], files["sock"]):
                f.unlink(missing_ok=True)
            logging.shutdown()
            os._exit(3)


def serve(settings: Mapping[str, Any], *, idle: float = IDLE_SECONDS) -> None:
    """The server: start Hail with ``settings``, then run jobs one at a time until idle or stopped."""
    from callset.core.logs import setup_logging
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
                return
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
                    return
                if msg.get("settings") != dict(settings):
                    conn.send({"status": "mismatch"})
                    continue
                n += 1
                t0 = time.monotonic()
                done = threading.Event()
                threading.Thread(target=_watch_client, args=(conn, done, msg["target"], files),
                                 daemon=True).start()
                try:
                    reply = _run_job(msg, hail_log)
                finally:
                    done.set()
                log.info("job %d %s: %s in %.1f s", n, msg["target"], reply["status"], time.monotonic() - t0)
                with contextlib.suppress(OSError):
                    conn.send(reply)
    finally:
        listener.close()
        files["key"].unlink(missing_ok=True)
        files["sock"].unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        serve(json.loads(args[1]))
        return 0
    print("usage: python -m callset.runtime.hail_session serve SETTINGS_JSON", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
