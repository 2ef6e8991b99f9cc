"""Planted artefactual calls: sites that are not in anyone's genome but get called in some samples.

Each artefact site sits on an autosomal window away from every true record and is "called" ``0/1`` in a
set of carrier samples, with the annotation signature of a sequencing artefact, one kind per site (SNVs,
and a third of the sites 1 bp indels next to homopolymers, each kind occurring as both types):

- ``strand_bias``: every ALT read on one strand (AS_SB_TABLE ``r_f,r_r|k,0``) → high AS_FS / AS_SOR;
- ``low_mq``: ALT reads with mapping quality 20–35 (AS_RAW_MQ) → low AS_MQ;
- ``low_qd``: ALT reads at 6–14 % allele fraction with low base quality → low AS_QUALapprox per depth.

They are listed in ``DIR/artefacts.tsv`` (contig, position, ref, alt, kind, type, n_carriers, carriers)
so a variant filter's precision and recall can be measured on them, per kind and per type. Carriers are
drawn so both singletons and recurrent artefacts occur.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callset.simulate.genetics import BASES, WindowGenetics
from callset.simulate.likelihoods import MQ60_SQ, genotype_likelihoods

ARTEFACT_KINDS = ("strand_bias", "low_mq", "low_qd")
ARTEFACT_TYPES = ("snv", "indel")


@dataclass(frozen=True)
class ArtefactSite:
    """One planted artefact: ``offset`` is 0-based in its window; ``carriers`` are sample indices;
    ``type`` is ``snv`` or ``indel`` (a 1 bp insertion or deletion at a homopolymer, left-aligned)."""

    window: str
    offset: int
    ref: str
    alt: str
    kind: str
    carriers: tuple[int, ...]
    type: str = "snv"


def plan_artefacts(
    windows: list[WindowGenetics], n_sites: int, n_samples: int, rng: np.random.Generator, *,
    mean_carriers: float = 6.0,
) -> list[ArtefactSite]:
    """Choose ``n_sites`` artefact positions over the (autosomal) ``windows``, in proportion to their length,
    ≥ 2 bp from every base a true record spans. Kinds cycle strand_bias, low_mq, low_qd; every third group
    of three is an indel (so each kind occurs as SNV and as indel, a third of the sites being indels)."""
    if n_sites <= 0 or not windows:
        return []
    lengths = np.array([g.window.length for g in windows], dtype=float)
    per = np.floor(n_sites * lengths / lengths.sum()).astype(int)
    per[: n_sites - per.sum()] += 1
    specs = []  # (window, offset, ref, alt, type)
    j0 = 0
    for g, n_win in zip(windows, per.tolist(), strict=True):
        types = [ARTEFACT_TYPES[1] if ((j0 + j) // 3) % 3 == 2 else ARTEFACT_TYPES[0] for j in range(n_win)]
        j0 += n_win
        specs += _place(g, types, rng)
    out = []
    for j, (g, off, ref, alt, typ) in enumerate(specs):
        k = int(min(n_samples, rng.geometric(1.0 / mean_carriers)))
        carriers = tuple(sorted(rng.choice(n_samples, size=k, replace=False).tolist()))
        out.append(ArtefactSite(g.window.name, off, ref, alt, ARTEFACT_KINDS[j % len(ARTEFACT_KINDS)], carriers,
                                typ))
    return out


def _place(g: WindowGenetics, types: list[str], rng: np.random.Generator) -> list[tuple]:
    """Positions for ``types`` artefacts on ``g``: SNVs anywhere free; indels before a homopolymer run of
    ≥ 4 bases (polymerase slippage), deleting or inserting one base of the run."""
    seq = g.refseq
    length = g.window.length
    taken = np.zeros(length + 1, dtype=np.int32)
    ends = g.positions + g.ref_len  # half-open spans
    np.add.at(taken, np.clip(g.positions - 2, 0, length), 1)
    np.add.at(taken, np.clip(ends + 2, 0, length), -1)
    busy = np.cumsum(taken)[:length] > 0
    busy |= seq == ord("N")
    busy[-3:] = True
    run_start = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])
    run_len = np.diff(np.r_[run_start, length])
    out: list[tuple] = []
    used = np.zeros(length, dtype=bool)
    free = np.flatnonzero(~busy)
    for typ in types:
        if typ == "indel":
            cand = run_start[(run_len >= 4) & (run_start >= 1)] - 1  # the base before the run
            cand = cand[~busy[cand] & ~busy[cand + 1] & ~used[cand] & ~used[cand + 1]]
            if cand.size:
                off = int(rng.choice(cand))
                base = chr(int(seq[off + 1]))
                anchor = chr(int(seq[off]))
                ref, alt = (anchor + base, anchor) if rng.random() < 0.5 else (anchor, anchor + base)
                used[max(0, off - 2) : off + 5] = True
                out.append((g, off, ref, alt, typ))
                continue
        cand = free[~used[free]]
        if not cand.size:
            break
        off = int(rng.choice(cand))
        ref = chr(int(seq[off]))
        alt = chr(int(rng.choice(BASES[BASES != ord(ref)])))
        used[max(0, off - 2) : off + 3] = True
        out.append((g, off, ref, alt, "snv"))
    return out


def artefact_record(
    site: ArtefactSite, contig: str, pos: int, depth: int, rng: np.random.Generator, *, error_rate: float
) -> str:
    """One gVCF variant line (``0/1`` call with the artefact's annotation signature)."""
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
    lines = ["contig\tposition\tref\talt\tkind\ttype\tn_carriers\tcarriers"]
    for s in sorted(sites, key=lambda a: (list(start).index(a.window), a.offset)):
        c, off = start[s.window]
        lines.append(
            f"{c}\t{s.offset + off}\t{s.ref}\t{s.alt}\t{s.kind}\t{s.type}\t{len(s.carriers)}\t"
            + ",".join(sample_ids[i] for i in s.carriers)
        )
    path.write_text("\n".join(lines) + "\n")
    return path
