"""Population genetics: haplotype pools from an out-of-Africa coalescent model (msprime).

The demography is the three-population model of Gutenkunst et al. (2009) — the same parameters as
stdpopsim's ``HomSap/OutOfAfrica_3G09`` — with populations YRI, CEU and CHB reported as the ancestry
groups AFR, EUR and EAS. Each window is simulated separately; chrX uses 3/4 and chrY 1/4 of the
autosomal effective sizes (chrY without recombination). Only biallelic SNVs are kept.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import msprime
import numpy as np

from callset.simulate.regions import Window

log = logging.getLogger(__name__)

#: msprime population name -> ancestry label written to truth.tsv / labels.tsv.
ANCESTRY_OF_POPULATION = {"YRI": "AFR", "CEU": "EUR", "CHB": "EAS"}
POPULATION_OF_ANCESTRY = {v: k for k, v in ANCESTRY_OF_POPULATION.items()}
ANCESTRIES = tuple(ANCESTRY_OF_POPULATION.values())

#: Mutation rate the OutOfAfrica_3G09 model was fitted with (per bp per generation).
DEFAULT_MUTATION_RATE = 2.35e-8
#: Genome-wide average recombination rate (per bp per generation).
DEFAULT_RECOMBINATION_RATE = 1.15e-8

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def out_of_africa_demography(*, size_scale: float = 1.0) -> msprime.Demography:
    """Gutenkunst et al. (2009) three-population out-of-Africa demography.

    :param size_scale: multiply every effective population size (0.75 for chrX, 0.25 for chrY).
    """
    generation_time = 25
    n_a, n_b, n_af = 7300, 2100, 12300
    n_eu0, n_as0 = 1000, 510
    r_eu, r_as = 0.004, 0.0055
    t_af = 220e3 / generation_time
    t_b = 140e3 / generation_time
    t_eu_as = 21.2e3 / generation_time
    n_eu = n_eu0 / math.exp(-r_eu * t_eu_as)
    n_as = n_as0 / math.exp(-r_as * t_eu_as)
    m_af_b, m_af_eu, m_af_as, m_eu_as = 25e-5, 3e-5, 1.9e-5, 9.6e-5
    s = size_scale
    dem = msprime.Demography()
    dem.add_population(name="YRI", description="African (AFR)", initial_size=n_af * s)
    dem.add_population(name="CEU", description="European (EUR)", initial_size=n_eu * s, growth_rate=r_eu)
    dem.add_population(name="CHB", description="East Asian (EAS)", initial_size=n_as * s, growth_rate=r_as)
    dem.add_population(name="OOA", description="Bottleneck out of Africa", initial_size=n_b * s)
    dem.add_population(name="AMH", description="Anatomically modern humans", initial_size=n_af * s)
    dem.add_population(name="ANC", description="Ancestral equilibrium", initial_size=n_a * s)
    dem.set_symmetric_migration_rate(["CEU", "CHB"], m_eu_as)
    dem.set_symmetric_migration_rate(["YRI", "CHB"], m_af_as)
    dem.set_symmetric_migration_rate(["YRI", "CEU"], m_af_eu)
    dem.add_population_split(time=t_eu_as, derived=["CEU", "CHB"], ancestral="OOA")
    dem.add_symmetric_migration_rate_change(time=t_eu_as, populations=["YRI", "OOA"], rate=m_af_b)
    dem.add_population_split(time=t_b, derived=["YRI", "OOA"], ancestral="AMH")
    dem.add_population_split(time=t_af, derived=["AMH"], ancestral="ANC")
    dem.sort_events()
    return dem


@dataclass
class WindowGenetics:
    """Simulated variation in one window.

    ``positions`` are 0-based offsets into the window (GRCh38 POS = ``window.start + offset``);
    ``haplotypes[h, i]`` is 1 when haplotype ``h`` carries the ALT allele at site ``i``.
    ``pool[ancestry]`` lists the haplotype rows simulated for that group: individual ``k`` of a group owns
    rows ``pool[a][2k]`` and ``pool[a][2k + 1]``.
    """

    window: Window
    positions: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    haplotypes: np.ndarray
    pool: dict[str, np.ndarray]
    refseq: np.ndarray

    @property
    def n_sites(self) -> int:
        return int(self.positions.size)

    def haplotype(self, ancestry: str, individual: int, copy: int) -> np.ndarray:
        """Allele vector of copy ``copy`` (0/1) of pool individual ``individual`` of ``ancestry``."""
        return self.haplotypes[self.pool[ancestry][2 * individual + copy]]


def random_reference(rng: np.random.Generator, length: int, *, gc: float = 0.41) -> np.ndarray:
    """A random DNA sequence (ASCII codes) with the given GC fraction."""
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    return BASES[rng.choice(4, size=length, p=p)]


def simulate_window(
    window: Window,
    individuals_per_ancestry: dict[str, int],
    *,
    seed: int,
    mutation_rate: float = DEFAULT_MUTATION_RATE,
    recombination_rate: float = DEFAULT_RECOMBINATION_RATE,
) -> WindowGenetics:
    """Simulate ``individuals_per_ancestry`` diploid individuals over ``window``.

    Every window simulates the same pool sizes, so pool individual ``k`` of a group exists in all windows
    (with independent genealogies per window, as for unlinked loci).
    """
    ss = np.random.SeedSequence([seed, 0x5EED, hash_name(window.name)])
    anc_seed, mut_seed, ref_seed = (int(s.generate_state(1)[0]) % (2**31 - 1) + 1 for s in ss.spawn(3))
    scale = {"autosome": 1.0, "par": 1.0, "x_nonpar": 0.75, "y": 0.25}[window.kind]
    rec = 0.0 if window.kind == "y" else recombination_rate
    samples = {
        POPULATION_OF_ANCESTRY[a]: n for a, n in individuals_per_ancestry.items() if n > 0
    }
    ts = msprime.sim_ancestry(
        samples=samples,
        demography=out_of_africa_demography(size_scale=scale),
        sequence_length=window.length,
        recombination_rate=rec,
        ploidy=2,
        random_seed=anc_seed,
    )
    ts = msprime.sim_mutations(ts, rate=mutation_rate, random_seed=mut_seed, model=msprime.JC69())
    tables = ts.tables
    n_mut_per_site = np.bincount(tables.mutations.site, minlength=ts.num_sites)
    keep = n_mut_per_site == 1
    site_ids = np.flatnonzero(keep)
    positions = tables.sites.position[site_ids].astype(np.int64)
    anc = tskit_chars(tables.sites.ancestral_state, tables.sites.ancestral_state_offset)[site_ids]
    mut_site = tables.mutations.site
    single = keep[mut_site]
    der_by_site = np.zeros(ts.num_sites, dtype=np.uint8)
    der = tskit_chars(tables.mutations.derived_state, tables.mutations.derived_state_offset)
    der_by_site[mut_site[single]] = der[single]
    alt = der_by_site[site_ids]
    gm = ts.genotype_matrix()[site_ids]
    haplotypes = np.ascontiguousarray(gm.T.astype(np.int8))
    sample_pops = tables.nodes.population[ts.samples()]
    names = [p.metadata["name"] for p in ts.populations()]
    pool = {}
    for a in individuals_per_ancestry:
        pop_id = names.index(POPULATION_OF_ANCESTRY[a])
        pool[a] = np.flatnonzero(sample_pops == pop_id)
    refseq = random_reference(np.random.default_rng(ref_seed), window.length)
    refseq[positions] = anc
    log.info(
        "%s (%s): %d haplotypes, %d biallelic SNVs (%d sites dropped as multi-hit)",
        window.name, window.interval, haplotypes.shape[0], positions.size, int((~keep).sum()),
    )
    return WindowGenetics(
        window=window, positions=positions, ref=anc, alt=alt, haplotypes=haplotypes, pool=pool,
        refseq=refseq,
    )


def tskit_chars(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """First character of each entry of a tskit ragged string column (states here are one base)."""
    return np.asarray(data, dtype=np.int8).view(np.uint8)[offsets[:-1]]


def hash_name(name: str) -> int:
    """A stable (non-randomised) integer for a string, for seeding."""
    return int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "little")
