"""Orchestration: plan → genetics → genomes → per-sample gVCFs (+CRAMs) → manifests, truth, panel, config.

Output layout (``DIR`` = ``out``)::

    DIR/config.yaml                         runs the pipeline as is (absolute paths)
    DIR/truth.tsv                           one row per submitted sample (see README.md)
    DIR/inbox/batch_001/manifest.tsv        the genome-centre manifest
    DIR/inbox/batch_001/S0001.g.vcf.gz(.tbi)
    DIR/inbox/batch_001/S0001.cram(.crai)   only for --cram-samples
    DIR/panel/panel.vcf.bgz(.tbi)           labelled ancestry reference panel (true genotypes)
    DIR/panel/labels.tsv                    sample_id <TAB> ancestry
    DIR/reference/sim.fa.gz(.fai,.gzi)      simulated reference (GRCh38 contig lengths, N outside windows)
    DIR/reference/windows.bed               the simulated windows (0-based, half-open)
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pysam
import yaml

from callset.core.bgzf import BgzfWriter
from callset.simulate.artefacts import ArtefactSite, plan_artefacts, write_artefacts_tsv
from callset.simulate.cram import write_cram
from callset.simulate.fasta import contig_sequences, write_fasta
from callset.simulate.flavors import FLAVORS, convert_gvcf
from callset.simulate.genes import Gene, apply_genes, design_genes, gene_spans, write_gff3
from callset.simulate.genetics import (
    ANCESTRIES,
    DEFAULT_MUTATION_RATE,
    DEFAULT_RECOMBINATION_RATE,
    STAR,
    MutationModel,
    WindowGenetics,
    simulate_window,
    trim_alleles,
)
from callset.simulate.genomes import Genome, build_genomes
from callset.simulate.gvcf import ReadModel, band_edges, gvcf_header, md5sum, write_gvcf
from callset.simulate.identity import plan_swaps, write_fingerprint_panel
from callset.simulate.plan import AnomalyCounts, CohortPlan, Sample, plan_cohort
from callset.simulate.regions import Window, default_windows, grch38_lengths

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = (
    "sample_id", "gvcf", "gvcf_md5", "cram", "cram_md5", "reported_sex", "mean_coverage",
    "genome_coverage_20x", "contamination", "aligned_q30_bases", "array_concordance", "resubmission",
)
TRUTH_COLUMNS = (
    "sample_id", "ancestry", "karyotype", "reported_sex", "contamination", "mean_coverage",
    "duplicate_of", "relatives",
    # extras
    "batch_id", "true_individual", "contaminant", "low_coverage", "sex_mismatch", "measured_coverage",
    "gvcf", "cram", "cram_person",
)
#: Haploid-equivalent genome size used to extrapolate ``aligned_q30_bases`` from the simulated depth.
GENOME_SIZE = 3.1e9


@dataclass
class SimulationOptions:
    """Everything that shapes a simulated cohort (all keyword tunables of the CLI)."""

    samples: int
    seed: int = 1
    batches: int = 1
    #: total autosomal size, split evenly over the autosomal windows
    region_size: int = 10_000_000
    #: number of autosomal windows (default 10, or one per contig of ``autosome_contig``)
    autosomes: int | None = None
    #: comma-separated contigs of the autosomal windows (default: regions.AUTOSOME_WINDOWS)
    autosome_contig: str | None = None
    #: window start(s), one for all or comma-separated per contig (needs ``autosome_contig``)
    autosome_start: str | int | None = None
    chrx_size: int | None = None
    par_size: int | None = None
    chry_size: int | None = None
    anomaly_rate: float = 0.02
    duplicates: int | None = None
    parent_child: int | None = None
    contaminated: int | None = None
    low_coverage: int | None = None
    sex_mismatch: int | None = None
    x0: int = 0
    xxy: int = 0
    unknown_sex: int = 0
    contamination_fractions: tuple[float, ...] = (0.02, 0.05, 0.10)
    coverage: float = 35.0
    coverage_sd: float = 3.0
    low_coverage_range: tuple[float, float] = (6.0, 12.0)
    ancestry_proportions: dict[str, float] = field(
        default_factory=lambda: {"AFR": 0.4, "EUR": 0.35, "EAS": 0.25}
    )
    panel_per_ancestry: int = 30
    cram_samples: int = 0
    cram_region_size: int = 20_000
    gq_bands: str = "gatk"
    hemizygous: str = "haploid"
    truth_genotypes: bool = True
    error_rate: float = 0.002
    mutation_rate: float = DEFAULT_MUTATION_RATE
    recombination_rate: float = DEFAULT_RECOMBINATION_RATE
    #: indel rate outside tandem repeats relative to the SNV rate (0 with repeat_indel_rate 0: SNVs only)
    indel_ratio: float = MutationModel.indel_ratio
    #: indel rate of a 10-unit tandem repeat (per generation)
    repeat_indel_rate: float = MutationModel.str_rate
    jobs: int = 0
    release: str = "v1"
    genes: int = 0
    artefacts: int = 0
    #: samples whose CRAM is made from another person's copies (planted swaps; they get a CRAM)
    swaps: int = 0
    #: gVCF layout: gatk (HaplotypeCaller), dragen or deepvariant (callset.simulate.flavors); a comma-separated
    #: list gives the batches these layouts in turn (batch 1 the first, ...)
    flavor: str = "gatk"

    def flavor_of(self, batch_index: int) -> str:
        """The gVCF layout of the ``batch_index``-th batch (0-based)."""
        names = [f.strip() for f in self.flavor.split(",") if f.strip()]
        return names[batch_index % len(names)]

    def anomaly_counts(self) -> AnomalyCounts:
        base = AnomalyCounts.from_rate(self.samples, self.anomaly_rate, x0=self.x0, xxy=self.xxy)
        for name in ("duplicates", "parent_child", "contaminated", "low_coverage", "sex_mismatch"):
            v = getattr(self, name)
            if v is not None:
                setattr(base, name, v)
        return base


@dataclass
class SimulationResult:
    """Paths of what was written and summary numbers."""

    out: Path
    config: Path
    truth: Path
    manifests: list[Path]
    panel: Path
    fasta: Path
    n_records: int
    n_variants: int
    bytes_written: int


# --- worker state (inherited by forked workers) ------------------------------------------------
_STATE: dict[str, Any] = {}


def _sample_task(i: int) -> dict[str, Any]:
    st = _STATE
    opts: SimulationOptions = st["opts"]
    plan: CohortPlan = st["plan"]
    genomes: dict[str, Genome] = st["genomes"]
    genetics: list[WindowGenetics] = st["genetics"]
    s = plan.samples[i]
    by_id = st["by_id"]
    genome = genomes[s.person_id]
    cont = genomes[by_id[s.contaminant].person_id] if s.contaminant else None
    batch_dir: Path = st["inbox"] / s.batch_id
    model = ReadModel(error_rate=opts.error_rate)
    rng = np.random.default_rng(np.random.SeedSequence([opts.seed, 0x6FCF, i]))
    arts = st["artefacts_of"].get(i, [])
    arng = np.random.default_rng(np.random.SeedSequence([opts.seed, 0xA27, i])) if arts else None
    gv = write_gvcf(
        batch_dir / f"{s.sample_id}.g.vcf.gz", s.sample_id, st["header"], genetics, genome, cont,
        s.contamination, s.coverage, rng, model=model, edges=st["edges"], hemizygous=opts.hemizygous,
        artefacts=arts, artefact_rng=arng,
    )
    flavor = opts.flavor_of(plan.batches.index(s.batch_id))
    if flavor != "gatk":
        convert_gvcf(gv.path, flavor)
        gv.md5 = md5sum(gv.path)
    out: dict[str, Any] = {
        "gvcf": gv.path.name, "gvcf_md5": gv.md5, "n_records": gv.n_records, "n_variants": gv.n_variants,
        "mean_coverage": gv.mean_coverage, "coverage_20x": gv.coverage_20x, "cram": "", "cram_md5": "",
        "bytes": gv.path.stat().st_size,
    }
    if s.write_cram:
        crng = np.random.default_rng(np.random.SeedSequence([opts.seed, 0xC7A, i]))
        cram_genome = genomes[s.cram_person] if s.cram_person else genome  # a planted swap: another person
        cram = write_cram(
            batch_dir / f"{s.sample_id}.cram", s.sample_id, genetics, cram_genome, cont, s.contamination,
            s.coverage, crng, fasta=st["fasta"], contig_lengths=st["lengths"], contig_md5=st["md5s"],
            size=opts.cram_region_size, model=model,
        )
        out["cram"] = cram.name
        out["cram_md5"] = md5sum(cram)
        out["bytes"] += cram.stat().st_size
    return out


def _run_samples(n: int, jobs: int) -> list[dict[str, Any]]:
    """Simulate every sample (forked workers inherit ``_STATE``); results in sample order."""
    step = max(1, n // 10)
    results: list[dict[str, Any]] = []

    def collect(it: Any) -> list[dict[str, Any]]:
        for r in it:
            results.append(r)
            if len(results) % step == 0 or len(results) == n:
                log.info("samples written: %d/%d", len(results), n)
        return results

    if jobs <= 1 or n <= 1:
        return collect(_sample_task(i) for i in range(n))
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes=min(jobs, n)) as pool:
        return collect(pool.imap(_sample_task, range(n), chunksize=1))


def simulate_cohort(out: str | Path, opts: SimulationOptions) -> SimulationResult:
    """Simulate a cohort into ``out`` (created; existing simulator files are overwritten)."""
    out = Path(out).resolve()
    if not opts.flavor or any(f.strip() not in FLAVORS for f in opts.flavor.split(",")):
        raise ValueError(f"unknown flavor {opts.flavor!r}; choose from {', '.join(FLAVORS)} (comma-separated)")
    inbox = out / "inbox"
    lengths = grch38_lengths()
    plan = _plan(opts)
    windows = simulation_windows(opts)
    log.info("simulating %d samples (%d people) in %d batch(es) on %s", len(plan.samples),
             sum(p.submitted for p in plan.people.values()), len(plan.batches),
             ", ".join(w.interval for w in windows))
    genetics, genes = _simulate_genetics(windows, plan, opts)
    genomes = build_genomes(plan, genetics, seed=opts.seed)
    autosomal = [g for g in genetics if g.window.kind == "autosome"]
    artefacts = plan_artefacts(
        autosomal, opts.artefacts, len(plan.samples), np.random.default_rng(np.random.SeedSequence([opts.seed, 0xA27E]))
    )
    fasta, md5s, extras = _write_reference(out, opts, plan, windows, genetics, genes, artefacts, lengths)
    for b in plan.batches:
        (inbox / b).mkdir(parents=True, exist_ok=True)

    jobs = opts.jobs or min(2, os.cpu_count() or 1)
    _STATE.clear()
    _STATE.update(
        opts=opts, plan=plan, genomes=genomes, genetics=genetics, inbox=inbox, fasta=fasta, md5s=md5s,
        lengths=lengths, header=gvcf_header(lengths, bands=opts.gq_bands, note=f"seed={opts.seed}"),
        edges=band_edges(opts.gq_bands), by_id={s.sample_id: s for s in plan.samples},
        artefacts_of=_artefacts_by_sample(artefacts),
    )
    try:
        results = _run_samples(len(plan.samples), jobs)
    finally:
        _STATE.clear()

    manifests = _write_manifests(inbox, plan, results, seed=opts.seed)
    truth = _write_truth(out / "truth.tsv", plan, results)
    panel = _write_panel(out / "panel", plan, genomes, genetics, lengths)
    extras["fingerprint_panel"] = write_fingerprint_panel(out / "panel", plan, genomes, genetics, lengths)
    if opts.truth_genotypes:
        _write_truth_genotypes(out / "truth_genotypes.vcf.bgz", plan, genomes, genetics, lengths)
    config = _write_config(out, opts, windows, panel, truth, fasta, extras)
    return SimulationResult(
        out=out, config=config, truth=truth, manifests=manifests, panel=panel, fasta=fasta,
        n_records=sum(r["n_records"] for r in results), n_variants=sum(r["n_variants"] for r in results),
        bytes_written=sum(r["bytes"] for r in results),
    )


def _plan(opts: SimulationOptions) -> CohortPlan:
    """The cohort plan of ``opts``, planted sample swaps included."""
    plan = plan_cohort(
        opts.samples, seed=opts.seed, n_batches=opts.batches, anomalies=opts.anomaly_counts(),
        ancestry_proportions=opts.ancestry_proportions, panel_per_ancestry=opts.panel_per_ancestry,
        coverage_mean=opts.coverage, coverage_sd=opts.coverage_sd,
        low_coverage_range=opts.low_coverage_range, contamination_fractions=opts.contamination_fractions,
        cram_samples=opts.cram_samples, unknown_sex=opts.unknown_sex,
    )
    plan_swaps(plan, opts.swaps, np.random.default_rng(np.random.SeedSequence([opts.seed, 0x5A9])))
    return plan


def _simulate_genetics(
    windows: list[Window], plan: CohortPlan, opts: SimulationOptions
) -> tuple[list[WindowGenetics], list[Gene]]:
    """Every window's genealogy and mutations (one after another, sharing the gene generator), with the
    synthetic genes written into the reference before mutations are placed; and the genes."""
    model = mutation_model(opts)
    genes_of = _design_genes(windows, opts)
    genes = [gn for w in windows for gn in genes_of.get(w.name, [])]
    gene_rng = np.random.default_rng(np.random.SeedSequence([opts.seed, 0x6E6]))
    genetics = []
    for w in windows:
        win_genes = genes_of.get(w.name, [])

        def write_genes(seq: np.ndarray, w: Window = w, win_genes: list[Gene] = win_genes) -> list[tuple[int, int]]:
            apply_genes(seq, w.start, win_genes, gene_rng)
            return gene_spans(win_genes, w.start)

        genetics.append(simulate_window(
            w, plan.pool_sizes, seed=opts.seed, recombination_rate=opts.recombination_rate, model=model,
            prepare=write_genes if win_genes else None,
        ))
    if genes:
        log.info("%d synthetic genes on %s", len(genes), ", ".join(sorted({g.contig for g in genes})))
    return genetics, genes


def _artefacts_by_sample(artefacts: list[ArtefactSite]) -> dict[int, list[ArtefactSite]]:
    """Planted artefact sites per carrier (sample index)."""
    artefacts_of: dict[int, list[ArtefactSite]] = {}
    for a in artefacts:
        for i in a.carriers:
            artefacts_of.setdefault(i, []).append(a)
    return artefacts_of


def _write_reference(
    out: Path, opts: SimulationOptions, plan: CohortPlan, windows: list[Window], genetics: list[WindowGenetics],
    genes: list[Gene], artefacts: list[ArtefactSite], lengths: dict[str, int],
) -> tuple[Path, dict[str, str], dict[str, Path]]:
    """``reference/`` (FASTA, windows BED, GFF3 with --genes) and ``artefacts.tsv`` (with --artefacts): the
    FASTA, its contigs' md5s, and the optional files written (config ``simulation`` keys)."""
    ref_dir = out / "reference"
    ref_dir.mkdir(parents=True, exist_ok=True)
    fasta = ref_dir / "sim.fa.gz"
    md5s = write_fasta(fasta, contig_sequences(genetics, lengths))
    _write_bed(ref_dir / "windows.bed", windows)
    extras: dict[str, Path] = {}
    if genes:
        extras["gff3"] = write_gff3(ref_dir / "genes.gff3", genes, lengths)
    if opts.artefacts:
        extras["artefacts"] = write_artefacts_tsv(
            out / "artefacts.tsv", artefacts, genetics, [s.sample_id for s in plan.samples]
        )
    return fasta, md5s, extras


