"""Planted artefactual calls: sites that are not in anyone's genome but get called in some samples.

Each artefact site sits on the autosomal window away from every true site and is "called" ``0/1`` in a
set of carrier samples, with the annotation signature of a sequencing artefact, one kind per site:

- ``strand_bias``: every ALT read on one strand (AS_SB_TABLE ``r_f,r_r|k,0``) → high AS_FS / AS_SOR;
- ``low_mq``: ALT reads with mapping quality 20–35 (AS_RAW_MQ) → low AS_MQ;
- ``low_qd``: ALT reads at 6–14 % allele fraction with low base quality → low AS_QUALapprox per depth.

They are listed in ``DIR/artefacts.tsv`` (contig, position, ref, alt, kind, n_carriers, carriers) so a
variant filter's precision and recall can be measured on them. Carriers are drawn so both singletons
and recurrent artefacts occur.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callset.simulate.genetics import BASES, WindowGenetics

ARTEFACT_KINDS = ("strand_bias", "low_mq", "low_qd")
MQ60_SQ = 3600


@dataclass(frozen=True)
class ArtefactSite:
    """One planted artefact: ``offset`` is 0-based in its window; ``carriers`` are sample indices."""

    window: str
    offset: int
    ref: str
    alt: str
    kind: str
    carriers: tuple[int, ...]


def plan_artefacts(
    g: WindowGenetics, n_sites: int, n_samples: int, rng: np.random.Generator, *, mean_carriers: float = 6.0
) -> list[ArtefactSite]:
    """Choose ``n_sites`` artefact positions on window ``g`` (≥ 2 bp from true sites and non-N bases)."""
    if n_sites <= 0:
        return []
    taken = np.zeros(g.window.length, dtype=bool)
    for d in (-2, -1, 0, 1, 2):
        p = g.positions + d
        taken[p[(p >= 0) & (p < taken.size)]] = True
    taken |= g.refseq == ord("N")
    free = np.flatnonzero(~taken)
    offs = np.sort(rng.choice(free, size=min(n_sites, free.size), replace=False))
    out = []
    for j, off in enumerate(offs.tolist()):
        ref = chr(int(g.refseq[off]))
        alt = chr(int(rng.choice(BASES[BASES != ord(ref)])))
        k = int(min(n_samples, rng.geometric(1.0 / mean_carriers)))
        carriers = tuple(sorted(rng.choice(n_samples, size=k, replace=False).tolist()))
        out.append(ArtefactSite(g.window.name, off, ref, alt, ARTEFACT_KINDS[j % len(ARTEFACT_KINDS)], carriers))
    return out


def artefact_record(
    site: ArtefactSite, contig: str, pos: int, depth: int, rng: np.random.Generator, *, error_rate: float
) -> str:
    """One gVCF variant line (``0/1`` call with the artefact's annotation signature)."""
    from callset.simulate.gvcf import genotype_likelihoods

    d = max(int(depth), 8)
    kind = site.kind
    vaf = rng.uniform(0.06, 0.14) if kind == "low_qd" else rng.uniform(0.2, 0.45)
    k = int(max(2, rng.binomial(d, vaf)))
    k = min(k, d - 1)
    r = d - k
    e_eff = 0.08 if kind == "low_qd" else error_rate  # low-quality bases: weak evidence
    pl = genotype_likelihoods(np.array([r]), np.array([k]), e_eff)[0]
    q0 = int(max(1, pl[0] - pl[1]))
    hom = int(max(1, pl[2] - pl[1]))
    gq = int(min(99, q0, hom))
    rf = int(rng.binomial(r, 0.5))
    if kind == "strand_bias":  # the same strand in every carrier (a systematic artefact)
        af = k if site.offset % 2 == 0 else 0
    else:
        af = int(rng.binomial(k, 0.5))
    alt_mq_sq = int(np.sum(rng.uniform(20, 35, size=k) ** 2)) if kind == "low_mq" else k * MQ60_SQ
    ref_mq_sq = r * MQ60_SQ
    info = (
        f"AS_QUALapprox=|{q0}|0;AS_RAW_MQ={ref_mq_sq}.00|{alt_mq_sq}.00|0.00;"
        f"AS_SB_TABLE={rf},{r - rf}|{af},{k - af}|0,0;AS_VarDP={r}|{k}|0;DP={d};ExcessHet=3.0103;"
        f"MLEAC=1,0;MLEAF=0.500,0.00;QUALapprox={q0};RAW_MQandDP={ref_mq_sq + alt_mq_sq},{d};VarDP={d}"
    )
    pls = f"{q0},0,{hom},{q0 + 3 * d},{hom + 3 * d},{q0 + 6 * d}"
    fmt = f"0/1:{r},{k},0:{d}:{gq}:{pls}:{rf},{r - rf},{af},{k - af}"
    return f"{contig}\t{pos}\t.\t{site.ref}\t{site.alt},<NON_REF>\t{q0:.2f}\t.\t{info}\tGT:AD:DP:GQ:PL:SB\t{fmt}"


def write_artefacts_tsv(
    path: Path, sites: list[ArtefactSite], genetics: list[WindowGenetics], sample_ids: list[str]
) -> Path:
    """The artefact truth table, one row per site in position order."""
    start = {g.window.name: (g.window.contig, g.window.start) for g in genetics}
    lines = ["contig\tposition\tref\talt\tkind\tn_carriers\tcarriers"]
    for s in sites:
        c, off = start[s.window]
        lines.append(
            f"{c}\t{s.offset + off}\t{s.ref}\t{s.alt}\t{s.kind}\t{len(s.carriers)}\t"
            + ",".join(sample_ids[i] for i in s.carriers)
        )
    path.write_text("\n".join(lines) + "\n")
    return path
