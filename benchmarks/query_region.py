"""Benchmark: `callset query` of one region vs reading every shard and filtering (prints seconds).

Usage: .venv/bin/python benchmarks/query_region.py results/releases/v1 chr22:10600000-10700000
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    release, region = Path(sys.argv[1]), sys.argv[2]
    from callset.runtime.hail_setup import setup_hail

    setup_hail(master="local[2]", driver_memory="2g", tmp_dir="/tmp/callset-bench")
    import hail as hl

    from callset.release.query import overlapping_shards, parse_region, query_region

    m = json.loads((release / "manifest.json").read_text())
    n_overlap = len(overlapping_shards(m, *parse_region(region)))
    with tempfile.TemporaryDirectory() as tmp:
        query_region(release, region).checkpoint(f"{tmp}/warm.mt")  # JIT/JVM warm-up, not timed
        t = time.perf_counter()
        n_q = query_region(release, region).checkpoint(f"{tmp}/q.mt").count_rows()
        t_query = time.perf_counter() - t
        t = time.perf_counter()
        mts = [hl.read_matrix_table(str(release / s["path"])) for s in m["shards"]]
        mt = hl.filter_intervals(mts[0].union_rows(*mts[1:]), [hl.parse_locus_interval(region, m["reference_genome"])])
        n_all = mt.checkpoint(f"{tmp}/all.mt").count_rows()
        t_all = time.perf_counter() - t
    print(f"shards: {n_overlap} of {len(m['shards'])} overlap {region}")
    print(f"query (overlapping shards only): {t_query:.2f} s, {n_q} variants")
    print(f"union of all shards + filter:    {t_all:.2f} s, {n_all} variants")


if __name__ == "__main__":
    main()
