"""Glue for Snakemake ``script:`` entry points: per-job logging and clean failures."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from callset.errors import CallsetError
from callset.logs import setup_logging

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
