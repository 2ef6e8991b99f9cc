#!/usr/bin/env python
"""The whole workflow at 250, 500 and 1,000 simulated genomes, measured stage by stage (issue 18 §3).

One simulation (``callset simulate`` with every genome option at its default: several autosomal windows on
different chromosomes, indels, multi-allelic sites, GATK GQ bands) of the largest scale plus ``--add`` samples,
written as batches of ``--add`` samples and regrouped into batches of ``--batch-size`` (files hard-linked).
For each scale N the first N samples go into a fresh inbox and results folder, and:

1. **v1**: the workflow as a user runs it on the simulation's ``config.yaml`` (intake -> joint calling -> sample
   QC -> variant QC -> release -> browser; every setting at its default, shared Hail session, 2 cores);
2. **v2**: one more batch of ``--add`` samples dropped into the inbox, and the workflow again with
   ``release: v2`` (what adding a small batch to a cohort of N costs, and which stages grow with N).

Measured for each run, by sampling every process of the run every 0.5 s (the benchmark process is the child
subreaper, so the shared Hail session server and its JVM, which outlive the job that started them, stay in the
tree): wall time per stage (time any process of the stage was running; stages overlap, e.g. intake of a batch
runs beside joint calling of the previous one), CPU seconds per stage (the session's JVM is counted for the Hail
stage whose job is running), peak RSS per stage (its processes, plus the session server and JVM for Hail
stages) and of the whole run (every process: Snakemake, jobs, Python + JVM). The run's total CPU also comes from
``getrusage`` of the reaped children (it includes processes too short-lived to be sampled). The machine's load
average is sampled too: this machine is shared, so wall times are only comparable with the load beside them.

    .venv/bin/python benchmarks/scale_e2e.py --scales 250,500,1000 --work /tmp/callset-scale   # hours here
    .venv/bin/python benchmarks/scale_e2e.py --scales 50,100 --work /tmp/callset-scale-small     # validation

Prints one JSON line per run and a Markdown table (also written to ``<work>/scale_summary.md``);
``--write-results`` prepends the table to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"

#: script of a Snakemake job -> stage
STAGES = {
    "intake_check.py": "intake", "intake_batch.py": "intake", "intake_research_ids.py": "intake",
    "joint_call_combine.py": "joint_call", "sample_qc_run.py": "sample_qc", "variant_qc_sites.py": "variant_qc",
    "release_write.py": "release", "release_summary.py": "release", "browser_build.py": "browser",
}
HAIL_STAGES = ("joint_call", "sample_qc", "variant_qc", "release", "browser")
ORDER = ("intake", "joint_call", "sample_qc", "variant_qc", "release", "browser", "snakemake", "hail_session idle")
GIB = 2**30


# -- inputs ------------------------------------------------------------------------------------------------------


def simulate(sim: Path, n: int, add: int, seed: int) -> Path:
    """``n + add`` samples in batches of ``add`` (every genome option at its default)."""
    if not (sim / "config.yaml").exists():
        t = time.perf_counter()
        subprocess.run([str(BIN / "callset"), "simulate", "--samples", str(n + add), "--seed", str(seed),
                        "--batches", str((n + add) // add), "--out", str(sim)], check=True)
        (sim / "simulate_seconds.txt").write_text(f"{time.perf_counter() - t:.0f}\n")
    return sim


def manifest_rows(sim: Path) -> tuple[str, list[tuple[Path, str]]]:
    """Header and every row (with its batch folder) of the simulation, in batch order."""
    header, rows = "", []
    for b in sorted(p for p in (sim / "inbox").iterdir() if (p / "manifest.tsv").exists()):
        lines = (b / "manifest.tsv").read_text().splitlines()
        header = lines[0]
        rows += [(b, line) for line in lines[1:] if line.strip()]
    return header, rows


def write_batch(dest: Path, header: str, rows: list[tuple[Path, str]]) -> None:
    """A batch folder of ``rows`` (files hard-linked from the simulation)."""
    dest.mkdir(parents=True, exist_ok=True)
    cols = header.split("\t")
    for src, line in rows:
        cells = dict(zip(cols, line.split("\t"), strict=False))
        for col in ("gvcf", "cram"):
            if cells.get(col):
                for suffix in ("", ".tbi", ".crai"):
                    f = src / f"{cells[col]}{suffix}"
                    if f.exists() and not (dest / f.name).exists():
                        os.link(f, dest / f.name)
    (dest / "manifest.tsv").write_text("\n".join([header] + [line for _, line in rows]) + "\n")


def prepare_scale(sim: Path, n: int, batch_size: int, add: int, work: Path) -> tuple[Path, Path]:
    """``work/n<N>/`` with an inbox of the first N samples in batches of ``batch_size``, the next ``add``
    samples held back in ``work/n<N>/add/``, and the simulation's config pointed at them."""
    root = work / f"n{n}"
    if root.exists():
        shutil.rmtree(root)
    header, rows = manifest_rows(sim)
    if len(rows) < n + add:
        raise SystemExit(f"{sim}: {len(rows)} samples, need {n + add}")
    for i in range(0, n, batch_size):
        write_batch(root / "inbox" / f"batch_{i // batch_size + 1:03d}", header, rows[i:min(i + batch_size, n)])
    write_batch(root / "add" / "batch_add", header, rows[n:n + add])
    cfg = yaml.safe_load((sim / "config.yaml").read_text())
    cfg.update(inbox=str(root / "inbox"), results=str(root / "results"), release="v1")
    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root, root / "config.yaml"


