"""Measure variant filters against the simulator's planted artefacts (``callset simulate --artefacts``).

Used by ``benchmarks/variant_qc_filter.py`` and the tests: precision = flagged artefacts / flagged sites,
recall = flagged artefacts / planted artefacts (artefacts are matched by contig, position, REF, ALT).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import hail as hl
import yaml

from callset.variant_qc.learned import FILTER_NAMES


def read_artefacts(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of the simulator's ``artefacts.tsv``."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def artefact_metrics(ht: hl.Table, artefacts_tsv: str | os.PathLike[str]) -> dict[str, Any]:
    """Precision/recall of (a) the learned filter alone and (b) any site filter, overall and per artefact kind."""
    arts = read_artefacts(artefacts_tsv)
    kind = hl.literal({(a["contig"], int(a["position"]), a["ref"], a["alt"]): a["kind"] for a in arts})
    key = hl.tuple([ht.locus.contig, ht.locus.position, ht.alleles[0], ht.alleles[1]])
    learned = hl.literal(set(FILTER_NAMES.values()))
    r = ht.aggregate(hl.agg.group_by(
        hl.struct(kind=hl.or_else(kind.get(key), "true"),
                  learned=hl.len(ht.filters.intersection(learned)) > 0, any=hl.len(ht.filters) > 0),
        hl.agg.count(),
    ))
    kinds = sorted({a["kind"] for a in arts})
    n_art = len(arts)
    found = sum(n for k, n in r.items() if k.kind != "true")

    def pr(flag: str) -> dict[str, Any]:
        tp = sum(n for k, n in r.items() if k.kind != "true" and k[flag])
        fp = sum(n for k, n in r.items() if k.kind == "true" and k[flag])
        per = {
            kd: sum(n for k, n in r.items() if k.kind == kd and k[flag])
            / max(1, sum(1 for a in arts if a["kind"] == kd))
            for kd in kinds
        }
        return {"tp": tp, "fp": fp, "fn": n_art - tp, "precision": tp / (tp + fp) if tp + fp else float("nan"),
                "recall": tp / n_art if n_art else float("nan"), "recall_by_kind": per}

    n_true = sum(n for k, n in r.items() if k.kind == "true")
    return {"n_artefacts": n_art, "n_artefacts_in_table": found, "n_other_sites": n_true,
            "learned": pr("learned"), "any_filter": pr("any")}


def combine_simulated(sim_dir: str | os.PathLike[str], vds_path: str, work_dir: str) -> str:
    """Joint-call every gVCF of a simulated cohort straight into ``vds_path`` (no intake; one interval per
    simulated window). For tests and benchmarks."""
    from callset.joint_call.combine import combine
    from callset.joint_call.intervals import intervals_expr

    sim = Path(sim_dir)
    cfg = yaml.safe_load((sim / "config.yaml").read_text())
    gvcfs = sorted(str(p) for p in (sim / "inbox").glob("*/*.g.vcf.gz"))
    bounds = []
    for iv in cfg["simulation"]["intervals"]:
        contig, rng = iv.split(":")
        a, b = (int(x) for x in rng.split("-"))
        bounds.append((contig, a, b + 1))
    combine(gvcf_paths=gvcfs, output_path=vds_path, work_dir=work_dir,
            intervals=intervals_expr(bounds, "GRCh38"))
    return vds_path
