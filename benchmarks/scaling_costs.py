#!/usr/bin/env python
"""Per-sample and per-variant costs of each stage, for docs/scaling.md (issue 8). Not part of `make test`.

For each cohort size: simulate it (`callset simulate`, 2 batches, 1 Mb autosome window + X/Y; chrX/Y called
diploid, as the release cannot split haploid calls yet), run the workflow with Snakemake (benchmark TSVs give
intake, combine per batch = N then N+K, and release), then time in one Hail session on the final cohort VDS:
densify (to_dense_mt + split_multi_hts, written), sample QC (hl.vds.sample_qc) and variant QC (hl.variant_qc on
the dense MT). Prints one JSON line per cohort.

    .venv/bin/python benchmarks/scaling_costs.py --sizes 50,200 --work /tmp/scaling
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def bench(tsv: Path) -> dict[str, float]:
    with open(tsv) as f:
        row = list(csv.DictReader(f, delimiter="\t"))[-1]
    return {"s": float(row["s"]), "cpu_s": float(row["cpu_time"]), "max_rss_mb": float(row["max_rss"])}


def run_cohort(n: int, work: Path) -> dict:
    sim = work / f"sim{n}"
    if not (sim / "config.yaml").exists():
        t = time.time()
        subprocess.run([str(BIN / "callset"), "simulate", "--samples", str(n), "--seed", "8", "--batches", "2",
                        "--no-truth-genotypes", "--panel-size", "5", "--hemizygous", "diploid",
                        "--out", str(sim)], check=True)
        print(f"simulated {n} in {time.time() - t:.0f} s", file=sys.stderr)
    results = sim / "results"
    if not (results / "releases" / "v1" / "manifest.json").exists():
        # one JVM per Hail job: the benchmark TSVs then count the JVM's CPU and memory in each job (in a shared
        # session they would measure the job's thin client)
        subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(sim), "--cores",
                        "2", "--configfile", str(sim / "config.yaml"), "--config", "spark={'shared_session': False}"],
                       check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b = results / "benchmarks"
    batches = sorted(p.stem for p in (b / "joint_call").glob("*.tsv"))
    out = {
        "samples": n,
        "intake": [bench(b / "intake" / f"{x}.tsv") for x in batches],
        "combine": [bench(b / "joint_call" / f"{x}.tsv") for x in batches],
        "release": bench(b / "release" / "v1.tsv"),
        "cohort_vds_bytes": du(results / "joint" / "cohort" / batches[-1]),
        "release_bytes": du(results / "releases" / "v1"),
        "gvcf_bytes": sum(f.stat().st_size for f in (sim / "inbox").rglob("*.g.vcf.gz")),
    }
    manifest = json.loads((results / "releases" / "v1" / "manifest.json").read_text())
    out["release_variants"] = manifest["n_variants"]
    out["release_shards"] = len(manifest["shards"])
    out.update(hail_costs(results / "joint" / "cohort" / batches[-1], work / f"dense{n}.mt"))
    return out


def hail_costs(step: Path, dense_path: Path) -> dict:
    import hail as hl

    from callset.core.cohort import read_cohort_vds

    vds = read_cohort_vds(step)
    vd = vds.variant_data
    vds = hl.vds.VariantDataset(vds.reference_data, vd.annotate_entries(GT=hl.vds.lgt_to_gt(vd.LGT, vd.LA)))
    out: dict = {
        "vds_variant_rows": vds.variant_data.count_rows(),
        "vds_ref_partitions": vds.reference_data.n_partitions(),
    }
    out["ref_blocks"] = vds.reference_data.entries().count()
    t = time.time()
    mt = hl.vds.to_dense_mt(vds)
    hl.split_multi_hts(mt.select_entries("GT", "DP", "GQ")).write(str(dense_path), overwrite=True)
    out["densify_s"] = time.time() - t
    t = time.time()
    sqc = hl.vds.sample_qc(vds)
    sqc.aggregate(hl.agg.mean(sqc.n_het))
    out["sample_qc_s"] = time.time() - t
    dense = hl.read_matrix_table(str(dense_path))
    t = time.time()
    dense = hl.variant_qc(dense)
    dense.aggregate_rows(hl.agg.mean(dense.variant_qc.call_rate))
    out["variant_qc_s"] = time.time() - t
    out["dense_rows"] = dense.count_rows()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="50,200")
    p.add_argument("--work", type=Path, default=Path("/tmp/callset-scaling"))
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from callset.runtime.hail_setup import setup_hail

    setup_hail(master="local[2]", driver_memory="3g", tmp_dir=args.work / "tmp", log_path=args.work / "hail.log")
    rows = [run_cohort(int(n), args.work) for n in args.sizes.split(",")]
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
