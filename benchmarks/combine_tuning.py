#!/usr/bin/env python
"""Where combine time goes, and which combiner settings pay (issue 9): one simulated batch, each setting
timed in one warm Hail session against ``bcftools merge --gvcf -`` on the same files.

    .venv/bin/python benchmarks/combine_tuning.py --sim DIR --samples 200 --work DIR \
        --settings "branch_factor=100,gvcf_batch_size=50" "branch_factor=500" ...

``--sim`` is a ``callset simulate`` output with one batch of at least ``--samples`` samples; the first
``--samples`` are used (hard links). Prints one line per setting: median seconds and the ratio to bcftools.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import batch_dirs, gvcfs_of, intake, subset_batch  # noqa: E402


def parse(setting: str) -> dict[str, int]:
    return {k: int(v) for k, v in (kv.split("=") for kv in setting.split(",") if kv)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", required=True)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--work", required=True)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-bcftools", action="store_true")
    ap.add_argument("--settings", nargs="+", default=["branch_factor=100,gvcf_batch_size=50"])
    args = ap.parse_args()

    from callset.core.logs import setup_logging
    from callset.joint_call.combine import combine_batch
    from callset.runtime.hail_setup import setup_hail

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    setup_logging(work / "tuning.log")
    setup_hail(master="local[2]", tmp_dir=work / "tmp", log_path=work / "hail.log", driver_memory="4g")
    batch = subset_batch(batch_dirs(Path(args.sim))[0], work / f"batch{args.samples}", slice(0, args.samples))
    acc_dir = work / f"intake{args.samples}"
    accepted = acc_dir / "intake" / "accepted.tsv"
    if not accepted.exists():
        intake(batch, acc_dir)
    files = gvcfs_of(batch)
    if not args.no_bcftools:
        import pysam.bcftools

        ts = []
        for _i in range(args.repeat):
            t0 = time.perf_counter()
            pysam.bcftools.merge("--gvcf", "-", "-Ob", "-o", str(work / "merged.bcf"), *map(str, files),
                                 catch_stdout=False)
            ts.append(time.perf_counter() - t0)
        t_b = statistics.median(ts)
        print(f"bcftools merge --gvcf - {len(files)} samples: {t_b:.1f} s {[round(t, 1) for t in ts]}", flush=True)
    else:
        t_b = float("nan")
    for setting in args.settings:
        kw = parse(setting)
        ts = []
        for _i in range(args.repeat):
            step = work / "step"
            shutil.rmtree(step, ignore_errors=True)
            t0 = time.perf_counter()
            combine_batch(accepted_tsv=str(accepted), previous_step=None, step_dir=str(step),
                          work_dir=str(work / "w"), index=0, **kw)
            ts.append(time.perf_counter() - t0)
        t = statistics.median(ts)
        print(f"hail {setting}: {t:.1f} s {[round(x, 1) for x in ts]} ratio {t / t_b:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