# -- measuring a run ---------------------------------------------------------------------------------------------


def become_subreaper() -> None:
    """Orphaned descendants (the Hail session server and its JVM) are re-parented to this process."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


class RunSampler:
    """Samples every descendant of this process every ``dt`` seconds; attributes CPU and RSS to stages."""

    def __init__(self, dt: float = 0.5) -> None:
        import psutil

        self.psutil = psutil
        self.me = psutil.Process()
        self.dt = dt
        self.stop_event = threading.Event()
        self.skip_pid: int | None = None  # the Snakemake process: reaped by its Popen, not here
        self.cpu_seen: dict[tuple[int, float], float] = {}
        self.stage_cpu: dict[str, float] = defaultdict(float)
        self.stage_samples: dict[str, int] = defaultdict(int)
        self.stage_peak: dict[str, int] = defaultdict(int)
        self.total_peak = 0
        self.loads: list[float] = []
        self.kind: dict[tuple[int, float], str] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _classify(self, p, key) -> str:  # noqa: ANN001 - psutil.Process
        if key not in self.kind:
            try:
                cmd = " ".join(p.cmdline())
            except self.psutil.Error:
                cmd = ""
            kind = "other"
            for script, stage in STAGES.items():
                if script in cmd:
                    kind = stage
            if "callset.runtime.hail_session serve" in cmd:
                kind = "session"
            elif "bin/snakemake" in cmd and kind == "other":
                kind = "snakemake"
            self.kind[key] = kind
        return self.kind[key]

    def _sample(self) -> None:
        ps = self.psutil
        procs = []
        for p in self.me.children(recursive=True):
            try:
                key = (p.pid, p.create_time())
                if p.status() == ps.STATUS_ZOMBIE:
                    if p.pid != self.skip_pid:
                        os.waitpid(p.pid, os.WNOHANG)  # an orphan re-parented to us: reap it
                    continue
                t = p.cpu_times()
                procs.append((p, key, t.user + t.system, p.memory_info().rss))
            except (ps.Error, ChildProcessError):
                continue
        # a process inherits the stage of its nearest classified ancestor (the JVM: its session server)
        by_pid = {p.pid: (p, key) for p, key, _, _ in procs}
        stage_of: dict[int, str] = {}
        for p, key, _, _ in procs:
            kind, q = self._classify(p, key), p
            while kind == "other":
                try:
                    q = q.parent()
                except ps.Error:
                    q = None
                if q is None or q.pid not in by_pid:
                    break
                kind = self._classify(q, by_pid[q.pid][1])
            stage_of[p.pid] = kind
        active_hail = [s for s in set(stage_of.values()) if s in HAIL_STAGES]
        session_stage = active_hail[0] if len(active_hail) == 1 else "hail_session idle"
        rss: dict[str, int] = defaultdict(int)
        for p, key, cpu, r in procs:
            stage = stage_of[p.pid]
            if stage == "session":
                stage = session_stage
            elif stage == "other":
                stage = "snakemake"
            self.stage_cpu[stage] += cpu - self.cpu_seen.get(key, 0.0)
            self.cpu_seen[key] = cpu
            rss[stage] += r
        for stage, r in rss.items():
            self.stage_samples[stage] += 1
            self.stage_peak[stage] = max(self.stage_peak[stage], r)
        self.total_peak = max(self.total_peak, sum(rss.values()))
        self.loads.append(os.getloadavg()[0])

    def _run(self) -> None:
        while not self.stop_event.is_set():
            self._sample()
            time.sleep(self.dt)

    def __enter__(self) -> RunSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join()
        self._sample()


def run_workflow(root: Path, config: Path) -> dict:
    """One Snakemake run of the workflow (2 cores, the project's default profile), measured."""
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(root), "--cores", "2",
           "--configfile", str(config)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with RunSampler() as sampler, open(root / f"snakemake-{config.stem}.log", "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        sampler.skip_pid = proc.pid
        rc = proc.wait()
        wall = time.perf_counter() - t0
        # the session server ends with the run (onsuccess); wait for it so its CPU is in our rusage
        deadline = time.monotonic() + 60
        while sampler.me.children() and time.monotonic() < deadline:
            time.sleep(0.5)
    if rc != 0:
        raise SystemExit(f"snakemake failed ({rc}): see {root / f'snakemake-{config.stem}.log'}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stages = {}
    for s in ORDER:
        if sampler.stage_samples.get(s):
            stages[s] = {"wall_s": round(sampler.stage_samples[s] * sampler.dt, 1),
                         "cpu_s": round(sampler.stage_cpu[s], 1),
                         "peak_rss_gib": round(sampler.stage_peak[s] / GIB, 2)}
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu_total, 1), "peak_rss_gib": round(sampler.total_peak / GIB, 2),
            "load_start": round(load0, 1),
            "load_mean": round(sum(sampler.loads) / max(1, len(sampler.loads)), 1),
            "load_max": round(max(sampler.loads, default=0.0), 1),
            "stages": stages, "jobs": job_counts(root / "results")}


def job_counts(results: Path) -> dict[str, float]:
    """Snakemake's own per-job benchmark TSVs, summed per stage folder (cross-check: job wall seconds)."""
    out: dict[str, float] = defaultdict(float)
    for tsv in (results / "benchmarks").rglob("*.tsv"):
        stage = tsv.relative_to(results / "benchmarks").parts[0]
        with open(tsv) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        out[f"{stage}_job_s"] += float(rows[-1]["s"]) if rows else 0.0
    return {k: round(v, 1) for k, v in sorted(out.items())}


def describe(results: Path, release: str) -> dict:
    m = json.loads((results / "releases" / release / "manifest.json").read_text())

    def du(p: Path) -> int:
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink())

    steps = [json.loads(p.read_text()) for p in (results / "joint" / "cohort").glob("*/cohort.json")]
    current = max(steps, key=lambda s: int(s["index"]))
    return {"released_samples": m["n_samples"], "variants": m["n_variants"], "shards": len(m["shards"]),
            "cohort_parts": len(current["parts"]),
            "cohort_gb": round(du(results / "joint" / "cohort") / 1e9, 2),
            "release_gb": round(du(results / "releases" / release) / 1e9, 2)}