def simulation_windows(opts: SimulationOptions) -> list[Window]:
    """The windows ``opts`` asks for (autosomal windows, chrX PAR1, chrX non-PAR, chrY)."""
    return default_windows(
        region_size=opts.region_size, autosomes=opts.autosomes, autosome_contig=opts.autosome_contig,
        autosome_start=opts.autosome_start, chrx_size=opts.chrx_size, par_size=opts.par_size,
        chry_size=opts.chry_size,
    )


def mutation_model(opts: SimulationOptions) -> MutationModel:
    """The mutation model of ``opts`` (defaults of :class:`MutationModel` otherwise)."""
    if opts.indel_ratio < 0 or opts.repeat_indel_rate < 0:
        raise ValueError("indel rates must be >= 0")
    return MutationModel(snv_rate=opts.mutation_rate, indel_ratio=opts.indel_ratio, str_rate=opts.repeat_indel_rate)


def _design_genes(windows: list[Window], opts: SimulationOptions) -> dict[str, list[Gene]]:
    """``opts.genes`` genes spread evenly over the autosomal windows (numbered across windows)."""
    if not opts.genes:
        return {}
    autos = [w for w in windows if w.kind == "autosome"]
    rng = np.random.default_rng(np.random.SeedSequence([opts.seed, 0x6E5]))
    each, extra = divmod(opts.genes, len(autos))
    out: dict[str, list[Gene]] = {}
    first = 1
    for i, w in enumerate(autos):
        k = each + (i < extra)
        if k:
            out[w.name] = design_genes(w.contig, w.start, w.length, k, rng, first=first)
            first += k
    return out


