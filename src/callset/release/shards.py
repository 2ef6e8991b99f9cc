"""Release shards: intervals balanced by variant count, and the dense split MatrixTable of one shard."""

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
