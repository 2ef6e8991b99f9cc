"""Release shards: intervals balanced by variant count, the partitions inside them, and the dense split MatrixTable."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import hail as hl

from callset.core.reference import Reference

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


@dataclass(frozen=True)
class ShardPlan:
    """Release shards and the partitions the release is computed in.

    ``partitions`` tile the same contigs as ``shards``, and each lies inside one shard: every product of the
    release is written once for all shards in these partitions and then cut into shards (:mod:`.cut`).
    """

    shards: list[Shard]
    partitions: list[Shard]

    def intervals(self, reference_genome: str) -> list[hl.Interval]:
        """The partitions as Hail locus intervals (built in Python: no query, whatever their number)."""
        return [
            hl.Interval(hl.Locus(p.contig, p.start, reference_genome), hl.Locus(p.contig, p.end, reference_genome),
                        includes_start=True, includes_end=True)
            for p in self.partitions
        ]


def plan_shards(
    vds: hl.vds.VariantDataset, *, target_variants: int, reference: Reference, n_partitions: int | None = None
) -> ShardPlan:
    """Choose shard intervals balanced by (split) variant count, and partitions inside them (one query).

    Each contig with variants gets ``ceil(n / target)`` shards tiling it from 1 to its length. A shard
    boundary is only placed at a variant whose position is past the reference allele of every earlier
    variant, so splitting multi-allelics (which can move a locus right by up to ``len(REF) - 1``) never
    moves a variant across a boundary. Partitions follow the same rule, balanced by variant count too: at
    least one per shard and in all about ``n_partitions`` (default: as many as the VDS has, the parallelism
    the cohort was written with).
    """
    t = vds.variant_data.rows().select()
    t = t.annotate(
        _n=hl.len(t.alleles) - 1,
        _gpos=t.locus.global_position(),
        _ref_end=t.locus.global_position() + hl.len(t.alleles[0]) - 1,
    )
    counts: dict[str, int] = t.aggregate(hl.agg.group_by(t.locus.contig, hl.agg.sum(t._n)))
    contigs = sorted((c for c, n in counts.items() if n > 0), key=reference.rank)
    if not contigs:
        return ShardPlan([], [])
    n_parts = n_partitions or vds.variant_data.n_partitions()
    cells = _bin_cells(t, counts, contigs, target_variants=target_variants, n_parts=n_parts, reference=reference)
    shards = _tiles(_shard_starts(cells), contigs, reference)
    plan = ShardPlan(shards, _tiles(_partition_starts(cells), contigs, reference))
    assert {(s.contig, s.start) for s in plan.shards} <= {(p.contig, p.start) for p in plan.partitions}
    return plan


def _bin_cells(
    t: hl.Table, counts: dict[str, int], contigs: list[str], *, target_variants: int, n_parts: int,
    reference: Reference,
) -> list[hl.Struct]:
    """Each variant's shard bin and partition bin by cumulative split-variant count (``ceil(n / target)`` shard
    bins per contig, partition bins in proportion to ``n_parts``); per (contig, bin, part) cell, in reference
    order, the first position where a boundary may go (``start``; missing when none may)."""
    total = sum(counts[c] for c in contigs)
    offsets, k, kp, acc = {}, {}, {}, 0
    for c in contigs:
        offsets[c] = acc
        acc += counts[c]
        k[c] = max(1, math.ceil(counts[c] / target_variants))
        kp[c] = max(k[c], math.ceil(n_parts * counts[c] / total))
    t = t.annotate(_cum=hl.scan.sum(t._n), _prev_end=hl.scan.max(t._ref_end))
    off = hl.literal(offsets)
    rel = t._cum - off[t.locus.contig]

    def bin_expr(kk: dict[str, int]) -> hl.expr.Int32Expression:
        per = hl.literal({c: counts[c] / kk[c] for c in contigs})
        return hl.min(hl.literal(kk)[t.locus.contig] - 1, hl.int32(hl.floor(rel / per[t.locus.contig])))

    t = t.annotate(_bin=bin_expr(k), _part=bin_expr(kp),
                   _eligible=hl.is_missing(t._prev_end) | (t._prev_end < t._gpos))
    cells = t.group_by(contig=t.locus.contig, bin=t._bin, part=t._part).aggregate(
        start=hl.agg.filter(t._eligible, hl.agg.min(t.locus.position))
    ).collect()
    return sorted(cells, key=lambda r: (reference.rank(r.contig), r.bin, r.part))


def _shard_starts(cells: list[hl.Struct]) -> dict[str, list[int]]:
    """Per contig, the start of each shard: 1, then the first eligible position of each later bin that has one."""
    bin_start: dict[tuple[str, int], int | None] = {}  # first eligible position of each shard bin
    for c in cells:
        key = (c.contig, c.bin)
        if bin_start.get(key) is None:
            bin_start[key] = c.start
    shard_starts: dict[str, list[int]] = {}
    for (contig, b), start in bin_start.items():  # in (contig, bin) order
        lst = shard_starts.setdefault(contig, [])
        if b == 0 or not lst:
            lst.append(1)
        elif start is not None and start > lst[-1]:
            lst.append(start)
    return shard_starts


def _partition_starts(cells: list[hl.Struct]) -> dict[str, list[int]]:
    """Per contig, the start of each partition: 1, then the first eligible position of each later cell."""
    part_starts: dict[str, list[int]] = {}
    for c in cells:
        lst = part_starts.setdefault(c.contig, [1])
        if c.start is not None and c.start > lst[-1]:
            lst.append(c.start)
    return part_starts


def _tiles(starts: dict[str, list[int]], contigs: list[str], reference: Reference) -> list[Shard]:
    """Intervals from each start to the next start - 1 (the last to the contig's end), contig by contig."""
    out: list[Shard] = []
    for contig in contigs:
        s = starts[contig]
        ends = [x - 1 for x in s[1:]] + [reference.lengths[contig]]
        out.extend(Shard(contig, a, e) for a, e in zip(s, ends, strict=True))
    return out


def compute_shards(vds: hl.vds.VariantDataset, *, target_variants: int, reference: Reference) -> list[Shard]:
    """The shard intervals of :func:`plan_shards`."""
    return plan_shards(vds, target_variants=target_variants, reference=reference).shards


ShardAnnotator = Callable[[hl.MatrixTable], hl.MatrixTable]


def dense_split_mt(vds: hl.vds.VariantDataset, *, shard_annotator: ShardAnnotator | None = None) -> hl.MatrixTable:
    """Dense, split MatrixTable of ``vds`` with entries GT/AD/DP/GQ and rows variant_qc, AC/AN/AF.

    Sites where no released sample carries the alternate allele (AC == 0) are dropped. ``shard_annotator``
    (e.g. variant QC: genotype filter, frequencies, site annotations) is applied last, before writing.
    """
    vd = vds.variant_data
    vd = vd.annotate_entries(
        GT=hl.vds.lgt_to_gt(vd.LGT, vd.LA),
        AD=hl.vds.local_to_global(vd.LAD, vd.LA, hl.len(vd.alleles), fill_value=0, number="R"),
    )
    vd = vd.select_entries(*ENTRY_FIELDS).select_rows("rsid")
    rd = vds.reference_data
    rd = rd.select_entries(*(f for f in ("LEN", "END", "DP", "GQ") if f in rd.entry))
    mt = hl.vds.to_dense_mt(hl.vds.VariantDataset(rd, vd))
    mt = hl.split_multi_hts(mt)
    mt = hl.variant_qc(mt)
    mt = mt.annotate_rows(AC=mt.variant_qc.AC[1], AN=mt.variant_qc.AN, AF=mt.variant_qc.AF[1])
    mt = mt.filter_rows(mt.AC > 0)
    return shard_annotator(mt) if shard_annotator is not None else mt


def dense_release_mt(
    vds_path: str, plan: ShardPlan, *, reference_genome: str = "GRCh38",
    shard_annotator: ShardAnnotator | None = None,
) -> hl.MatrixTable:
    """The dense, split MatrixTable of every shard at once (:func:`dense_split_mt`), partitioned as ``plan``.

    The VDS at ``vds_path`` is read in the plan's partitions, which tile each contig with variants: a reference
    block that starts in one partition and reaches into the next is carried over by the densify scan, so no
    partition needs the reference blocks before it (as a per-shard interval filter does).
    """
    vds = hl.vds.read_vds(vds_path, intervals=plan.intervals(reference_genome))
    return dense_split_mt(vds, shard_annotator=shard_annotator)


def dense_shard_mt(
    vds: hl.vds.VariantDataset,
    shard: Shard,
    *,
    reference_genome: str = "GRCh38",
    shard_annotator: ShardAnnotator | None = None,
) -> hl.MatrixTable:
    """Dense, split MatrixTable of one shard (:func:`dense_split_mt` of the shard's interval of ``vds``).

    The release writes every shard at once (:func:`dense_release_mt`); this per-shard form is the reference
    it is tested against.
    """
    part = hl.vds.filter_intervals(
        vds, hl.literal([shard.interval_expr(reference_genome)]), split_reference_blocks=False
    )
    return dense_split_mt(part, shard_annotator=shard_annotator)
