"""Sample QC accuracy against simulated truth, and how long each part takes.

    .venv/bin/python benchmarks/sample_qc_accuracy.py [--samples 200] [--seed 7] [--out DIR]
        [--recombination-rate 1e-6] [--hemizygous haploid|diploid]

Simulates a cohort with planted anomalies (duplicates, parent-child pairs, 2/5/10 % contamination,
flipped reported sex, X0, XXY, low coverage), runs intake with relaxed thresholds, joint-calls, runs sample
QC and prints each figure the issue asks for: karyotype and sex-discordance accuracy, duplicate and
first-degree recall with false pairs, contamination recall and false-flag rate, ancestry accuracy.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default=None, help="work folder (default: a temporary one)")
    p.add_argument("--recombination-rate", type=float, default=1e-6)
    p.add_argument("--hemizygous", choices=("haploid", "diploid"), default="haploid")
    p.add_argument("--driver-memory", default="4g")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.out or tempfile.mkdtemp(prefix="sqc-bench-"))

    from callset.runtime.hail_setup import setup_hail

    setup_hail(master="local[2]", driver_memory=args.driver_memory, tmp_dir=out / "tmp", log_path=out / "hail.log")

    from harness.sample_qc_accuracy import read_truth, score, shared_haplotype_pairs, simulate_and_joint_call

    from callset.core.cohort import read_cohort_vds
    from callset.sample_qc.pipeline import read_center_metrics, run_sample_qc

    t0 = time.perf_counter()
    paths = simulate_and_joint_call(
        out,
        samples=args.samples,
        seed=args.seed,
        batches=1,
        duplicates=3,
        parent_child=4,
        contaminated=12,
        contamination_fractions=(0.02, 0.05, 0.10),
        sex_mismatch=4,
        x0=2,
        xxy=2,
        low_coverage=2,
        cram_samples=2,
        recombination_rate=args.recombination_rate,
        gq_bands="reblock",
        hemizygous=args.hemizygous,
    )
    t1 = time.perf_counter()
    sim = paths["sim"]
    res = run_sample_qc(
        read_cohort_vds(paths["step"]),
        center=read_center_metrics([str(a) for a in paths["accepted"]]),  # type: ignore[union-attr]
        panel_vcf=str(sim / "panel" / "panel.vcf.bgz"),
        reference_fasta=str(sim / "reference" / "sim.fa.gz"),
    )
    t2 = time.perf_counter()
    genomic = shared_haplotype_pairs(sim / "truth_genotypes.vcf.bgz")
    acc = score(res.samples, res.related_pairs, read_truth(str(sim / "truth.tsv")), genomic_pairs=genomic)
    print(f"cohort: {acc.n_samples} samples, {res.n_qc_sites} QC sites; work folder {out}")
    print(f"time: simulate+intake+joint-call {t1 - t0:.0f} s, sample QC {t2 - t1:.0f} s")
    print(f"karyotype accuracy            {acc.karyotype_accuracy:.4f}")
    print(f"sex-discordance accuracy      {acc.sex_discordance_accuracy:.4f} ({acc.n_true_discordant} discordant)")
    print(f"duplicate pairs found         {acc.duplicate_recall:.3f} of {acc.n_duplicate_pairs}")
    print(f"first-degree pairs found      {acc.first_degree_recall:.3f} of {acc.n_first_degree_pairs}")
    print(f"false pairs (kinship >= 0.1)  {acc.n_false_pairs} {acc.false_pairs[:5]}")
    print(f"unplanted shared-haplotype pairs found {acc.unplanted_found} of {acc.n_unplanted_related}")
    print(f"contamination >= 5% flagged   {acc.contamination_recall:.3f} of {acc.n_contaminated_5pct}")
    print(f"clean samples flagged         {acc.contamination_false_flag_rate:.4f} of {acc.n_clean}")
    print(f"2% contaminated flagged       {acc.contamination_2pct_flagged}")
    print(f"ancestry accuracy             {acc.ancestry_accuracy:.4f} ({acc.n_ancestry_wrong} wrong or oth)")


if __name__ == "__main__":
    main()
