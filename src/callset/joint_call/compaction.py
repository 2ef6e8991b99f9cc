"""Size-tiered compaction of the cohort parts (like a counter in base ``combiner.cohort_fanout``)."""

from __future__ import annotations

from collections.abc import Sequence


def plan_compaction(levels: Sequence[int], fanout: int) -> tuple[int, int]:
    """How many of the newest cohort parts a new batch merges with, and the level of the part it writes.

    Parts are kept like a counter in base ``fanout`` (size-tiered, as log-structured stores do): a new batch
    is a level-0 part; when ``fanout`` parts of one level would exist they are merged into one part of the
    next level, cascading. A batch therefore costs the batch (plus, every ``fanout`` batches, a merge of the
    newest parts), not the cohort, and a cohort of B batches is at most ``(fanout - 1) * log_fanout(B)`` parts.
    ``fanout`` 1 merges every batch into the whole cohort (one VDS, the layout before cohort parts).

    :param levels: levels of the existing parts, oldest first (non-increasing).
    :return: ``(n_newest_parts_to_merge, level_of_the_new_part)``.
    """
    if fanout < 1:
        raise ValueError(f"fanout must be >= 1, got {fanout}")
    if fanout == 1:
        return len(levels), 0
    n, level, i = 0, 0, len(levels)
    while i > 0:
        j = i
        while j > 0 and levels[j - 1] == level:
            j -= 1
        if i - j >= fanout - 1:
            n += i - j
            i, level = j, level + 1
        else:
            break
    return n, level
