"""Release: the cohort VDS -> a research-ready, immutable release directory.

Layout of ``<results>/releases/<release>/`` (a public contract, see README "Using a release"):

- ``vds/`` — the cohort VariantDataset with research IDs, withdrawn participants removed, GQ-0 reference
  blocks dropped and reference blocks capped at ``ref_block_max_length`` (GVS hygiene);
- ``mt/shard_NNNNN.mt`` — dense, multi-allelic-split MatrixTables, one per contiguous interval (never
  crossing a chromosome; together they tile every contig that has data from position 1 to its end),
  balanced by variant count; entries ``GT, AD, DP, GQ``; rows ``variant_qc`` and ``AC, AN, AF``;
- ``samples.tsv`` — the research IDs in the release;
- ``manifest.json`` — what, when, from which batches, with which software, shards with intervals and
  counts, and every file with its size and sha256.

The release is written under ``releases/.<release>.partial`` and renamed into place only when complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hail as hl

from callset.config import section
from callset.core.cohort import cohort_parts, read_cohort_step, read_cohort_vds, reference_block_provenance
from callset.core.reference import Reference
from callset.errors import ReleaseError
from callset.release.auxiliary import NO_GROUP, read_sample_qc, release_ancestry, write_aux_tables
from callset.release.callsets import callset_filters, ensure_frequencies, has_clinvar_expr, read_exon_intervals
from callset.release.cut import (
    Region,
    cut_matrix_table,
    cut_matrix_table_with_hail,
    group_partitions,
    native_format_supported,
    partition_regions,
)
from callset.release.exports import cut_exports, export_all_shards
from callset.release.guard import read_withdrawals, write_private_provenance
from callset.release.manifest import MANIFEST_FORMAT, digest_of, file_inventory, software_versions, written_row_count
from callset.release.notes import compare_releases, find_previous_release, release_notes
from callset.release.public import write_public_summary
from callset.release.shards import ENTRY_FIELDS, ShardAnnotator, ShardPlan, dense_release_mt, plan_shards

log = logging.getLogger(__name__)


def prepare_release_vds(
    vds: hl.vds.VariantDataset,
    research_ids: Mapping[str, str],
    *,
    ref_block_max_length: int = 1000,
    drop_gq0_reference_blocks: bool = True,
) -> hl.vds.VariantDataset:
    """Keep the samples in ``research_ids`` (sample_id -> research_id), rename them, apply GVS hygiene.

    Alleles seen only in removed samples are dropped (and rows left with none). GQ-0 reference blocks
    become no-calls; reference blocks are capped at ``ref_block_max_length`` (stored in the globals,
    which makes interval filtering cheap).
    """
    keep = sorted(research_ids)
    vds = hl.vds.filter_samples(vds, hl.literal(keep), keep=True, remove_dead_alleles=True)
    mapping = hl.literal(dict(research_ids))
    rd = vds.reference_data.key_cols_by(s=mapping[vds.reference_data.s])
    vd = vds.variant_data.key_cols_by(s=mapping[vds.variant_data.s])
    if drop_gq0_reference_blocks:
        rd = rd.filter_entries(rd.GQ > 0)
    out = hl.vds.VariantDataset(rd, vd)
    return hl.vds.truncate_reference_blocks(out, max_ref_block_base_pairs=ref_block_max_length)


@dataclass(frozen=True)
class ReleaseSettings:
    """How a release is made: the ``release_options`` config section (+ ``sample_qc.exclude_hard_filtered``).

    Built once with :meth:`from_config`; keys not given take the schema's defaults (:mod:`callset.config`).
    """

    target_variants_per_shard: int
    ref_block_max_length: int
    drop_gq0_reference_blocks: bool
    smaller_callsets: tuple[str, ...]
    acaf_min_ac: int | None
    acaf_min_af: float | None
    exome_gene_model: str | None
    exome_padding: int
    exports: tuple[str, ...]
    public_summary: bool
    suppress_below: int
    exclude_hard_filtered: bool

    @classmethod
    def from_config(
        cls, release_options: Mapping[str, Any] | None = None, *, exclude_hard_filtered: bool | None = None
    ) -> ReleaseSettings:
        o = section("release_options", release_options)
        if exclude_hard_filtered is None:
            exclude_hard_filtered = section("sample_qc")["exclude_hard_filtered"]
        return cls(
            target_variants_per_shard=int(o["target_variants_per_shard"]),
            ref_block_max_length=int(o["ref_block_max_length"]),
            drop_gq0_reference_blocks=bool(o["drop_gq0_reference_blocks"]),
            smaller_callsets=tuple(o["smaller_callsets"]),
            acaf_min_ac=o["acaf"]["min_ac"],
            acaf_min_af=o["acaf"]["min_af"],
            exome_gene_model=o["exome_gene_model"],
            exome_padding=int(o["exome_padding"]),
            exports=tuple(o["exports"]),
            public_summary=bool(o["public_summary"]),
            suppress_below=int(o["suppress_below"]),
            exclude_hard_filtered=bool(exclude_hard_filtered),
        )


@dataclass(frozen=True)
class ReleaseInputs:
    """What a release is made from: the cohort, who is in it, who left, and sample QC's tables."""

    cohort_vds: str | hl.vds.VariantDataset
    research_ids: Mapping[str, str]  # sample_id -> research_id of every accepted participant
    withdrawn: frozenset[str] = frozenset()  # sample_ids to leave out
    input_batches: tuple[str, ...] = ()
    # sample QC outputs (sample_qc, related_pairs, ancestry_preds, flagged_samples -> TSV); None: not run
    qc_tables: Mapping[str, str] | None = None
    # how the cohort's reference blocks were made (callset.core.cohort.reference_block_provenance)
    reference_blocks: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class ShardAnnotations:
    """Variant QC's part of a release: per-shard annotations, the VAT, callsets known to be empty."""

    annotator: ShardAnnotator | None = None  # applied to each dense shard before it is written
    vat: bool = False
    empty_callsets: Mapping[str, str] = field(default_factory=dict)  # name -> why nothing is selected
    notes: tuple[str, ...] = ()  # what variant QC says users should know (sites.ht global variant_qc_notes)