def run_scale(sim: Path, n: int, batch_size: int, add: int, work: Path) -> list[dict]:
    root, config = prepare_scale(sim, n, batch_size, add, work)
    gvcf_bytes = sum(f.stat().st_size for f in (root / "inbox").rglob("*.g.vcf.gz"))
    n_batches = len(list((root / "inbox").iterdir()))
    rows = []
    r = run_workflow(root, config)
    rows.append({"samples": n, "run": "v1", "batches": n_batches, "gvcf_gb": round(gvcf_bytes / 1e9, 2), **r,
                 **describe(root / "results", "v1")})
    print(json.dumps(rows[-1]), flush=True)
    shutil.move(str(root / "add" / "batch_add"), str(root / "inbox" / "batch_add"))
    cfg = yaml.safe_load(config.read_text())
    cfg["release"] = "v2"
    config2 = root / "config-v2.yaml"
    config2.write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = run_workflow(root, config2)
    rows.append({"samples": n, "run": f"v2 (+{add})", "batches": n_batches + 1, **r,
                 **describe(root / "results", "v2")})
    print(json.dumps(rows[-1]), flush=True)
    return rows


# -- report ------------------------------------------------------------------------------------------------------


def table(rows: list[dict]) -> str:
    shown = [s for s in ORDER[:6]]
    head = ("| samples | run | wall | CPU | peak RSS | load avg (mean/max) | "
            + " | ".join(f"{s} wall / CPU / RSS" for s in shown) + " | variants | released |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        st = r["stages"]
        cells = [f"{st[s]['wall_s']:.0f} s / {st[s]['cpu_s']:.0f} s / {st[s]['peak_rss_gib']:.2f} GiB" if s in st
                 else "" for s in shown]
        lines.append(f"| {r['samples']} | {r['run']} | {r['wall_s'] / 60:.1f} min | {r['cpu_s'] / 60:.1f} min | "
                     f"{r['peak_rss_gib']:.2f} GiB | {r['load_mean']:.1f} / {r['load_max']:.1f} | "
                     + " | ".join(cells) + f" | {r['variants']:,} | {r['released_samples']} |")
    return "\n".join(lines)


def versions() -> str:
    import hail
    import pysam

    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    return (f"callset {__import__('callset').__version__}, hail {hail.__version__}, pysam {pysam.__version__}, "
            f"python {platform.python_version()}, {java}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="250,500,1000", help="cohort sizes, comma-separated")
    ap.add_argument("--batch-size", type=int, default=100, help="samples per batch (the simulator's default)")
    ap.add_argument("--add", type=int, default=10, help="samples of the batch added before release v2")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--simulate", type=int, default=None,
                    help="samples to simulate (+ --add; default: the largest scale): one simulation serves runs of "
                         "smaller scales, e.g. --scales 250 --simulate 1000 now and --scales 500,1000 --simulate 1000 "
                         "later on the same inputs")
    ap.add_argument("--work", type=Path, default=Path("/tmp/callset-scale"), help="kept between runs")
    ap.add_argument("--write-results", action="store_true", help="prepend the table to benchmarks/RESULTS.md")
    args = ap.parse_args()
    scales = [int(x) for x in args.scales.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    become_subreaper()
    n_sim = args.simulate or max(scales)
    if n_sim < max(scales):
        raise SystemExit(f"--simulate {n_sim} is smaller than the largest scale {max(scales)}")
    sim = simulate(args.work / f"sim{n_sim + args.add}-seed{args.seed}", n_sim, args.add, args.seed)
    sim_s = (sim / "simulate_seconds.txt").read_text().strip()
    opts = yaml.safe_load((sim / "config.yaml").read_text())["simulation"]
    windows = opts.get("windows", [])
    autosome_bp = sum(w["end"] - w["start"] for w in windows if w.get("kind") == "autosome")
    print(f"simulation: {n_sim + args.add} samples, {autosome_bp / 1e6:.1f} Mb of autosome in "
          f"{sum(w.get('kind') == 'autosome' for w in windows)} windows, {sim_s} s", flush=True)
    rows: list[dict] = []
    for n in scales:
        rows += run_scale(sim, n, args.batch_size, args.add, args.work)
        (args.work / "scale_rows.json").write_text(json.dumps(rows, indent=1))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    md = (f"## {stamp} — whole workflow at scale (`benchmarks/scale_e2e.py --scales {args.scales}`)\n\n"
          f"Machine: {os.cpu_count()} cores, shared (load averages below). {versions()}. Inputs: one "
          f"`callset simulate` (seed {args.seed}, defaults: {autosome_bp / 1e6:.1f} Mb of autosome in "
          f"{sum(w.get('kind') == 'autosome' for w in windows)} windows + chrX/chrY, indels, GATK GQ bands; "
          f"{sim_s} s), batches of {args.batch_size}; v2 adds one batch of {args.add}. Wall/CPU/RSS per stage "
          f"from sampling every process of the run (Python + JVM).\n\n" + table(rows) + "\n")
    (args.work / "scale_summary.md").write_text(md)
    print(md)
    if args.write_results:
        old = RESULTS_MD.read_text()
        head, _, rest = old.partition("\n## ")
        RESULTS_MD.write_text(f"{head.rstrip()}\n\n{md}\n## {rest}" if rest else f"{old.rstrip()}\n\n{md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
