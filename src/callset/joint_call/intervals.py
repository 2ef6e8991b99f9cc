"""Import intervals for the combiner: partitions that cover only the contigs and extents present in a batch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import hail as hl


def merge_extents(extents: Iterable[Mapping[str, tuple[int, int]]]) -> dict[str, tuple[int, int]]:
    """Union per-contig ``(first_pos, last_end)`` extents of many files."""
    out: dict[str, tuple[int, int]] = {}
    for ext in extents:
        for contig, (start, end) in ext.items():
            if contig in out:
                s, e = out[contig]
                out[contig] = (min(s, start), max(e, end))
            else:
                out[contig] = (start, end)
    return out


def import_interval_bounds(
    extents: Mapping[str, tuple[int, int]],
    *,
    interval_size: int,
    contig_lengths: Mapping[str, int],
    contig_order: Sequence[str],
) -> list[tuple[str, int, int]]:
    """Cut each contig's data extent into aligned, half-open ``[start, end)`` pieces.

    Pieces are aligned to multiples of ``interval_size`` so that batches with different extents get
    compatible boundaries; together they cover every position from the first record to the last END.

    :return: ``(contig, start, end_exclusive)`` tuples in reference order.
    """
    if interval_size < 1:
        raise ValueError(f"interval_size must be positive, got {interval_size}")
    bounds: list[tuple[str, int, int]] = []
    rank = {c: i for i, c in enumerate(contig_order)}
    for contig in sorted(extents, key=lambda c: rank.get(c, len(rank))):
        first, last = extents[contig]
        length = contig_lengths[contig]
        start = ((first - 1) // interval_size) * interval_size + 1
        while start <= last:
            end = min(start + interval_size, length + 1)
            bounds.append((contig, start, end))
            start = end
    return bounds


def intervals_expr(bounds: Sequence[tuple[str, int, int]], reference_genome: str) -> list[hl.Interval]:
    """Closed Hail intervals ``[start, end_exclusive - 1]`` (the form Hail's own partitioner makes: the
    gVCF reader treats an interval's end as inclusive, so half-open ends would read boundary records twice).
    """
    return [
        hl.Interval(
            start=hl.Locus(contig=c, position=s, reference_genome=reference_genome),
            end=hl.Locus(contig=c, position=e - 1, reference_genome=reference_genome),
            includes_start=True,
            includes_end=True,
        )
        for c, s, e in bounds
    ]
