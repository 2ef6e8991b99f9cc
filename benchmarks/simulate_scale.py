"""Benchmark the cohort simulator: wall time, output size, gVCF records per second, and what the truth
looks like (Ti/Tv, indel and multi-allelic fractions, indel lengths).

Default: 200 samples of the default cohort (5 autosomal windows × 1 Mb on 5 chromosomes, plus the
chrX/PAR/chrY windows) on all cores (target ≤ 10 min on 2 cores)::

    .venv/bin/python benchmarks/simulate_scale.py [--samples 200] [--region-size 5000000] [--autosomes 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from callset.simulate.cohort import SimulationOptions, simulate_cohort
from callset.simulate.stats import summarize_vcf


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--region-size", type=int, default=SimulationOptions.region_size,
                    help="total autosomal size (default: the simulator's default)")
    ap.add_argument("--autosomes", type=int, default=None, help="autosomal windows (default: simulator's, 5)")
    ap.add_argument("--batches", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=0)
    ap.add_argument("--gq-bands", default="gatk")
    ap.add_argument("--out", default=None, help="output folder (default: a temporary one, removed)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("msprime").setLevel(logging.WARNING)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="simbench_"))
    opts = SimulationOptions(
        samples=args.samples, seed=args.seed, region_size=args.region_size, autosomes=args.autosomes,
        batches=args.batches or max(1, -(-args.samples // 100)), jobs=args.jobs, gq_bands=args.gq_bands,
    )
    print(f"options              samples={opts.samples} seed={opts.seed} region_size={opts.region_size} "
          f"autosomes={opts.autosomes or 'default'} batches={opts.batches} gq_bands={opts.gq_bands} "
          "(everything else at its default)")
    t0 = time.perf_counter()
    res = simulate_cohort(out, opts)
    wall = time.perf_counter() - t0
    inbox = tree_size(out / "inbox")
    total = tree_size(out)
    bp = sum(int(iv.split("-")[1]) - int(iv.split(":")[1].split("-")[0]) + 1 for iv in _intervals(out))
    truth = summarize_vcf(out / "truth_genotypes.vcf.bgz", autosomes_only=True)
    lengths = truth.indel_lengths
    n_indel = sum(lengths.values()) or 1
    print(f"samples              {args.samples}")
    print(f"autosomal windows    {', '.join(_intervals(out, 'autosomal_intervals'))}")
    print(f"autosomal size       {args.region_size:,} bp (all windows {bp:,} bp)")
    print(f"cores                {os.cpu_count()} (jobs={opts.jobs or min(2, os.cpu_count() or 1)})")
    print(f"wall time            {wall:.1f} s")
    print(f"gVCF records         {res.n_records:,} ({res.n_variants:,} variant calls)")
    print(f"records / second     {res.n_records / wall:,.0f}")
    print(f"inbox size           {inbox / 1e6:.1f} MB ({inbox / args.samples / 1e6:.2f} MB per sample)")
    print(f"total output size    {total / 1e6:.1f} MB")
    print(f"truth (autosomes)    {truth.sites:,} sites; Ti/Tv {truth.ti_tv:.2f}; indel sites "
          f"{100 * truth.indel_fraction:.1f} %; multi-allelic sites {100 * truth.multiallelic_fraction:.2f} % "
          f"({truth.star_sites} with *)")
    print("indel lengths        " + ", ".join(
        f"{k} bp {100 * lengths[k] / n_indel:.0f} %" for k in (1, 2, 3, 4)
    ) + f", 5-10 bp {100 * sum(lengths[k] for k in range(5, 11)) / n_indel:.0f} %, "
        f"11-20 bp {100 * sum(lengths[k] for k in range(11, 21)) / n_indel:.0f} % "
        f"(insertions {truth.insertions:,}, deletions {truth.deletions:,})")
    if not args.out:
        shutil.rmtree(out)
    return 0


def _intervals(out: Path, key: str = "intervals") -> list[str]:
    import yaml

    return yaml.safe_load((out / "config.yaml").read_text())["simulation"][key]


if __name__ == "__main__":
    raise SystemExit(main())
