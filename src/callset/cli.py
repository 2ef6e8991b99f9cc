"""The ``callset`` command: small operator and researcher tools around the workflow.

Subcommands: ``summary`` (print a release summary), ``verify`` (check a release's integrity), ``query``
(one region of a release), ``simulate`` (cohort simulator), ``browser`` (public variant browser: ``build``,
``serve``), more per stage.
"""

from __future__ import annotations

import argparse
import logging
import sys

from callset.core.logs import setup_logging
from callset.errors import CallsetError


def _summary(args: argparse.Namespace) -> int:
    from callset.release.summary import release_summary

    print(release_summary(args.release_dir))
    return 0


def _hail(args: argparse.Namespace) -> None:
    from callset.runtime.hail_setup import setup_hail

    setup_hail(master=args.master, driver_memory=args.driver_memory, tmp_dir=args.tmp_dir,
               log_path=f"{args.tmp_dir}/hail.log")


def _verify(args: argparse.Namespace) -> int:
    from callset.release.verify import verify_release

    if not args.no_hail:
        _hail(args)
    problems = verify_release(args.release_dir, open_with_hail=not args.no_hail)
    for p in problems:
        print(f"PROBLEM: {p}")
    if problems:
        print(f"callset verify: {args.release_dir}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"callset verify: {args.release_dir}: OK")
    return 0


def _query(args: argparse.Namespace) -> int:
    from callset.release.query import query_region, read_sample_list, write_query

    _hail(args)
    samples = read_sample_list(args.samples) if args.samples else None
    mt = query_region(args.release, args.region, samples=samples, callset=args.callset)
    kind = write_query(mt, args.out)
    print(f"callset query: {args.region} -> {args.out} ({kind})")
    return 0


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
