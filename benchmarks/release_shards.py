#!/usr/bin/env python
"""Release cost against shard count for the same data (issue 18 section 1). Not part of `make test`.

Simulates a cohort with `callset simulate`'s defaults (200 samples unless told), runs the workflow up to the
release's inputs (intake, joint calling, sample QC, variant QC; cached in --work), then writes the release in
one Hail session with every product on (smaller callsets ACAF/exome/ClinVar as configured, VCF/PLINK/BGEN
exports, public summary, VAT) twice per repeat: with one shard per contig, and with ~``--shards`` shards.
The ratio of the medians is the figure (target <= 1.5x).

``--per-job`` also times what one shard costs as its own Hail job (a fresh JVM that reads one dense shard of
the release and writes it again with its VCF): the floor of a per-shard Snakemake job, whatever the cluster.

    .venv/bin/python benchmarks/release_shards.py --work /tmp/release-bench [--samples 200] [--shards 100]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
QC_TABLES = ("sample_qc", "related_pairs", "ancestry_preds", "flagged_samples")


def prepare(work: Path, samples: int, seed: int = 1) -> Path:
    """A simulated cohort run through the workflow up to the release's inputs; returns its results folder."""
    sim = work / f"sim{samples}-{seed}"
    if not (sim / "config.yaml").exists():
        subprocess.run([str(BIN / "callset"), "simulate", "--samples", str(samples), "--seed", str(seed),
                        "--out", str(sim)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = sim / "results"
    targets = [str(results / "qc" / f"{t}.tsv") for t in QC_TABLES] + [str(results / "variant_qc" / "sites.ht")]
    if not all(Path(t).exists() for t in targets):
        subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(sim), "--cores",
                        "2", *targets, "--configfile", str(sim / "config.yaml")], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return results


def write(results: Path, out: Path, target: int) -> dict:
    """The release rule's function with ``target_variants_per_shard = target``; returns its manifest."""
    from callset.release.write import write_release_from_cohort

    step = sorted((results / "joint" / "cohort").iterdir())[-1]
    shutil.rmtree(out, ignore_errors=True)
    return write_release_from_cohort(
        cohort_step=str(step), research_ids_tsv=str(results / "private" / "research_ids.tsv"), withdrawals=None,
        registry_path=str(results / "registry.sqlite"), release_dir=str(out), release=out.name,
        reference_genome="GRCh38", release_options={"target_variants_per_shard": target},
        qc_tables={t: str(results / "qc" / f"{t}.tsv") for t in QC_TABLES},
        variant_qc_sites=str(results / "variant_qc" / "sites.ht"),
    )


def per_job(release: Path, work: Path) -> float:
    """Seconds for one shard as its own Hail job: a fresh Python + JVM reads one dense shard, writes it again
    and exports its VCF (a lower bound of what a per-shard Snakemake job costs)."""
    shard = json.loads((release / "manifest.json").read_text())["shards"][0]["path"]
    code = (
        "import hail as hl; from callset.runtime.hail_setup import setup_hail; "
        f"setup_hail(master='local[2]', tmp_dir='{work}/jobtmp', log_path='{work}/job.hail.log'); "
        f"mt = hl.read_matrix_table('{release / shard}'); mt.write('{work}/job.mt', overwrite=True); "
        "from callset.release.exports import export_shard; from pathlib import Path; "
        f"export_shard(hl.read_matrix_table('{work}/job.mt'), Path('{work}'), 'job-{{fmt}}', formats=['vcf'])"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def measure(work: Path, *, samples: int = 200, shards: int = 100, repeat: int = 3, with_per_job: bool = False
            ) -> dict:
    """Median release time with one shard per contig and with ~``shards`` shards (alternating runs)."""
    results = prepare(work, samples)
    from callset.runtime.hail_setup import setup_hail

    setup_hail(master="local[2]", driver_memory="4g", tmp_dir=work / "tmp", log_path=work / "release.hail.log")
    times: dict[str, list[float]] = {"one": [], "many": []}
    info: dict[str, dict] = {}
    target = {"one": 10**9}  # one shard per contig
    order = [name for i in range(repeat) for name in (("one", "many") if i % 2 == 0 else ("many", "one"))]
    for j, name in enumerate(order):
        if name not in target:  # ~shards shards: the first run (one shard per contig) told the variant count
            target[name] = max(1, info["one"]["n_variants"] // shards)
        t0 = time.perf_counter()
        m = write(results, work / "releases" / f"{name}{j}" / "v1", target[name])  # no previous release
        times[name].append(time.perf_counter() - t0)
        info[name] = {"n_shards": len(m["shards"]), "n_variants": m["n_variants"], "n_samples": m["n_samples"],
                      "target": target[name], "path": str(work / "releases" / f"{name}{j}" / "v1")}
    out = {k: {**info[k], "median_s": statistics.median(v), "runs_s": v} for k, v in times.items()}
    out["ratio"] = out["many"]["median_s"] / out["one"]["median_s"]
    if with_per_job:
        out["per_job_s"] = per_job(Path(info["many"]["path"]), work)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=None, help="keep the simulation and workflow results here between runs")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--shards", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--per-job", action="store_true", help="also time one shard as its own Hail job")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="callset-release-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    r = measure(work, samples=args.samples, shards=args.shards, repeat=args.repeat, with_per_job=args.per_job)
    print(json.dumps(r, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
