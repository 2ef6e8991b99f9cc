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

import hashlib
import json
import logging
import math
import os
import platform
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hail as hl

from callset import __version__
from callset.errors import ReleaseError
from callset.reference import Reference
from callset.release_aux import NO_GROUP, read_sample_qc, release_ancestry, write_aux_tables
from callset.release_guard import read_withdrawals, write_private_provenance
from callset.release_notes import compare_releases, find_previous_release, release_notes

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
ENTRY_FIELDS = ("GT", "AD", "DP", "GQ")


@dataclass(frozen=True)
class Shard:
    """One release shard: a closed 1-based interval ``contig:start-end`` (end inclusive)."""

    contig: str
    start: int
    end: int

    @property
    def interval(self) -> str:
        return f"{self.contig}:{self.start}-{self.end}"

    def interval_expr(self, reference_genome: str) -> hl.expr.IntervalExpression:
        return hl.locus_interval(
            self.contig, self.start, self.end, includes_start=True, includes_end=True,
            reference_genome=reference_genome,
        )


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


def compute_shards(
    vds: hl.vds.VariantDataset, *, target_variants: int, reference: Reference
) -> list[Shard]:
    """Choose shard intervals balanced by (split) variant count.

    Each contig with variants gets ``ceil(n / target)`` shards tiling it from 1 to its length. A shard
    boundary is only placed at a variant whose position is past the reference allele of every earlier
    variant, so splitting multi-allelics (which can move a locus right by up to ``len(REF) - 1``) never
    moves a variant across a boundary.
    """
    t = vds.variant_data.rows().select()
    t = t.annotate(
        _n=hl.len(t.alleles) - 1,
        _gpos=t.locus.global_position(),
        _ref_end=t.locus.global_position() + hl.len(t.alleles[0]) - 1,
    )
    counts: dict[str, int] = t.aggregate(hl.agg.group_by(t.locus.contig, hl.agg.sum(t._n)))
    contigs = sorted((c for c, n in counts.items() if n > 0), key=reference.rank)
    offsets, k, acc = {}, {}, 0
    for c in contigs:
        offsets[c] = acc
        acc += counts[c]
        k[c] = max(1, math.ceil(counts[c] / target_variants))
    if not contigs:
        return []
    t = t.annotate(_cum=hl.scan.sum(t._n), _prev_end=hl.scan.max(t._ref_end))
    off = hl.literal(offsets)
    per = hl.literal({c: counts[c] / k[c] for c in contigs})
    kk = hl.literal(k)
    t = t.annotate(
        _bin=hl.min(kk[t.locus.contig] - 1, hl.int32(hl.floor((t._cum - off[t.locus.contig]) / per[t.locus.contig]))),
        _eligible=hl.is_missing(t._prev_end) | (t._prev_end < t._gpos),
    )
    bins = t.group_by(contig=t.locus.contig, bin=t._bin).aggregate(
        start=hl.agg.filter(t._eligible, hl.agg.min(t.locus.position))
    ).collect()
    starts: dict[str, list[int]] = {}
    for b in sorted(bins, key=lambda r: (reference.rank(r.contig), r.bin)):
        lst = starts.setdefault(b.contig, [])
        if b.bin == 0 or not lst:
            lst.append(1)
        elif b.start is not None and b.start > lst[-1]:
            lst.append(b.start)
    shards: list[Shard] = []
    for contig in contigs:
        s = starts[contig]
        ends = [x - 1 for x in s[1:]] + [reference.lengths[contig]]
        shards.extend(Shard(contig, a, e) for a, e in zip(s, ends, strict=True))
    return shards


ShardAnnotator = Callable[[hl.MatrixTable], hl.MatrixTable]


