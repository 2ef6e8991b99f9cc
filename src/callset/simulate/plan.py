"""Who is in the simulated cohort: individuals, submissions (samples), batches and planted anomalies.

Planning is pure bookkeeping driven by one seeded generator, separate from the genetics, so the truth
table can be derived before any read is simulated.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from callset.simulate.genetics import ANCESTRIES

log = logging.getLogger(__name__)


@dataclass
class Person:
    """A simulated human. Founders come straight from the coalescent pool (``pool_index``); children are
    built from a parent in the cohort and an ``other_parent`` founder that is not submitted."""

    person_id: str
    ancestry: str
    karyotype: str
    pool_index: int | None = None
    parent: str | None = None
    other_parent: str | None = None
    submitted: bool = True


@dataclass
class Sample:
    """One submitted sample (a row of a manifest and of truth.tsv)."""

    sample_id: str
    batch_id: str
    person_id: str
    index: int
    coverage: float
    reported_sex: str
    contamination: float = 0.0
    contaminant: str | None = None
    duplicate_of: str | None = None
    relatives: list[tuple[str, int]] = field(default_factory=list)
    low_coverage: bool = False
    sex_mismatch: bool = False
    write_cram: bool = False
    array_concordance: float | None = None
    q30_fraction: float = 0.97
    #: person whose copies the CRAM is made from when it is not the sample's own (a planted swap)
    cram_person: str | None = None


@dataclass
class AnomalyCounts:
    """How many samples carry each planted anomaly (parent_child counts pairs)."""

    duplicates: int = 0
    parent_child: int = 0
    contaminated: int = 0
    low_coverage: int = 0
    sex_mismatch: int = 0
    x0: int = 0
    xxy: int = 0

    @classmethod
    def from_rate(cls, n_samples: int, rate: float, *, x0: int = 0, xxy: int = 0) -> AnomalyCounts:
        """``rate`` × N of each common anomaly, at least one each when ``rate > 0``."""
        k = max(1, round(rate * n_samples)) if rate > 0 else 0
        return cls(
            duplicates=k, parent_child=k, contaminated=k, low_coverage=k, sex_mismatch=k, x0=x0, xxy=xxy
        )


@dataclass
class CohortPlan:
    """People, samples and the pool sizes the genetics must simulate."""

    people: dict[str, Person]
    samples: list[Sample]
    panel: list[Person]
    pool_sizes: dict[str, int]

    @property
    def batches(self) -> list[str]:
        return sorted({s.batch_id for s in self.samples})


def plan_cohort(
    n_samples: int,
    *,
    seed: int,
    n_batches: int = 1,
    anomalies: AnomalyCounts | None = None,
    ancestry_proportions: dict[str, float] | None = None,
    panel_per_ancestry: int = 30,
    coverage_mean: float = 35.0,
    coverage_sd: float = 3.0,
    low_coverage_range: tuple[float, float] = (6.0, 12.0),
    contamination_fractions: tuple[float, ...] = (0.02, 0.05, 0.10),
    cram_samples: int = 0,
    unknown_sex: int = 0,
    sample_prefix: str = "S",
) -> CohortPlan:
    """Plan a cohort of ``n_samples`` submitted samples.

    Anomaly sets are disjoint: duplicated people, parent–child pairs, rare karyotypes, contaminated,
    low-coverage and sex-mismatched samples never overlap, so each truth row has at most one cause.
    Counts that do not fit into ``n_samples`` are reduced (with a warning).

    The steps draw from one generator in a fixed order (people, submissions, per-sample anomalies, centre
    extras), so a seed always gives the same plan.
    """
    if n_samples < 1:
        raise ValueError("n_samples must be >= 1")
    if n_batches < 1 or n_batches > n_samples:
        raise ValueError(f"batches must be between 1 and n_samples ({n_samples}), got {n_batches}")
    anomalies = anomalies or AnomalyCounts()
    props = ancestry_proportions or {"AFR": 0.4, "EUR": 0.35, "EAS": 0.25}
    if set(props) - set(ANCESTRIES):
        raise ValueError(f"unknown ancestry in proportions {props}; known: {ANCESTRIES}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x91A7]))
    pool = _FounderPool()
    cast = _plan_people(n_samples, anomalies, props, pool, rng)
    samples = _plan_submissions(
        cast, n_batches, rng, coverage_mean=coverage_mean, coverage_sd=coverage_sd, sample_prefix=sample_prefix
    )
    _plant_sample_anomalies(
        samples, cast, anomalies, rng, unknown_sex=unknown_sex, low_coverage_range=low_coverage_range,
        contamination_fractions=contamination_fractions,
    )
    _add_centre_extras(samples, rng, cram_samples=cram_samples)
    # ancestry reference panel (never submitted)
    panel = [
        pool.new_founder(f"PANEL_{a}_{k + 1:03d}", a, "XX", submitted=False)
        for a in ANCESTRIES
        for k in range(panel_per_ancestry)
    ]
    return CohortPlan(people=cast.people, samples=samples, panel=panel, pool_sizes=pool.sizes)


@dataclass
class _FounderPool:
    """Hands out coalescent-pool slots: ``sizes`` is how many individuals per ancestry the genetics simulate."""

    sizes: dict[str, int] = field(default_factory=lambda: {a: 0 for a in ANCESTRIES})

    def new_founder(self, pid: str, ancestry: str, karyotype: str, submitted: bool = True) -> Person:
        idx = self.sizes[ancestry]
        self.sizes[ancestry] += 1
        return Person(pid, ancestry, karyotype, pool_index=idx, submitted=submitted)


@dataclass
class _Cast:
    """The planned people and which of them carry a person-level anomaly."""

    people: dict[str, Person]
    #: cohort parents and their children, pairwise (``children[i]`` is a child of ``parents[i]``)
    parents: list[str]
    children: list[str]
    #: founders given a rare karyotype (X0, XXY)
    rare: set[str]
    #: people submitted twice
    duplicated: list[str]

    def busy(self) -> set[str]:
        """People already carrying an anomaly (kept clear of per-sample anomalies)."""
        return set(self.parents) | set(self.children) | self.rare | set(self.duplicated)


def _plan_people(
    n_samples: int, anomalies: AnomalyCounts, props: dict[str, float], pool: _FounderPool, rng: np.random.Generator
) -> _Cast:
    """Founders, parent–child pairs (each child's other parent an unsubmitted founder), rare karyotypes
    and the people to submit twice."""
    n_dup = min(anomalies.duplicates, n_samples // 2)
    n_people = n_samples - n_dup
    n_pc = min(anomalies.parent_child, max(0, (n_people - n_dup) // 2))
    if (n_dup, n_pc) != (anomalies.duplicates, anomalies.parent_child):
        log.warning("cohort of %d too small: %d duplicates, %d parent-child pairs", n_samples, n_dup, n_pc)

    anc_names = list(props)
    p = np.array([props[a] for a in anc_names], dtype=float)
    p = p / p.sum()
    people: dict[str, Person] = {}
    n_founders = n_people - n_pc
    founder_anc = rng.choice(len(anc_names), size=n_founders, p=p)
    founder_sex = rng.choice(["XX", "XY"], size=n_founders)
    for i in range(n_founders):
        pid = f"P{i + 1:05d}"
        people[pid] = pool.new_founder(pid, anc_names[founder_anc[i]], str(founder_sex[i]))
    founders = list(people)
    order = rng.permutation(len(founders))
    parents = [founders[j] for j in order[:n_pc]]
    rest = [founders[j] for j in order[n_pc:]]
    children: list[str] = []
    for i, par in enumerate(parents):
        pp = people[par]
        other_sex = "XY" if pp.karyotype == "XX" else "XX"
        oid = f"O{i + 1:05d}"
        people[oid] = pool.new_founder(oid, pp.ancestry, other_sex, submitted=False)
        cid = f"C{i + 1:05d}"
        people[cid] = Person(cid, pp.ancestry, str(rng.choice(["XX", "XY"])), parent=par, other_parent=oid)
        children.append(cid)
    # rare karyotypes on unrelated founders
    n_x0 = min(anomalies.x0, len(rest))
    n_xxy = min(anomalies.xxy, len(rest) - n_x0)
    for pid in rest[:n_x0]:
        people[pid].karyotype = "X0"
    for pid in rest[n_x0 : n_x0 + n_xxy]:
        people[pid].karyotype = "XXY"
    rare, rest = set(rest[: n_x0 + n_xxy]), rest[n_x0 + n_xxy :]
    dup_people = [rest[i] for i in rng.permutation(len(rest))[:n_dup]]
    if len(dup_people) < n_dup:
        log.warning("only %d people free to duplicate (asked %d)", len(dup_people), n_dup)
    return _Cast(people, parents, children, rare, dup_people)


def _plan_submissions(
    cast: _Cast, n_batches: int, rng: np.random.Generator, *, coverage_mean: float, coverage_sd: float,
    sample_prefix: str,
) -> list[Sample]:
    """One sample per submission, in batches: every submitted person once (shuffled), a duplicated
    person's second submission in another batch where possible; duplicates and parent–child pairs linked."""
    people = cast.people
    submitted = [pid for pid, pe in people.items() if pe.submitted]
    submitted = [submitted[j] for j in rng.permutation(len(submitted))]
    per_batch = math.ceil((len(submitted) + len(cast.duplicated)) / n_batches)
    first_pos = {pid: i for i, pid in enumerate(submitted)}
    ordered = list(submitted)
    for pid in cast.duplicated:
        b_first = first_pos[pid] // per_batch
        target_batch = (b_first + 1) % n_batches
        insert_at = min(len(ordered), target_batch * per_batch + int(rng.integers(0, per_batch)))
        ordered.insert(insert_at, pid)
    samples: list[Sample] = []
    sid_of_person: dict[str, str] = {}
    for i, pid in enumerate(ordered):
        sid = f"{sample_prefix}{i + 1:04d}"
        batch = f"batch_{min(i // per_batch, n_batches - 1) + 1:03d}"
        cov = float(np.clip(rng.normal(coverage_mean, coverage_sd), coverage_mean * 0.9, coverage_mean * 1.5))
        rep = "male" if "Y" in people[pid].karyotype else "female"
        samples.append(Sample(sid, batch, pid, i, round(cov, 2), rep))
        sid_of_person.setdefault(pid, sid)  # first submission keeps the identity; later ones duplicate it
    for s in samples:
        if s.sample_id != sid_of_person[s.person_id]:
            s.duplicate_of = sid_of_person[s.person_id]
    by_id = {s.sample_id: s for s in samples}
    for par, cid in zip(cast.parents, cast.children, strict=True):
        ps, cs = sid_of_person[par], sid_of_person[cid]
        by_id[ps].relatives.append((cs, 1))
        by_id[cs].relatives.append((ps, 1))
    return samples


def _plant_sample_anomalies(
    samples: list[Sample], cast: _Cast, anomalies: AnomalyCounts, rng: np.random.Generator, *,
    unknown_sex: int, low_coverage_range: tuple[float, float], contamination_fractions: tuple[float, ...],
) -> None:
    """Contamination, low coverage, reported-sex mismatches and unknown reported sex, on distinct samples
    of people without a person-level anomaly (in place)."""
    busy = cast.busy()
    free = [s for s in samples if s.person_id not in busy]
    free = [free[j] for j in rng.permutation(len(free))]
    want = anomalies.contaminated + anomalies.low_coverage + anomalies.sex_mismatch + unknown_sex
    if want > len(free):
        log.warning("only %d clean samples for %d per-sample anomalies; some dropped", len(free), want)
    it = iter(free)
    contaminated = [s for _, s in zip(range(anomalies.contaminated), it, strict=False)]
    for k, s in enumerate(contaminated):
        s.contamination = float(contamination_fractions[k % len(contamination_fractions)])
        same_batch = [o for o in samples if o.batch_id == s.batch_id and o.person_id != s.person_id]
        pool = same_batch or [o for o in samples if o.person_id != s.person_id]
        if pool:
            s.contaminant = pool[int(rng.integers(len(pool)))].sample_id
        else:  # a one-sample cohort: contaminate with an unsubmitted founder
            s.contamination = 0.0
    for _, s in zip(range(anomalies.low_coverage), it, strict=False):
        s.low_coverage = True
        s.coverage = round(float(rng.uniform(*low_coverage_range)), 2)
    for _, s in zip(range(anomalies.sex_mismatch), it, strict=False):
        s.sex_mismatch = True
        s.reported_sex = "female" if s.reported_sex == "male" else "male"
    for _, s in zip(range(unknown_sex), it, strict=False):
        s.reported_sex = "unknown"


def _add_centre_extras(samples: list[Sample], rng: np.random.Generator, *, cram_samples: int) -> None:
    """What a centre reports besides the gVCF: Q30 fraction, array concordance (9 in 10 samples), and
    which samples come with a CRAM (the first ``cram_samples``); in place."""
    for s in samples:
        s.q30_fraction = round(float(rng.uniform(0.95, 0.99)), 4)
        if rng.random() < 0.9:
            conc = rng.uniform(0.990, 0.9995) - 0.5 * s.contamination
            s.array_concordance = round(float(conc), 4)
    for s in samples[: max(0, cram_samples)]:
        s.write_cram = True
