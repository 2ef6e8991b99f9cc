"""Per-sample reads → genotype likelihoods → GATK-HaplotypeCaller-style gVCF (``-ERC GVCF``).

For every position of every window a depth is drawn from a read-start model (reads of
``read_length`` bp starting as a Poisson process whose rate varies over 1 kb segments by a log-normal
factor), scaled by the sample's copy number of that window. At every simulated record (SNV, indel or
multi-allelic), each read comes from the sample (probability ``1 - contamination``) or from the
contaminant, from a random copy, shows that copy's allele (``*`` for a copy whose deletion spans the
record) and is misread with probability ``error_rate``. Genotype likelihoods over (REF, ALTs...,
<NON_REF>) give PL, GT = argmin PL and GQ = min(99, second-smallest PL). Discovered non-reference calls
become variant records that list REF, the called alleles and any allele seen in two or more reads
(trimmed to their shortest form), then ``<NON_REF>``; the bases a called REF spans get no reference
block (as HaplotypeCaller writes them), and a call inside another call's deletion is written as its own
overlapping record (``*`` for the deleted copy). Everything else (including sites called 0/0) is folded
into reference blocks banded by GQ, reporting GQ = minimum, MIN_DP = minimum, DP = mean depth of the
block and PL = element-wise minimum.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pysam

from callset.core.bgzf import BgzfWriter
from callset.simulate.artefacts import ArtefactSite, artefact_record
from callset.simulate.genetics import WindowGenetics, trim_alleles
from callset.simulate.genomes import Genome
from callset.simulate.header import BAND_PRESETS, band_edges, gvcf_header
from callset.simulate.likelihoods import MQ60_SQ, allele_likelihoods, genotype_index, genotypes, log_read_probs

__all__ = ["BAND_PRESETS", "band_edges", "gvcf_header", "write_gvcf", "ReadModel", "GvcfResult"]

log = logging.getLogger(__name__)

#: Genotypes over (REF, ALT, <NON_REF>) in VCF ``Number=G`` order, per ploidy.
GENOTYPES: dict[int, tuple[tuple[int, ...], ...]] = {2: genotypes(3, 2), 1: genotypes(3, 1)}
GT_STRINGS: dict[int, tuple[str, ...]] = {
    p: tuple("/".join(map(str, g)) for g in gs) for p, gs in GENOTYPES.items()
}
#: Genotype prior (phred) used only to decide whether a site is discovered: heterozygosity 1e-3 as in
#: HaplotypeCaller (het 30, hom-alt or two different ALTs 33, anything with <NON_REF> never).
PRIOR_HET, PRIOR_HOM, PRIOR_NEVER = 30, 33, 10**6
_MLEAF = {0.0: "0.00", 0.5: "0.500", 1.0: "1.00"}


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


@cache
def _genotype_tables(n_alleles: int, ploidy: int) -> dict[str, np.ndarray]:
    """Per genotype over ``n_alleles`` (last = <NON_REF>): discovery prior, smallest listed ALT index (or a
    large number), and which genotypes are REF+ALT hets / ALT homozygotes (for the reference model)."""
    gts = genotypes(n_alleles, ploidy)
    non_ref = n_alleles - 1
    prior, min_alt, het, hom = [], [], [], []
    for g in gts:
        alts = [j for j in g if j != 0]
        if non_ref in g:
            prior.append(PRIOR_NEVER)
        elif not alts:
            prior.append(0)
        elif len(set(alts)) == 1 and (len(g) == 1 or 0 in g):
            prior.append(PRIOR_HET)
        else:
            prior.append(PRIOR_HOM)
        listed = [j for j in alts if j != non_ref]
        min_alt.append(min(listed) if listed else 10**6)
        het.append(len(g) == 2 and 0 in g and bool(listed))
        hom.append(bool(listed) and len(set(g)) == 1)
    return {"prior": np.array(prior), "min_alt": np.array(min_alt), "het": np.array(het, dtype=bool),
            "hom": np.array(hom, dtype=bool)}


def alt_fraction(copies: list[np.ndarray], n_sites: int) -> np.ndarray:
    """Fraction of a person's copies carrying a non-REF allele at each site (0 when there are no copies)."""
    if not copies:
        return np.zeros(n_sites)
    carried: np.ndarray = np.stack([c != 0 for c in copies]).sum(axis=0, dtype=np.float64)
    return carried / len(copies)


