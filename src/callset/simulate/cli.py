"""Command line: ``callset simulate --samples N --seed S --out DIR [options]``.

The ``callset`` console command wires this in with :func:`add_parser`; ``python -m callset.simulate``
uses :func:`main`.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from callset.simulate.cohort import SimulationOptions, simulate_cohort
from callset.simulate.gvcf import BAND_PRESETS

log = logging.getLogger(__name__)


def _floats(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one number")
    return vals


def _fractions(text: str) -> tuple[float, ...]:
    vals = _floats(text)
    if any(not 0 < v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"fractions must be in (0, 1), got {text!r}")
    return vals


def _proportions(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in text.split(","):
        name, _, val = item.partition("=")
        try:
            out[name.strip().upper()] = float(val)
        except ValueError:
            msg = f"expected e.g. AFR=0.4,EUR=0.35,EAS=0.25, got {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
    return out


def _range(text: str) -> tuple[float, float]:
    vals = _floats(text)
    if len(vals) != 2 or vals[0] > vals[1] or vals[0] <= 0:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}")
    return vals[0], vals[1]


def _bands(text: str) -> str:
    if text not in BAND_PRESETS:
        raise argparse.ArgumentTypeError(f"choose one of {sorted(BAND_PRESETS)}")
    return text


def _flavors(text: str) -> str:
    names = [f.strip() for f in text.split(",") if f.strip()]
    if not names or any(f not in ("gatk", "dragen", "deepvariant") for f in names):
        raise argparse.ArgumentTypeError(f"expected gatk, dragen or deepvariant (comma-separated), got {text!r}")
    return ",".join(names)


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the simulate options to ``p``."""
    p.add_argument("--samples", type=int, required=True, help="number of submitted samples")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed → identical output)")
    p.add_argument("--out", required=True, help="output folder (DIR/inbox, DIR/truth.tsv, DIR/config.yaml…)")
    p.add_argument(
        "--batches", type=int, default=None, help="number of batches (default: one per 100 samples)",
    )
    g = p.add_argument_group("genome windows")
    g.add_argument("--region-size", type=int, default=10_000_000,
                   help="total autosomal size (bp), split evenly over the autosomal windows (default 10 Mb)")
    g.add_argument("--autosomes", type=int, default=None,
                   help="number of autosomal windows, each on its own chromosome with its own genealogy "
                   "(default 10: chr12-chr20 and chr22, 1 Mb each; up to 22)")
    g.add_argument("--contig", dest="autosome_contig", default=None,
                   help="autosomal window contigs, comma-separated (e.g. chr20 for one window as before)")
    g.add_argument("--start", dest="autosome_start", default=None,
                   help="autosomal window start(s), 1-based: one for all or one per --contig")
    g.add_argument("--chrx-size", type=int, default=None, help="chrX non-PAR window (default 20%% of region)")
    g.add_argument("--par-size", type=int, default=None, help="chrX PAR1 window (default 5%% of region)")
    g.add_argument("--chry-size", type=int, default=None, help="chrY window (default 5%% of region)")
    g.add_argument("--mutation-rate", type=float, default=None, help="per bp per generation (2.35e-8)")
    g.add_argument("--recombination-rate", type=float, default=None, help="per bp per generation (1.15e-8)")
    g.add_argument("--indel-ratio", type=float, default=None,
                   help="indel rate outside tandem repeats relative to the SNV rate (default 0.11)")
    g.add_argument("--repeat-indel-rate", type=float, default=None,
                   help="indel rate of a 10-unit tandem repeat per generation (default 2e-6)")
    g.add_argument("--no-indels", action="store_true", help="SNVs only (both indel rates 0)")
    g.add_argument("--ancestry-proportions", type=_proportions, default=None,
                   help="cohort ancestry mix, e.g. AFR=0.4,EUR=0.35,EAS=0.25")
    g.add_argument("--panel-size", dest="panel_per_ancestry", type=int, default=30,
                   help="reference-panel individuals per ancestry group")
    a = p.add_argument_group("planted anomalies")
    a.add_argument("--anomaly-rate", type=float, default=0.02,
                   help="fraction of samples per anomaly type (at least 1 each when > 0)")
    a.add_argument("--duplicates", type=int, default=None, help="people submitted twice under two IDs")
    a.add_argument("--parent-child", type=int, default=None, help="parent–child pairs")
    a.add_argument("--contaminated", type=int, default=None, help="contaminated samples")
    a.add_argument("--contamination-fractions", type=_fractions, default=(0.02, 0.05, 0.10),
                   help="fractions assigned in turn to contaminated samples")
    a.add_argument("--low-coverage", type=int, default=None, help="low-coverage samples")
    a.add_argument("--low-coverage-range", type=_range, default=(6.0, 12.0), help="LOW,HIGH mean depth")
    a.add_argument("--sex-mismatch", type=int, default=None, help="samples with reported sex ≠ karyotype")
    a.add_argument("--x0", type=int, default=0, help="individuals with karyotype X0")
    a.add_argument("--xxy", type=int, default=0, help="individuals with karyotype XXY")
    a.add_argument("--unknown-sex", type=int, default=0, help="samples reported with sex 'unknown'")
    a.add_argument("--swaps", type=int, default=0,
                   help="samples whose CRAM is another person's (a sample swap; they get a CRAM; truth.tsv "
                   "cram_person)")
    s = p.add_argument_group("sequencing")
    s.add_argument("--coverage", type=float, default=35.0, help="mean depth of normal samples")
    s.add_argument("--coverage-sd", type=float, default=3.0, help="sample-to-sample sd of depth")
    s.add_argument("--error-rate", type=float, default=0.002, help="per-base sequencing error rate")
    s.add_argument("--gq-bands", type=_bands, default="gatk",
                   help=f"reference-block GQ bands: {', '.join(sorted(BAND_PRESETS))} (default gatk)")
    s.add_argument("--hemizygous", choices=("haploid", "diploid"), default="haploid",
                   help="calling ploidy of single-copy chrX non-PAR/chrY: haploid (default; GT 0 or 1, "
                   "like DRAGEN or HaplotypeCaller --sample-ploidy 1) or diploid (HaplotypeCaller's "
                   "default ploidy 2: a hemizygous ALT is 1/1, read errors give occasional 0/1)")
    s.add_argument("--flavor", type=_flavors, default="gatk",
                   help="gVCF layout of the caller: gatk (HaplotypeCaller, default), dragen or deepvariant (same "
                   "calls, that caller's records and header); comma-separated: the batches in turn")
    s.add_argument("--no-truth-genotypes", dest="truth_genotypes", action="store_false",
                   help="skip DIR/truth_genotypes.vcf.bgz")
    s.add_argument("--cram-samples", type=int, default=0, help="write CRAMs for the first K samples")
    s.add_argument("--cram-region-size", type=int, default=20_000, help="bp per window covered by CRAMs")
    v = p.add_argument_group("variant QC truth")
    v.add_argument("--genes", type=int, default=0,
                   help="synthetic protein-coding genes spread over the autosomal windows "
                   "(writes reference/genes.gff3)")
    v.add_argument("--artefacts", type=int, default=0,
                   help="planted artefact sites (strand bias, low MQ, low QD; a third of them indels) listed "
                   "in artefacts.tsv")
    p.add_argument("--release", default="v1", help="release name written to config.yaml")
    p.add_argument("--jobs", type=int, default=0, help="worker processes (default: up to 2)")


