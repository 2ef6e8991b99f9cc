"""Per-sample reads → genotype likelihoods → GATK-HaplotypeCaller-style gVCF (``-ERC GVCF``).

For every position of every window a depth is drawn from a read-start model (reads of
``read_length`` bp starting as a Poisson process whose rate varies over 1 kb segments by a log-normal
factor), scaled by the sample's copy number of that window. At simulated SNV sites, each read comes
from the sample (probability ``1 - contamination``) or from the contaminant, from a random copy, and is
misread with probability ``error_rate``. Diploid genotype likelihoods over (REF, ALT, <NON_REF>) give
PL, GT = argmin PL and GQ = min(99, second-smallest PL). Non-reference calls become variant records;
everything else (including sites called 0/0) is folded into reference blocks banded by GQ, reporting
GQ = minimum, MIN_DP = minimum, DP = mean depth of the block and PL = element-wise minimum.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from callset.simulate.artefacts import ArtefactSite, artefact_record
from callset.simulate.genetics import WindowGenetics
from callset.simulate.genomes import Genome
from callset.simulate.header import BAND_PRESETS, band_edges, gvcf_header

__all__ = ["BAND_PRESETS", "band_edges", "gvcf_header", "write_gvcf", "ReadModel", "GvcfResult"]

log = logging.getLogger(__name__)

#: Genotypes over (REF, ALT, <NON_REF>) in VCF ``Number=G`` order, per ploidy.
GENOTYPES: dict[int, tuple[tuple[int, ...], ...]] = {
    2: ((0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (2, 2)),
    1: ((0,), (1,), (2,)),
}
GT_STRINGS: dict[int, tuple[str, ...]] = {
    p: tuple("/".join(map(str, g)) for g in gs) for p, gs in GENOTYPES.items()
}
#: Genotype prior (phred) used only to decide whether a site is discovered: heterozygosity 1e-3 as in
#: HaplotypeCaller (het 30, hom-alt 33, anything with <NON_REF> never).
DISCOVERY_PRIOR_PHRED: dict[int, np.ndarray] = {
    2: np.array([0, 30, 33, 10**6, 10**6, 10**6]),
    1: np.array([0, 30, 10**6]),
}
MQ60_SQ = 3600  # squared mapping quality of one MQ60 read


@dataclass(frozen=True)
class ReadModel:
    """Sequencing model shared by all samples."""

    read_length: int = 150
    error_rate: float = 0.002
    dispersion: float = 0.15
    segment: int = 1000


@dataclass
class GvcfResult:
    """What was written for one sample, with the metrics a genome centre would report."""

    path: Path
    md5: str
    n_records: int
    n_variants: int
    mean_coverage: float
    coverage_20x: float
    window_depth: dict[str, float]


def simulate_depth(rng: np.random.Generator, length: int, mean: float, model: ReadModel) -> np.ndarray:
    """Per-position depth from Poisson read starts with segment-level over-dispersion."""
    rl = model.read_length
    n = length + rl - 1
    if mean <= 0:
        return np.zeros(length, dtype=np.int32)
    nseg = -(-n // model.segment)
    sd = model.dispersion
    fac = rng.lognormal(-(sd**2) / 2, sd, nseg) if sd > 0 else np.ones(nseg)
    lam = np.repeat(fac * (mean / rl), model.segment)[:n]
    c = np.concatenate(([0], np.cumsum(rng.poisson(lam), dtype=np.int64)))
    return (c[rl : rl + length] - c[:length]).astype(np.int32)


def _read_probs(e: float, ploidy: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """log10 P(read shows REF | genotype) and P(read shows ALT | genotype) for each genotype."""
    p = np.full((2, 3), e / 3)
    p[0, 0] = p[1, 1] = 1 - e
    q0 = np.array([np.mean([p[0, a] for a in g]) for g in GENOTYPES[ploidy]])
    q1 = np.array([np.mean([p[1, a] for a in g]) for g in GENOTYPES[ploidy]])
    return np.log10(q0), np.log10(q1)


def genotype_likelihoods(
    ref_reads: np.ndarray, alt_reads: np.ndarray, error_rate: float, *, ploidy: int = 2
) -> np.ndarray:
    """Normalised phred-scaled likelihoods, shape (n, 6) for diploid (0/0 0/1 1/1 0/2 1/2 2/2) or
    (n, 3) for haploid calls (0 1 2)."""
    l0, l1 = _read_probs(error_rate, ploidy)
    raw = -10.0 * (ref_reads[:, None] * l0[None, :] + alt_reads[:, None] * l1[None, :])
    return np.rint(raw - raw.min(axis=1, keepdims=True)).astype(np.int64)


def alt_fraction(copies: list[np.ndarray], n_sites: int) -> np.ndarray:
    """Fraction of a person's copies carrying ALT at each site (0 when there are no copies)."""
    if not copies:
        return np.zeros(n_sites)
    return np.sum(copies, axis=0, dtype=np.float64) / len(copies)


