"""Assemble each person's chromosome copies per window from the simulated haplotype pools.

Founders own two pool haplotypes per window. A child receives, per window, one recombinant of its
cohort parent's two copies and one recombinant of the (unsubmitted) other parent's copies; on chrX
non-PAR and chrY inheritance follows the parents' sexes (a son gets his X from the mother and his Y from
the father). Crossovers are placed at the recombination rate (about one per 100 Mb), so the child shares
exactly one allele with the parent at every site (identity by descent 1). Copies are allele-index vectors
over the window's records; a crossover never separates a deletion from the ``*`` it causes.
"""

from __future__ import annotations

import numpy as np

from callset.simulate.genetics import DEFAULT_RECOMBINATION_RATE, WindowGenetics
from callset.simulate.plan import CohortPlan, Person
from callset.simulate.regions import copy_number

Genome = dict[str, list[np.ndarray]]  # window name -> list of allele vectors (one per copy)


def founder_genome(person: Person, genetics: list[WindowGenetics]) -> Genome:
    """Copies of a founder (pool individual) for every window, following its karyotype."""
    assert person.pool_index is not None
    out: Genome = {}
    for g in genetics:
        k = person.pool_index
        kind = g.window.kind
        n_x = person.karyotype.count("X")
        n_y = person.karyotype.count("Y")
        if kind == "autosome":
            copies = [g.haplotype(person.ancestry, k, 0), g.haplotype(person.ancestry, k, 1)]
        elif kind == "par":
            # up to three PAR copies (XXY): third copy borrowed from the chrY-carrying slot
            copies = [g.haplotype(person.ancestry, k, c % 2) for c in range(n_x + n_y)]
        elif kind == "x_nonpar":
            copies = [g.haplotype(person.ancestry, k, c) for c in range(n_x)]
        else:
            copies = [g.haplotype(person.ancestry, k, 0) for _ in range(n_y)]
        assert len(copies) == copy_number(kind, person.karyotype)
        out[g.window.name] = copies
    return out


def recombine(
    a: np.ndarray, b: np.ndarray, positions: np.ndarray, length: int, rng: np.random.Generator,
    *, rate: float = DEFAULT_RECOMBINATION_RATE,
) -> np.ndarray:
    """A gamete from copies ``a`` and ``b``: random start copy, Poisson crossovers along the window
    (``positions``: where each record sits for crossover placement)."""
    n_co = rng.poisson(rate * length)
    breaks = np.sort(rng.integers(0, length, size=n_co))
    switches = np.searchsorted(breaks, positions, side="right")
    use_b = (switches + int(rng.integers(2))) % 2 == 1
    return np.where(use_b, b, a).astype(np.int8)


def _gamete(copies: list[np.ndarray], positions: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A gamete from a parent's first two copies of a window (see :func:`recombine`)."""
    return recombine(copies[0], copies[1], positions, length, rng)


def child_genome(
    child: Person, parent: Person, other: Person, parent_genome: Genome, other_genome: Genome,
    genetics: list[WindowGenetics], rng: np.random.Generator,
) -> Genome:
    """Copies of a child of ``parent`` and ``other`` (both XX/XY and of opposite sexes)."""
    mother, father = (parent, other) if parent.karyotype == "XX" else (other, parent)
    mg = parent_genome if mother is parent else other_genome
    fg = parent_genome if father is parent else other_genome
    out: Genome = {}
    for g in genetics:
        name, kind = g.window.name, g.window.kind
        pos, length = g.link_pos, g.window.length  # records linked by a deletion travel together
        if kind in ("autosome", "par"):
            copies = [_gamete(parent_genome[name], pos, length, rng), _gamete(other_genome[name], pos, length, rng)]
            if int(rng.integers(2)):
                copies.reverse()
        elif kind == "x_nonpar":
            from_mother = _gamete(mg[name], pos, length, rng)
            copies = [from_mother, fg[name][0]] if child.karyotype == "XX" else [from_mother]
        else:
            copies = [fg[name][0]] if child.karyotype == "XY" else []
        assert len(copies) == copy_number(kind, child.karyotype)
        out[name] = copies
    return out


def build_genomes(plan: CohortPlan, genetics: list[WindowGenetics], *, seed: int) -> dict[str, Genome]:
    """Genomes of every person in the plan (cohort, unsubmitted other parents and panel)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC411D]))
    genomes: dict[str, Genome] = {}
    everyone = list(plan.people.values()) + plan.panel
    for p in everyone:
        if p.pool_index is not None:
            genomes[p.person_id] = founder_genome(p, genetics)
    for p in everyone:
        if p.parent is not None:
            assert p.other_parent is not None
            par, oth = plan.people[p.parent], plan.people[p.other_parent]
            genomes[p.person_id] = child_genome(
                p, par, oth, genomes[par.person_id], genomes[oth.person_id], genetics, rng
            )
    return genomes
