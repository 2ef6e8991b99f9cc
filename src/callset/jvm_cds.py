"""A class-data-sharing (AppCDS) archive for the Hail driver JVM: faster start of every Hail job.

Each Snakemake Hail rule is its own process and starts its own JVM, which loads and verifies ~20k Spark
and Hail classes before the first query (measured here: ``hl.init`` 5.0 s -> 3.4 s and the first query
2.4 s -> 1.5 s with an archive). Java 17 can dump the classes one run loaded into an archive
(``-XX:ArchiveClassesAtExit``) and map them into later JVMs (``-XX:SharedArchiveFile``).

``make install`` builds the archive once (``python -m callset.jvm_cds``) by running a small Hail workload
with the bundled demo gVCFs (combine, densify, write, export), so the classes those need are in it.
:func:`driver_java_options` is what :func:`callset.hail_setup.setup_hail` passes to the driver JVM.

The archive is tied to the exact JDK and class path (Java checks both and ignores an archive that does not
match, which only costs the saving); its file name carries the JDK, Hail and PySpark versions, so an upgrade
simply finds no archive until ``make install`` builds a new one. ``CALLSET_CDS=0`` turns it off.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

log = logging.getLogger(__name__)

#: environment: ``0`` disables the archive; set to a path by :func:`build_archive` for the dumping run
CDS_ENV = "CALLSET_CDS"
DUMP_ENV = "CALLSET_CDS_DUMP"
#: keep Java's CDS messages (e.g. "Pre JDK 6 class not supported" at dump) out of job logs
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def archive_path(java_home: str | os.PathLike[str]) -> Path:
    """Where the archive for this JDK and these Hail/PySpark versions lives (inside the virtualenv)."""
    jdk = Path(os.path.realpath(java_home)).name
    name = f"hail-{version('hail')}-pyspark-{version('pyspark')}-{jdk}.jsa"
    return Path(sys.prefix) / "share" / "callset" / name


def driver_java_options(java_home: str | os.PathLike[str]) -> str:
    """JVM options for the Hail driver: use the archive if one was built, dump one during :func:`build_archive`."""
    dump = os.environ.get(DUMP_ENV)
    if dump:
        return f"-XX:ArchiveClassesAtExit={shlex.quote(dump)} {QUIET}"
    if os.environ.get(CDS_ENV, "1") == "0":
        return ""
    path = archive_path(java_home)
    if not path.is_file():
        return ""
    return f"-XX:SharedArchiveFile={shlex.quote(str(path))} {QUIET}"


def _demo_gvcfs() -> list[Path]:
    root = Path(__file__).resolve().parents[2] / "resources" / "demo" / "inbox"
    return sorted(root.glob("*/*.g.vcf.gz"))[:2]


def training_workload(work: Path) -> None:
    """What the pipeline's Hail jobs do, in small: load the classes they need into the dumping JVM."""
    import hail as hl

    from callset.hail_setup import setup_hail
    from callset.joint_call import combine, intervals_expr

    setup_hail(cores=2, tmp_dir=work / "tmp", log_path=work / "hail.log")
    hl.utils.range_table(100, n_partitions=2).write(str(work / "range.ht"))
    gvcfs = _demo_gvcfs()
    if len(gvcfs) < 2:
        log.warning("no bundled demo gVCFs: the archive covers Hail start-up only")
        return
    combine(gvcf_paths=[str(p) for p in gvcfs], output_path=str(work / "vds"), work_dir=str(work / "combiner"),
            intervals=intervals_expr([("chr22", 10_500_001, 11_000_001)], "GRCh38"), branch_factor=100)
    vds = hl.vds.read_vds(str(work / "vds"))
    mt = hl.vds.to_dense_mt(vds)
    mt = mt.annotate_entries(GT=hl.vds.lgt_to_gt(mt.LGT, mt.LA)).select_entries("GT", "DP", "GQ")
    mt = hl.variant_qc(hl.split_multi_hts(mt.select_rows()))
    mt.write(str(work / "dense.mt"))
    mt = hl.read_matrix_table(str(work / "dense.mt"))
    mt.rows().select("variant_qc").export(str(work / "rows.tsv.bgz"))
    hl.export_vcf(mt.select_rows().select_entries("GT"), str(work / "out.vcf.bgz"), tabix=True)
    mt.aggregate_cols(hl.agg.count())


def _stop_and_wait() -> None:
    """Stop Hail and wait for the JVM to exit: it writes the archive on its way out."""
    import hail as hl
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    hl.stop()
    proc = getattr(gateway, "proc", None)
    if proc is not None:
        proc.stdin.close()  # the gateway JVM exits when its stdin closes
        proc.wait(timeout=600)


def build_archive(java_home: str | os.PathLike[str] | None = None) -> Path | None:
    """Run :func:`training_workload` in a child process whose JVM dumps the archive; return its path.

    Returns None (and logs why) when the dump fails: Hail works without an archive, only starts slower.
    """
    from callset.java import ensure_java_home

    home = Path(java_home) if java_home else ensure_java_home()
    final = archive_path(home)
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="callset-cds-") as tmp:
        dump = Path(tmp) / "archive.jsa"
        env = {**os.environ, DUMP_ENV: str(dump), "JAVA_HOME": str(home)}
        t0 = time.time()
        run = subprocess.run([sys.executable, "-m", "callset.jvm_cds", "--workload", tmp], env=env,
                             capture_output=True, text=True)
        if run.returncode != 0 or not dump.is_file() or dump.stat().st_size == 0:
            log.warning("class-data-sharing archive not built (exit %s): %s", run.returncode,
                        (run.stderr or run.stdout).strip().splitlines()[-1:] or "no archive written")
            return None
        os.replace(dump, final)
    log.info("class-data-sharing archive %s (%.0f MB) built in %.0f s", final, final.stat().st_size / 1e6,
             time.time() - t0)
    return final


def main(argv: list[str] | None = None) -> int:
    """``python -m callset.jvm_cds``: build the archive (``--workload DIR`` is the child's entry point)."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args[:1] == ["--workload"]:
        training_workload(Path(args[1]))
        _stop_and_wait()
        return 0
    path = build_archive()
    print(path or "no archive (Hail starts without one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
