"""Build the class-data-sharing archive of :mod:`callset.runtime.jvm_cds` (``make install``).

A child process runs a small Hail workload on two bundled demo gVCFs (combine, densify, write, export) with
``-XX:ArchiveClassesAtExit``; its JVM writes the archive when it exits.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hail as hl
from pyspark import SparkContext

from callset.joint_call.combine import combine
from callset.joint_call.intervals import intervals_expr
from callset.runtime.hail_setup import setup_hail
from callset.runtime.java import ensure_java_home
from callset.runtime.jvm_cds import DUMP_ENV, archive_path

log = logging.getLogger(__name__)


#: the bundled demo data, relative to the repository (``make install`` runs from its root)
DEMO_INBOX = Path("resources") / "demo" / "inbox"


def _demo_gvcfs(inbox: Path) -> list[Path]:
    return sorted(inbox.glob("*/*.g.vcf.gz"))[:2]


def training_workload(work: Path, inbox: Path = DEMO_INBOX) -> None:
    """What the pipeline's Hail jobs do, in small: load the classes they need into the dumping JVM."""
    setup_hail(cores=2, tmp_dir=work / "tmp", log_path=work / "hail.log")
    hl.utils.range_table(100, n_partitions=2).write(str(work / "range.ht"))
    gvcfs = _demo_gvcfs(inbox)
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

    gateway = SparkContext._gateway
    hl.stop()
    proc = getattr(gateway, "proc", None)
    if proc is not None:
        proc.stdin.close()  # the gateway JVM exits when its stdin closes
        proc.wait(timeout=600)


def build_archive(java_home: str | os.PathLike[str] | None = None, inbox: Path = DEMO_INBOX) -> Path | None:
    """Run :func:`training_workload` in a child process whose JVM dumps the archive; return its path.

    Returns None (and logs why) when the dump fails: Hail works without an archive, only starts slower.
    """
    home = Path(java_home) if java_home else ensure_java_home()
    final = archive_path(home)
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="callset-cds-") as tmp:
        dump = Path(tmp) / "archive.jsa"
        env = {**os.environ, DUMP_ENV: str(dump), "JAVA_HOME": str(home)}
        t0 = time.time()
        run = subprocess.run([sys.executable, "-m", "callset.runtime.jvm_cds_build", "--workload", tmp,
                              str(inbox.resolve())], env=env,
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
    """``python -m callset.runtime.jvm_cds_build [DEMO_INBOX]``: build the archive (``--workload DIR INBOX`` is the
    child's entry point)."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args[:1] == ["--workload"]:
        training_workload(Path(args[1]), Path(args[2]))
        _stop_and_wait()
        return 0
    path = build_archive(inbox=Path(args[0]) if args else DEMO_INBOX)
    print(path or "no archive (Hail starts without one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
