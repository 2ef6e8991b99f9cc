"""Keep the Hail driver JVM's memory outside the Java heap in check (issue 18: peak RSS at scale).

What was measured (250 simulated genomes, release of 123,626 variants, 2 cores): the session's JVM, heap capped
at 4 GiB and ~0.3 GiB of it live, reached **8.5-8.9 GiB resident**, all of it anonymous memory outside what the
JVM's own native-memory tracking accounts for, for the few seconds of the ACAF callset's BGEN export. Hail 0.2.138
compresses each variant's BGEN genotype block with a new ``java.util.zip.Deflater`` that it never ends
(``is.hail.utils.CompressionUtils.compressZlib``): each keeps ~300 KB of zlib state outside the heap until a
garbage collection finds the Deflater unreachable, and the export allocates so little on the heap that
collections are rare while it runs. Alone on the same 83,520 variants x 241 samples: 5-7.5 GiB resident with
zlib, 0.9 GiB with ``compression_codec="zstd"`` (one-shot compression, nothing left behind).

Two remedies, both here:

- :func:`collecting_native_garbage`: while a BGEN export runs on an embedded Spark (whose tasks run in this
  driver JVM), ask the JVM for a collection every ``interval`` seconds so the Deflaters' zlib state is freed as
  it goes (measured alone: peak 5.1 -> 1.7 GiB at 0.25 s, export 8.7 -> 11.8 s);
- :func:`trim_native_heap_option`: the JVM option that returns freed native memory to the system every few
  seconds (``-XX:TrimNativeHeapInterval``: this machine's OpenJDK 17.0.15 has it, older
  JDKs do not, hence the probe); without it glibc keeps what the zlib state
  freed mapped, and the process stays at its peak for the rest of the session.

On a cluster the executors' JVMs do the compression, out of this process's reach: give them memory overhead
(``spark.executor.memoryOverhead``) for it (docs/cluster.md).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

#: how often (ms) the JVM returns freed native memory to the system
TRIM_INTERVAL_MS = 2000
#: how often (s) to collect while a native-memory-hungry export runs
COLLECT_INTERVAL_S = 0.25


@functools.lru_cache(maxsize=8)
def trim_native_heap_option(java_home: str | os.PathLike[str]) -> str:
    """``-XX:TrimNativeHeapInterval=...`` if this JDK has the option (it refuses to start on an unknown one), else
    an empty string."""
    opt = f"-XX:TrimNativeHeapInterval={TRIM_INTERVAL_MS}"
    java = Path(java_home) / "bin" / "java"
    try:
        ok = subprocess.run([str(java), opt, "-version"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        log.debug("%s does not take %s: freed native memory stays mapped", java, opt)
    return opt if ok else ""


def _local_driver_jvm():  # noqa: ANN202 - py4j JVM view, or None
    """The py4j view of this process's Spark driver JVM when Spark runs embedded (``local[...]``), else None."""
    import sys

    if "pyspark" not in sys.modules:
        return None
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None or not str(sc.master).startswith("local"):
        return None
    return SparkContext._jvm


@contextlib.contextmanager
def collecting_native_garbage(interval: float | None = None, *, why: str = "") -> Iterator[None]:
    """Collect the driver JVM's garbage every ``interval`` seconds (default :data:`COLLECT_INTERVAL_S`) while the
    block runs (embedded Spark only; elsewhere a no-op): for Hail work that leaves native memory to be freed by the
    garbage collector."""
    every = COLLECT_INTERVAL_S if interval is None else interval
    jvm = _local_driver_jvm()
    if jvm is None:
        yield
        return
    stop = threading.Event()
    collections = 0

    def loop() -> None:
        nonlocal collections
        while not stop.wait(every):
            try:
                jvm.java.lang.System.gc()
                collections += 1
            except Exception:  # noqa: BLE001 - the JVM went away: the work itself will say so
                return

    t = threading.Thread(target=loop, daemon=True, name="callset-native-gc")
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=30)
        log.debug("%s: %d garbage collections to free native memory", why or "block", collections)
