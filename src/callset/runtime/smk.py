"""Glue for Snakemake ``script:`` entry points: per-job logging and clean failures."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callset.core.logs import setup_logging
from callset.errors import CallsetError

log = logging.getLogger("callset")


def _job_paths(snakemake: Any) -> list[str]:
    """The job's outputs, logs and Spark tmp dir: where a full disk would be."""
    from callset.runtime.faults import job_paths

    spark = dict(getattr(snakemake.params, "spark", None) or {})
    return job_paths({"out": list(snakemake.output), "log": list(snakemake.log)}, spark.get("tmp_dir"))


def failure_note(job_log: str | os.PathLike[str]) -> Path:
    """Where a failed job also leaves its one-line reason: the host's temp dir, so that the end of the run can
    say it even when the job's log could not be written (a full results disk)."""
    key = hashlib.sha1(os.path.abspath(os.fspath(job_log)).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"callset-{os.getuid()}-job-{key}.failed"


def _fail(snakemake: Any, line: str) -> None:
    log.error("%s", line)
    with contextlib.suppress(OSError):
        failure_note(snakemake.log[0]).write_text(line + "\n")
    sys.exit(1)


def run(snakemake: Any, main: Callable[[], None]) -> None:
    """Log to the job's first log file, run ``main``; a failure ends the job with exit 1 and, as the job's
    last log line, one line saying why: a CallsetError's message, or for any other error the fault behind it
    when one is found (:func:`callset.runtime.faults.root_cause`: full disk, out of memory, a killed JVM), else the
    exception's first line. The traceback (or the shared session's details) is logged before that line."""
    setup_logging(snakemake.log[0])
    failure_note(snakemake.log[0]).unlink(missing_ok=True)
    log.info("rule %s started", snakemake.rule)
    try:
        main()
    except CallsetError as e:
        details = getattr(e, "details", "")
        if details:
            log.error("%s", details)
        _fail(snakemake, str(e))
    except Exception as e:  # noqa: BLE001 - a fault: say which one, keep the traceback in the log
        from callset.runtime.faults import first_line, jvm_exit, lost_connection, read_tail, root_cause

        log.error("%s", traceback.format_exc())
        hail_log = getattr(snakemake.log, "hail", None)
        cause = root_cause(e, texts=[read_tail(hail_log)], exits=[jvm_exit(wait=2.0 if lost_connection(e) else 0.5)],
                           paths=_job_paths(snakemake))
        _fail(snakemake, f"rule {snakemake.rule} failed: {cause or first_line(e)}")
    log.info("rule %s finished", snakemake.rule)


def run_hail(snakemake: Any, target: str, **kwargs: Any) -> None:
    """Run the Hail step ``module:function(**kwargs)`` for a rule, logging like :func:`run`.

    With ``params.spark["shared_session"]`` (local runs, see :mod:`callset.runtime.hail_session`) the step runs in
    the workflow's shared Hail session; otherwise, or when that session has other Spark settings, Hail
    starts in this process. A step that reads the cohort (``cohort_step=``) first checks, without Hail,
    that the cohort has a sample (:func:`callset.core.cohort.require_cohort_samples`).
    """
    from callset.runtime.faults import watch_jvm
    from callset.runtime.hail_session import SessionStartError, resolve_target, run_in_session
    from callset.runtime.hail_setup import setup_hail

    def main() -> None:
        if kwargs.get("cohort_step"):
            from callset.core.cohort import require_cohort_samples

            require_cohort_samples(kwargs["cohort_step"])
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
        watching = watch_jvm(lambda ended: _jvm_died(snakemake, ended))
        try:
            resolve_target(target)(**kwargs)
        finally:
            watching.set()

    run(snakemake, main)


def _jvm_died(snakemake: Any, ended: Any) -> None:
    """This job's JVM died while Hail worked (Hail would retry it for ever): say why and end the job."""
    from callset.runtime.faults import read_tail, root_cause

    cause = root_cause(None, texts=[read_tail(getattr(snakemake.log, "hail", None))], exits=[ended],
                       paths=_job_paths(snakemake)) or ended.describe()
    line = f"rule {snakemake.rule} failed: {cause}"
    log.error("%s", line)
    with contextlib.suppress(OSError):
        failure_note(snakemake.log[0]).write_text(line + "\n")
    logging.shutdown()
    os._exit(1)


def failure_summary(snakemake_log: str | list[str] | None, logs_dir: str | Path) -> str:
    """The end of a failed run: one line per failed job, ``callset: run failed: rule <rule>: <why>``.

    The failed jobs and their logs come from Snakemake's own log of the run (its "Error in rule" blocks); the
    reason is the job log's last ERROR line (what :func:`run` logs last: the one-line cause). Without them,
    the line points at the per-rule logs.
    """
    paths = [snakemake_log] if isinstance(snakemake_log, str) else list(snakemake_log or [])
    failed: list[tuple[str, str | None]] = []
    for p in paths:
        try:
            lines = Path(p).read_text(errors="replace").splitlines()
        except OSError:
            continue
        rule = None
        for line in lines:
            m = re.match(r"Error in rule (\S+?):?$", line.strip())
            if m:
                rule = m.group(1)
                failed.append((rule, None))
            elif rule and line.strip().startswith("log: "):
                first = line.strip()[5:].split(" (check log")[0].split(", ")[0]
                failed[-1] = (rule, first)
                rule = None
    out = []
    for rule, job_log in dict.fromkeys(failed):
        why = _last_error(job_log) if job_log else None
        out.append(f"callset: run failed: rule {rule}: {why or f'see {job_log or logs_dir}'}")
    return "\n".join(out) or f"callset: run failed; per-rule logs are under {logs_dir}/"


def _last_error(job_log: str) -> str | None:
    """The one-line reason :func:`run` gave for the job's failure (its note, else its log's last such line)."""
    try:
        lines = failure_note(job_log).read_text(errors="replace").splitlines()[:1]
    except OSError:
        try:
            lines = [m.group(1) for ln in Path(job_log).read_text(errors="replace").splitlines()
                     if (m := re.match(r"^\S+ \S+ ERROR callset: (.*)$", ln))][-1:]
        except OSError:
            return None
    return re.sub(r"^rule \S+ failed: ", "", lines[0]).strip() if lines else None
