"""The ``callset`` command: small operator and researcher tools around the workflow.

Subcommands: ``summary`` (print a release summary), ``verify`` (check a release's integrity), ``query``
(one region of a release), ``simulate`` (cohort simulator), ``browser`` (public variant browser: ``build``,
``serve``), more per stage.

Exit codes: 0 done; 1 ``verify`` found problems in the release; 2 a usage or input error (a missing or
unfinished release folder, a region the reference lacks, a missing sample list, ...: one line on stderr,
found before any JVM starts); 3 the command failed from a fault (out of memory, a full disk, ...: one line
naming it; ``-v`` shows the traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from typing import Any

from callset.core.logs import setup_logging
from callset.errors import CallsetError
from callset.release.folder import finished_release

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_FAULT = 0, 1, 2, 3
_JVM_WATCH: list[threading.Event] = []


def _summary(args: argparse.Namespace) -> int:
    from callset.release.summary import release_summary

    finished_release(args.release_dir)
    print(release_summary(args.release_dir))
    return EXIT_OK


def _hail(args: argparse.Namespace) -> None:
    from callset.runtime.faults import watch_jvm
    from callset.runtime.hail_setup import setup_hail

    log_path = f"{args.tmp_dir}/hail.log"
    setup_hail(master=args.master, driver_memory=args.driver_memory, tmp_dir=args.tmp_dir, log_path=log_path)

    def died(ended: Any) -> None:  # Hail would retry a dead JVM for ever: say why and exit
        from callset.runtime.faults import read_tail, root_cause

        cause = root_cause(None, texts=[read_tail(log_path)], exits=[ended], paths=[args.tmp_dir]) or ended.describe()
        print(f"callset: failed: {_one_line(cause)}", file=sys.stderr, flush=True)
        os._exit(EXIT_FAULT)

    _JVM_WATCH.append(watch_jvm(died))


def _verify(args: argparse.Namespace) -> int:
    finished_release(args.release_dir)  # before Hail is imported or its JVM starts
    from callset.release.verify import verify_release

    if not args.no_hail:
        _hail(args)
    problems = verify_release(args.release_dir, open_with_hail=not args.no_hail)
    for p in problems:
        print(f"PROBLEM: {p}")
    if problems:
        print(f"callset verify: {args.release_dir}: {len(problems)} problem(s)", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"callset verify: {args.release_dir}: OK")
    return EXIT_OK


def _query(args: argparse.Namespace) -> int:
    from callset.release.query import check_query, query_region, write_query

    finished_release(args.release)
    plan = check_query(args.release, args.region, out=args.out, samples_file=args.samples, callset=args.callset)
    for note in plan.notes:
        print(f"callset query: {note}", file=sys.stderr)
    _hail(args)
    mt = query_region(args.release, args.region, samples=plan.samples, callset=args.callset)
    kind = write_query(mt, args.out)
    print(f"callset query: {args.region} -> {args.out} ({kind})")
    return EXIT_OK


def _add_spark_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    p.add_argument("--driver-memory", default="2g", help="Hail driver heap (default 2g)")
    p.add_argument("--tmp-dir", default="/tmp/callset-hail", help="Hail temporary directory")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callset", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="print the summary of a written release")
    s.add_argument("release_dir", help="e.g. results/releases/v1")
    s.set_defaults(func=_summary)
    v = sub.add_parser("verify", help="check a release: checksums, unlisted/missing files, MT/VDS/VCF/PLINK/BGEN")
    v.add_argument("release_dir", help="e.g. results/releases/v1")
    v.add_argument("--no-hail", action="store_true", help="skip opening MatrixTables/VDS with Hail")
    _add_spark_args(v)
    v.set_defaults(func=_verify)
    q = sub.add_parser("query", help="write one region of a release (VCF or MT), reading only overlapping shards")
    q.add_argument("--release", required=True, help="release directory, e.g. results/releases/v1")
    q.add_argument("--region", required=True, help="CONTIG:START-END, 1-based inclusive")
    q.add_argument("--samples", help="file of research IDs to keep, one per line")
    q.add_argument("--callset", help="a smaller callset (acaf, exome, clinvar) instead of the full shards")
    q.add_argument("--out", required=True, help="OUT.vcf.bgz (bgzipped VCF + .tbi) or OUT.mt")
    _add_spark_args(q)
    q.set_defaults(func=_query)
    try:
        from callset.simulate.cli import add_parser as add_simulate
    except ImportError:  # simulator not installed in this build
        pass
    else:
        add_simulate(sub)
    from callset.browser.cli import add_parser as add_browser

    add_browser(sub)
    return p


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(None, level=logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args.func(args) or 0)
    except CallsetError as e:
        print(f"callset: error: {_one_line(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if args.verbose:
            raise
        from callset.runtime.faults import first_line, jvm_exit, lost_connection, root_cause

        paths = [p for p in (getattr(args, "tmp_dir", None), getattr(args, "out", None)) if p]
        cause = root_cause(e, exits=[jvm_exit(wait=2.0 if lost_connection(e) else 0.5)], paths=paths)
        print(f"callset: failed: {_one_line(cause or first_line(e))} (-v shows the traceback)", file=sys.stderr)
        return EXIT_FAULT
    finally:
        for watching in _JVM_WATCH:
            watching.set()


if __name__ == "__main__":
    sys.exit(main())
