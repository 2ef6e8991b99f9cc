"""Genetic ancestry: PCA of a labelled reference panel, projection of the cohort, random forest.

As All of Us (and gnomAD) do: PCs are learned on the labelled reference only, the cohort is projected
onto the reference loadings (so relatives or a skewed cohort cannot bend the axes), a random forest trained
on the reference PCs predicts each sample's group, and a sample whose best probability is below
``min_prob`` (0.75) is ``oth``.

Two choices measured on simulated cohorts (``benchmarks/sample_qc_accuracy.py``):

- the markers are the cohort's *independent* (LD-pruned) common SNPs shared with the panel, as gnomAD's
  ``get_qc_mt``: correlated sites give a few local genealogies the weight of many;
- by default the forest sees ``groups - 1`` PCs, the dimensions that separate the panel's group means.
  Further PCs of a small panel describe its own individuals: the cohort's projections on them shrink to
  ~0.3–0.6 of the panel's spread (the panel was fitted, the cohort is projected), and a forest that splits on
  them sends typical cohort samples to ``oth`` (6 PCs: 15 of 68 EUR samples ``oth`` on a 1 Mb simulation;
  2 PCs: 1).

Ancestry is not assessable with fewer than ``min_sites`` independent shared markers, or when the forest
cannot tell the panel's own groups apart (out-of-bag accuracy below ``min_panel_accuracy``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hail as hl
import numpy as np
import pandas as pd

from callset.errors import CallsetError
from callset.sample_qc import NotAssessable

log = logging.getLogger(__name__)

OTHER = "oth"


def read_panel(panel_vcf: str, *, labels_tsv: str | None = None, reference_genome: str = "GRCh38") -> hl.MatrixTable:
    """The labelled panel as a MatrixTable with column field ``ancestry`` (from ``labels.tsv`` beside it).

    Labels: ``sample_id<TAB>ancestry`` with a header. Panel samples without a label are dropped (warned).
    """
    labels_path = Path(labels_tsv) if labels_tsv else Path(panel_vcf).parent / "labels.tsv"
    if not labels_path.is_file():
        raise CallsetError(f"{labels_path}: ancestry labels of panel {panel_vcf} not found")
    labels = pd.read_csv(labels_path, sep="\t", dtype=str)
    for col in ("sample_id", "ancestry"):
        if col not in labels.columns:
            raise CallsetError(f"{labels_path}: missing column {col!r} (have {list(labels.columns)})")
    mt = hl.import_vcf(panel_vcf, force_bgz=panel_vcf.endswith(".bgz"), reference_genome=reference_genome)
    lab = hl.literal(dict(zip(labels.sample_id, labels.ancestry, strict=True)))
    mt = mt.select_cols(ancestry=lab.get(mt.s))
    n_unlabelled = mt.aggregate_cols(hl.agg.count_where(hl.is_missing(mt.ancestry)))
    if n_unlabelled:
        log.warning("%s: %d panel samples have no label in %s, dropped", panel_vcf, n_unlabelled, labels_path)
        mt = mt.filter_cols(hl.is_defined(mt.ancestry))
    mt = mt.filter_rows((hl.len(mt.alleles) == 2) & hl.is_snp(mt.alleles[0], mt.alleles[1]))
    return mt.select_entries(GT=hl.if_else(mt.GT.ploidy == 1, hl.call(mt.GT[0], mt.GT[0]), mt.GT))


def project_expr(
    gt: hl.expr.CallExpression, loadings: hl.expr.ArrayExpression, af: hl.expr.Float64Expression, n_variants: int
) -> hl.expr.ArrayExpression:
    """Column aggregation: PC scores of samples projected onto HWE-normalised PCA loadings (missing GT =
    the mean, i.e. contributes 0)."""
    norm = (gt.n_alt_alleles() - 2 * af) / hl.sqrt(n_variants * 2 * af * (1 - af))
    return hl.agg.array_sum(loadings * hl.or_else(norm, 0.0))


def default_n_pcs(panel_mt: hl.MatrixTable) -> int:
    """``groups - 1`` (at least 2): the PCs that separate the panel's labelled group means."""
    return max(2, len(panel_mt.aggregate_cols(hl.agg.collect_as_set(panel_mt.ancestry))) - 1)