def _fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}"


def _write_manifests(
    inbox: Path, plan: CohortPlan, results: list[dict[str, Any]], *, seed: int
) -> list[Path]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x3E7]))
    rows: dict[str, list[str]] = {b: [] for b in plan.batches}
    for s, r in zip(plan.samples, results, strict=True):
        reported_contam = max(0.0, s.contamination + rng.normal(0, 0.0015 + 0.05 * s.contamination))
        q30 = r["mean_coverage"] * GENOME_SIZE * s.q30_fraction
        cells = {
            "sample_id": s.sample_id, "gvcf": r["gvcf"], "gvcf_md5": r["gvcf_md5"], "cram": r["cram"],
            "cram_md5": r["cram_md5"], "reported_sex": s.reported_sex,
            "mean_coverage": _fmt(r["mean_coverage"], 2), "genome_coverage_20x": _fmt(r["coverage_20x"]),
            "contamination": _fmt(reported_contam), "aligned_q30_bases": f"{q30:.4g}",
            "array_concordance": "" if s.array_concordance is None else _fmt(s.array_concordance),
            "resubmission": "",
        }
        rows[s.batch_id].append("\t".join(cells[c] for c in MANIFEST_COLUMNS))
    paths = []
    for b, lines in rows.items():
        p = inbox / b / "manifest.tsv"
        p.write_text("\t".join(MANIFEST_COLUMNS) + "\n" + "\n".join(lines) + "\n")
        paths.append(p)
    return paths


