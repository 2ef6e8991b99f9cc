"""Sample-identity truth for the simulator: a fingerprint panel for the simulated genome, and CRAM swaps.

- :func:`write_fingerprint_panel` writes ``DIR/panel/fingerprint_sites.vcf``: biallelic SNVs common in the
  ancestry reference panel (minor allele frequency >= 0.2 over its people, never submitted), at least 10 bp
  from any other record and thinned to one site per ``spacing`` bp, on the autosomal windows. It plays the
  part of a real fingerprinting panel (common SNPs chosen from a reference population), for the simulated
  genome, which shares no sites with the human one; ``config.yaml`` points ``intake.identity.panel`` at it.
- :func:`plan_swaps` (``--swaps K``) gives K clean samples a CRAM made from another submitted person's
  copies (a sample swap at the sequencing centre: the gVCF is the manifest's person, the CRAM is not);
  ``truth.tsv`` names that person in ``cram_person``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from callset.simulate.genetics import WindowGenetics
from callset.simulate.genomes import Genome
from callset.simulate.plan import CohortPlan

log = logging.getLogger(__name__)

PANEL_NAME = "fingerprint_sites.vcf"


def fingerprint_sites(
    plan: CohortPlan, genomes: dict[str, Genome], genetics: list[WindowGenetics], *,
    min_maf: float = 0.2, min_gap: int = 10, spacing: int = 100,
) -> list[tuple[str, int, str, str, float]]:
    """``(contig, pos, ref, alt, alt frequency)`` of the panel sites, in window (reference) order."""
    ids = [p.person_id for p in plan.panel]
    out: list[tuple[str, int, str, str, float]] = []
    for g in genetics:
        if g.window.kind != "autosome" or not ids or not g.n_sites:
            continue
        copies = np.stack([c for i in ids for c in genomes[i][g.window.name]], axis=1)  # records x copies
        freq = (copies == 1).mean(axis=1)
        snv = np.array([len(a) == 2 and len(a[0]) == 1 and len(a[1]) == 1 for a in g.alleles], dtype=bool)
        pos = g.positions.astype(np.int64)
        end = pos + g.ref_len - 1
        # distance to the neighbouring records (their REF span included)
        prev_end = np.concatenate(([-(10**9)], np.maximum.accumulate(end)[:-1]))
        next_start = np.concatenate((pos[1:], [10**12]))
        isolated = (pos - prev_end > min_gap) & (next_start - pos > min_gap)
        ok = snv & isolated & (freq >= min_maf) & (freq <= 1 - min_maf)
        last = -(10**9)
        for r in np.flatnonzero(ok).tolist():
            p = int(pos[r])
            if p - last < spacing:
                continue
            last = p
            a = g.alleles[r]
            out.append((g.window.contig, p + g.window.start, a[0], a[1], float(freq[r])))
    return out


def write_fingerprint_panel(
    panel_dir: Path, plan: CohortPlan, genomes: dict[str, Genome], genetics: list[WindowGenetics],
    lengths: dict[str, int],
) -> Path:
    """Write ``panel_dir/fingerprint_sites.vcf`` (a plain sites VCF, as ``intake.identity.panel`` reads it)."""
    sites = fingerprint_sites(plan, genomes, genetics)
    used = {c for c, *_ in sites}
    path = Path(panel_dir) / PANEL_NAME
    header = [
        "##fileformat=VCFv4.2",
        "##source=callset.simulate (fingerprint panel: common biallelic SNVs of the simulated reference "
        "panel, MAF >= 0.2, >= 10 bp from other records, one per 100 bp)",
        '##INFO=<ID=AF,Number=A,Type=Float,Description="ALT frequency in the simulated reference panel">',
        *(f"##contig=<ID={c},length={n}>" for c, n in lengths.items() if c in used),
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    path.write_text(
        "\n".join(header) + "\n"
        + "".join(f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\tAF={f:.3f}\n" for c, p, r, a, f in sites)
    )
    log.info("fingerprint panel: %d sites", len(sites))
    return path


def plan_swaps(plan: CohortPlan, k: int, rng: np.random.Generator) -> int:
    """Give ``k`` clean samples (no planted anomaly, no relative or duplicate in the cohort) a CRAM of
    another, unrelated submitted person; returns how many were planted."""
    if k <= 0:
        return 0
    related = {s.person_id for s in plan.samples if s.duplicate_of or s.relatives}
    related |= {s.person_id for s in plan.samples if any(o.duplicate_of == s.sample_id for o in plan.samples)}
    clean = [
        s for s in plan.samples
        if s.person_id not in related and not (s.contaminant or s.low_coverage or s.sex_mismatch)
        and s.reported_sex != "unknown" and plan.people[s.person_id].karyotype in ("XX", "XY")
    ]
    if len(clean) < 2 * k:
        log.warning("only %d clean samples: %d swaps planted instead of %d", len(clean), len(clean) // 2, k)
        k = len(clean) // 2
    order = rng.permutation(len(clean))
    swapped = [clean[j] for j in order[:k]]
    donors = [clean[j] for j in order[k:]]
    for s in swapped:
        donor = donors[int(rng.integers(len(donors)))]
        s.cram_person = donor.person_id
        s.write_cram = True
    return k
