"""Population genetics: variant records and haplotype pools from an out-of-Africa coalescent (msprime).

The demography is the three-population model of Gutenkunst et al. (2009) — the same parameters as
stdpopsim's ``HomSap/OutOfAfrica_3G09`` — with populations YRI, CEU and CHB reported as the ancestry
groups AFR, EUR and EAS. Each window gets its own genealogy (windows on different chromosomes are
unlinked); chrX uses 3/4 and chrY 1/4 of the autosomal effective sizes (chrY without recombination).

The reference sequence of a window is drawn first (:func:`make_reference`: GC 41 %, CpG depleted as in
the human genome, short tandem repeats); mutations are then placed on the genealogy by msprime and given
alleles from that sequence (:class:`MutationModel`):

- SNVs at ``snv_rate`` on average, ``cpg_rate_factor`` times faster at CpG sites; transitions make
  ``transition_fraction`` of non-CpG and ``cpg_transition_fraction`` of CpG changes (Ti/Tv ≈ 2.0–2.1);
- small indels (1–``max_indel_length`` bp, power-law lengths) at ``indel_ratio`` × ``snv_rate`` anywhere,
  and unit expansions/contractions at tandem repeats (a per-repeat rate that grows with its length);
  every indel is left-aligned against the sequence (REF anchored on the preceding base, VCF style);
- every mutation is a new allele (msprime's infinite-alleles model on a discrete genome), so a site hit
  twice becomes multi-allelic; an SNV and an indel at the same position share one record.

Mutations at one position make one *record* (REF = the longest REF, other alleles padded, as in a
joint-called VCF). A haplotype whose deletion spans a later record carries ``*`` there. Haplotypes are
stored as allele indices per record.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

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
#: The VCF allele of a haplotype whose deletion spans a record.
STAR = "*"
_TRANSITION = {"A": "G", "G": "A", "C": "T", "T": "C"}
_TRANSVERSIONS = {"A": "CT", "G": "CT", "C": "AG", "T": "AG"}
_C, _G, _A, _T = (ord(x) for x in "CGAT")
#: Event kinds; at one position a haplotype carrying several takes the highest kind.
SNV, INSERTION, DELETION = 0, 1, 2


@dataclass(frozen=True)
class MutationModel:
    """How mutations get their alleles. Defaults give Ti/Tv ≈ 2.05 and ~12 % indel sites (measured in the
    README). ``indel_ratio=0`` and ``str_rate=0`` give SNVs only."""

    snv_rate: float = DEFAULT_MUTATION_RATE
    transition_fraction: float = 0.615
    cpg_rate_factor: float = 10.0
    cpg_transition_fraction: float = 0.95
    #: fraction of the random sequence's CpG dinucleotides kept (the rest become TpG/CpA, as by deamination)
    cpg_retention: float = 0.25
    #: rate of indels outside tandem repeats, relative to ``snv_rate``
    indel_ratio: float = 0.11
    deletion_fraction: float = 0.55
    #: P(length L) ∝ L^-length_exponent for 1 <= L <= max_indel_length
    length_exponent: float = 1.8
    max_indel_length: int = 20
    #: one tandem repeat per this many bp of sequence (0 = none)
    str_spacing: int = 2000
    #: indel rate at a tandem repeat of 10 units (proportional to the number of units)
    str_rate: float = 2e-6


@dataclass
class TandemRepeats:
    """Short tandem repeats written into a window's sequence: ``anchor`` is the 0-based offset of the base
    before the repeat (where its indels are anchored), ``unit`` the repeated motif, ``copies`` how many."""

    anchor: np.ndarray
    unit: list[str]
    copies: np.ndarray


@dataclass
class WindowGenetics:
    """Simulated variation in one window.

    ``positions`` are 0-based offsets into the window (GRCh38 POS = ``window.start + offset``) of the
    records; ``alleles[i]`` is record i's ``(REF, ALT1, ...)`` (``*`` last when present);
    ``haplotypes[h, i]`` is the allele index haplotype ``h`` carries at record ``i``. ``link_pos[i]`` is the
    position of the first record of the run of records linked by spanning deletions (crossovers are placed
    between runs, so a ``*`` always travels with its deletion). ``pool[ancestry]`` lists the haplotype rows
    of that group: individual ``k`` owns rows ``pool[a][2k]`` and ``pool[a][2k + 1]``.
    """

    window: Window
    positions: np.ndarray
    alleles: list[tuple[str, ...]]
    haplotypes: np.ndarray
    pool: dict[str, np.ndarray]
    refseq: np.ndarray
    link_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    repeats: TandemRepeats | None = None

    def __post_init__(self) -> None:
        if self.link_pos.size != self.positions.size:
            self.link_pos = self.positions.copy()
        self.n_alleles = np.array([len(a) for a in self.alleles], dtype=np.int64)
        self.has_star = np.array([a[-1] == STAR for a in self.alleles], dtype=bool)
        self.ref_len = np.array([len(a[0]) for a in self.alleles], dtype=np.int64)

    @property
    def n_sites(self) -> int:
        return int(self.positions.size)

    def haplotype(self, ancestry: str, individual: int, copy: int) -> np.ndarray:
        """Allele indices of copy ``copy`` (0/1) of pool individual ``individual`` of ``ancestry``."""
        return self.haplotypes[self.pool[ancestry][2 * individual + copy]]

    def record_kind(self) -> np.ndarray:
        """Per record: 0 = biallelic SNV, 1 = biallelic indel, 2 = multi-allelic (incl. ``*``)."""
        out = np.zeros(self.n_sites, dtype=np.int8)
        for i, a in enumerate(self.alleles):
            if len(a) > 2:
                out[i] = 2
            elif len(a[0]) != 1 or len(a[1]) != 1:
                out[i] = 1
        return out


def random_reference(rng: np.random.Generator, length: int, *, gc: float = 0.41) -> np.ndarray:
    """A random DNA sequence (ASCII codes) with the given GC fraction."""
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    return BASES[rng.choice(4, size=length, p=p)]


def make_reference(
    length: int, rng: np.random.Generator, *, model: MutationModel, gc: float = 0.41
) -> np.ndarray:
    """Random sequence with human-like CpG depletion: each CpG is kept with probability ``cpg_retention``,
    otherwise turned into TpG or CpA (the products of methyl-cytosine deamination)."""
    seq = random_reference(rng, length, gc=gc)
    cg = np.flatnonzero((seq[:-1] == _C) & (seq[1:] == _G))
    drop = rng.random(cg.size) >= model.cpg_retention
    to_t = rng.random(cg.size) < 0.5
    seq[cg[drop & to_t]] = _T
    seq[cg[drop & ~to_t] + 1] = _A
    return seq


def add_tandem_repeats(
    seq: np.ndarray, rng: np.random.Generator, *, spacing: int, avoid: list[tuple[int, int]] | None = None
) -> TandemRepeats:
    """Write short tandem repeats into ``seq`` (one per ``spacing`` bp slot, none inside ``avoid``
    offset ranges, half-open) and return where they are. Homopolymers make half of them, then di-, tetra-
    and trinucleotide repeats; the bases around a repeat differ from its motif so indels in it left-align
    onto the anchor base."""
    if spacing <= 0 or seq.size < spacing:
        return TandemRepeats(np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64))
    anchors, units, copies = [], [], []
    n_slots = seq.size // spacing
    slot_offsets = rng.integers(10, max(11, spacing - 80), size=n_slots)
    unit_len = rng.choice([1, 2, 3, 4], size=n_slots, p=[0.5, 0.25, 0.1, 0.15])
    ranges = {1: (8, 17), 2: (5, 11), 3: (4, 9), 4: (4, 8)}
    for k in range(n_slots):
        a = k * spacing + int(slot_offsets[k])
        u = int(unit_len[k])
        while True:
            unit = "".join("ACGT"[i] for i in rng.integers(0, 4, size=u))
            if u == 1 or (len(set(unit)) > 1 and not (u == 4 and unit[:2] == unit[2:])):
                break
        c = int(rng.integers(*ranges[u]))
        end = a + 1 + u * c  # first base after the repeat
        if end + 1 >= seq.size or any(lo <= end and a < hi for lo, hi in avoid or ()):
            continue
        seq[a + 1 : end] = np.frombuffer((unit * c).encode(), dtype=np.uint8)
        seq[a] = ord(_other_base(rng, (unit[-1],)))
        seq[end] = ord(_other_base(rng, (unit[0],)))
        anchors.append(a)
        units.append(unit)
        copies.append(c)
    return TandemRepeats(np.array(anchors, dtype=np.int64), units, np.array(copies, dtype=np.int64))


def _other_base(rng: np.random.Generator, exclude: tuple[str, ...]) -> str:
    choices = [b for b in "ACGT" if b not in exclude]
    return choices[int(rng.integers(len(choices)))]


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


# --- mutations -> events ------------------------------------------------------------------------------


@dataclass
class _Events:
    """Alleles placed by mutations: parallel lists, carriers as boolean haplotype masks."""

    pos: list[int] = field(default_factory=list)
    ref: list[str] = field(default_factory=list)
    alt: list[str] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    carriers: list[np.ndarray] = field(default_factory=list)

    def add(self, pos: int, ref: str, alt: str, kind: int, carriers: np.ndarray) -> None:
        self.pos.append(pos)
        self.ref.append(ref)
        self.alt.append(alt)
        self.kind.append(kind)
        self.carriers.append(carriers)


def cpg_mask(seq: np.ndarray) -> np.ndarray:
    """Positions that are the C or the G of a CpG dinucleotide."""
    m = np.zeros(seq.size, dtype=bool)
    cg = (seq[:-1] == _C) & (seq[1:] == _G)
    m[:-1] |= cg
    m[1:] |= cg
    return m


def _variants(ts: msprime.TreeSequence) -> list[tuple[int, np.ndarray, int]]:
    """(position, genotypes as allele labels, number of alleles) of every site."""
    pos = ts.tables.sites.position.astype(np.int64).tolist()
    return [(p, v.genotypes, len(v.alleles)) for p, v in zip(pos, ts.variants(), strict=True)]


def _snv_events(ts: msprime.TreeSequence, seq: np.ndarray, model: MutationModel, rng: np.random.Generator,
                ev: _Events, seeds: tuple[int, int]) -> None:
    """SNVs: a uniform process plus an extra CpG-only process (msprime, infinite alleles), bases drawn with
    a transition bias that is stronger at CpG."""
    cpg = cpg_mask(seq)
    f = float(cpg.mean())
    base = model.snv_rate / (1 + f * (model.cpg_rate_factor - 1))
    sources = [msprime.sim_mutations(ts, rate=base, model=msprime.InfiniteAlleles(), random_seed=seeds[0])]
    if model.cpg_rate_factor > 1 and f > 0:
        extra = msprime.sim_mutations(
            ts, rate=base * (model.cpg_rate_factor - 1), model=msprime.InfiniteAlleles(), random_seed=seeds[1]
        )
        tables = extra.dump_tables()
        pos = tables.sites.position.astype(np.int64)
        tables.delete_sites(np.flatnonzero(~cpg[pos]))
        sources.append(tables.tree_sequence())
    for src in sources:
        for p, gts, n in _variants(src):
            b = chr(int(seq[p]))
            ti = model.cpg_transition_fraction if cpg[p] else model.transition_fraction
            by_alt: dict[str, np.ndarray] = {}
            for j in range(1, n):
                carriers = gts == j
                if not carriers.any():
                    continue
                alt = _TRANSITION[b] if rng.random() < ti else _TRANSVERSIONS[b][int(rng.integers(2))]
                by_alt[alt] = by_alt[alt] | carriers if alt in by_alt else carriers
            for alt, carriers in by_alt.items():
                ev.add(p, b, alt, SNV, carriers)


def _length_probs(model: MutationModel) -> np.ndarray:
    lengths = np.arange(1, model.max_indel_length + 1, dtype=float)
    w = lengths ** -model.length_exponent
    return w / w.sum()


def left_align(seq: np.ndarray, pos: int, ref: str, alt: str) -> tuple[int, str, str] | None:
    """Left-align an anchored indel (``ref``/``alt`` share their first base, one of them is that base only)
    against ``seq``; ``None`` when it would need an anchor before the start of ``seq``."""
    if len(ref) > len(alt):  # deletion of seq[pos+1 : pos+1+L]
        n = len(ref) - 1
        while seq[pos] == seq[pos + n]:
            if pos == 0:
                return None
            pos -= 1
        s = seq[pos : pos + n + 1].tobytes().decode()
        return pos, s, s[0]
    ins = alt[1:]
    while chr(int(seq[pos])) == ins[-1]:
        if pos == 0:
            return None
        ins = ins[-1] + ins[:-1]
        pos -= 1
    b = chr(int(seq[pos]))
    return pos, b, b + ins


def _indel_events(ts: msprime.TreeSequence, seq: np.ndarray, repeats: TandemRepeats, model: MutationModel,
                  rng: np.random.Generator, ev: _Events, seed: int) -> None:
    """Indels: background rate everywhere plus a per-repeat rate at tandem-repeat anchors."""
    bg = model.snv_rate * model.indel_ratio
    anchors = repeats.anchor
    if anchors.size:
        rates = model.str_rate * repeats.copies / 10.0
        bounds = np.unique(np.concatenate([[0], anchors, anchors + 1, [seq.size]]))
        rate = np.full(bounds.size - 1, bg)
        rate[np.searchsorted(bounds, anchors)] = bg + rates
        ratemap: float | msprime.RateMap = msprime.RateMap(position=bounds, rate=rate)
    else:
        ratemap = bg
    if bg <= 0 and not anchors.size:
        return
    mts = msprime.sim_mutations(ts, rate=ratemap, model=msprime.InfiniteAlleles(), random_seed=seed)
    str_at = {int(a): (u, int(c)) for a, u, c in zip(anchors.tolist(), repeats.unit, repeats.copies, strict=True)}
    probs = _length_probs(model)
    for p, gts, n in _variants(mts):
        by_allele: dict[tuple[int, str, str], np.ndarray] = {}
        for j in range(1, n):
            carriers = gts == j
            if not carriers.any():
                continue
            key = _draw_indel(seq, p, str_at.get(p), model, probs, rng)
            if key is None:
                continue
            by_allele[key] = by_allele[key] | carriers if key in by_allele else carriers
        for (q, ref, alt), carriers in by_allele.items():
            ev.add(q, ref, alt, DELETION if len(ref) > len(alt) else INSERTION, carriers)


def _draw_indel(
    seq: np.ndarray, p: int, repeat: tuple[str, int] | None, model: MutationModel, probs: np.ndarray,
    rng: np.random.Generator,
) -> tuple[int, str, str] | None:
    """One indel allele at anchor ``p`` (left-aligned), or None when it does not fit the window."""
    b = chr(int(seq[p]))
    if repeat is not None:  # gain or loss of whole units
        unit, copies = repeat
        d = int(rng.choice([-2, -1, 1, 2], p=[0.1, 0.45, 0.35, 0.1]))
        if d < 0:
            k = min(-d, copies)
            ref = seq[p : p + 1 + k * len(unit)].tobytes().decode()
            return left_align(seq, p, ref, b)
        return left_align(seq, p, b, b + unit * d)
    n = int(rng.choice(probs.size, p=probs)) + 1
    if rng.random() < model.deletion_fraction:
        if p + n >= seq.size:
            return None
        ref = seq[p : p + n + 1].tobytes().decode()
        return left_align(seq, p, ref, b)
    if rng.random() < 0.5 and p + 1 + n <= seq.size:  # tandem duplication of the following bases
        ins = seq[p + 1 : p + 1 + n].tobytes().decode()
    else:
        ins = "".join("ACGT"[i] for i in rng.choice(4, size=n, p=[0.295, 0.205, 0.205, 0.295]))
    return left_align(seq, p, b, b + ins)


# --- events -> records --------------------------------------------------------------------------------


def build_records(
    ev: _Events, n_hap: int
) -> tuple[np.ndarray, list[tuple[str, ...]], np.ndarray, np.ndarray]:
    """Merge events into VCF-style records.

    Returns ``positions``, ``alleles`` per record, ``haplotypes`` (n_hap × records, allele indices) and
    ``link_pos``. Events at one position share a record (REF = longest REF; other alleles padded with its
    tail). A haplotype carrying several events at one position keeps the highest kind (deletion >
    insertion > SNV). A haplotype carrying a deletion gets ``*`` at every record inside the deleted bases.
    Alleles nobody carries are dropped, the rest trimmed to their shortest common form.
    """
    if not ev.pos:
        return (np.zeros(0, dtype=np.int64), [], np.zeros((n_hap, 0), dtype=np.int8),
                np.zeros(0, dtype=np.int64))
    order = sorted(range(len(ev.pos)), key=lambda i: (ev.pos[i], ev.kind[i], ev.ref[i], ev.alt[i]))
    positions = np.array(sorted(set(ev.pos)), dtype=np.int64)
    rec_of = {int(p): i for i, p in enumerate(positions.tolist())}
    longest: dict[int, str] = {}
    for i in order:
        r = rec_of[ev.pos[i]]
        if len(ev.ref[i]) > len(longest.get(r, "")):
            longest[r] = ev.ref[i]
    alleles: list[list[str]] = [[longest[r]] for r in range(positions.size)]
    hap = np.zeros((positions.size, n_hap), dtype=np.int16)  # record-major while building
    ev_rec, ev_idx = {}, {}
    for i in order:
        r = rec_of[ev.pos[i]]
        ref = alleles[r][0]
        padded = ev.alt[i] + ref[len(ev.ref[i]) :]
        if padded not in alleles[r]:
            alleles[r].append(padded)
        ev_rec[i], ev_idx[i] = r, alleles[r].index(padded)
        hap[r, ev.carriers[i]] = ev_idx[i]
    # spanning deletions, left to right: a deletion's carriers (as resolved so far) get * inside its span
    for i in order:
        if ev.kind[i] != DELETION:
            continue
        r = ev_rec[i]
        carriers = hap[r] == ev_idx[i]
        if not carriers.any():
            continue
        p, n_del = ev.pos[i], len(ev.ref[i]) - len(ev.alt[i])  # deletes bases p+1 .. p+n_del
        lo = int(np.searchsorted(positions, p + 1, side="left"))
        hi = int(np.searchsorted(positions, p + n_del, side="right"))
        for s in range(lo, hi):
            if STAR not in alleles[s]:
                alleles[s].append(STAR)
            hap[s, carriers] = alleles[s].index(STAR)
    # drop unused alleles (keep * last), trim, drop records without a real ALT
    keep_rec = []
    out_alleles: list[tuple[str, ...]] = []
    for r in range(positions.size):
        used = np.unique(hap[r])
        al = alleles[r]
        real = [j for j in used.tolist() if j > 0 and al[j] != STAR]
        if not real:
            continue
        star = [j for j in used.tolist() if j > 0 and al[j] == STAR]
        new_order = [0, *sorted(real), *star]
        remap = np.zeros(len(al), dtype=np.int16)
        remap[new_order] = np.arange(len(new_order))
        hap[r] = remap[hap[r]]
        out_alleles.append(trim_alleles(tuple(al[j] for j in new_order)))
        keep_rec.append(r)
    keep = np.array(keep_rec, dtype=np.int64)
    positions = positions[keep]
    haps = np.ascontiguousarray(hap[keep].T.astype(np.int8))
    # runs of records linked by deletion spans
    link = positions.copy()
    run_start, run_end = -1, -1
    for r, (p, rec_alleles) in enumerate(zip(positions.tolist(), out_alleles, strict=True)):
        if p > run_end:
            run_start = p
        link[r] = run_start
        run_end = max(run_end, p + len(rec_alleles[0]) - 1)
    return positions, out_alleles, haps, link


def trim_alleles(alleles: tuple[str, ...]) -> tuple[str, ...]:
    """Remove the common last bases of REF and every real ALT (``*`` is ignored), keeping one base."""
    real = [a for a in alleles if a != STAR]
    n = 0
    while all(len(a) - n >= 2 for a in real) and len({a[len(a) - 1 - n] for a in real}) == 1:
        n += 1
    if not n:
        return alleles
    return tuple(a if a == STAR else a[: len(a) - n] for a in alleles)


def simulate_window(
    window: Window,
    individuals_per_ancestry: dict[str, int],
    *,
    seed: int,
    mutation_rate: float = DEFAULT_MUTATION_RATE,
    recombination_rate: float = DEFAULT_RECOMBINATION_RATE,
    model: MutationModel | None = None,
    prepare: Callable[[np.ndarray], list[tuple[int, int]]] | None = None,
) -> WindowGenetics:
    """Simulate ``individuals_per_ancestry`` diploid individuals over ``window``.

    Every window simulates the same pool sizes, so pool individual ``k`` of a group exists in all windows
    (with independent genealogies per window, as for unlinked loci). ``prepare(seq)`` may rewrite the
    random reference before repeats and mutations are placed (e.g. write genes into it) and returns offset
    ranges (half-open) to keep free of tandem repeats. ``model`` defaults to :class:`MutationModel` with
    ``snv_rate = mutation_rate``.
    """
    model = model or MutationModel(snv_rate=mutation_rate)
    ss = np.random.SeedSequence([seed, 0x5EED, hash_name(window.name)])
    children = ss.spawn(7)
    anc_seed, snv_seed, cpg_seed, indel_seed = (
        int(s.generate_state(1)[0]) % (2**31 - 1) + 1 for s in children[:4]
    )
    ref_rng, str_rng, allele_rng = (np.random.default_rng(s) for s in children[4:])
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
    seq = make_reference(window.length, ref_rng, model=model)
    avoid = prepare(seq) if prepare is not None else []
    repeats = add_tandem_repeats(seq, str_rng, spacing=model.str_spacing, avoid=avoid)
    ev = _Events()
    _snv_events(ts, seq, model, allele_rng, ev, (snv_seed, cpg_seed))
    if model.indel_ratio > 0 or model.str_rate > 0:
        _indel_events(ts, seq, repeats, model, allele_rng, ev, indel_seed)
    positions, alleles, haplotypes, link = build_records(ev, ts.num_samples)
    sample_pops = ts.tables.nodes.population[ts.samples()]
    names = [p.metadata["name"] for p in ts.populations()]
    pool = {}
    for a in individuals_per_ancestry:
        pop_id = names.index(POPULATION_OF_ANCESTRY[a])
        pool[a] = np.flatnonzero(sample_pops == pop_id)
    g = WindowGenetics(
        window=window, positions=positions, alleles=alleles, haplotypes=haplotypes, pool=pool, refseq=seq,
        link_pos=link, repeats=repeats,
    )
    kinds = np.bincount(g.record_kind(), minlength=3)
    log.info(
        "%s (%s): %d haplotypes, %d records (%d biallelic SNV, %d biallelic indel, %d multi-allelic)",
        window.name, window.interval, haplotypes.shape[0], positions.size, *kinds.tolist(),
    )
    return g


def hash_name(name: str) -> int:
    """A stable (non-randomised) integer for a string, for seeding."""
    return zlib.crc32(name.encode())