def _write_truth(path: Path, plan: CohortPlan, results: list[dict[str, Any]]) -> Path:
    lines = ["\t".join(TRUTH_COLUMNS)]
    for s, r in zip(plan.samples, results, strict=True):
        person = plan.people[s.person_id]
        cells = {
            "sample_id": s.sample_id, "ancestry": person.ancestry, "karyotype": person.karyotype,
            "reported_sex": s.reported_sex,
            "contamination": _fmt(s.contamination) if s.contamination else "0",
            "mean_coverage": _fmt(s.coverage, 2), "duplicate_of": s.duplicate_of or "",
            "relatives": ";".join(f"{o}:{d}" for o, d in s.relatives), "batch_id": s.batch_id,
            "true_individual": s.person_id, "contaminant": s.contaminant or "",
            "low_coverage": "yes" if s.low_coverage else "", "sex_mismatch": "yes" if s.sex_mismatch else "",
            "measured_coverage": _fmt(r["mean_coverage"], 2),
            "gvcf": f"inbox/{s.batch_id}/{r['gvcf']}",
            "cram": f"inbox/{s.batch_id}/{r['cram']}" if r["cram"] else "",
            "cram_person": s.cram_person or "",
        }
        lines.append("\t".join(cells[c] for c in TRUTH_COLUMNS))
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_panel(
    panel_dir: Path, plan: CohortPlan, genomes: dict[str, Genome], genetics: list[WindowGenetics],
    lengths: dict[str, int],
) -> Path:
    """Multi-sample VCF of the panel's true autosomal genotypes: one biallelic record per ALT allele
    polymorphic in the panel (multi-allelic records split, alleles trimmed to their minimal form as Hail's
    ``split_multi_hts`` + ``min_rep`` give them; ``*`` left out), like a released reference panel."""
    panel_dir.mkdir(parents=True, exist_ok=True)
    path = panel_dir / "panel.vcf.bgz"
    ids = [p.person_id for p in plan.panel]
    gt_str = np.array(["0/0", "0/1", "1/1"])
    header = [
        "##fileformat=VCFv4.2",
        "##source=callset.simulate (ancestry reference panel: true genotypes, no sequencing noise; "
        "multi-allelic sites split)",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        *(f"##contig=<ID={c},length={n},assembly=38>" for c, n in lengths.items()),
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *ids]),
    ]
    with BgzfWriter(path, level=2) as fh:
        fh.write(("\n".join(header) + "\n").encode())
        for g in genetics:
            if g.window.kind != "autosome" or not ids:
                continue
            c0 = np.stack([genomes[i][g.window.name][0] for i in ids], axis=1)  # records x people
            c1 = np.stack([genomes[i][g.window.name][1] for i in ids], axis=1)
            rows: list[tuple[int, int, str]] = []
            for j in range(1, int(g.n_alleles.max(initial=1))):
                dos = (c0 == j).astype(np.int8) + (c1 == j)
                ac = dos.sum(axis=1)
                keep = np.flatnonzero((ac > 0) & (ac < 2 * len(ids)) & (g.n_alleles > j))
                for r in keep.tolist():
                    alleles = g.alleles[r]
                    if alleles[j] == STAR:
                        continue
                    ref, alt = trim_alleles((alleles[0], alleles[j]))
                    rows.append((r, j, f"{g.window.contig}\t{int(g.positions[r]) + g.window.start}\t.\t{ref}\t{alt}"
                                 "\t.\tPASS\t.\tGT\t" + "\t".join(gt_str[dos[r]].tolist())))
            rows.sort()
            if rows:
                fh.write(("\n".join(line for _, _, line in rows) + "\n").encode())
    pysam.tabix_index(str(path), preset="vcf", force=True)
    labels = panel_dir / "labels.tsv"
    labels.write_text(
        "sample_id\tancestry\n" + "".join(f"{p.person_id}\t{p.ancestry}\n" for p in plan.panel)
    )
    return path


