"""Variant filter precision/recall on planted artefacts, and variant-QC stage timings.

    .venv/bin/python benchmarks/variant_qc_filter.py [--samples 40] [--region-size 300000] [--artefacts 150]

Simulates a cohort with ``--artefacts`` planted artefact sites (strand bias / low MQ / low QD, one kind per
site) and ``--genes`` synthetic genes, joint-calls it, runs the variant-QC sites computation and prints, for
each learned-filter model, precision and recall on the artefacts of the learned filter alone and of all
site filters together. Numbers only; the floor is held by tests/test_variant_qc.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--region-size", type=int, default=300_000)
    ap.add_argument("--artefacts", type=int, default=150)
    ap.add_argument("--genes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=None, help="work folder (default: a temporary one)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from callset.runtime.hail_setup import setup_hail
    from callset.simulate.cohort import SimulationOptions, simulate_cohort

    out = Path(args.out or tempfile.mkdtemp(prefix="vqc-bench-"))
    t0 = time.perf_counter()
    simulate_cohort(out / "sim", SimulationOptions(
        samples=args.samples, seed=args.seed, region_size=args.region_size, chrx_size=50_000, par_size=20_000,
        chry_size=20_000, panel_per_ancestry=15, genes=args.genes, artefacts=args.artefacts,
    ))
    t_sim = time.perf_counter() - t0

    setup_hail(master="local[2]", driver_memory="2g", tmp_dir=out / "tmp", log_path=out / "hail.log")
    import hail as hl
    from harness.variant_qc_evaluate import artefact_metrics, combine_simulated

    from callset.variant_qc.clinvar import import_training_sites
    from callset.variant_qc.learned import annotate_learned_filter
    from callset.variant_qc.pipeline import compute_sites

    t0 = time.perf_counter()
    vds_path = combine_simulated(out / "sim", str(out / "cohort.vds"), str(out / "combine"))
    t_combine = time.perf_counter() - t0
    sim = out / "sim"
    t0 = time.perf_counter()
    ht, summary = compute_sites(
        hl.vds.read_vds(vds_path), work_dir=str(out / "work"), fasta=str(sim / "reference" / "sim.fa.gz"),
        gff3=str(sim / "reference" / "genes.gff3"), training_sites=str(sim / "panel" / "panel.vcf.bgz"),
    )
    ht = ht.checkpoint(str(out / "sites.ht"), overwrite=True)
    t_sites = time.perf_counter() - t0
    n = ht.count()
    print(f"cohort: {args.samples} samples, {args.region_size:,} bp autosome, {n} split variants, "
          f"{args.artefacts} planted artefacts")
    print(f"time: simulate {t_sim:.1f} s, joint-call {t_combine:.1f} s, variant QC sites {t_sites:.1f} s")

    metrics = hl.read_table(str(out / "work" / "metrics.ht"))
    from callset.variant_qc.filters import site_filters_expr

    metrics = metrics.annotate(filters=site_filters_expr(metrics))
    training = import_training_sites(str(sim / "panel" / "panel.vcf.bgz"))
    hard = artefact_metrics(metrics, sim / "artefacts.tsv")["any_filter"]
    print(f"hard filters only      precision {hard['precision']:.3f} recall {hard['recall']:.3f} "
          f"(tp {hard['tp']} fp {hard['fp']}) by kind {json.dumps(_r(hard['recall_by_kind']))}")
    for model in ("gmm", "isolation_forest"):
        for sens in (0.99, 0.997):
            scored, _ = annotate_learned_filter(metrics, training_ht=training, model=model, snv_sensitivity=sens)
            m = artefact_metrics(scored, sim / "artefacts.tsv")
            for which in ("learned", "any_filter"):
                x = m[which]
                print(f"{model:16s} sens {sens:<6} {which:10s} precision {x['precision']:.3f} "
                      f"recall {x['recall']:.3f} (tp {x['tp']} fp {x['fp']} fn {x['fn']}) "
                      f"by kind {json.dumps(_r(x['recall_by_kind']))}")
    print(json.dumps(summary["learned_filter"], default=str))
    print(f"work folder: {out}")


def _r(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in d.items()}


if __name__ == "__main__":
    main()
