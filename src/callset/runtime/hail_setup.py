"""Start Hail on Spark the same way everywhere (rules, CLI, tests).

Spark settings come from the workflow config (``spark:`` block) through rule params; nothing here reads
the config file itself.
"""

from __future__ import annotations

import logging
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any

from callset.runtime.java import ensure_java_home
from callset.runtime.jvm_cds import driver_java_options
from callset.runtime.jvm_memory import trim_native_heap_option

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
    executor_memory: str | None = None,
    executor_cores: int | None = None,
    executor_instances: int | None = None,
    app_name: str | None = None,
    shared_session: bool = False,
) -> None:
    """Initialise Hail once per process (no-op if already running).

    :param master: Spark master URL (``local[*]``, ``spark://host:7077``, ``yarn``).
    :param cores: job threads; turns ``local[*]`` into ``local[cores]``.
    :param driver_memory: JVM heap for the driver (passed at JVM start, where it takes effect).
    :param tmp_dir: Hail temporary directory on real disk.
    :param log_path: this job's Hail log file (one per rule).
    :param spark_conf: extra Spark properties (executor memory/cores for clusters, ...).
    :param reference_genome: default reference genome for loci.
    :param executor_memory: ``spark.executor.memory`` on a cluster (not applied if None; ignored by local[*]).
    :param executor_cores: ``spark.executor.cores`` on a cluster (not applied if None).
    :param executor_instances: ``spark.executor.instances`` (YARN/Kubernetes; not applied if None).
    :param app_name: Spark application name shown by the master/YARN (default ``callset``).
    :param shared_session: accepted so that a rule's ``params.spark`` can be passed as is; the shared session
        itself is :func:`callset.runtime.smk.run_hail`'s business.
    """
    import hail as hl
    from hail.utils.java import Env

    if Env._hc is not None:  # already initialised (e.g. the pytest session); hl.current_backend() would
        return  # start a default context instead of telling us
    java_home = ensure_java_home()
    m = spark_master(master, cores)
    if m.startswith("local"):
        # loopback only for an embedded Spark; on a cluster executors must reach the driver's real address
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("HAIL_QUERY_BACKEND", "spark")
    submit = f"--driver-memory {shlex.quote(driver_memory)}"
    # the class-data-sharing archive, when make install built one; freed native memory returned to the system
    cds, trim = driver_java_options(java_home), trim_native_heap_option(java_home)
    java_opts = " ".join(o for o in (cds, trim) if o)
    if java_opts:
        submit += f" --driver-java-options {shlex.quote(java_opts)}"
    os.environ["PYSPARK_SUBMIT_ARGS"] = submit + " pyspark-shell"
    tmp, local_tmp = hail_tmp_dirs(tmp_dir)
    conf = spark_conf_for(
        driver_memory=driver_memory, executor_memory=executor_memory, executor_cores=executor_cores,
        executor_instances=executor_instances, spark_conf=spark_conf,
    )
    log.info(
        "starting Hail: master=%s driver_memory=%s tmp_dir=%s executors=%s class-data-sharing=%s",
        m, driver_memory, tmp, {k: v for k, v in conf.items() if k.startswith("spark.executor")} or "n/a",
        "on" if cds else "off",
    )
    hl.init(
        master=m,
        app_name=app_name or "callset",
        tmp_dir=tmp,
        local_tmpdir=local_tmp,
        log=str(log_path) if log_path else str(Path(local_tmp) / "hail.log"),
        spark_conf=conf,
        quiet=quiet,
        global_seed=0,
    )
    hl.default_reference(reference_genome)
    if not m.startswith("local"):
        # the application to look for in the cluster's UI, history server or event logs
        sc = hl.spark_context()
        log.info("Spark application %s on %s", sc.applicationId, sc.master)


def is_remote_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a URL Hail reads through Hadoop (gs://, s3a://, hdfs://, abfss://), not a local path."""
    return "://" in str(path) and not str(path).startswith("file://")


def hail_tmp_dirs(tmp_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """(Hail tmp_dir, local tmp dir). Local folders are created; a remote tmp_dir (shared by all executors on a
    cluster, e.g. ``gs://bucket/tmp``) is used as is, with the node-local scratch under the system temp folder."""
    if is_remote_path(tmp_dir):
        local = Path(tempfile.gettempdir()) / "callset-hail-local"
        local.mkdir(parents=True, exist_ok=True)
        return str(tmp_dir), str(local)
    tmp = Path(str(tmp_dir).removeprefix("file://"))
    local = tmp / "local"
    local.mkdir(parents=True, exist_ok=True)
    return str(tmp), str(local)


def spark_conf_for(
    *,
    driver_memory: str,
    executor_memory: str | None = None,
    executor_cores: int | None = None,
    executor_instances: int | None = None,
    spark_conf: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Spark properties for ``hl.init``: driver memory, UI off, executor sizing, then ``spark_conf`` on top.

    Hail adds its own jar to ``spark.jars`` and to the driver and executor class paths, and sets the Kryo
    serializer and its registrator, so none of that is needed here (docs/cluster.md).
    """
    conf = {"spark.driver.memory": driver_memory, "spark.ui.enabled": "false"}
    for key, value in (
        ("spark.executor.memory", executor_memory),
        ("spark.executor.cores", executor_cores),
        ("spark.executor.instances", executor_instances),
    ):
        if value is not None:
            conf[key] = str(value)
    conf.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (spark_conf or {}).items()})
    return conf