def _write_truth_genotypes(
    path: Path, plan: CohortPlan, genomes: dict[str, Genome], genetics: list[WindowGenetics],
    lengths: dict[str, int],
) -> Path:
    """True genotypes of every submitted sample at every record one of them carries (all windows).

    Records are as a joint caller writes them: multi-allelic where several alleles occur, ``*`` for a copy
    whose deletion spans the record, only alleles some submitted sample carries, trimmed to their minimal
    form. GT lists one allele per copy, phased by copy: ``0|1`` diploid, ``1`` hemizygous, ``0|1|1`` for
    three copies (XXY PAR), ``.`` where the sample has no copy (chrY of XX and X0).
    """
    ids = [s.sample_id for s in plan.samples]
    header = [
        "##fileformat=VCFv4.2",
        "##source=callset.simulate (true genotypes of the submitted samples)",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        *(f"##contig=<ID={c},length={n},assembly=38>" for c, n in lengths.items()),
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *ids]),
    ]
    with BgzfWriter(path, level=2) as fh:
        fh.write(("\n".join(header) + "\n").encode())
        for g in genetics:
            name = g.window.name
            copies = [genomes[s.person_id][name] for s in plan.samples]
            flat = [c for cs in copies for c in cs]
            if not flat:
                continue
            mat = np.stack(flat, axis=1).astype(np.int64)  # records x all copies
            width = int(g.n_alleles.max(initial=1))
            used = np.zeros((g.n_sites, width), dtype=bool)
            used[np.repeat(np.arange(g.n_sites), mat.shape[1]), mat.ravel()] = True
            used[:, 0] = True
            real = used.copy()
            real[np.flatnonzero(g.has_star), g.n_alleles[g.has_star] - 1] = False
            keep = np.flatnonzero(real[:, 1:].any(axis=1))
            new = np.take_along_axis(np.cumsum(used, axis=1) - 1, mat, axis=1)  # allele indices renumbered
            # GT text per sample, built as bytes (one digit per allele; records with >= 10 alleles redone below)
            cols: list[np.ndarray] = []
            k = 0
            for cs in copies:
                if cs:
                    m = np.minimum(new[:, k : k + len(cs)], 9).astype(np.uint8) + ord("0")
                    inter = np.full((g.n_sites, 2 * len(cs)), ord("|"), dtype=np.uint8)
                    inter[:, 0::2] = m
                    txt = inter[:, :-1]
                    k += len(cs)
                else:
                    txt = np.full((g.n_sites, 1), ord("."), dtype=np.uint8)
                cols.append(np.ascontiguousarray(txt).view(f"S{txt.shape[1]}").ravel())
            wide = set(np.flatnonzero(new.max(axis=1, initial=0) >= 10).tolist())
            lines = []
            for r in keep.tolist():
                alleles = g.alleles[r]
                sub = trim_alleles(tuple(a for a, u in zip(alleles, used[r], strict=False) if u))
                if r in wide:
                    k = 0
                    gts = []
                    for cs in copies:
                        gts.append("|".join(str(int(x)) for x in new[r, k : k + len(cs)]) if cs else ".")
                        k += len(cs)
                else:
                    gts = [c[r].decode() for c in cols]
                lines.append(
                    f"{g.window.contig}\t{int(g.positions[r]) + g.window.start}\t.\t{sub[0]}\t{','.join(sub[1:])}"
                    "\t.\tPASS\t.\tGT\t" + "\t".join(gts)
                )
            if lines:
                fh.write(("\n".join(lines) + "\n").encode())
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def _write_bed(path: Path, windows: list[Window]) -> None:
    path.write_text("".join(f"{w.contig}\t{w.start - 1}\t{w.end}\t{w.name}\n" for w in windows))


