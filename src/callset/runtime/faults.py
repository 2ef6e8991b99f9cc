"""Name the root cause of a failed job: a full disk, memory, a killed process.

A Hail job that dies from a fault ends in a long Python and Java traceback, or in "the Hail session server
died", whose last lines rarely say why. The cause is further in: in the Python exception chain (an
``OSError`` with its errno and file name), in the Java stack trace Hail attaches to its errors, in the Hail
log of the job, or in the exit status of the process that died (the JVM, the session server).
:func:`root_cause` looks in all of these for the faults an operator can act on and returns one line:

- ``No space left on device`` (or a disk quota), with the file when the error names it, and the file system
  of the job's paths that has the least space left;
- the JVM out of memory (``java.lang.OutOfMemoryError``, or Spark's out-of-memory exit code 52), or Python's
  ``MemoryError``;
- a process (the Java VM, the session server) killed by a signal, e.g. ``SIGKILL`` from the kernel's
  out-of-memory killer, or ended with an exit code.

Nothing here starts Hail or Spark.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Spark's exit code for a JVM that died of an uncaught OutOfMemoryError (SparkExitCode.OOM)
SPARK_OOM_EXIT = 52
#: how much of a log is scanned (its end): causes are near the failure, logs can be large
SCAN_BYTES = 4 << 20

_DISK_FULL = re.compile(r"No space left on device|Disk quota exceeded|\[Errno (?:28|122)\]")
_JAVA_OOM = re.compile(r"java\.lang\.OutOfMemoryError(?::[ \t]*([^\r\n]*))?")
_PY_MEMORY = re.compile(r"^MemoryError\b", re.MULTILINE)


@dataclass(frozen=True)
class ProcessExit:
    """How a process ended: ``returncode`` as :mod:`subprocess` gives it (``-N``: killed by signal N)."""

    what: str
    pid: int | None
    returncode: int

    def describe(self) -> str:
        who = f"{self.what} (pid {self.pid})" if self.pid else self.what
        rc = self.returncode
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            hint = ""
            if -rc == signal.SIGKILL:
                hint = " (the kernel's out-of-memory killer sends SIGKILL, as does `kill -9`; see `dmesg`)"
            return f"{who} was killed by {name}{hint}"
        if rc == SPARK_OOM_EXIT:
            return f"{who} ran out of memory (exit code {rc}, Spark's OutOfMemoryError exit): raise spark.driver_memory"
        return f"{who} exited with code {rc}"


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and its ``__cause__``/``__context__`` chain (each once)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def read_tail(path: str | os.PathLike[str] | None, *, offset: int = 0, limit: int = SCAN_BYTES) -> str:
    """The end of a text file from byte ``offset`` (at most ``limit`` bytes); '' when it cannot be read."""
    if not path:
        return ""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(offset, size - limit))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _existing(path: str | os.PathLike[str]) -> Path | None:
    p = Path(path).absolute()
    for q in (p, *p.parents):
        if q.exists():
            return q
    return None


def mount_point(path: Path) -> Path:
    """The top folder of ``path``'s file system (where the device changes)."""
    dev = path.stat().st_dev
    while path.parent != path:
        try:
            if path.parent.stat().st_dev != dev:
                break
        except OSError:
            break
        path = path.parent
    return path


def fullest_filesystem(paths: Iterable[str | os.PathLike[str]]) -> str | None:
    """``"<mount point> has <free> free of <size>"`` for the file system, among those holding ``paths``, with the
    least space left."""
    best: tuple[float, Path, int, int] | None = None
    devices: set[int] = set()
    for raw in paths:
        p = _existing(raw)
        if p is None:
            continue
        try:
            dev = p.stat().st_dev
            if dev in devices:
                continue
            devices.add(dev)
            st = os.statvfs(p)
            top = mount_point(p)
        except OSError:
            continue
        total, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
        if total <= 0:
            continue
        frac = free / total
        if best is None or frac < best[0]:
            best = (frac, top, free, total)
    if best is None:
        return None
    _, top, free, total = best
    return f"{top} has {_human(free)} free of {_human(total)}"


def _disk_full(excs: list[BaseException], texts: list[str], paths: list[str]) -> str | None:
    filename = None
    hit = False
    for e in excs:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            hit = True
            filename = filename or e.filename
    hit = hit or any(_DISK_FULL.search(t) for t in texts)
    if not hit:
        return None
    what = "Disk quota exceeded" if any("quota" in t.lower() for t in texts) else "No space left on device"
    where = fullest_filesystem([filename, *paths] if filename else paths)
    if filename:
        return f"{what} writing {filename}" + (f" ({where})" if where else "")
    return f"{what}" + (f": {where}" if where else "")