def _allele_mix(g: WindowGenetics, groups: list[tuple[list[np.ndarray], float]], width: int) -> np.ndarray:
    """Fraction of reads coming from each allele of each record: copies weighted by their source."""
    out = np.zeros((g.n_sites, width))
    rows = np.arange(g.n_sites)
    tot = sum(w for c, w in groups if c)
    if tot <= 0:
        out[:, 0] = 1.0
        return out
    for copies, w in groups:
        for c in copies:
            out[rows, c] += w / len(copies) / tot
    return out


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
    n = g.n_sites
    dp = depth[pos].astype(np.int64)
    nal = g.n_alleles
    width = int(nal.max()) if n else 2
    # reads per allele at every record: from the sample's or the contaminant's copies, misread with rate e
    mix = _allele_mix(g, [(self_copies, w_self), (cont_copies, w_cont)], width)
    listed = np.arange(width)[None, :] < nal[:, None]
    q = np.where(listed, mix * (1 - e) + (1 - mix) * e / 3, 0.0)
    q[:, 0] = 0.0
    q[:, 0] = np.clip(1.0 - q.sum(axis=1), 0.0, 1.0)  # reads misread to an unlisted base count as REF
    q /= q.sum(axis=1, keepdims=True)
    counts = rng.multinomial(dp, q) if n else np.zeros((0, width), dtype=np.int64)

    # genotype every record; group by allele count so each group is one matrix product
    var = np.zeros(n, dtype=bool)
    ph_site = np.zeros(n, dtype=np.int64)
    pm_site = np.zeros(n, dtype=np.int64)
    called: dict[int, tuple[np.ndarray, int]] = {}  # record -> (PL row, genotype index)
    for v in np.unique(nal).tolist():
        idx = np.flatnonzero(nal == v)
        tab = _genotype_tables(v + 1, ploidy)
        pl = allele_likelihoods(counts[idx, :v].astype(np.float64), e, ploidy=ploidy)
        gt = pl.argmin(axis=1)
        # discovery (HaplotypeCaller's active-region step): called only when the genotype posterior under
        # the heterozygosity prior favours a non-reference genotype with a listed (not *) allele
        discovered = (pl + tab["prior"][None, :]).argmin(axis=1) != 0
        last_real = v - 1 - g.has_star[idx]
        is_var = discovered & (tab["min_alt"][gt] <= last_real)
        var[idx] = is_var
        base = pl[:, 0:1]
        ph_site[idx] = np.maximum(0, (pl[:, tab["het" if ploidy == 2 else "hom"]] - base).min(axis=1))
        pm_site[idx] = np.maximum(0, (pl[:, tab["hom"]] - base).min(axis=1))
        for j in np.flatnonzero(is_var).tolist():
            called[int(idx[j])] = (pl[j], int(gt[j]))

    # reference model at every position: all reads REF unless the position is a record
    l0 = log_read_probs(3, ploidy, e)[:, 0]
    hom_col = 2 if ploidy == 2 else 1
    per_read_het = -10 * (l0[1] - l0[0])
    per_read_hom = -10 * (l0[hom_col] - l0[0])
    pm = np.rint(depth * per_read_hom).astype(np.int64)
    ref_sites = pos[~var]
    pm[ref_sites] = pm_site[~var]
    if ploidy == 2:
        ph = np.rint(depth * per_read_het).astype(np.int64)
        ph[ref_sites] = ph_site[~var]
        gqpos = np.minimum(99, np.minimum(ph, pm))
    else:
        ph = pm
        gqpos = np.minimum(99, pm)
    band = np.searchsorted(edges, gqpos, side="right") - 1

    c = w.contig
    off = w.start
    records: list[tuple[int, str]] = []
    isvar = np.zeros(w.length, dtype=bool)
    for i, (pl_row, gt_i) in sorted(called.items()):
        p = int(pos[i])
        line, ref_len = _variant_line(
            c, p + off, g.alleles[i], pl_row, genotypes(int(nal[i]) + 1, ploidy)[gt_i], counts[i], int(dp[i]),
            ploidy, rng,
        )
        records.append((p, line))
        isvar[p : p + ref_len] = True
    for art in artefacts:
        isvar[art.offset : art.offset + len(art.ref)] = True
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
    b_ref = g.refseq[b_start].tobytes().decode()
    ref_gt = "0/0" if ploidy == 2 else "0"
    b_pl = (
        [f"0,{h},{o}" for h, o in zip(b_ph.tolist(), b_pm.tolist(), strict=True)]
        if ploidy == 2 else [f"0,{o}" for o in b_pm.tolist()]
    )
    records += [
        (s, f"{c}\t{s + off}\t.\t{rb}\t<NON_REF>\t.\t.\tEND={en + off}\tGT:DP:GQ:MIN_DP:PL\t"
            f"{ref_gt}:{m}:{q}:{mn}:{bp}")
        for s, en, rb, m, q, mn, bp in zip(
            b_start.tolist(), b_end.tolist(), b_ref, b_mean.tolist(), b_gq.tolist(), b_min.tolist(), b_pl,
            strict=True,
        )
    ]
    if artefacts:
        arng = artefact_rng if artefact_rng is not None else rng
        for art in artefacts:
            line = artefact_record(art, c, art.offset + off, int(depth[art.offset]), arng, error_rate=e)
            records.append((art.offset, line))
    records.sort(key=lambda t: t[0])
    return records, depth, len(called)


