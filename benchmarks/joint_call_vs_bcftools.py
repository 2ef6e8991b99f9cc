#!/usr/bin/env python
"""Benchmark: joint-call the 40 real chr22 gVCFs with the pipeline's combine step vs `bcftools merge --gvcf -`.

Both run in this process, on the same files, `--repeat` times; medians are printed with their ratio.
The Hail figure is the combine step as the rule runs it (intervals from intake's extents, combiner,
write), with the JVM already started; the JVM start-up is printed separately.

    .venv/bin/python benchmarks/joint_call_vs_bcftools.py [--repeat 3] [--samples 40]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHR22 = REPO.parent / "shared" / "testdata" / "gvcf" / "1kg_chr22"
DEMO = REPO / "resources" / "demo" / "inbox"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--interval-size", type=int, default=250_000)
    args = ap.parse_args()

    import pysam.bcftools

    from callset.intake.run import run_intake
    from callset.joint_call.combine import combine_batch
    from callset.runtime.hail_setup import setup_hail

    work = Path(tempfile.mkdtemp(prefix="bench-jc-"))
    try:
        # one batch with all samples (intake is not timed here; see intake_vs_bcftools.py)
        batch = work / "inbox" / "all"
        batch.mkdir(parents=True)
        lines = ["sample_id\tgvcf"]
        gvcfs = sorted(CHR22.glob("*.g.vcf.gz"))[: args.samples]
        for g in gvcfs:
            shutil.copy(g, batch / g.name)
            shutil.copy(f"{g}.tbi", batch / f"{g.name}.tbi")
            lines.append(f"{g.name.split('.')[0]}\t{g.name}")
        (batch / "manifest.tsv").write_text("\n".join(lines) + "\n")
        run_intake(batch, out_dir=work / "intake", registry_path=work / "registry.sqlite")

        t0 = time.perf_counter()
        setup_hail(master="local[2]", tmp_dir=work / "tmp", log_path=work / "hail.log", driver_memory="4g")
        jvm = time.perf_counter() - t0

        hail_times, bcf_times = [], []
        for i in range(args.repeat):
            t0 = time.perf_counter()
            pysam.bcftools.merge("--gvcf", "-", "-Oz", "-o", str(work / f"merged{i}.vcf.gz"),
                                 *map(str, gvcfs), catch_stdout=False)
            bcf_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            combine_batch(accepted_tsv=str(work / "intake" / "accepted.tsv"), previous_step=None,
                          step_dir=str(work / f"step{i}"), work_dir=str(work / f"w{i}"), index=0,
                          import_interval_size=args.interval_size)
            hail_times.append(time.perf_counter() - t0)
        h, b = statistics.median(hail_times), statistics.median(bcf_times)
        print(f"samples: {len(gvcfs)}  repeats: {args.repeat}  import_interval_size: {args.interval_size}")
        print(f"JVM + Hail start-up (once per rule): {jvm:.1f} s")
        print(f"callset combine step (median): {h:.2f} s   runs: {', '.join(f'{x:.2f}' for x in hail_times)}")
        print(f"bcftools merge --gvcf - (median): {b:.2f} s   runs: {', '.join(f'{x:.2f}' for x in bcf_times)}")
        print(f"ratio combine / bcftools: {h / b:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
