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

from callset.sample_qc.relatedness import SECOND_MIN
from callset.sample_qc.sex import KARYOTYPE_SEX


@dataclass
class Accuracy:
    """The figures the issue asks for (fractions in [0, 1])."""

    n_samples: int
    karyotype_accuracy: float
    sex_discordance_accuracy: float
    sex_discordance_recall: float
    n_true_discordant: int
    n_duplicate_pairs: int
    duplicate_recall: float
    n_first_degree_pairs: int
    first_degree_recall: float
    degree_accuracy: float
    wrong_degree: list[tuple[str, str, str, str]]
    n_false_pairs: int
    n_false_duplicate_first: int
    n_false_second: int
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


def realized_kinship(
    truth_genotypes: str | Path, *, block_bp: int = 100_000, min_sites: int = 20
) -> dict[frozenset[str], float]:
    """Kinship each pair of samples really has in the simulated genome, from the true haplotypes.

    The autosomal windows are cut into ``block_bp`` blocks; in a block two haplotypes are identical by
    descent when they carry the same alleles at every site of the block (blocks with fewer than ``min_sites``
    sites are skipped). A pair's block kinship is (largest number of its haplotypes matched one-to-one) / 4:
    0.5 for a duplicate, 0.25 for parent and child; its realized kinship is the mean over blocks. Pairs
    that never share a block are left out (kinship 0). This counts what the population itself shares —
    planted relatives and the unplanted cousins a coalescent makes — which is what a kinship estimator
    can see.
    """
    from cyvcf2 import VCF

    v = VCF(str(truth_genotypes))
    names = v.samples
    blocks: dict[tuple[str, int], list[np.ndarray]] = {}
    for rec in v:
        if not rec.CHROM.removeprefix("chr").isdigit():
            continue
        g = rec.genotype.array()[:, :2]
        blocks.setdefault((rec.CHROM, rec.POS // block_bp), []).append(g.reshape(-1).copy())
    total: dict[tuple[int, int], float] = {}
    n_blocks = 0
    for rows in blocks.values():
        if len(rows) < min_sites:
            continue
        n_blocks += 1
        haps = np.array(rows).T  # (2 x samples) x sites
        groups: dict[bytes, list[int]] = {}
        for h, row in enumerate(haps):
            groups.setdefault(row.tobytes(), []).append(h)
        shared: dict[tuple[int, int], set[tuple[int, int]]] = {}
        for hs in groups.values():
            for a, b in itertools.combinations(hs, 2):
                i, j = a // 2, b // 2
                if i == j:
                    continue
                if i > j:
                    i, j, a, b = j, i, b, a
                shared.setdefault((i, j), set()).add((a % 2, b % 2))
        for ij, m in shared.items():
            total[ij] = total.get(ij, 0.0) + max(((0, 0) in m) + ((1, 1) in m), ((0, 1) in m) + ((1, 0) in m)) / 4
    if not n_blocks:
        return {}
    return {frozenset((names[i], names[j])): k / n_blocks for (i, j), k in total.items()}


def shared_haplotype_pairs(
    truth_genotypes: str | Path, *, min_kinship: float = SECOND_MIN, **kwargs: int
) -> set[frozenset[str]]:
    """Pairs whose :func:`realized_kinship` reaches ``min_kinship`` (second degree by default), planted or not.

    Unplanted ones are related in the simulated genome (the population shares long haplotypes): a reported
    pair among them is scored apart, not as a false pair."""
    return {p for p, k in realized_kinship(truth_genotypes, **kwargs).items() if k >= min_kinship}


def score(
    samples: pd.DataFrame,
    pairs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    genomic_pairs: set[frozenset[str]] | None = None,
) -> Accuracy:
    """Compare a result keyed by center ``sample_id`` (column ``s``; ``pairs`` with ``id1, id2`` sample_ids).

    ``genomic_pairs`` (:func:`shared_haplotype_pairs`): pairs related in the simulated genome; those not
    planted are counted as ``n_unplanted_related`` instead of false pairs. ``degree_accuracy``: among planted
    duplicate and first-degree pairs that were found, the fraction reported with their planted degree.
    """
    t = truth.set_index("sample_id")
    df = samples.set_index("s").join(t, rsuffix="_truth", how="inner")
    kar_ok = (df.inferred_karyotype == df.karyotype).mean()
    true_disc = df.apply(lambda r: KARYOTYPE_SEX.get(r["karyotype"]) != str(r["reported_sex_truth"]).lower(), axis=1)
    pred_disc = df.sex_concordant.map(lambda x: x is False)
    disc_ok = float((true_disc == pred_disc).mean())

    tp = truth_pairs(truth)
    found = {frozenset((a, b)): k for a, b, k in zip(pairs.id1, pairs.id2, pairs.kinship, strict=True)}
    degree = {frozenset((a, b)): d for a, b, d in zip(pairs.id1, pairs.id2, pairs.degree, strict=True)}
    dups = [p for p, d in tp.items() if d == "duplicate"]
    firsts = [p for p, d in tp.items() if d == "first"]
    close = [p for p in dups + firsts if p in found]
    wrong = sorted((*sorted(p), tp[p], str(degree[p])) for p in close if degree[p] != tp[p])
    unplanted = {p for p in (genomic_pairs or set()) if p not in tp}
    false = sorted(
        (*sorted(p), float(k))
        for p, k in found.items()
        if p not in tp and p not in unplanted  # type: ignore[misc]
    )
    n_false_close = sum(degree[frozenset(f[:2])] in ("duplicate", "first") for f in false)

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
        sex_discordance_recall=float(pred_disc[true_disc].mean()) if true_disc.any() else float("nan"),
        n_true_discordant=int(true_disc.sum()),
        n_duplicate_pairs=len(dups),
        duplicate_recall=sum(p in found for p in dups) / len(dups) if dups else float("nan"),
        n_first_degree_pairs=len(firsts),
        first_degree_recall=sum(p in found for p in firsts) / len(firsts) if firsts else float("nan"),
        degree_accuracy=1 - len(wrong) / len(close) if close else float("nan"),
        wrong_degree=wrong,  # type: ignore[arg-type]
        n_false_pairs=len(false),
        n_false_duplicate_first=n_false_close,
        n_false_second=len(false) - n_false_close,
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


def rejected_by_default_intake(sim_dir: str | Path) -> set[str]:
    """Sample IDs whose manifest metrics fail the workflow's default intake thresholds (low coverage,
    contamination > 0.03, ...): the samples a run of the workflow would not joint-call. Lets one cohort
    joint-called with :data:`RELAXED_INTAKE` stand for a default run (``hl.vds.filter_samples``)."""
    from callset.config import section
    from callset.intake.manifest import read_manifest
    from callset.intake.run import check_metrics_notes

    thresholds = section("intake.thresholds")
    out: set[str] = set()
    for manifest in sorted(Path(sim_dir).glob("inbox/*/manifest.tsv")):
        for row in read_manifest(manifest):
            if check_metrics_notes(row, thresholds, require=False)[0]:
                out.add(row.sample_id)
    return out


def simulate_and_joint_call(
    root: str | Path, *, intake_thresholds: dict[str, float | None] | None = RELAXED_INTAKE, **sim_options: object
) -> dict[str, Path]:
    """Simulate a cohort under ``root/sim``, run intake and the combiner on every batch under ``root/results``;
    Hail must be running. Returns paths: ``sim``, ``results``, ``step`` (last cohort step), ``research_ids``,
    ``accepted`` (list).

    ``intake_thresholds``: :data:`RELAXED_INTAKE` (default) lets every planted anomaly reach sample QC;
    ``None`` applies the pipeline's default thresholds, as a run of the workflow would."""
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
            thresholds=intake_thresholds,
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