def compute_ancestry_pcs(
    qc_mt: hl.MatrixTable, panel_mt: hl.MatrixTable, *, n_pcs: int | None = None, min_sites: int = 100
) -> tuple[hl.Table, hl.Table, list[float]]:
    """PCA on the panel at the sites it shares with the cohort's (LD-pruned) QC sites; project the cohort.

    ``n_pcs`` None: :func:`default_n_pcs`.

    :return: ``(cohort_ht, panel_ht, eigenvalues)``: cohort Table ``s, scores``; panel Table ``s, scores,
        ancestry``; globals of the cohort Table: ``n_sites``. Raises :class:`NotAssessable` with fewer than
        ``min_sites`` shared polymorphic sites or too few panel samples.
    """
    if n_pcs is None:
        n_pcs = default_n_pcs(panel_mt)
    panel = panel_mt.semi_join_rows(qc_mt.rows())
    panel = panel.annotate_rows(_af=hl.agg.mean(panel.GT.n_alt_alleles()) / 2)
    panel = panel.filter_rows((panel._af > 0) & (panel._af < 1))
    n_sites, n_panel = panel.count()
    what = f"{n_sites:,} independent common SNPs shared with the ancestry panel ({n_panel} labelled samples)"
    if n_sites < min_sites:
        raise NotAssessable(
            f"{n_sites:,} independent (LD-pruned) common SNPs shared by the cohort and the ancestry panel "
            f"(< {min_sites:,})",
            markers=what,
            n_markers=n_sites,
        )
    if n_panel <= n_pcs:
        raise NotAssessable(f"{n_panel} labelled panel samples: too few for {n_pcs} PCs", markers=what,
                            n_markers=n_sites)
    panel = panel.checkpoint(hl.utils.new_temp_file("ancestry_panel", "mt"))
    eig, scores, loadings = hl.hwe_normalized_pca(panel.GT, k=n_pcs, compute_loadings=True)
    loadings = loadings.annotate(af=panel.rows()[loadings.key]._af).checkpoint(
        hl.utils.new_temp_file("ancestry_loadings", "ht")
    )
    panel_ht = scores.annotate(ancestry=panel.cols()[scores.key].ancestry)
    mt = qc_mt.annotate_rows(_l=loadings[qc_mt.row_key])
    mt = mt.filter_rows(hl.is_defined(mt._l))
    mt = mt.annotate_cols(scores=project_expr(mt.GT, mt._l.loadings, mt._l.af, n_sites))
    log.info("ancestry: PCA of %d panel samples on %d shared sites; eigenvalues %s", n_panel, n_sites, eig)
    return mt.cols().select("scores").annotate_globals(n_sites=n_sites), panel_ht, list(eig)


def assign_ancestry(
    cohort: pd.DataFrame,
    panel: pd.DataFrame,
    *,
    min_prob: float = 0.75,
    n_trees: int = 500,
    seed: int = 0,
    min_panel_accuracy: float | None = None,
) -> pd.DataFrame:
    """Random forest on the panel's PCs -> each cohort sample's group and its probability.

    :param cohort: columns ``s``, ``PC1..PCk``.
    :param panel: columns ``PC1..PCk``, ``ancestry``.
    :param min_panel_accuracy: raise :class:`NotAssessable` when the forest's out-of-bag accuracy on the
        panel itself is lower (not applied if None).
    :return: ``s, ancestry, ancestry_prob`` (+ ``prob_<group>`` for each group); ``ancestry`` is
        :data:`OTHER` when the best probability is below ``min_prob``. ``attrs["panel_oob_accuracy"]``.
    """
    from sklearn.ensemble import RandomForestClassifier

    pcs = [c for c in panel.columns if c.startswith("PC")]
    rf = RandomForestClassifier(n_estimators=n_trees, random_state=seed, n_jobs=1, oob_score=True)
    rf.fit(panel[pcs].to_numpy(), panel["ancestry"].to_numpy())
    oob = float(rf.oob_score_)
    if min_panel_accuracy is not None and oob < min_panel_accuracy:
        raise NotAssessable(
            f"the labelled panel's own groups are told apart in only {oob:.0%} of cases on these markers "
            f"(out-of-bag, < {min_panel_accuracy:.0%})"
        )
    prob = rf.predict_proba(cohort[pcs].to_numpy())
    best = prob.argmax(axis=1)
    out = pd.DataFrame({"s": cohort["s"].to_numpy()})
    out["ancestry_prob"] = prob.max(axis=1)
    out["ancestry"] = np.where(out["ancestry_prob"] >= min_prob, rf.classes_[best], OTHER)
    for i, g in enumerate(rf.classes_):
        out[f"prob_{g}"] = prob[:, i]
    out.attrs["panel_oob_accuracy"] = oob
    return out


def scores_frame(ht: hl.Table, n_pcs: int, *, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Collect a ``s, scores`` Table into ``s, PC1..PCk`` (+ ``extra`` fields)."""
    rows = ht.collect()
    key = next(iter(ht.key))
    data = {"s": [r[key] for r in rows]}
    for i in range(n_pcs):
        data[f"PC{i + 1}"] = [float(r.scores[i]) for r in rows]
    for f in extra:
        data[f] = [r[f] for r in rows]
    return pd.DataFrame(data)
