#!/usr/bin/env python
"""The benchmark suite behind ``benchmarks/run`` (issue 9).

Each figure is a ratio against a baseline measured in the same run (machines here are noisy: each timing
is repeated ``--repeat`` times and the median is reported):

1. intake validation (with reblocking, as the workflow runs it) vs a full ``bcftools view`` decode of the same
   files, one process each (wall time; CPU time of every thread beside it), on the suite's inputs and on figure
   7's ``--reblock-size`` GATK-band gVCFs (issue 17: <= 1.5x);
2. joint calling (the pipeline's combine step) vs ``bcftools merge --gvcf -`` at each ``--sizes`` cohort;
3. N+K: adding a batch of 10 samples to a cohort of 20 vs to a cohort of 200;
4. the demo pipeline (``make demo``'s Snakemake run) wall time (median of ``--repeat`` runs), and per-stage
   times from its benchmark TSVs; once more with one JVM per Hail job (``spark.shared_session: false``);
5. peak memory (Python + driver JVM, summed over the process tree) while combining the 200-sample cohort;
6. region query: shards opened and wall time for a 100 kb region vs a full scan (when ``callset query`` exists);
7. joint calling of ``--reblock-size`` GATK-band gVCFs as the workflow does it (reblocked at intake, the combiner
   reading the reblocked files) vs ``bcftools merge --gvcf -`` of the submitted files (issue 17: <= 0.25x) and vs
   the htslib decode floor of the submitted files (``bcftools view`` of every file, 2 processes; <= 5x).
8. the release (every product on) of one simulated cohort (``--release-samples``) with ~100 shards vs one shard
   per contig, same data (issue 18: <= 1.5x), and one shard as its own Hail job (``release_shards.py``).

The table goes to stdout and is prepended to ``benchmarks/RESULTS.md`` (older tables stay below it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"


def median_time(fn: Callable[[int], object], repeat: int) -> tuple[float, list[float]]:
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


class PeakRSS:
    """Sample the summed RSS of this process and its children (the driver JVM) every 0.2 s."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in [self._proc, *self._proc.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def simulate(out: Path, samples: int, region_size: int, seed: int, batches: int = 1, gq_bands: str = "gatk") -> Path:
    if not (out / "config.yaml").exists():
        subprocess.run(
            [str(BIN / "callset"), "simulate", "--samples", str(samples), "--seed", str(seed), "--out", str(out),
             "--region-size", str(region_size), "--batches", str(batches), "--anomaly-rate", "0",
             "--gq-bands", gq_bands],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    return out


def batch_dirs(sim: Path) -> list[Path]:
    return sorted(p for p in (sim / "inbox").iterdir() if (p / "manifest.tsv").exists())


def gvcfs_of(batch: Path) -> list[Path]:
    return sorted(batch.glob("*.g.vcf.gz"))


def relaxed() -> dict[str, None]:
    return {k: None for k in ("min_mean_coverage", "min_genome_coverage_20x", "min_aligned_q30_bases",
                              "max_contamination", "min_array_concordance")}


def intake(batch: Path, out: Path, *, reblock: bool = True) -> Path:
    """The workflow's intake of a batch (reblocking on, as by default) with metric thresholds off."""
    from callset.intake.reblock import ReblockSettings
    from callset.intake.run import run_intake

    if out.exists():
        shutil.rmtree(out)
    run_intake(batch, out_dir=out / "intake", registry_path=out / "registry.sqlite", thresholds=relaxed(),
               reblock=ReblockSettings() if reblock else None)
    return out / "intake" / "accepted.tsv"


def decode_one(path: Path) -> None:
    import pysam.bcftools

    pysam.bcftools.view("-Ou", "-o", "/dev/null", str(path), catch_stdout=False)


def decode_floor(files: list[Path], processes: int = 2) -> float:
    """Wall time for htslib to decode every file (``bcftools view``), ``processes`` at a time."""
    from multiprocessing import get_context

    t0 = time.perf_counter()
    with get_context("spawn").Pool(processes) as pool:
        pool.map(decode_one, files)
    return time.perf_counter() - t0


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread (intake's reblocking thread; pysam runs bcftools here)."""
    t = os.times()
    return t.user + t.system


def bench_intake(batch: Path, work: Path, repeat: int) -> dict[str, float]:
    """Wall (the figure) and CPU time of intake and of ``bcftools view`` over the batch's gVCFs, one process
    each; intake's CPU also counts its reblocking thread."""
    import pysam.bcftools

    files = gvcfs_of(batch)
    cpu: dict[str, list[float]] = {"intake": [], "decode": []}

    def timed(kind: str, fn: Callable[[], object]) -> None:
        c0 = cpu_seconds()
        fn()
        cpu[kind].append(cpu_seconds() - c0)

    def decode_all() -> None:
        for f in files:
            pysam.bcftools.view("-Ou", "-o", "/dev/null", str(f), catch_stdout=False)

    t_intake, _ = median_time(lambda i: timed("intake", lambda: intake(batch, work / f"intake{i}")), repeat)
    t_decode, _ = median_time(lambda _: timed("decode", decode_all), repeat)
    c_intake, c_decode = statistics.median(cpu["intake"]), statistics.median(cpu["decode"])
    return {"files": len(files), "intake_s": t_intake, "decode_s": t_decode, "ratio": t_intake / t_decode,
            "intake_cpu_s": c_intake, "decode_cpu_s": c_decode, "cpu_ratio": c_intake / c_decode}


def intake_row(label: str, r: dict[str, float], what: str) -> tuple[str, str, str, str]:
    return (label, f"{r['intake_s']:.1f} s ({r['files']} {what}; CPU {r['intake_cpu_s']:.1f} s)",
            f"{r['decode_s']:.1f} s (CPU {r['decode_cpu_s']:.1f} s)",
            f"{r['ratio']:.2f}x (target <= 1.5x); CPU {r['cpu_ratio']:.2f}x")


def bench_combine(sim: Path, n: int, work: Path, repeat: int, interval_size: int) -> dict[str, float]:
    """The pipeline's combine step (``combine_batch`` with its defaults) vs bcftools on the first ``n`` samples."""
    import pysam.bcftools

    from callset.joint_call.combine import combine_batch

    batch = subset_batch(batch_dirs(sim)[0], work / "batch", slice(0, n))
    accepted = intake(batch, work / "combine-intake")
    files = gvcfs_of(batch)

    def hail(i: int) -> None:
        step = work / f"step{i}"
        shutil.rmtree(step, ignore_errors=True)
        combine_batch(accepted_tsv=str(accepted), previous_step=None, step_dir=str(step), work_dir=str(work / f"w{i}"),
                      index=0, import_interval_size=interval_size)

    def bcftools(i: int) -> None:
        pysam.bcftools.merge("--gvcf", "-", "-Ob", "-o", str(work / f"merged{i}.bcf"), *map(str, files),
                             catch_stdout=False)

    t_b, _ = median_time(bcftools, repeat)
    with PeakRSS() as mem:
        t_h, _ = median_time(hail, repeat)
    return {"samples": len(files), "hail_s": t_h, "bcftools_s": t_b, "ratio": t_h / t_b, "peak_gib": mem.peak / 2**30}


def bench_reblocked_combine(sim: Path, n: int, work: Path, repeat: int, interval_size: int) -> dict[str, float]:
    """Issue 17's figure: ``n`` GATK-band gVCFs joint-called as the workflow does (intake reblocks them, the
    combiner reads the reblocked files) vs ``bcftools merge --gvcf -`` of the submitted files and vs the htslib
    decode floor of the submitted files (2 processes). Intake is timed apart (figure 1)."""
    import pysam.bcftools

    from callset.joint_call.combine import combine_batch

    batch = subset_batch(batch_dirs(sim)[0], work / "batch", slice(0, n))
    files = gvcfs_of(batch)
    accepted = work / "intake" / "intake" / "accepted.tsv"
    if not accepted.exists():
        intake(batch, work / "intake")

    def hail(i: int) -> None:
        step = work / f"step{i}"
        shutil.rmtree(step, ignore_errors=True)
        combine_batch(accepted_tsv=str(accepted), previous_step=None, step_dir=str(step),
                      work_dir=str(work / f"w{i}"), index=0, import_interval_size=interval_size)

    def bcftools(i: int) -> None:
        pysam.bcftools.merge("--gvcf", "-", "-Ob", "-o", str(work / f"merged{i}.bcf"), *map(str, files),
                             catch_stdout=False)

    t_floor = statistics.median(decode_floor(files) for _ in range(repeat))
    t_b, _ = median_time(bcftools, repeat)
    t_h, _ = median_time(hail, repeat)
    return {"samples": len(files), "hail_s": t_h, "bcftools_s": t_b, "floor_s": t_floor,
            "ratio_bcftools": t_h / t_b, "ratio_floor": t_h / t_floor}


def subset_batch(src: Path, dest: Path, rows: slice) -> Path:
    """A batch folder holding a slice of ``src``'s manifest rows (files hard-linked, not copied)."""
    if (dest / "manifest.tsv").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    lines = (src / "manifest.tsv").read_text().splitlines()
    header, body = lines[0], lines[1:][rows]
    gvcf_col = header.split("\t").index("gvcf")
    for line in body:
        name = line.split("\t")[gvcf_col]
        for suffix in ("", ".tbi"):
            os.link(src / f"{name}{suffix}", dest / f"{name}{suffix}")
    (dest / "manifest.tsv").write_text("\n".join([header, *body]) + "\n")
    return dest


def bench_nk(sim: Path, small: int, big: int, work: Path, repeat: int, interval_size: int, fanout: int = 8) -> dict:
    """Add the same 10 samples to a cohort of ``small`` and of ``big`` (one simulation, disjoint IDs).

    ``fanout`` is ``combiner.cohort_fanout``: with the default the new batch becomes its own cohort part; 1 is
    the layout before cohort parts (the new batch merged into one cohort VDS), measured for comparison.
    """
    from callset.joint_call.combine import combine_batch

    src = batch_dirs(sim)[0]
    add_acc = intake(subset_batch(src, work / "batches" / "add", slice(big, big + 10)), work / "add-intake")
    out = {}
    for name, n in (("small", small), ("big", big)):
        base_acc = intake(subset_batch(src, work / "batches" / f"base{n}", slice(0, n)), work / f"base{n}-intake")
        base = work / f"base{n}"
        if not (base / "cohort.json").exists():
            combine_batch(accepted_tsv=str(base_acc), previous_step=None, step_dir=str(base),
                          work_dir=str(work / f"wb{n}"), index=0, import_interval_size=interval_size)

        def add(i: int, base: Path = base, n: int = n) -> None:
            step = work / f"add{n}-f{fanout}-{i}"
            shutil.rmtree(step, ignore_errors=True)
            combine_batch(accepted_tsv=str(add_acc), previous_step=str(base), step_dir=str(step),
                          work_dir=str(work / f"wa{n}-{i}"), index=1, import_interval_size=interval_size,
                          cohort_fanout=fanout)

        out[name], _ = median_time(add, repeat)
    out["ratio"] = out["big"] / out["small"]
    return out


def bench_demo(work: Path, **overrides: dict) -> dict:
    """``make demo``'s Snakemake run (config/demo.yaml; ``overrides`` update its sections, for A/B runs)."""
    import yaml

    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "demo-results", ignore_errors=True)
    cfg = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    cfg.update(inbox=str(REPO / cfg["inbox"]), results=str(work / "demo-results"))
    for section, values in overrides.items():
        cfg[section] = {**cfg.get(section, {}), **values}
    (work / "demo.yaml").write_text(yaml.safe_dump(cfg))
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2",
                    "--configfile", str(work / "demo.yaml")], check=True, capture_output=True, cwd=REPO)
    total = time.perf_counter() - t0
    stages: dict[str, float] = {}
    for tsv in (work / "demo-results" / "benchmarks").rglob("*.tsv"):
        lines = tsv.read_text().splitlines()
        stage = tsv.parent.name
        stages[stage] = stages.get(stage, 0.0) + float(lines[1].split("\t")[0])
    return {"total_s": total, **{f"{k}_s": v for k, v in sorted(stages.items())}}


