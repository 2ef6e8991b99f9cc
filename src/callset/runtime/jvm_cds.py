"""A class-data-sharing (AppCDS) archive for the Hail driver JVM: faster start of every Hail job.

Each Snakemake Hail rule is its own process and starts its own JVM, which loads and verifies ~20k Spark
and Hail classes before the first query (measured here: ``hl.init`` 5.0 s -> 3.4 s and the first query
2.4 s -> 1.5 s with an archive). Java 17 can dump the classes one run loaded into an archive
(``-XX:ArchiveClassesAtExit``) and map them into later JVMs (``-XX:SharedArchiveFile``).

``make install`` builds the archive once (``python -m callset.runtime.jvm_cds_build``, which runs a small Hail
workload with the bundled demo gVCFs: combine, densify, write, export, so the classes those need are in it).
:func:`driver_java_options` is what :func:`callset.runtime.hail_setup.setup_hail` passes to the driver JVM; this
module stays free of Hail imports so that Hail's start-up code can use it.

The archive is tied to the exact JDK and class path (Java checks both and ignores an archive that does not
match, which only costs the saving); its file name carries the JDK, Hail and PySpark versions, so an upgrade
simply finds no archive until ``make install`` builds a new one. ``CALLSET_CDS=0`` turns it off.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
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
