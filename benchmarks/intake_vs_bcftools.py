"""Benchmark (not a test): intake of one real gVCF against a full ``bcftools view`` decode of it.

Intake = everything :func:`callset.intake.run.run_intake` does for the file, as the workflow runs it: md5, BGZF
integrity (every block CRC-checked, EOF), header, every record's content checks, index cross-check, reblocking
(a bgzipped, tabix-indexed reblocked copy with the default settings; ``--no-reblock``: without), registry,
reports, staging.
``bcftools view`` = pysam's bundled bcftools decoding the whole file to VCF text into /dev/null.

    .venv/bin/python benchmarks/intake_vs_bcftools.py [--gvcf PATH] [--repeat 5]

Prints the best-of-N wall times and the ratio (target <= 1.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pysam
import pysam.bcftools

from callset.core.reference import load_reference
from callset.intake.checks import md5sum, scan_gvcf
from callset.intake.reblock import ReblockSettings
from callset.intake.run import run_intake

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "gvcf" / "HG00268.g.vcf.gz"


def bcftools_view(path: Path) -> None:
    pysam.bcftools.view(str(path), "-o", os.devnull, catch_stdout=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gvcf", type=Path, default=Path(os.environ.get("CALLSET_BENCH_GVCF", DEFAULT)))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-reblock", action="store_true", help="intake without reblocking (the workflow reblocks)")
    args = ap.parse_args()
    src: Path = args.gvcf
    with pysam.VariantFile(str(src)) as vf:
        sample = list(vf.header.samples)[0]
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "inbox" / "bench"
        batch.mkdir(parents=True)
        g = batch / src.name
        shutil.copyfile(src, g)
        shutil.copyfile(f"{src}.tbi", f"{g}.tbi")
        (batch / "manifest.tsv").write_text(f"sample_id\tgvcf\tgvcf_md5\n{sample}\t{g.name}\t{md5sum(g)}\n")
        t_bcf, t_intake, t_scan = [], [], []
        for i in range(args.repeat):
            t = time.perf_counter()
            bcftools_view(g)
            t_bcf.append(time.perf_counter() - t)
            out = Path(tmp) / f"results{i}"
            t = time.perf_counter()
            res = run_intake(batch, out_dir=out / "intake" / "bench", registry_path=out / "registry.sqlite",
                             reblock=None if args.no_reblock else ReblockSettings())
            t_intake.append(time.perf_counter() - t)
            assert res.n_accepted == 1, res.summary()
            t = time.perf_counter()
            scan_gvcf(g, sample_id=sample, reference=load_reference("GRCh38"))
            t_scan.append(time.perf_counter() - t)
    n = res.samples[0].scan.n_records if res.samples[0].scan else 0
    b, i_, s = min(t_bcf), min(t_intake), min(t_scan)
    print(f"file: {src} ({src.stat().st_size / 1e6:.1f} MB, {n} records), best of {args.repeat}")
    print(f"bcftools view (full decode): {b:.3f} s  (median {statistics.median(t_bcf):.3f})")
    what = "without reblocking" if args.no_reblock else "with reblocking"
    print(f"intake (run_intake, 1 file, {what}): {i_:.3f} s  (median {statistics.median(t_intake):.3f})")
    print(f"  of which the one-pass scan: {s:.3f} s  (median {statistics.median(t_scan):.3f})")
    print(f"ratio intake / bcftools view: {i_ / b:.2f}x  (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
