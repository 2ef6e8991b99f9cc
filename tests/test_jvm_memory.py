"""The Hail driver JVM's memory outside the heap (callset.runtime.jvm_memory; issue 18's peak RSS).

How much memory the release takes at scale is measured by benchmarks/scale_e2e.py; here: that the remedies are
in place where the work runs (the driver JVM gets the trim option when its JDK has it; a BGEN export collects
the garbage Hail's zlib compression leaves while it runs) and change nothing in what is written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callset.runtime import jvm_memory
from callset.runtime.java import ensure_java_home


def _gc_count(hl) -> int:  # noqa: ANN001
    from pyspark import SparkContext

    beans = SparkContext._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    return sum(b.getCollectionCount() for b in beans)


def test_trim_option_only_for_a_jdk_that_has_it(tmp_path: Path) -> None:
    assert jvm_memory.trim_native_heap_option(str(ensure_java_home())) == (
        f"-XX:TrimNativeHeapInterval={jvm_memory.TRIM_INTERVAL_MS}")
    old = tmp_path / "old-jdk"
    (old / "bin").mkdir(parents=True)
    java = old / "bin" / "java"
    # what a JDK without the option does: "Unrecognized VM option", exit 1
    java.write_text("#!/bin/sh\necho 'Unrecognized VM option' >&2\nexit 1\n")
    java.chmod(0o755)
    assert jvm_memory.trim_native_heap_option(str(old)) == ""
    assert jvm_memory.trim_native_heap_option(str(tmp_path / "no-jdk")) == ""


def test_driver_jvm_returns_freed_native_memory(hail_session) -> None:
    from pyspark import SparkContext

    cmdline = Path(f"/proc/{SparkContext._gateway.proc.pid}/cmdline").read_bytes().split(b"\0")
    assert f"-XX:TrimNativeHeapInterval={jvm_memory.TRIM_INTERVAL_MS}".encode() in cmdline


def test_bgen_export_collects_hail_zlib_state_as_it_goes(hail_session, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """While a BGEN export runs the driver JVM collects every interval (each collection frees the zlib state of
    the Deflaters Hail made so far); the file is the same as one written without it."""
    hl = hail_session
    from callset.release.exports import export_shard

    mt = hl.balding_nichols_model(3, 40, 6000, n_partitions=4, reference_genome="GRCh38")
    mt = mt.key_cols_by(s=hl.str(mt.sample_idx)).select_cols().select_rows().select_globals()
    mt = mt.checkpoint(str(tmp_path / "in.mt"))
    monkeypatch.setattr(jvm_memory, "COLLECT_INTERVAL_S", 0.05)

    def collections(stem: str) -> int:
        before = _gc_count(hl)
        export_shard(mt, tmp_path, f"{stem}/shard", formats=["bgen"])
        return _gc_count(hl) - before

    local = jvm_memory._local_driver_jvm
    monkeypatch.setattr(jvm_memory, "_local_driver_jvm", lambda: None)  # what a cluster driver gets: nothing
    unguarded = collections("without")
    monkeypatch.setattr(jvm_memory, "_local_driver_jvm", local)
    guarded = collections("with")
    # the export takes ~1 s here: ~20 collections at 0.05 s (Hail's own allocation makes ~2)
    assert guarded >= unguarded + 5, f"{guarded} collections during the export, {unguarded} without the guard"

    a, b = (tmp_path / d / "shard.bgen" for d in ("with", "without"))
    assert a.read_bytes() == b.read_bytes()
    got = hl.import_bgen(str(a), ["GT"], sample_file=str(tmp_path / "with" / "shard.sample"))
    assert got.count() == (6000, 40)
