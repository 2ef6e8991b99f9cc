"""Score a sample-QC result against the simulator's ``truth.tsv`` (tests and benchmarks).

Truth columns used: ``sample_id, ancestry, karyotype, reported_sex, contamination, true_individual,
relatives`` (see ``src/callset/simulate/README.md``). Related pairs are derived through individuals, so a
duplicate of a parent is also first-degree to the child.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from callset.sample_qc.sex import KARYOTYPE_SEX


@dataclass
class Accuracy:
    """The figures the issue asks for (fractions in [0, 1])."""

    n_samples: int
    karyotype_accuracy: float
    sex_discordance_accuracy: float
    n_true_discordant: int
    n_duplicate_pairs: int
    duplicate_recall: float
    n_first_degree_pairs: int
    first_degree_recall: float
    n_false_pairs: int
    n_unplanted_related: int
    unplanted_found: int
    false_pairs: list[tuple[str, str, float]]
    n_contaminated_5pct: int
    contamination_recall: float
    n_clean: int
    contamination_false_flag_rate: float
    contamination_2pct_flagged: str
    ancestry_accuracy: float
    n_ancestry_wrong: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def truth_pairs(truth: pd.DataFrame) -> dict[frozenset[str], str]:
    """``{frozenset({a, b}): 'duplicate' | 'first' | 'second'}`` over submitted sample IDs."""
    by_person: dict[str, list[str]] = {}
    for s, p in zip(truth.sample_id, truth.true_individual, strict=True):
        by_person.setdefault(p or s, []).append(s)
    person = {s: (p or s) for s, p in zip(truth.sample_id, truth.true_individual, strict=True)}
    out: dict[frozenset[str], str] = {}
    for samples in by_person.values():
        for a, b in itertools.combinations(samples, 2):
            out[frozenset((a, b))] = "duplicate"
    names = {1: "first", 2: "second"}
    for s, rel in zip(truth.sample_id, truth.relatives, strict=True):
        for item in filter(None, (rel or "").split(";")):
            other, _, deg = item.partition(":")
            for a in by_person[person[s]]:
                for b in by_person[person.get(other, other)]:
                    out.setdefault(frozenset((a, b)), names.get(int(deg), "second"))
    return out


def shared_haplotype_pairs(truth_genotypes: str | Path, contig: str | None = None) -> set[frozenset[str]]:
    """Sample pairs that carry an identical copy of the whole autosomal window in the simulator's true
    genotypes, whether planted or not (a shared haplotype is kinship ~0.25 in the genome, planted or not)."""
    from cyvcf2 import VCF

    v = VCF(str(truth_genotypes))
    names = v.samples
    recs = v(contig) if contig else v
    haps = []
    for rec in recs:
        if not rec.CHROM.lstrip("chr").isdigit():
            continue
        haps.append([g[c] if c < len(g) - 1 else -1 for g in rec.genotypes for c in (0, 1)])
    if not haps:
        return set()
    arr = np.array(haps).T  # (2 x samples) x sites
    by: dict[bytes, set[str]] = {}
    for i, h in enumerate(arr):
        by.setdefault(h.tobytes(), set()).add(names[i // 2])
    out: set[frozenset[str]] = set()
    for group in by.values():
        for a, b in itertools.combinations(sorted(group), 2):
            out.add(frozenset((a, b)))
    return out


def score(
    samples: pd.DataFrame,
    pairs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    genomic_pairs: set[frozenset[str]] | None = None,
) -> Accuracy:
    """Compare a result keyed by center ``sample_id`` (column ``s``; ``pairs`` with ``id1, id2`` sample_ids).

    ``genomic_pairs`` (:func:`shared_haplotype_pairs`): pairs sharing a true haplotype; those not planted are
    counted as ``n_unplanted_related`` instead of false pairs.
    """
    t = truth.set_index("sample_id")
    df = samples.set_index("s").join(t, rsuffix="_truth", how="inner")
    kar_ok = (df.inferred_karyotype == df.karyotype).mean()
    true_disc = df.apply(lambda r: KARYOTYPE_SEX.get(r["karyotype"]) != str(r["reported_sex_truth"]).lower(), axis=1)
    pred_disc = df.sex_concordant.map(lambda x: x is False)
    disc_ok = float((true_disc == pred_disc).mean())

    tp = truth_pairs(truth)
    found = {frozenset((a, b)): k for a, b, k in zip(pairs.id1, pairs.id2, pairs.kinship, strict=True)}
    dups = [p for p, d in tp.items() if d == "duplicate"]
    firsts = [p for p, d in tp.items() if d == "first"]
    unplanted = {p for p in (genomic_pairs or set()) if p not in tp}
    false = sorted(
        (*sorted(p), float(k))
        for p, k in found.items()
        if p not in tp and p not in unplanted  # type: ignore[misc]
    )

    flagged = df.hard_filter_reasons.map(lambda x: "contamination" in x)
    c = pd.to_numeric(df.contamination_truth, errors="coerce").fillna(0)
    pos, clean, low = c >= 0.05, c == 0, (c > 0) & (c < 0.05)
    anc_truth = df.ancestry_truth
    has = anc_truth.notna() & (anc_truth != "")
    anc_ok = df.ancestry[has].str.upper() == anc_truth[has].str.upper()
    return Accuracy(
        n_samples=len(df),
        karyotype_accuracy=float(kar_ok),
        sex_discordance_accuracy=disc_ok,
        n_true_discordant=int(true_disc.sum()),
        n_duplicate_pairs=len(dups),
        duplicate_recall=sum(p in found for p in dups) / len(dups) if dups else float("nan"),
        n_first_degree_pairs=len(firsts),
        first_degree_recall=sum(p in found for p in firsts) / len(firsts) if firsts else float("nan"),
        n_false_pairs=len(false),
        n_unplanted_related=len(unplanted),
        unplanted_found=sum(p in found for p in unplanted),
        false_pairs=false,  # type: ignore[arg-type]
        n_contaminated_5pct=int(pos.sum()),
        contamination_recall=float(flagged[pos].mean()) if pos.any() else float("nan"),
        n_clean=int(clean.sum()),
        contamination_false_flag_rate=float(flagged[clean].mean()) if clean.any() else float("nan"),
        contamination_2pct_flagged=f"{int(flagged[low].sum())}/{int(low.sum())}",
        ancestry_accuracy=float(anc_ok.mean()) if has.any() else float("nan"),
        n_ancestry_wrong=int((~anc_ok).sum()),
    )


def read_truth(path: str) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


#: intake thresholds switched off, so that planted anomalies reach sample QC instead of being rejected
RELAXED_INTAKE = {
    k: None
    for k in (
        "min_mean_coverage",
        "min_genome_coverage_20x",
        "min_aligned_q30_bases",
        "max_contamination",
        "min_array_concordance",
    )
}


def simulate_and_joint_call(root: str | Path, **sim_options: object) -> dict[str, Path]:
    """Simulate a cohort under ``root/sim``, run intake (relaxed thresholds) and the combiner on every batch
    under ``root/results``; Hail must be running. Returns paths: ``sim``, ``results``, ``step`` (last cohort
    step), ``research_ids``, ``accepted`` (list)."""
    from callset.intake.registry import export_research_ids
    from callset.intake.run import run_intake
    from callset.joint_call.combine import combine_batch
    from callset.simulate.cohort import SimulationOptions, simulate_cohort

    root = Path(root)
    sim, res = root / "sim", root / "results"
    simulate_cohort(sim, SimulationOptions(**sim_options))  # type: ignore[arg-type]
    prev: Path | None = None
    accepted = []
    for i, batch in enumerate(sorted(p for p in (sim / "inbox").iterdir() if p.is_dir())):
        out = res / "intake" / batch.name
        run_intake(
            batch,
            out_dir=out,
            registry_path=res / "registry.sqlite",
            thresholds=RELAXED_INTAKE,
            reference_fasta=str(sim / "reference" / "sim.fa.gz"),
        )
        step = res / "joint" / "cohort" / batch.name
        combine_batch(
            accepted_tsv=str(out / "accepted.tsv"),
            previous_step=str(prev) if prev else None,
            step_dir=str(step),
            work_dir=str(root / "work" / batch.name),
            index=i,
            import_interval_size=1_000_000,
        )
        accepted.append(out / "accepted.tsv")
        prev = step
    export_research_ids(res / "registry.sqlite", res / "private" / "research_ids.tsv")
    assert prev is not None
    return {
        "sim": sim,
        "results": res,
        "step": prev,
        "research_ids": res / "private" / "research_ids.tsv",
        "accepted": accepted,
    }  # type: ignore[dict-item]