def _write_config(
    out: Path, opts: SimulationOptions, windows: list[Window], panel: Path, truth: Path, fasta: Path,
    extras: dict[str, Path] | None = None,
) -> Path:
    simulation: dict[str, Any] = {
        "fasta": str(fasta),
        "panel_labels": str(panel.parent / "labels.tsv"),
        "truth_genotypes": str(out / "truth_genotypes.vcf.bgz") if opts.truth_genotypes else None,
        "intervals": [w.interval for w in windows],
        "autosomal_intervals": [w.interval for w in windows if w.kind == "autosome"],
        "windows": [
            {"name": w.name, "kind": w.kind, "contig": w.contig, "start": w.start, "end": w.end}
            for w in windows
        ],
        "windows_bed": str(fasta.parent / "windows.bed"),
        "seed": opts.seed,
        "samples": opts.samples,
        "options": _plain(asdict(opts)),
    }
    cfg: dict[str, Any] = {
        "inbox": str(out / "inbox"),
        "results": str(out / "results"),
        "release": opts.release,
        "reference_genome": "GRCh38",
        # CRAM @SQ M5 tags are those of the simulated FASTA: let intake check them against it; identity
        # fingerprints use the simulated genome's own panel of common SNVs
        "intake": {"reference_fasta": str(fasta), **_identity_config(extras)},
        # a complete config on its own: import partitions sized to the windows (one per autosomal window)
        "combiner": {"import_interval_size": import_interval_size(windows)},
        "sample_qc": {"ancestry_panel": str(panel), "truth": str(truth)},
        "simulation": simulation,
    }
    extras = {k: v for k, v in (extras or {}).items() if k != "fingerprint_panel"}
    if extras:  # only with --genes / --artefacts, so default output is unchanged
        simulation.update({k: str(v) for k, v in extras.items()})
        # variant QC inputs: gene models on the simulated FASTA; the panel's sites as known-good training
        # sites for the learned filter (like HapMap/1000G resources for VQSR/VETS)
        cfg["variant_qc"] = {"fasta": str(fasta), "gff3": str(extras["gff3"]) if "gff3" in extras else None,
                             "training_sites": str(panel)}
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False))
    return path


def _identity_config(extras: dict[str, Path] | None) -> dict[str, Any]:
    """``intake.identity`` of the simulated config: the simulation's fingerprint panel."""
    panel = (extras or {}).get("fingerprint_panel")
    return {"identity": {"panel": str(panel)}} if panel else {}


def import_interval_size(windows: list[Window], *, base: int = 5_000_000) -> int:
    """Combiner import partition size for these windows: the schema default (5 Mb), or larger so the
    largest window still fits into one aligned piece."""
    size = base
    while any((w.start - 1) // size != (w.end - 1) // size for w in windows if w.kind == "autosome"):
        size *= 2
        if size > 250_000_000:
            return base
    return size


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    """YAML-safe copy of the options (tuples → lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def truth_ancestries() -> tuple[str, ...]:
    """Ancestry labels used in truth.tsv and panel/labels.tsv."""
    return ANCESTRIES


def sample_by_id(plan: CohortPlan) -> dict[str, Sample]:
    """Plan samples keyed by sample_id."""
    return {s.sample_id: s for s in plan.samples}
