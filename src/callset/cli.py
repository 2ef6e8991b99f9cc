"""The ``callset`` command: small operator and researcher tools around the workflow.

Subcommands: ``summary`` (print a release summary), ``simulate`` (cohort simulator), more per stage.
"""

from __future__ import annotations

import argparse
import logging
import sys

from callset.errors import CallsetError
from callset.logs import setup_logging


def _summary(args: argparse.Namespace) -> int:
    from callset.summary import release_summary

    print(release_summary(args.release_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callset", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="print the summary of a written release")
    s.add_argument("release_dir", help="e.g. results/releases/v1")
    s.set_defaults(func=_summary)
    try:
        from callset.simulate.cli import add_parser as add_simulate
    except ImportError:  # simulator not installed in this build
        pass
    else:
        add_simulate(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(None, level=logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args.func(args) or 0)
    except CallsetError as e:
        print(f"callset: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