def _out_of_memory(excs: list[BaseException], texts: list[str]) -> str | None:
    for t in texts:
        m = _JAVA_OOM.search(t)
        if m:
            kind = (m.group(1) or "").strip()
            detail = f"java.lang.OutOfMemoryError: {kind}" if kind else "java.lang.OutOfMemoryError"
            return f"Java ran out of memory ({detail[:200]}): raise spark.driver_memory"
    if any(isinstance(e, MemoryError) for e in excs) or any(_PY_MEMORY.search(t) for t in texts):
        return "Python ran out of memory (MemoryError)"
    return None


def root_cause(
    exc: BaseException | None = None,
    *,
    texts: Iterable[str] = (),
    exits: Iterable[ProcessExit | None] = (),
    paths: Iterable[str | os.PathLike[str] | None] = (),
) -> str | None:
    """One line naming the fault behind a failure, or None when none of the known faults is seen.

    :param exc: the exception the job failed with (its whole chain and its text are searched).
    :param texts: more evidence: the job's part of the Hail log, a server's own log or error output.
    :param exits: how the processes the job depended on ended (None: still running or unknown).
    :param paths: the job's outputs, logs and temporary folders: on a full disk, the one with the least
        space left is named.
    """
    excs = list(exception_chain(exc))
    all_texts = [f"{type(e).__name__}: {e}" for e in excs] + [t for t in texts if t]
    plain_paths = [str(p) for p in paths if p]
    ended = [e for e in exits if e is not None]
    disk = _disk_full(excs, all_texts, plain_paths)
    if disk:
        return disk
    oom = _out_of_memory(excs, all_texts)
    if oom:
        return oom
    if ended:
        return ended[0].describe()
    return None


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (Hail's errors carry a Java stack trace after the first line)."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    if lines and lines[0].startswith("An error occurred while calling"):  # Py4J: the Java exception follows
        lines = [ln.removeprefix(": ") for ln in lines if ln.startswith(": ")] or lines
    return f"{type(exc).__name__}: {lines[0]}"[:400] if lines else type(exc).__name__


def jvm_exit(*, wait: float = 0.0) -> ProcessExit | None:
    """How this process's Spark JVM ended (None: running, or no JVM was started here).

    ``wait`` gives a JVM whose connection just broke a moment to be reaped (its sockets close as it dies,
    slightly before its exit status is there).
    """
    import sys

    if "pyspark" not in sys.modules:
        return None
    from pyspark import SparkContext

    proc = getattr(SparkContext._gateway, "proc", None)
    if proc is None:
        return None
    deadline = time.monotonic() + wait
    while True:
        rc = proc.poll()
        if rc is not None:
            return ProcessExit("the Java VM", proc.pid, rc)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def watch_jvm(on_exit: Callable[[ProcessExit], None], *, interval: float = 0.5) -> threading.Event:
    """Call ``on_exit`` (in a daemon thread) if this process's Spark JVM ends before the returned event is set.

    Hail retries a refused connection to a dead JVM for ever; a job or command that watches its JVM can say
    what happened and exit instead of hanging. Set the event when the work is done (Python's exit may stop
    the JVM first).
    """
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            ended = jvm_exit()
            if ended is not None and not stop.is_set():
                on_exit(ended)
                return

    threading.Thread(target=loop, daemon=True, name="callset-jvm-watch").start()
    return stop


def lost_connection(exc: BaseException | None) -> bool:
    """Whether the failure looks like the JVM went away (a broken connection to it)."""
    for e in exception_chain(exc):
        if isinstance(e, ConnectionError | EOFError | BrokenPipeError):
            return True
        if type(e).__name__ in ("Py4JNetworkError", "RemoteDisconnected", "IncompleteRead"):
            return True
        if "Answer from Java side is empty" in str(e):
            return True
    return False


def job_paths(kwargs: Mapping[str, Any], *extra: str | os.PathLike[str] | None) -> list[str]:
    """Absolute file paths among a job's arguments (its inputs and outputs), plus ``extra``."""
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str | os.PathLike):
            s = os.fspath(v)
            if isinstance(s, str) and s.startswith("/") and "\n" not in s:
                out.append(s)
        elif isinstance(v, Mapping):
            for x in v.values():
                walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    walk(dict(kwargs))
    out.extend(os.path.abspath(os.fspath(p)) for p in extra if p)
    return out
