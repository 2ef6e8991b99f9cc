"""Glue for Snakemake ``script:`` entry points: per-job logging and clean failures."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from callset.core.logs import setup_logging
from callset.errors import CallsetError

log = logging.getLogger("callset")


def run(snakemake: Any, main: Callable[[], None]) -> None:
    """Log to the job's first log file, run ``main`` and turn a CallsetError into one clear line + exit 1."""
    setup_logging(snakemake.log[0])
    log.info("rule %s started", snakemake.rule)
    try:
        main()
    except CallsetError as e:
        log.error("%s", e)
        sys.exit(1)
    log.info("rule %s finished", snakemake.rule)


def run_hail(snakemake: Any, target: str, **kwargs: Any) -> None:
    """Run the Hail step ``module:function(**kwargs)`` for a rule, logging like :func:`run`.

    With ``params.spark["shared_session"]`` (local runs, see :mod:`callset.runtime.hail_session`) the step runs in
    the workflow's shared Hail session; otherwise, or when that session has other Spark settings, Hail
    starts in this process.
    """
    from callset.runtime.hail_session import SessionStartError, resolve_target, run_in_session
    from callset.runtime.hail_setup import setup_hail

    def main() -> None:
        spark = dict(snakemake.params.spark)
        if spark.pop("shared_session", False):
            try:
                ran, _ = run_in_session(target, kwargs, spark=spark, cores=snakemake.threads,
                                        log_path=snakemake.log[0], hail_log=snakemake.log.hail)
            except SessionStartError as e:
                log.warning("no shared Hail session (%s): starting Hail in this job", e)
                ran = False
            else:
                if not ran:
                    log.info("the shared Hail session has other Spark settings: starting Hail in this job")
            if ran:
                return
        setup_hail(cores=snakemake.threads, log_path=snakemake.log.hail, **spark)
        resolve_target(target)(**kwargs)

    run(snakemake, main)