def simulate_window_calls(
    g: WindowGenetics, self_copies: list[np.ndarray], cont_copies: list[np.ndarray],
    contamination: float, coverage: float, rng: np.random.Generator, model: ReadModel,
    edges: np.ndarray, *, ploidy: int = 2, artefacts: Sequence[ArtefactSite] = (),
    artefact_rng: np.random.Generator | None = None,
) -> tuple[list[tuple[int, str]], np.ndarray, int]:
    """Simulate one window for one sample; returns ``(pos, line)`` records, the depth track and #variants.

    ``ploidy`` is the calling ploidy (1 = hemizygous calls ``0``/``1``, 2 = diploid calls). ``artefacts``
    are planted artefactual calls of this sample in this window (drawn with ``artefact_rng``, so the
    genuine calls are the same with or without them)."""
    w = g.window
    e = model.error_rate
    a = contamination if cont_copies else 0.0
    w_self = (1 - a) * len(self_copies) / 2
    w_cont = a * len(cont_copies) / 2
    depth = simulate_depth(rng, w.length, coverage * (w_self + w_cont), model)
    pos = g.positions
    dp = depth[pos].astype(np.int64)
    tot = w_self + w_cont
    if tot > 0:
        own = alt_fraction(self_copies, g.n_sites)
        other = alt_fraction(cont_copies, g.n_sites)
        p_true = (w_self * own + w_cont * other) / tot
    else:
        p_true = np.zeros(g.n_sites)
    p_obs = p_true * (1 - e) + (1 - p_true) * e / 3
    k = rng.binomial(dp, p_obs)
    r = dp - k
    pl = genotype_likelihoods(r, k, e, ploidy=ploidy)
    gt = pl.argmin(axis=1)
    gq = np.minimum(99, np.partition(pl, 1, axis=1)[:, 1])
    # discovery (HaplotypeCaller's active-region step): a site is called only when the genotype
    # posterior under the heterozygosity prior favours a non-reference genotype; GT/GQ come from PL.
    discovered = (pl + DISCOVERY_PRIOR_PHRED[ploidy][None, :]).argmin(axis=1) != 0
    var = discovered & ((gt == 1) | (gt == 2) if ploidy == 2 else gt == 1)
    hom_col = 2 if ploidy == 2 else 1

    # reference model at every position: all reads REF unless the position is a (hom-ref-called) site
    l0, _ = _read_probs(e, ploidy)
    per_read_het = -10 * (l0[1] - l0[0])
    per_read_hom = -10 * (l0[hom_col] - l0[0])
    pm = np.rint(depth * per_read_hom).astype(np.int64)
    ref_sites = pos[~var]
    # undiscovered sites join the reference model, with likelihoods relative to hom-ref (>= 0)
    pm[ref_sites] = np.maximum(0, pl[~var, hom_col] - pl[~var, 0])
    if ploidy == 2:
        ph = np.rint(depth * per_read_het).astype(np.int64)
        ph[ref_sites] = np.maximum(0, pl[~var, 1] - pl[~var, 0])
        gqpos = np.minimum(99, np.minimum(ph, pm))
    else:
        ph = pm
        gqpos = np.minimum(99, pm)
    band = np.searchsorted(edges, gqpos, side="right") - 1
    isvar = np.zeros(w.length, dtype=bool)
    isvar[pos[var]] = True
    for a in artefacts:
        isvar[a.offset] = True
    change = np.empty(w.length, dtype=bool)
    change[0] = True
    change[1:] = (band[1:] != band[:-1]) | isvar[1:] | isvar[:-1]
    chg = np.flatnonzero(change)
    nxt = np.append(chg[1:], w.length)
    keep = ~isvar[chg]
    b_start = chg[keep]
    b_end = nxt[keep] - 1
    b_len = b_end - b_start + 1
    b_min = np.minimum.reduceat(depth, chg)[keep]
    b_mean = np.rint(np.add.reduceat(depth.astype(np.int64), chg)[keep] / b_len).astype(np.int64)
    b_gq = np.minimum.reduceat(gqpos, chg)[keep]
    b_ph = np.minimum.reduceat(ph, chg)[keep]
    b_pm = np.minimum.reduceat(pm, chg)[keep]
    c = w.contig
    off = w.start
    refseq = g.refseq
    b_ref = refseq[b_start].tobytes().decode()
    ref_gt = GT_STRINGS[ploidy][0]
    b_pl = (
        [f"0,{h},{o}" for h, o in zip(b_ph.tolist(), b_pm.tolist(), strict=True)]
        if ploidy == 2 else [f"0,{o}" for o in b_pm.tolist()]
    )
    records: list[tuple[int, str]] = [
        (s, f"{c}\t{s + off}\t.\t{rb}\t<NON_REF>\t.\t.\tEND={en + off}\tGT:DP:GQ:MIN_DP:PL\t"
            f"{ref_gt}:{m}:{q}:{mn}:{bp}")
        for s, en, rb, m, q, mn, bp in zip(
            b_start.tolist(), b_end.tolist(), b_ref, b_mean.tolist(), b_gq.tolist(), b_min.tolist(), b_pl,
            strict=True,
        )
    ]
    vi = np.flatnonzero(var)
    if vi.size:
        vr, vk = r[vi], k[vi]
        rf = rng.binomial(vr, 0.5)
        af = rng.binomial(vk, 0.5)
        ref_c = g.ref[vi].tobytes().decode()
        alt_c = g.alt[vi].tobytes().decode()
        for j, i in enumerate(vi.tolist()):
            p = pl[i]
            q0 = int(p[0])
            rr, kk, d = int(vr[j]), int(vk[j]), int(dp[i])
            hom = ploidy == 1 or gt[i] == 2
            mleac = 1 if ploidy == 1 else (2 if hom else 1)
            info = (
                f"AS_QUALapprox=|{q0}|0;AS_RAW_MQ={rr * MQ60_SQ}.00|{kk * MQ60_SQ}.00|0.00;"
                f"AS_SB_TABLE={int(rf[j])},{rr - int(rf[j])}|{int(af[j])},{kk - int(af[j])}|0,0;"
                f"AS_VarDP={rr}|{kk}|0;DP={d};ExcessHet=3.0103;"
                f"MLEAC={mleac},0;MLEAF={'1.00' if hom else '0.500'},0.00;"
                f"QUALapprox={q0};RAW_MQandDP={d * MQ60_SQ},{d};VarDP={d}"
            )
            fmt = (
                f"{GT_STRINGS[ploidy][gt[i]]}:{rr},{kk},0:{d}:{int(gq[i])}:{','.join(map(str, p.tolist()))}:"
                f"{int(rf[j])},{rr - int(rf[j])},{int(af[j])},{kk - int(af[j])}"
            )
            records.append((
                int(pos[i]),
                f"{c}\t{int(pos[i]) + off}\t.\t{ref_c[j]}\t{alt_c[j]},<NON_REF>\t{q0:.2f}\t.\t{info}\t"
                f"GT:AD:DP:GQ:PL:SB\t{fmt}",
            ))
    if artefacts:
        arng = artefact_rng if artefact_rng is not None else rng
        for a in artefacts:
            line = artefact_record(a, c, a.offset + off, int(depth[a.offset]), arng, error_rate=e)
            records.append((a.offset, line))
    records.sort(key=lambda t: t[0])
    return records, depth, int(vi.size)