def dense_shard_mt(
    vds: hl.vds.VariantDataset,
    shard: Shard,
    *,
    reference_genome: str = "GRCh38",
    shard_annotator: ShardAnnotator | None = None,
) -> hl.MatrixTable:
    """Dense, split MatrixTable of one shard with entries GT/AD/DP/GQ and rows variant_qc, AC/AN/AF.

    Sites where no released sample carries the alternate allele (AC == 0) are dropped. ``shard_annotator``
    (e.g. variant QC: genotype filter, frequencies, site annotations) is applied last, before writing.
    """
    part = hl.vds.filter_intervals(
        vds, hl.literal([shard.interval_expr(reference_genome)]), split_reference_blocks=False
    )
    vd = part.variant_data
    vd = vd.annotate_entries(
        GT=hl.vds.lgt_to_gt(vd.LGT, vd.LA),
        AD=hl.vds.local_to_global(vd.LAD, vd.LA, hl.len(vd.alleles), fill_value=0, number="R"),
    )
    vd = vd.select_entries(*ENTRY_FIELDS).select_rows("rsid")
    rd = part.reference_data
    rd = rd.select_entries(*(f for f in ("LEN", "END", "DP", "GQ") if f in rd.entry))
    mt = hl.vds.to_dense_mt(hl.vds.VariantDataset(rd, vd))
    mt = hl.split_multi_hts(mt)
    mt = hl.variant_qc(mt)
    mt = mt.annotate_rows(AC=mt.variant_qc.AC[1], AN=mt.variant_qc.AN, AF=mt.variant_qc.AF[1])
    mt = mt.filter_rows(mt.AC > 0)
    return shard_annotator(mt) if shard_annotator is not None else mt


# --- writing ------------------------------------------------------------------------------------


