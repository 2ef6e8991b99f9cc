"""Logging set-up shared by scripts and the CLI: one log file per job, progress lines with times."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


class _LogFile(logging.FileHandler):
    """A job's log file. When it cannot be written (a full disk), that is said once on stderr, where every
    record still goes, instead of a "--- Logging error ---" traceback for each record."""

    _reported = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if not self._reported:
            self._reported = True
            exc = sys.exc_info()[1]
            try:
                sys.stderr.write(f"callset: cannot write to log file {self.baseFilename}: {exc}\n")
            except Exception:  # noqa: BLE001, S110 - nowhere left to report to
                pass


def setup_logging(log_file: str | Path | None = None, *, level: int = logging.INFO) -> None:
    """Send ``callset`` log records (and warnings) to ``log_file`` and to stderr."""
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        try:
            Path(log_file).parent.mkdir(parents=True, exist_ok=True)
            handlers.append(_LogFile(log_file))
        except OSError as e:  # e.g. no space for the log's folder: log to stderr only, and say so
            sys.stderr.write(f"callset: cannot open log file {log_file}: {e}\n")
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
        try:
            h.close()
        except OSError:  # the last records could not be flushed (a full disk): already said on stderr
            pass
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    logging.captureWarnings(True)
    for noisy in ("py4j", "asyncio", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