def bench_query(work: Path) -> dict | None:
    release = work / "demo-results" / "releases" / "v1"
    help_ = subprocess.run([str(BIN / "callset"), "--help"], capture_output=True, text=True)
    if "query" not in help_.stdout or not release.exists():
        return None
    m = json.loads((release / "manifest.json").read_text())
    region = "chr22:10600000-10700000"
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "callset"), "query", "--release", str(release), "--region", region,
                    "--out", str(work / "q.vcf.bgz")], check=True, capture_output=True)
    t_q = time.perf_counter() - t0
    overlapping = [s for s in m["shards"] if s["contig"] == "chr22" and s["start"] <= 10_700_000
                   and s["end"] >= 10_600_000]
    code = (
        "import hail as hl, json, sys; from callset.runtime.hail_setup import setup_hail; "
        f"setup_hail(master='local[2]', tmp_dir='{work}/qtmp'); rel='{release}'; "
        "m=json.load(open(rel+'/manifest.json')); mts=[hl.read_matrix_table(rel+'/'+s['path']) for s in m['shards']]; "
        "mt=mts[0].union_rows(*mts[1:]); "
        "mt=hl.filter_intervals(mt,[hl.parse_locus_interval('chr22:10600000-10700000')], keep=True); "
        f"hl.export_vcf(mt, '{work}/scan.vcf.bgz')"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    t_scan = time.perf_counter() - t0
    return {"shards_opened": len(overlapping), "shards_total": len(m["shards"]), "query_s": t_q, "scan_s": t_scan,
            "ratio": t_q / t_scan}


def versions() -> str:
    import hail
    import pysam
    import pyspark

    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    return (f"callset {__import__('callset').__version__}, hail {hail.__version__}, spark {pyspark.__version__}, "
            f"pysam {pysam.__version__}, "
            f"python {platform.python_version()}, {java}")


def main() -> int:
    ap = argparse.ArgumentParser(description="callset benchmark suite")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run (not comparable)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="100,200,500", help="cohort sizes for joint calling")
    ap.add_argument("--region-size", type=int, default=5_000_000)
    ap.add_argument("--interval-size", type=int, default=5_000_000, help="combiner.import_interval_size")
    ap.add_argument("--gq-bands", default="reblock", choices=["reblock", "coarse", "gatk"],
                    help="reference-block GQ bands of the simulated gVCFs: reblock (as All of Us ingests, "
                         "ReblockGVCF) or gatk (HaplotypeCaller's default bands, ~20x more records)")
    ap.add_argument("--reblock-size", type=int, default=200,
                    help="GATK-band gVCFs joint-called from their reblocked copies (figure 7, issue 17); 0 skips it")
    ap.add_argument("--release-samples", type=int, default=200,
                    help="simulated samples of figure 8 (release with ~100 shards vs one shard per contig, issue 18)")
    ap.add_argument("--only", default=None, help="comma-separated figures to run (e.g. 1,7); default all")
    ap.add_argument("--work", default=None, help="keep inputs here between runs (default: a temp dir)")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    region = args.region_size
    nk_small, nk_big = 20, 200
    if args.quick:
        sizes, region, nk_small, nk_big, args.repeat = [10, 20], 200_000, 5, 20, 1

    from callset.core.logs import setup_logging
    from callset.runtime.hail_setup import setup_hail

    work = Path(args.work or tempfile.mkdtemp(prefix="callset-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    setup_logging(work / "bench.log")
    setup_hail(master="local[2]", tmp_dir=work / "tmp", log_path=work / "hail.log", driver_memory="4g")
    rows: list[tuple[str, str, str, str]] = []
    only = set(args.only.split(",")) if args.only else None

    def want(fig: str) -> bool:
        return only is None or fig in only

    # one simulation, subsets for every size (hard links): the N+K batches are disjoint slices of it
    n_sim = max(*sizes, nk_big + 10)
    t0 = time.perf_counter()
    sim_dir = simulate(work / f"sim{n_sim}-1-{region}-{args.gq_bands}", n_sim, region, 1, gq_bands=args.gq_bands)
    print(f"inputs: {n_sim} simulated samples x {region // 1000} kb ({args.gq_bands} GQ bands) in "
          f"{time.perf_counter() - t0:.0f} s (cached in --work)", flush=True)
    n_rb = 20 if args.quick else args.reblock_size
    gatk_dir = sim_dir
    if n_rb and (want("1") or want("7")) and (args.gq_bands != "gatk" or n_rb > n_sim):
        gatk_dir = simulate(work / f"sim{n_rb}-1-{region}-gatk", n_rb, region, 1, gq_bands="gatk")

    if want("1"):
        r = bench_intake(subset_batch(batch_dirs(sim_dir)[0], work / "b1" / "batch", slice(0, sizes[0])),
                         work / "b1", args.repeat)
        rows.append(intake_row("1 intake (with reblocking) vs bcftools view decode", r, f"{args.gq_bands}-band gVCFs"))
        print(rows[-1], flush=True)
        if n_rb and args.gq_bands != "gatk":
            # issue 17's figure: the same files as figure 7 (the GATK-band genomes joint-called there)
            r = bench_intake(subset_batch(batch_dirs(gatk_dir)[0], work / "b1g" / "batch", slice(0, n_rb)),
                             work / "b1g", args.repeat)
            rows.append(intake_row("1 intake (with reblocking) vs bcftools view decode, figure 7's GATK-band gVCFs",
                                   r, "gatk-band gVCFs"))
            print(rows[-1], flush=True)
    peak = None
    for n in sizes if want("2") or want("5") else []:
        r = bench_combine(sim_dir, n, work / f"b2-{n}", args.repeat, args.interval_size)
        target = {200: " (target <= 2x)", 500: " (target < 1x)"}.get(n, "")
        rows.append((f"2 combine {n} x {region // 1000} kb vs bcftools merge --gvcf", f"{r['hail_s']:.1f} s",
                     f"{r['bcftools_s']:.1f} s", f"{r['ratio']:.2f}x{target}"))
        print(rows[-1], flush=True)
        if n == nk_big or peak is None:
            peak = (n, r["peak_gib"])
    for fanout, label in ((8, "cohort parts, fanout 8"), (1, "fanout 1 = one cohort VDS, the layout before")):
        if not want("3"):
            break
        r = bench_nk(sim_dir, nk_small, nk_big, work / "b3", args.repeat, args.interval_size, fanout=fanout)
        rows.append((f"3 N+K: add 10 to {nk_big} vs add 10 to {nk_small} ({label})", f"{r['big']:.1f} s",
                     f"{r['small']:.1f} s", f"{r['ratio']:.2f}x" + (" (target <= 1.3x)" if fanout == 8 else "")))
        print(rows[-1], flush=True)
    if want("4"):
        runs = sorted((bench_demo(work / "b4") for _ in range(args.repeat)), key=lambda r: r["total_s"])
        r = runs[len(runs) // 2]  # the median run, with its own stage times
        stages = ", ".join(f"{k[:-2]} {v:.0f} s" for k, v in r.items() if k != "total_s")
        spread = "/".join(f"{x['total_s']:.0f}" for x in runs)
        rows.append(("4 demo pipeline (snakemake, after install; shared Hail session)", f"{r['total_s']:.0f} s "
                     f"(runs {spread})", stages, "target <= 180 s"))
        print(rows[-1], flush=True)
        r = bench_demo(work / "b4-per-job", spark={"shared_session": False})
        stages = ", ".join(f"{k[:-2]} {v:.0f} s" for k, v in r.items() if k != "total_s")
        rows.append(("4 demo pipeline, one JVM per Hail job (spark.shared_session: false)", f"{r['total_s']:.0f} s",
                     stages, "for comparison"))
        print(rows[-1], flush=True)
    if peak:
        rows.append((f"5 peak memory, combine {peak[0]} samples (Python + JVM)", f"{peak[1]:.2f} GiB", "",
                     "target <= 6 GiB"))
    q = bench_query(work / "b4") if want("6") else None
    if q:
        rows.append(("6 region query 100 kb vs full scan", f"{q['query_s']:.1f} s ({q['shards_opened']}/"
                     f"{q['shards_total']} shards)", f"{q['scan_s']:.1f} s", f"{q['ratio']:.2f}x"))
    elif want("6"):
        rows.append(("6 region query", "n/a (`callset query` not available)", "", ""))
    if n_rb and want("7"):
        r = bench_reblocked_combine(gatk_dir, n_rb, work / f"b7-{n_rb}", args.repeat, args.interval_size)
        label = f"7 combine {r['samples']} GATK-band x {region // 1000} kb, reblocked at intake"
        rows.append((f"{label}, vs bcftools merge --gvcf of the submitted files", f"{r['hail_s']:.1f} s",
                     f"{r['bcftools_s']:.1f} s", f"{r['ratio_bcftools']:.2f}x (target <= 0.25x)"))
        rows.append((f"{label}, vs htslib decode floor of the submitted files (2 processes)", f"{r['hail_s']:.1f} s",
                     f"{r['floor_s']:.1f} s", f"{r['ratio_floor']:.2f}x (target <= 5x)"))
        print(rows[-2:], flush=True)
    if want("8"):
        from release_shards import measure as bench_release_shards  # benchmarks/ is this script's folder

        n_rel = 20 if args.quick else args.release_samples
        r = bench_release_shards(work / "b8", samples=n_rel, shards=100, repeat=args.repeat, with_per_job=True)
        rows.append((f"8 release of {r['one']['n_samples']} samples, {r['one']['n_variants']} variants: "
                     f"{r['many']['n_shards']} shards vs one per contig", f"{r['many']['median_s']:.1f} s",
                     f"{r['one']['median_s']:.1f} s", f"{r['ratio']:.2f}x (target <= 1.5x); one shard as its own "
                     f"Hail job {r['per_job_s']:.1f} s"))
        print(rows[-1], flush=True)

    head = (f"## {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}{' (quick)' if args.quick else ''}\n\n"
            f"Machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB. {versions()}. "
            f"Medians of {args.repeat} runs. Inputs: `callset simulate` seed 1, {region // 1000} kb autosome + "
            f"chrX/chrY windows, {args.gq_bands} GQ bands.\n\n")
    table = "| figure | callset | baseline | ratio / target |\n|---|---|---|---|\n" + "".join(
        f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in rows)
    print(head + table)
    if not args.no_write:
        old = RESULTS_MD.read_text().split("\n", 2)[2] if RESULTS_MD.exists() else ""
        RESULTS_MD.write_text("# Benchmark results (newest first)\n\n" + head + table + "\n" + old)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