def add_parser(subparsers: Any) -> None:
    """Register the ``simulate`` subcommand on an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "simulate", help="simulate genome-centre gVCF batches with known truth",
        description="Write simulated batches (DIR/inbox), truth.tsv, an ancestry panel and config.yaml.",
    )
    configure_parser(p)
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> SimulationOptions:
    """Translate parsed arguments into :class:`SimulationOptions`."""
    if args.samples < 1:
        raise ValueError("--samples must be >= 1")
    batches = args.batches if args.batches is not None else max(1, -(-args.samples // 100))
    kw: dict[str, Any] = {
        k: getattr(args, k)
        for k in (
            "seed", "region_size", "autosome_contig", "autosome_start", "chrx_size", "par_size", "chry_size",
            "anomaly_rate", "duplicates", "parent_child", "contaminated", "low_coverage", "sex_mismatch",
            "x0", "xxy", "unknown_sex", "contamination_fractions", "coverage", "coverage_sd",
            "low_coverage_range",
            "panel_per_ancestry", "cram_samples", "cram_region_size", "gq_bands", "error_rate", "jobs",
            "hemizygous", "truth_genotypes",
            "release", "genes", "artefacts", "swaps", "flavor",
        )
    }
    for k in ("mutation_rate", "recombination_rate", "ancestry_proportions", "autosomes", "indel_ratio",
              "repeat_indel_rate"):
        if getattr(args, k, None) is not None:
            kw[k] = getattr(args, k)
    if getattr(args, "no_indels", False):
        kw["indel_ratio"] = kw["repeat_indel_rate"] = 0.0
    return SimulationOptions(samples=args.samples, batches=batches, **kw)


def run(args: argparse.Namespace) -> int:
    """Run the simulation described by ``args``; returns a process exit code."""
    try:
        opts = options_from_args(args)
        t0 = time.perf_counter()
        res = simulate_cohort(args.out, opts)
    except ValueError as e:
        log.error("simulate: %s", e)
        return 2
    log.info(
        "wrote %d samples in %d batch(es) to %s in %.1f s (%d gVCF records, %d variant calls); config: %s",
        opts.samples, len(res.manifests), res.out, time.perf_counter() - t0, res.n_records, res.n_variants,
        res.config,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m callset.simulate``)."""
    parser = argparse.ArgumentParser(prog="python -m callset.simulate", description=__doc__)
    configure_parser(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("msprime").setLevel(logging.WARNING)
    return run(args)