def write_gvcf(
    path: Path, sample_id: str, header: str, genetics: list[WindowGenetics], genome: Genome,
    contaminant: Genome | None, contamination: float, coverage: float, rng: np.random.Generator,
    *, model: ReadModel, edges: np.ndarray, autosome: str = "autosome", hemizygous: str = "haploid",
    artefacts: Sequence[ArtefactSite] = (), artefact_rng: np.random.Generator | None = None,
) -> GvcfResult:
    """Simulate and write one bgzipped, tabix-indexed gVCF; return its md5 and coverage metrics.

    ``hemizygous="haploid"`` (default) calls single-copy chrX non-PAR / chrY windows with ploidy 1
    (GT ``0``/``1``, as DRAGEN or HaplotypeCaller ``--sample-ploidy 1``); ``"diploid"`` calls everything
    with ploidy 2 like HaplotypeCaller's default, so a hemizygous ALT shows as ``1/1`` at half depth and
    read errors give occasional ``0/1``. ``artefacts`` are this sample's planted artefact calls (any window).
    """
    path = Path(path)
    n_rec = n_var = 0
    window_depth: dict[str, float] = {}
    mean_cov = cov20 = float("nan")
    with pysam.BGZFile(str(path), "wb") as fh:
        fh.write(header.encode())
        fh.write(("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + sample_id + "\n").encode())
        for g in genetics:
            name = g.window.name
            cont = contaminant[name] if contaminant is not None else []
            single = g.window.kind in ("x_nonpar", "y") and len(genome[name]) == 1
            ploidy = 1 if (single and hemizygous == "haploid") else 2
            records, depth, nv = simulate_window_calls(
                g, genome[name], cont, contamination, coverage, rng, model, edges, ploidy=ploidy,
                artefacts=[a for a in artefacts if a.window == name], artefact_rng=artefact_rng,
            )
            fh.write(("\n".join(line for _, line in records) + "\n").encode())
            n_rec += len(records)
            n_var += nv
            window_depth[name] = float(depth.mean())
            if name == autosome:
                mean_cov = float(depth.mean())
                cov20 = float((depth >= 20).mean())
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return GvcfResult(
        path=path, md5=md5sum(path), n_records=n_rec, n_variants=n_var,
        mean_coverage=mean_cov if not math.isnan(mean_cov) else 0.0,
        coverage_20x=cov20 if not math.isnan(cov20) else 0.0, window_depth=window_depth,
    )


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """Hex md5 of a file."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()