def _variant_line(
    contig: str, pos: int, alleles: tuple[str, ...], pl: np.ndarray, gt: tuple[int, ...], counts: np.ndarray,
    dp: int, ploidy: int, rng: np.random.Generator,
) -> tuple[str, int]:
    """One HaplotypeCaller-style variant line for a called record, and its REF length.

    The record lists REF, the called alleles and any other allele seen in at least two reads (``*`` last),
    trimmed to their shortest form, then ``<NON_REF>``; PL covers every genotype over those alleles."""
    v = len(alleles)
    keep = sorted({0, *(j for j in gt if j != 0), *(j for j in range(1, v) if counts[j] >= 2)})
    k = len(keep)
    gts = genotypes(k + 1, ploidy)
    if k == v:  # every allele of the record: PL, GT and alleles as they are (the common case)
        sub, sub_pl, new_gt = alleles, pl, tuple(sorted(gt))
    else:
        sub = trim_alleles(tuple(alleles[j] for j in keep))
        old = [*keep, v]  # new allele index -> old (NON_REF last)
        sub_pl = np.array([int(pl[genotype_index(tuple(old[x] for x in gg))]) for gg in gts])
        sub_pl -= sub_pl.min()
        new_of = {o: i for i, o in enumerate(keep)}
        new_gt = tuple(sorted(new_of[j] for j in gt))
    ad = [int(counts[j]) for j in keep]
    ad[0] += dp - sum(ad)  # reads of alleles not listed
    fwd = rng.binomial(ad, 0.5).tolist()
    pl_list = sub_pl.tolist()
    q0 = pl_list[0]
    as_qual = [max(0, q0 - min(p for p, gg in zip(pl_list, gts, strict=True) if a in gg)) for a in range(1, k)]
    mleac = [sum(1 for x in new_gt if x == a) for a in range(1, k)]
    gq = min(99, sorted(pl_list)[1])
    info = (
        f"AS_QUALapprox=|{'|'.join(map(str, as_qual))}|0;"
        f"AS_RAW_MQ={'|'.join(f'{x * MQ60_SQ}.00' for x in ad)}|0.00;"
        f"AS_SB_TABLE={'|'.join(f'{f},{x - f}' for f, x in zip(fwd, ad, strict=True))}|0,0;"
        f"AS_VarDP={'|'.join(map(str, ad))}|0;DP={dp};ExcessHet=3.0103;"
        f"MLEAC={','.join(map(str, mleac))},0;"
        f"MLEAF={','.join(_MLEAF.get(x / ploidy, f'{x / ploidy:.3f}') for x in mleac)},0.00;"
        f"QUALapprox={q0};RAW_MQandDP={dp * MQ60_SQ},{dp};VarDP={dp}"
    )
    sb = f"{fwd[0]},{ad[0] - fwd[0]},{sum(fwd[1:])},{sum(ad[1:]) - sum(fwd[1:])}"
    fmt = (
        f"{'/'.join(map(str, new_gt))}:{','.join(map(str, ad))},0:{dp}:{gq}:{','.join(map(str, pl_list))}:"
        f"{sb}"
    )
    line = (
        f"{contig}\t{pos}\t.\t{sub[0]}\t{','.join(sub[1:])},<NON_REF>\t{q0:.2f}\t.\t{info}\t"
        f"GT:AD:DP:GQ:PL:SB\t{fmt}"
    )
    return line, len(sub[0])


def write_gvcf(
    path: Path, sample_id: str, header: str, genetics: list[WindowGenetics], genome: Genome,
    contaminant: Genome | None, contamination: float, coverage: float, rng: np.random.Generator,
    *, model: ReadModel, edges: np.ndarray, hemizygous: str = "haploid",
    artefacts: Sequence[ArtefactSite] = (), artefact_rng: np.random.Generator | None = None,
) -> GvcfResult:
    """Simulate and write one bgzipped, tabix-indexed gVCF; return its md5 and coverage metrics.

    ``hemizygous="haploid"`` (default) calls single-copy chrX non-PAR / chrY windows with ploidy 1
    (GT ``0``/``1``, as DRAGEN or HaplotypeCaller ``--sample-ploidy 1``); ``"diploid"`` calls everything
    with ploidy 2 like HaplotypeCaller's default, so a hemizygous ALT shows as ``1/1`` at half depth and
    read errors give occasional ``0/1``. ``artefacts`` are this sample's planted artefact calls (any window).
    Coverage metrics are measured over all autosomal windows together.
    """
    path = Path(path)
    n_rec = n_var = 0
    window_depth: dict[str, float] = {}
    auto_sum = auto_20x = auto_len = 0
    with BgzfWriter(path, level=2) as fh:
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
            if g.window.kind == "autosome":
                auto_sum += int(depth.sum(dtype=np.int64))
                auto_20x += int((depth >= 20).sum())
                auto_len += depth.size
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return GvcfResult(
        path=path, md5=md5sum(path), n_records=n_rec, n_variants=n_var,
        mean_coverage=auto_sum / auto_len if auto_len else 0.0,
        coverage_20x=auto_20x / auto_len if auto_len else 0.0, window_depth=window_depth,
    )


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """Hex md5 of a file."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()