@dataclass
class SampleSelection:
    """The released samples (sample_id -> research_id) and why others were left out."""

    keep: dict[str, str]
    n_withdrawn: int
    n_hard_filtered: int
    ancestry: dict[str, str]  # research_id -> genetic ancestry group (released samples with a group)

    @property
    def released(self) -> set[str]:
        return set(self.keep.values())


def _rm(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def start_partial(final: Path, release: str) -> Path:
    """Refuse a finished release; return a fresh ``releases/.<name>.partial`` to write into."""
    if (final / "manifest.json").exists():
        raise ReleaseError(f"{final}: release {release!r} exists and releases are immutable; name a new release")
    partial = final.parent / f".{final.name}.partial"
    if partial.exists():
        log.info("removing unfinished release attempt %s", partial)
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return partial


def select_samples(vds: hl.vds.VariantDataset, inputs: ReleaseInputs, settings: ReleaseSettings) -> SampleSelection:
    """Cohort samples with a research ID, minus withdrawals and (optionally) samples failing hard filters.

    :raises ReleaseError: a cohort sample has no research ID, or no sample is left.
    """
    in_cohort = set(vds.variant_data.s.collect())
    research_ids, withdrawn = inputs.research_ids, set(inputs.withdrawn)
    missing = sorted(in_cohort - set(research_ids))
    if missing:
        raise ReleaseError(
            f"{inputs.cohort_vds}: {len(missing)} cohort samples have no research ID, e.g. {missing[:5]}"
        )
    keep = {s: r for s, r in research_ids.items() if s in in_cohort and s not in withdrawn}
    ancestry: dict[str, str] = {}
    n_hard_filtered = 0
    if inputs.qc_tables and inputs.qc_tables.get("sample_qc"):
        qc = read_sample_qc(inputs.qc_tables["sample_qc"], research_ids)
        failed = set(qc.loc[qc["hard_filter_reasons"].str.strip() != "", "research_id"])
        if settings.exclude_hard_filtered:
            before = len(keep)
            keep = {s: r for s, r in keep.items() if r not in failed}
            n_hard_filtered = before - len(keep)
        if "ancestry" in qc.columns:
            ancestry = {r: a for r, a in zip(qc["research_id"], qc["ancestry"], strict=True) if a not in NO_GROUP}
    if not keep:
        raise ReleaseError("no samples left to release")
    released = set(keep.values())
    return SampleSelection(keep=keep, n_withdrawn=len(in_cohort & withdrawn), n_hard_filtered=n_hard_filtered,
                           ancestry={r: a for r, a in ancestry.items() if r in released})


@dataclass
class SmallerCallsets:
    """The smaller callsets of a release (ACAF, exome, ClinVar): row filters, their shards, what was skipped."""

    filters: dict[str, Callable[[hl.MatrixTable], hl.MatrixTable]]
    skipped: dict[str, str]  # requested but not written at all (e.g. no gene model), name -> why
    known_empty: dict[str, str]  # known beforehand to select nothing, name -> why
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    has_clinvar: bool = False
    written: dict[str, Path] = field(default_factory=dict)  # name -> the callset of every shard (scratch)
    exports: dict[str, dict[str, Path]] = field(default_factory=dict)  # name -> format -> exports (scratch)

    @classmethod
    def plan(cls, settings: ReleaseSettings, reference: Reference, empty: Mapping[str, str]) -> SmallerCallsets:
        skipped: dict[str, str] = {}
        exome_ivs = None
        if "exome" in settings.smaller_callsets:
            if settings.exome_gene_model:
                exome_ivs = read_exon_intervals(settings.exome_gene_model, padding=settings.exome_padding,
                                                contig_lengths=reference.lengths)
            else:
                skipped["exome"] = "no gene model configured (release_options.exome_gene_model)"
        filters = callset_filters(acaf_min_ac=settings.acaf_min_ac, acaf_min_af=settings.acaf_min_af,
                                  exome_intervals=exome_ivs, reference_genome=reference.name,
                                  names=settings.smaller_callsets)
        known_empty = {n: why for n, why in empty.items() if n in filters}
        for name, why in known_empty.items():
            log.info("%s callset empty (%s): not written", name, why)
        return cls(filters=filters, skipped=skipped, known_empty=known_empty,
                   entries={name: {"path": name, "shards": []} for name in filters})

    def write_all(self, dense_path: Path, work: Path, *, release: str, exports: Sequence[str],
                  reference: Reference) -> None:
        """Write every smaller callset of every shard at once (``work/<name>.mt``) and its exports (one query
        per callset and format), to be cut into shards by :meth:`cut`."""
        dense = hl.read_matrix_table(str(dense_path))
        self.has_clinvar = "clinvar" in dense.row
        for name, filt in self.filters.items():
            if (name == "clinvar" and not self.has_clinvar) or name in self.known_empty:
                continue  # nothing to select: skip an empty write
            path = work / f"{name}.mt"
            filt(dense).write(str(path))
            self.written[name] = path
            n = written_row_count(path)
            log.info("%s callset: %d variants", name, n)
            if n and exports:
                self.exports[name] = export_all_shards(hl.read_matrix_table(str(path)), work / f"{name}.exports",
                                                       formats=exports, reference_genome=reference.name,
                                                       release=release)

    def cut(self, plan: ShardPlan, partial: Path, *, n_samples: int, reference: Reference) -> None:
        """Cut each written callset (and its exports) into its shards; a shard with no variant gets no files."""
        regions = [Region.of(s) for s in plan.shards]
        for name, path in self.written.items():
            counts = written_partition_counts(path)
            groups = group_partitions(partition_regions(path, regions), len(regions))
            per_shard = [sum(counts[i] for i in g) for g in groups]
            rels = [f"{name}/mt/shard_{i:05d}.mt" if n else None for i, n in enumerate(per_shard, 1)]
            cut_mt(path, regions, [None if r is None else partial / r for r in rels], reference=reference)
            stems = [f"{name}/{{fmt}}/shard_{i:05d}" if n else None for i, n in enumerate(per_shard, 1)]
            files = (cut_exports(self.exports[name], partial, stems, groups, counts, n_samples=n_samples,
                                 reference_genome=reference.name)
                     if name in self.exports else [{} for _ in stems])
            for shard, rel, n, exp in zip(plan.shards, rels, per_shard, files, strict=True):
                if rel is None:
                    continue
                self.entries[name]["shards"].append(
                    {"path": rel, "interval": shard.interval, **asdict(shard), "n_variants": n, "checksum": None,
                     "exports": exp})

    def finish(self, partial: Path, settings: ReleaseSettings, ancestry: Mapping[str, str]) -> dict[str, Any]:
        """The ``callsets`` block of the manifest (empty callsets' folders removed)."""
        rules = {
            "acaf": {"min_ac": settings.acaf_min_ac, "min_af": settings.acaf_min_af,
                     "groups": sorted(set(ancestry.values())) or ["all"], "by_position": True},
            "exome": {"gene_model": Path(settings.exome_gene_model).name if settings.exome_gene_model else None,
                      "padding": settings.exome_padding},
            "clinvar": {"field": "clinvar.clnsig"},
        }
        for name, cs in self.entries.items():
            if not cs["shards"]:
                _rm(partial / name)
            cs["n_variants"] = sum(s["n_variants"] for s in cs["shards"])
            cs["rule"] = rules[name]
            if name == "clinvar" and not self.has_clinvar:
                cs["note"] = "empty: no ClinVar annotation in this release (variant QC/annotation not run)"
            elif name in self.known_empty:
                cs["note"] = f"empty: {self.known_empty[name]}"
        return self.entries


def written_partition_counts(path: Path) -> list[int]:
    """Rows per partition of a written MatrixTable (its metadata; no Spark job)."""
    with hl.hadoop_open(f"{path}/metadata.json.gz", "r") as f:
        return [int(n) for n in json.load(f)["components"]["partition_counts"]["counts"]]


def cut_mt(path: Path, regions: Sequence[Region], dests: Sequence[Path | None], *, reference: Reference) -> list[int]:
    """Cut the MatrixTable at ``path`` into shards (moving its files; Hail read-and-write per shard when its
    layout is not one :mod:`callset.release.cut` knows)."""
    if native_format_supported(path):
        return cut_matrix_table(path, regions, dests)
    log.warning("%s: Hail native layout not known to callset.release.cut; cutting with one query per shard", path)
    return cut_matrix_table_with_hail(path, regions, dests, reference_genome=reference.name)


def write_dense(
    vds_path: Path, plan: ShardPlan, work: Path, *, reference: Reference, annotator: ShardAnnotator | None,
    ancestry: Mapping[str, str], with_freq: bool,
) -> Path:
    """Write the dense, split MatrixTable of every shard at once (one query), partitioned as ``plan``."""
    mt = dense_release_mt(str(vds_path), plan, reference_genome=reference.name, shard_annotator=annotator)
    if with_freq:
        mt = ensure_frequencies(mt, ancestry)
    path = work / "dense.mt"
    mt.write(str(path))
    log.info("dense MatrixTable of %d shards: %d variants in %d partitions", len(plan.shards),
             written_row_count(path), len(plan.partitions))
    return path


def cut_dense(path: Path, plan: ShardPlan, partial: Path, *, reference: Reference) -> list[dict[str, Any]]:
    """``mt/shard_<i>.mt`` for every shard, cut out of the dense MatrixTable; return their manifest entries."""
    rels = [f"mt/shard_{i:05d}.mt" for i in range(1, len(plan.shards) + 1)]
    counts = cut_mt(path, [Region.of(s) for s in plan.shards], [partial / r for r in rels], reference=reference)
    for i, (shard, n) in enumerate(zip(plan.shards, counts, strict=True), 1):
        log.debug("[%d] shard %s: %d variants", i, shard.interval, n)
    return [{"path": rel, "interval": shard.interval, **asdict(shard), "n_variants": n, "checksum": None}
            for rel, shard, n in zip(rels, plan.shards, counts, strict=True)]


def write_side_tables(
    partial: Path, dense_path: Path, plan: ShardPlan, chosen: SampleSelection, inputs: ReleaseInputs,
    settings: ReleaseSettings, annotations: ShardAnnotations,
) -> dict[str, Any]:
    """The public summary, the VAT (from the dense MatrixTable of every shard: one query each), the ``aux/``
    tables and ``samples.tsv``; return their manifest blocks."""
    dense = hl.read_matrix_table(str(dense_path))
    out: dict[str, Any] = {"public": None, "vat": None, "aux": []}
    if settings.public_summary:
        names = write_public_summary(iter([dense]), partial / "public", ancestry=chosen.ancestry or None,
                                     k=settings.suppress_below)
        out["public"] = {"files": [f"public/{n}" for n in names], "suppress_below": settings.suppress_below}
    if annotations.vat and plan.shards:
        from callset.variant_qc.vat import write_vat

        out["vat"] = {"path": "vat", "summary": write_vat(dense, partial / "vat")}
    if inputs.qc_tables:
        out["aux"] = [f"aux/{n}" for n in write_aux_tables(inputs.qc_tables, partial / "aux", chosen.released,
                                                           inputs.research_ids)]
    samples = sorted(chosen.released)
    (partial / "samples.tsv").write_text("research_id\n" + "".join(f"{s}\n" for s in samples))
    return out


def fill_shard_checksums(manifest: dict[str, Any]) -> None:
    """Each shard's ``checksum`` (:func:`digest_of` its files) from the release's one file inventory."""
    shards = [*manifest["shards"], *(s for cs in manifest["callsets"].values() for s in cs["shards"])]
    by_shard: dict[str, list[Mapping[str, Any]]] = {s["path"]: [] for s in shards}
    for f in manifest["files"]:
        parts = f["path"].split("/")
        for depth in (2, 3):  # mt/shard_N.mt/... and <callset>/mt/shard_N.mt/...
            key = "/".join(parts[:depth])
            if key in by_shard:
                by_shard[key].append(f)
                break
    for s in shards:
        s["checksum"] = digest_of(by_shard[s["path"]])


def finish_release(partial: Path, final: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Notes against the previous release, the file inventory, ``manifest.json``; then the atomic rename."""
    prev = find_previous_release(final.parent, final.name)
    manifest["previous_release"] = prev.name if prev else None
    diff = None
    if prev is not None:
        diff = compare_releases(prev, json.loads((prev / "manifest.json").read_text()), partial, manifest)
        manifest["changes"] = diff
    (partial / "RELEASE_NOTES.md").write_text(release_notes(manifest, diff, prev.name if prev else None))
    manifest["files"] = file_inventory(partial)
    fill_shard_checksums(manifest)
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if final.exists():  # an empty directory left by Snakemake or a crash; a finished one was refused before
        shutil.rmtree(final)
    partial.rename(final)
    return manifest


def write_release(
    inputs: ReleaseInputs,
    *,
    release_dir: str | os.PathLike[str],
    release: str,
    reference: Reference,
    settings: ReleaseSettings | None = None,
    annotations: ShardAnnotations | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a complete release atomically (under ``.<name>.partial``, renamed when done); return its manifest.

    :param settings: how (shard size, smaller callsets, exports, public summary...); schema defaults if None.
    :param annotations: variant QC's shard annotations and VAT; when they provide no ``freq`` row field,
        cohort frequencies (``all`` + ancestry groups from sample QC) are added.
    :param provenance: ``{"config": effective config, "code": code digest}`` recorded in the manifest.
    :raises ReleaseError: the release exists already, or no sample is left.
    """
    settings = settings or ReleaseSettings.from_config()
    annotations = annotations or ShardAnnotations()
    final = Path(release_dir)
    partial = start_partial(final, release)
    vds = hl.vds.read_vds(inputs.cohort_vds) if isinstance(inputs.cohort_vds, str) else inputs.cohort_vds
    chosen = select_samples(vds, inputs, settings)
    log.info("release %s: %d samples (%d withdrawn, %d failing hard filters left out)", release, len(chosen.keep),
             chosen.n_withdrawn, chosen.n_hard_filtered)
    prepare_release_vds(vds, chosen.keep, ref_block_max_length=settings.ref_block_max_length,
                        drop_gq0_reference_blocks=settings.drop_gq0_reference_blocks).write(str(partial / "vds"))
    rvds = hl.vds.read_vds(str(partial / "vds"))
    plan = plan_shards(rvds, target_variants=settings.target_variants_per_shard, reference=reference)
    log.info("release %s: %d shards planned (target %d variants each), computed in %d partitions", release,
             len(plan.shards), settings.target_variants_per_shard, len(plan.partitions))
    callsets = SmallerCallsets.plan(settings, reference, annotations.empty_callsets)
    work = partial / ".work"  # every shard written at once here, then cut into shards (callset.release.cut)
    dense = write_dense(partial / "vds", plan, work, reference=reference, annotator=annotations.annotator,
                        ancestry=chosen.ancestry, with_freq=bool(callsets.filters) or settings.public_summary)
    callsets.write_all(dense, work, release=release, exports=settings.exports, reference=reference)
    side = write_side_tables(partial, dense, plan, chosen, inputs, settings, annotations)
    shard_entries = cut_dense(dense, plan, partial, reference=reference)
    callsets.cut(plan, partial, n_samples=len(chosen.keep), reference=reference)
    shutil.rmtree(work)
    callset_info = callsets.finish(partial, settings, chosen.ancestry)
    manifest = release_manifest(release, reference, inputs, chosen, settings, shard_entries, callset_info,
                                callsets.skipped, side, provenance or {}, annotations.notes)
    finish_release(partial, final, manifest)
    log.info("release %s written to %s", release, final)
    return manifest


def release_manifest(
    release: str, reference: Reference, inputs: ReleaseInputs, chosen: SampleSelection, settings: ReleaseSettings,
    shard_entries: list[dict[str, Any]], callsets: dict[str, Any], skipped: dict[str, str], side: Mapping[str, Any],
    provenance: Mapping[str, Any], variant_qc_notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The manifest's content (``files`` and the comparison with the previous release come last).

    ``variant_qc_notes`` (what the filters could and could not use, e.g. for samples from callers without
    GATK's allele-specific annotations) is recorded only when there is one: a GATK-only release's manifest
    is as before.
    """
    code = provenance.get("code")
    return {
        "format_version": MANIFEST_FORMAT,
        "release": release,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "reference_genome": reference.name,
        "software": {**software_versions(), **({"callset_code": code} if code else {})},
        "config": dict(provenance["config"]) if provenance.get("config") is not None else None,
        "input_batches": list(inputs.input_batches),
        "n_samples": len(chosen.released),
        "n_withdrawn_excluded": chosen.n_withdrawn,
        "n_hard_filtered_excluded": chosen.n_hard_filtered,
        "n_variants": sum(s["n_variants"] for s in shard_entries),
        "vds": {"path": "vds", "ref_block_max_length": settings.ref_block_max_length,
                "gq0_reference_blocks_dropped": settings.drop_gq0_reference_blocks,
                "reference_blocks": [dict(g) for g in inputs.reference_blocks]},
        "entry_fields": list(ENTRY_FIELDS),
        "shards": shard_entries,
        "callsets": callsets,
        "callsets_skipped": skipped,
        "exports": list(settings.exports) if callsets else [],
        "sample_qc": {"applied": bool(inputs.qc_tables and inputs.qc_tables.get("sample_qc")),
                      "exclude_hard_filtered": settings.exclude_hard_filtered, "aux": side["aux"]},
        "public": side["public"],
        "vat": side["vat"],
        "notes": "RELEASE_NOTES.md",
        **({"variant_qc_notes": list(variant_qc_notes)} if variant_qc_notes else {}),
    }


def read_research_ids(path: str | os.PathLike[str]) -> dict[str, str]:
    """sample_id -> research_id from the private map ``research_ids.tsv``."""
    import csv

    with open(path, newline="") as f:
        return {r["sample_id"]: r["research_id"] for r in csv.DictReader(f, delimiter="\t")}


def variant_qc_annotator(
    sites_ht: str, ancestry: Mapping[str, str], genotype_filter: Mapping[str, Any] | None = None
) -> ShardAnnotator:
    """Variant QC's per-shard annotations: genotype filter ``FT`` (thresholds from
    ``variant_qc.genotype_filter``), ``freq`` by ancestry, site annotations."""
    from callset.variant_qc.shard_annotations import (
        ancestry_groups,
        annotate_frequencies,
        annotate_genotype_filter,
        annotate_sites,
    )

    sites = hl.read_table(sites_ht)
    groups = hl.literal(dict(ancestry)) if ancestry else None
    gt_filter = dict(genotype_filter or {})
    present: list[list[str]] = []  # the groups among the columns: every shard has the same columns, ask once

    def annotate(mt: hl.MatrixTable) -> hl.MatrixTable:
        mt = annotate_genotype_filter(mt, **gt_filter)
        grp = groups.get(mt.s) if groups is not None else None
        if grp is not None and not present:
            present.append(ancestry_groups(mt, grp))
        mt = annotate_frequencies(mt, grp, groups=present[0] if present else None)
        return annotate_sites(mt, sites)

    return annotate


def variant_qc_notes(sites_ht: str) -> tuple[str, ...]:
    """The notes variant QC left for the release (sites table global ``variant_qc_notes``; a sites table
    written before it had them: none)."""
    sites = hl.read_table(sites_ht)
    if "variant_qc_notes" not in sites.globals:
        return ()
    return tuple(hl.eval(sites.globals.variant_qc_notes))


def clinvar_empty_reason(sites_ht: str) -> dict[str, str]:
    """``{"clinvar": why}`` when no site of the variant-QC sites table has a ClinVar classification, else ``{}``.

    One pass over the sites table instead of an empty ClinVar write per release shard.
    """

    sites = hl.read_table(sites_ht)
    if "clinvar" not in sites.row:
        return {"clinvar": "no ClinVar annotation in variant QC's sites table"}
    if sites.aggregate(hl.agg.any(has_clinvar_expr(sites.clinvar))):
        return {}
    return {"clinvar": "no site has a ClinVar classification (is variant_qc.clinvar_vcf configured?)"}


def write_release_from_cohort(
    *,
    cohort_step: str,
    research_ids_tsv: str,
    withdrawals: str | None,
    registry_path: str,
    release_dir: str,
    release: str,
    reference_genome: str,
    release_options: Mapping[str, Any] | None = None,
    exclude_hard_filtered: bool | None = None,
    qc_tables: Mapping[str, str] | None = None,
    variant_qc_sites: str | None = None,
    genotype_filter: Mapping[str, Any] | None = None,
    provenance_record: str | None = None,
    effective_config: Mapping[str, Any] | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """The release rule: resolve the cohort step, honour withdrawals (recorded in the registry), then
    :func:`write_release`.

    :param variant_qc_sites: ``<results>/variant_qc/sites.ht`` when variant QC is activated: each shard then
        gets the genotype filter, per-ancestry frequencies and the site annotations (filters, ClinVar, ...).
    :param provenance_record: ``<results>/private/releases/<release>.json``: the withdrawals this release
        honoured are recorded there (as a digest, mode 0600) so a later run can tell when the list changed.
    """
    from callset.core.reference import load_reference
    from callset.intake.registry import Registry

    if not cohort_parts(cohort_step):
        raise ReleaseError(f"{cohort_step}: the cohort has no samples yet (every sample so far was rejected)")
    withdrawn = read_withdrawals(withdrawals)
    if withdrawn:
        newly = Registry(registry_path).record_withdrawals(sorted(withdrawn))
        log.info("withdrawals: %d listed, %d newly recorded in the registry", len(withdrawn), len(newly))
    research_ids = read_research_ids(research_ids_tsv)
    settings = ReleaseSettings.from_config(release_options, exclude_hard_filtered=exclude_hard_filtered)
    annotations = ShardAnnotations()
    if variant_qc_sites:
        annotations = ShardAnnotations(
            annotator=variant_qc_annotator(variant_qc_sites, release_ancestry(qc_tables, research_ids),
                                           genotype_filter),
            vat=True,
            empty_callsets=clinvar_empty_reason(variant_qc_sites) if "clinvar" in settings.smaller_callsets else {},
            notes=variant_qc_notes(variant_qc_sites),
        )
    if provenance_record:  # before the release appears: a finished release always has its record
        write_private_provenance(provenance_record, release, withdrawn)
    step = read_cohort_step(cohort_step)
    inputs = ReleaseInputs(cohort_vds=read_cohort_vds(cohort_step), research_ids=research_ids,
                           withdrawn=frozenset(withdrawn), input_batches=tuple(step["batches"]), qc_tables=qc_tables,
                           reference_blocks=tuple(reference_block_provenance(step)))
    return write_release(inputs, release_dir=release_dir, release=release,
                         reference=load_reference(reference_genome), settings=settings, annotations=annotations,
                         provenance={"config": effective_config, "code": code})
