"""Start Hail on Spark the same way everywhere (rules, CLI, tests).

Spark settings come from the workflow config (``spark:`` block) through rule params; nothing here reads
the config file itself.
"""

from __future__ import annotations

import logging
import os
import shlex
from pathlib import Path
from typing import Any

from callset.java import ensure_java_home

log = logging.getLogger(__name__)


def spark_master(master: str, cores: int | None) -> str:
    """Turn ``local[*]`` into ``local[cores]`` when Snakemake gave the job a thread count."""
    if cores and master.startswith("local"):
        return f"local[{cores}]"
    return master


def setup_hail(
    *,
    master: str = "local[*]",
    cores: int | None = None,
    driver_memory: str = "4g",
    tmp_dir: str | os.PathLike[str] = "/tmp/callset-hail",
    log_path: str | os.PathLike[str] | None = None,
    spark_conf: dict[str, Any] | None = None,
    reference_genome: str = "GRCh38",
    quiet: bool = True,
) -> None:
    """Initialise Hail once per process (no-op if already running).

    :param master: Spark master URL (``local[*]``, ``spark://host:7077``, ``yarn``).
    :param cores: job threads; turns ``local[*]`` into ``local[cores]``.
    :param driver_memory: JVM heap for the driver (passed at JVM start, where it takes effect).
    :param tmp_dir: Hail temporary directory on real disk.
    :param log_path: this job's Hail log file (one per rule).
    :param spark_conf: extra Spark properties (executor memory/cores for clusters, ...).
    :param reference_genome: default reference genome for loci.
    """
    import hail as hl
    from hail.utils.java import Env

    if Env._hc is not None:  # already initialised (e.g. the pytest session); hl.current_backend() would
        return  # start a default context instead of telling us
    ensure_java_home()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("HAIL_QUERY_BACKEND", "spark")
    submit = f"--driver-memory {shlex.quote(driver_memory)} pyspark-shell"
    os.environ["PYSPARK_SUBMIT_ARGS"] = submit
    Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    local_tmp = Path(tmp_dir) / "local"
    local_tmp.mkdir(parents=True, exist_ok=True)
    conf = {"spark.driver.memory": driver_memory, "spark.ui.enabled": "false"}
    conf.update({k: str(v) for k, v in (spark_conf or {}).items()})
    m = spark_master(master, cores)
    log.info("starting Hail: master=%s driver_memory=%s tmp_dir=%s", m, driver_memory, tmp_dir)
    hl.init(
        master=m,
        tmp_dir=str(tmp_dir),
        local_tmpdir=str(local_tmp),
        log=str(log_path) if log_path else str(Path(tmp_dir) / "hail.log"),
        spark_conf=conf,
        quiet=quiet,
        global_seed=0,
    )
    hl.default_reference(reference_genome)
