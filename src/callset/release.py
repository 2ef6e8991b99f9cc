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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hail as hl

from callset import __version__
from callset.errors import ReleaseError
from callset.reference import Reference

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


def read_withdrawals(path: str | os.PathLike[str] | None) -> set[str]:
    """Sample IDs listed in a withdrawals file (one per line, ``#`` comments, blank lines ignored)."""
    if not path:
        return set()
    out = set()
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.add(line.split("\t")[0])
    return out


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
    shards = []
    for contig in contigs:
        s = starts[contig]
        ends = [x - 1 for x in s[1:]] + [reference.lengths[contig]]
        shards.extend(Shard(contig, a, e) for a, e in zip(s, ends, strict=True))
    return shards


def dense_shard_mt(
    vds: hl.vds.VariantDataset, shard: Shard, *, reference_genome: str = "GRCh38"
) -> hl.MatrixTable:
    """Dense, split MatrixTable of one shard with entries GT/AD/DP/GQ and rows variant_qc, AC/AN/AF.

    Sites where no released sample carries the alternate allele (AC == 0) are dropped.
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
    return mt.filter_rows(mt.AC > 0)


# --- writing ------------------------------------------------------------------------------------


def sha256_file(path: Path, *, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


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


def write_release(
    *,
    cohort_vds: str,
    release_dir: str | os.PathLike[str],
    release: str,
    research_ids: Mapping[str, str],
    withdrawn: set[str],
    input_batches: Sequence[str],
    reference: Reference,
    target_variants_per_shard: int = 100_000,
    ref_block_max_length: int = 1000,
    drop_gq0_reference_blocks: bool = True,
) -> dict[str, Any]:
    """Write a complete release atomically and return its manifest.

    :param research_ids: sample_id -> research_id for every accepted participant in the cohort.
    :param withdrawn: sample_ids to leave out.
    :raises ReleaseError: the release exists already, or no sample is left.
    """
    final = Path(release_dir)
    if (final / "manifest.json").exists():
        raise ReleaseError(f"{final}: release {release!r} exists and releases are immutable; name a new release")
    partial = final.parent / f".{final.name}.partial"
    if partial.exists():
        log.info("removing unfinished release attempt %s", partial)
        shutil.rmtree(partial)
    partial.mkdir(parents=True)

    vds = hl.vds.read_vds(cohort_vds)
    in_cohort = set(vds.variant_data.s.collect())
    keep = {s: r for s, r in research_ids.items() if s in in_cohort and s not in withdrawn}
    missing = sorted(in_cohort - set(research_ids))
    if missing:
        raise ReleaseError(f"{cohort_vds}: {len(missing)} cohort samples have no research ID, e.g. {missing[:5]}")
    if not keep:
        raise ReleaseError("no samples left to release")
    n_withdrawn = len(in_cohort & withdrawn)
    log.info("release %s: %d samples (%d withdrawn left out)", release, len(keep), n_withdrawn)

    vds_path = partial / "vds"
    prepare_release_vds(
        vds, keep, ref_block_max_length=ref_block_max_length, drop_gq0_reference_blocks=drop_gq0_reference_blocks
    ).write(str(vds_path))
    rvds = hl.vds.read_vds(str(vds_path))
    shards = compute_shards(rvds, target_variants=target_variants_per_shard, reference=reference)
    log.info("release %s: %d shards planned (target %d variants each)", release, len(shards), target_variants_per_shard)

    shard_entries = []
    for i, shard in enumerate(shards, 1):
        rel = f"mt/shard_{i:05d}.mt"
        dense_shard_mt(rvds, shard, reference_genome=reference.name).write(str(partial / rel))
        n = hl.read_matrix_table(str(partial / rel)).count_rows()
        files = file_inventory(partial, rel)
        shard_entries.append({
            "path": rel, "interval": shard.interval, **asdict(shard), "n_variants": n, "checksum": digest_of(files),
        })
        log.info("[%d/%d] shard %s: %d variants", i, len(shards), shard.interval, n)

    samples = sorted(keep.values())
    (partial / "samples.tsv").write_text("research_id\n" + "".join(f"{s}\n" for s in samples))
    manifest: dict[str, Any] = {
        "format_version": MANIFEST_FORMAT,
        "release": release,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "reference_genome": reference.name,
        "software": software_versions(),
        "input_batches": list(input_batches),
        "n_samples": len(samples),
        "n_withdrawn_excluded": n_withdrawn,
        "n_variants": sum(s["n_variants"] for s in shard_entries),
        "vds": {"path": "vds", "ref_block_max_length": ref_block_max_length,
                "gq0_reference_blocks_dropped": drop_gq0_reference_blocks},
        "entry_fields": list(ENTRY_FIELDS),
        "shards": shard_entries,
        "files": file_inventory(partial),
    }
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


def write_release_from_cohort(
    *,
    cohort_step: str,
    research_ids_tsv: str,
    withdrawals: str | None,
    registry_path: str,
    release_dir: str,
    release: str,
    reference_genome: str,
    **options: Any,
) -> dict[str, Any]:
    """Resolve the cohort step, honour withdrawals (recorded in the registry), then :func:`write_release`."""
    from callset.reference import load_reference
    from callset.registry import Registry
    from callset.workflow import cohort_vds_path, read_cohort_step

    vds_path = cohort_vds_path(cohort_step)
    if vds_path is None:
        raise ReleaseError(f"{cohort_step}: the cohort has no samples yet (every sample so far was rejected)")
    withdrawn = read_withdrawals(withdrawals)
    if withdrawn:
        newly = Registry(registry_path).record_withdrawals(sorted(withdrawn))
        log.info("withdrawals: %d listed, %d newly recorded in the registry", len(withdrawn), len(newly))
    return write_release(
        cohort_vds=vds_path,
        release_dir=release_dir,
        release=release,
        research_ids=read_research_ids(research_ids_tsv),
        withdrawn=withdrawn,
        input_batches=read_cohort_step(cohort_step)["batches"],
        reference=load_reference(reference_genome),
        **options,
    )