def sha256_file(path: Path, *, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def written_row_count(path: str | os.PathLike[str]) -> int:
    """Rows of a MatrixTable or Table as written: the partition counts in its metadata (no Spark job)."""
    with hl.hadoop_open(f"{path}/metadata.json.gz", "r") as f:  # hadoop_open decompresses .gz itself
        meta = json.load(f)
    return int(sum(meta["components"]["partition_counts"]["counts"]))


def file_inventory(root: Path, sub: str | None = None) -> list[dict[str, Any]]:
    """``{path, size, sha256}`` for every file under ``root/sub`` (paths relative to ``root``), sorted."""
    base = root / sub if sub else root
    out = []
    for p in sorted(base.rglob("*")):
        if p.is_file():
            out.append({"path": p.relative_to(root).as_posix(), "size": p.stat().st_size, "sha256": sha256_file(p)})
    return out


def digest_of(files: Iterable[Mapping[str, Any]]) -> str:
    """One checksum for a set of files: sha256 over sorted ``path\\0sha256`` lines."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f["path"]):
        h.update(f"{f['path']}\0{f['sha256']}\n".encode())
    return "sha256:" + h.hexdigest()


def software_versions() -> dict[str, str]:
    import pysam
    import pyspark

    versions = {
        "callset": __version__,
        "hail": hl.version(),
        "spark": pyspark.__version__,
        "pysam": pysam.__version__,
        "python": platform.python_version(),
    }
    try:
        import snakemake

        versions["snakemake"] = snakemake.__version__
    except Exception:  # noqa: BLE001 - optional when called outside Snakemake
        pass
    return versions


def _rm(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def write_release(
    *,
    cohort_vds: str | hl.vds.VariantDataset,
    release_dir: str | os.PathLike[str],
    release: str,
    research_ids: Mapping[str, str],
    withdrawn: set[str],
    input_batches: Sequence[str],
    reference: Reference,
    target_variants_per_shard: int = 100_000,
    ref_block_max_length: int = 1000,
    drop_gq0_reference_blocks: bool = True,
    shard_annotator: ShardAnnotator | None = None,
    qc_tables: Mapping[str, str] | None = None,
    exclude_hard_filtered: bool = True,
    smaller_callsets: Sequence[str] = (),
    acaf: Mapping[str, Any] | None = None,
    exome_gene_model: str | None = None,
    exome_padding: int = 15,
    exports: Sequence[str] = (),
    public_summary: bool = False,
    suppress_below: int = 20,
    vat: bool = False,
    empty_callsets: Mapping[str, str] | None = None,
    effective_config: Mapping[str, Any] | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """Write a complete release atomically and return its manifest.

    :param research_ids: sample_id -> research_id for every accepted participant in the cohort.
    :param withdrawn: sample_ids to leave out.
    :param shard_annotator: applied to each dense shard before writing (variant QC); when it provides no
        ``freq`` row field, cohort frequencies (``all`` + ancestry groups from sample QC) are added.
    :param qc_tables: sample QC outputs (``sample_qc``, ``related_pairs``, ``ancestry_preds``,
        ``flagged_samples`` -> TSV path); None when sample QC is not activated.
    :param exclude_hard_filtered: leave out samples with non-empty ``hard_filter_reasons``.
    :param smaller_callsets: any of ``acaf``, ``exome``, ``clinvar`` (see :mod:`callset.products`).
    :param acaf: ``{min_ac, min_af}`` thresholds of the ACAF callset.
    :param exome_gene_model: GFF3 whose exons (padded by ``exome_padding``) define the exome callset;
        the exome callset is skipped without one.
    :param exports: formats of each smaller-callset shard: ``vcf``, ``plink``, ``bgen``.
    :param public_summary: write ``public/variant_summary.tsv.bgz`` with counts 1..``suppress_below`` hidden.
    :param empty_callsets: smaller callsets known beforehand to select nothing (name -> why), e.g. ``clinvar``
        when no site has a ClinVar classification: recorded as empty without a write per shard.
    :param effective_config: the workflow config this release was made with (every key, defaults filled):
        recorded in ``manifest.json`` under ``config``.
    :param code: digest of the code that wrote the release (:func:`callset.release_guard.code_digest`),
        recorded as ``software.callset_code``.
    :raises ReleaseError: the release exists already, or no sample is left.
    """
    from callset.products import callset_filters, ensure_frequencies, export_shard, read_exon_intervals
    from callset.public import write_public_summary

    final = Path(release_dir)
    if (final / "manifest.json").exists():
        raise ReleaseError(f"{final}: release {release!r} exists and releases are immutable; name a new release")
    partial = final.parent / f".{final.name}.partial"
    if partial.exists():
        log.info("removing unfinished release attempt %s", partial)
        shutil.rmtree(partial)
    partial.mkdir(parents=True)

    vds = hl.vds.read_vds(cohort_vds) if isinstance(cohort_vds, str) else cohort_vds
    in_cohort = set(vds.variant_data.s.collect())
    keep = {s: r for s, r in research_ids.items() if s in in_cohort and s not in withdrawn}
    missing = sorted(in_cohort - set(research_ids))
    if missing:
        raise ReleaseError(f"{cohort_vds}: {len(missing)} cohort samples have no research ID, e.g. {missing[:5]}")
    n_withdrawn = len(in_cohort & withdrawn)

    ancestry: dict[str, str] = {}
    n_hard_filtered = 0
    if qc_tables and qc_tables.get("sample_qc"):
        qc = read_sample_qc(qc_tables["sample_qc"], research_ids)
        failed = set(qc.loc[qc["hard_filter_reasons"].str.strip() != "", "research_id"])
        if exclude_hard_filtered:
            before = len(keep)
            keep = {s: r for s, r in keep.items() if r not in failed}
            n_hard_filtered = before - len(keep)
        if "ancestry" in qc.columns:
            ancestry = {r: a for r, a in zip(qc["research_id"], qc["ancestry"], strict=True) if a not in NO_GROUP}
    if not keep:
        raise ReleaseError("no samples left to release")
    released = set(keep.values())
    ancestry = {r: a for r, a in ancestry.items() if r in released}
    log.info("release %s: %d samples (%d withdrawn, %d failing hard filters left out)", release, len(keep),
             n_withdrawn, n_hard_filtered)

    vds_path = partial / "vds"
    prepare_release_vds(
        vds, keep, ref_block_max_length=ref_block_max_length, drop_gq0_reference_blocks=drop_gq0_reference_blocks
    ).write(str(vds_path))
    rvds = hl.vds.read_vds(str(vds_path))
    shards = compute_shards(rvds, target_variants=target_variants_per_shard, reference=reference)
    log.info("release %s: %d shards planned (target %d variants each)", release, len(shards), target_variants_per_shard)

    acaf = dict(acaf or {})
    skipped: dict[str, str] = {}
    exome_ivs = None
    if "exome" in smaller_callsets:
        if exome_gene_model:
            exome_ivs = read_exon_intervals(exome_gene_model, padding=exome_padding, contig_lengths=reference.lengths)
        else:
            skipped["exome"] = "no gene model configured (release_options.exome_gene_model)"
    filters = callset_filters(
        acaf_min_ac=acaf.get("min_ac", 100), acaf_min_af=acaf.get("min_af", 0.01), exome_intervals=exome_ivs,
        reference_genome=reference.name, names=smaller_callsets,
    )
    callsets: dict[str, dict[str, Any]] = {name: {"path": name, "shards": []} for name in filters}

    known_empty = {n: why for n, why in (empty_callsets or {}).items() if n in filters}
    for name, why in known_empty.items():
        log.info("release %s: %s callset empty (%s): not written", release, name, why)
    shard_entries = []
    has_clinvar = False
    for i, shard in enumerate(shards, 1):
        rel = f"mt/shard_{i:05d}.mt"
        mt = dense_shard_mt(rvds, shard, reference_genome=reference.name, shard_annotator=shard_annotator)
        if filters or public_summary:
            mt = ensure_frequencies(mt, ancestry)
        mt.write(str(partial / rel))
        mt = hl.read_matrix_table(str(partial / rel))
        has_clinvar = "clinvar" in mt.row
        n = written_row_count(partial / rel)
        files = file_inventory(partial, rel)
        shard_entries.append({
            "path": rel, "interval": shard.interval, **asdict(shard), "n_variants": n, "checksum": digest_of(files),
        })
        log.info("[%d/%d] shard %s: %d variants", i, len(shards), shard.interval, n)
        for name, filt in filters.items():
            if (name == "clinvar" and not has_clinvar) or name in known_empty:
                continue  # nothing to select: skip an empty write per shard
            crel = f"{name}/mt/shard_{i:05d}.mt"
            filt(mt).write(str(partial / crel))
            sub = hl.read_matrix_table(str(partial / crel))
            n_sub = written_row_count(partial / crel)
            if n_sub == 0:
                _rm(partial / crel)
                continue
            entry: dict[str, Any] = {"path": crel, "interval": shard.interval, **asdict(shard), "n_variants": n_sub,
                                     "checksum": digest_of(file_inventory(partial, crel))}
            entry["exports"] = export_shard(sub, partial, f"{name}/{{fmt}}/shard_{i:05d}", formats=exports,
                                            reference_genome=reference.name, release=release)
            callsets[name]["shards"].append(entry)
            log.info("  %s: %d variants", name, n_sub)

    for name, cs in callsets.items():
        if not cs["shards"]:
            _rm(partial / name)
        cs["n_variants"] = sum(s["n_variants"] for s in cs["shards"])
        cs["rule"] = {"acaf": {"min_ac": acaf.get("min_ac", 100), "min_af": acaf.get("min_af", 0.01),
                               "groups": sorted(set(ancestry.values())) or ["all"], "by_position": True},
                      "exome": {"gene_model": Path(exome_gene_model).name if exome_gene_model else None,
                                "padding": exome_padding},
                      "clinvar": {"field": "clinvar.clnsig"}}[name]
        if name == "clinvar" and not has_clinvar:
            cs["note"] = "empty: no ClinVar annotation in this release (variant QC/annotation not run)"
        elif name in known_empty:
            cs["note"] = f"empty: {known_empty[name]}"

    public_info = None
    if public_summary:
        mts = (hl.read_matrix_table(str(partial / s["path"])) for s in shard_entries)
        names = write_public_summary(mts, partial / "public", ancestry=ancestry or None, k=suppress_below)
        public_info = {"files": [f"public/{n}" for n in names], "suppress_below": suppress_below}

    vat_info = None
    if vat and shard_entries:
        from callset.variant_qc.vat import write_vat

        summary = write_vat([hl.read_matrix_table(str(partial / s["path"])) for s in shard_entries], partial / "vat")
        vat_info = {"path": "vat", "summary": summary}

    aux_files: list[str] = []
    if qc_tables:
        aux_files = [f"aux/{n}" for n in write_aux_tables(qc_tables, partial / "aux", released, research_ids)]

    samples = sorted(released)
    (partial / "samples.tsv").write_text("research_id\n" + "".join(f"{s}\n" for s in samples))
    manifest: dict[str, Any] = {
        "format_version": MANIFEST_FORMAT,
        "release": release,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "reference_genome": reference.name,
        "software": {**software_versions(), **({"callset_code": code} if code else {})},
        "config": dict(effective_config) if effective_config is not None else None,
        "input_batches": list(input_batches),
        "n_samples": len(samples),
        "n_withdrawn_excluded": n_withdrawn,
        "n_hard_filtered_excluded": n_hard_filtered,
        "n_variants": sum(s["n_variants"] for s in shard_entries),
        "vds": {"path": "vds", "ref_block_max_length": ref_block_max_length,
                "gq0_reference_blocks_dropped": drop_gq0_reference_blocks},
        "entry_fields": list(ENTRY_FIELDS),
        "shards": shard_entries,
        "callsets": callsets,
        "callsets_skipped": skipped,
        "exports": list(exports) if callsets else [],
        "sample_qc": {"applied": bool(qc_tables and qc_tables.get("sample_qc")),
                      "exclude_hard_filtered": exclude_hard_filtered, "aux": aux_files},
        "public": public_info,
        "vat": vat_info,
        "notes": "RELEASE_NOTES.md",
    }
    prev = find_previous_release(final.parent, final.name)
    manifest["previous_release"] = prev.name if prev else None
    diff = None
    if prev is not None:
        diff = compare_releases(prev, json.loads((prev / "manifest.json").read_text()), partial, manifest)
        manifest["changes"] = diff
    (partial / "RELEASE_NOTES.md").write_text(release_notes(manifest, diff, prev.name if prev else None))
    manifest["files"] = file_inventory(partial)
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if final.exists():  # an empty directory left by Snakemake or a crash; a finished one was refused above
        shutil.rmtree(final)
    partial.rename(final)
    log.info("release %s written to %s", release, final)
    return manifest


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
    from callset.variant_qc.release import (
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


def clinvar_empty_reason(sites_ht: str) -> dict[str, str]:
    """``{"clinvar": why}`` when no site of the variant-QC sites table has a ClinVar classification, else ``{}``.

    One pass over the sites table instead of an empty ClinVar write per release shard.
    """
    from callset.products import has_clinvar_expr

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
    variant_qc_sites: str | None = None,
    genotype_filter: Mapping[str, Any] | None = None,
    provenance_record: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Resolve the cohort step, honour withdrawals (recorded in the registry), then :func:`write_release`.

    :param variant_qc_sites: ``<results>/variant_qc/sites.ht`` when variant QC is activated: each shard then
        gets the genotype filter, per-ancestry frequencies and the site annotations (filters, ClinVar, ...).
    :param provenance_record: ``<results>/private/releases/<release>.json``: the withdrawals this release
        honoured are recorded there (as a digest, mode 0600) so a later run can tell when the list changed.
    """
    from callset.joint_call import read_cohort_vds
    from callset.reference import load_reference
    from callset.registry import Registry
    from callset.workflow import cohort_parts, read_cohort_step

    if not cohort_parts(cohort_step):
        raise ReleaseError(f"{cohort_step}: the cohort has no samples yet (every sample so far was rejected)")
    vds = read_cohort_vds(cohort_step)
    withdrawn = read_withdrawals(withdrawals)
    if withdrawn:
        newly = Registry(registry_path).record_withdrawals(sorted(withdrawn))
        log.info("withdrawals: %d listed, %d newly recorded in the registry", len(withdrawn), len(newly))
    research_ids = read_research_ids(research_ids_tsv)
    if variant_qc_sites and "shard_annotator" not in options:
        options["shard_annotator"] = variant_qc_annotator(
            variant_qc_sites, release_ancestry(options.get("qc_tables"), research_ids), genotype_filter
        )
        options.setdefault("vat", True)
        if "clinvar" in options.get("smaller_callsets", ()) and "empty_callsets" not in options:
            options["empty_callsets"] = clinvar_empty_reason(variant_qc_sites)
    if provenance_record:  # before the release appears: a finished release always has its record
        write_private_provenance(provenance_record, release, withdrawn)
    return write_release(
        cohort_vds=vds,
        release_dir=release_dir,
        release=release,
        research_ids=research_ids,
        withdrawn=withdrawn,
        input_batches=read_cohort_step(cohort_step)["batches"],
        reference=load_reference(reference_genome),
        **options,
    )
