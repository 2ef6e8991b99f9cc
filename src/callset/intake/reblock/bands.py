"""Band merging: runs of mergeable reference blocks, and cutting each run into the output blocks.

A run is a stretch of consecutive plain blocks (:attr:`Lines.m`) of one contig, GQ band and ploidy with no gap
(POS = previous END + 1). :func:`cut_runs` cuts every run where it crosses a multiple of ``max_block_length``
(the same positions in every sample) and gives each piece the length-weighted mean DP and the minimum MIN_DP of
the input blocks it covers. The bands themselves are assigned when the lines are read
(:func:`callset.intake.reblock.fields.sample_fields`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from callset.intake.reblock.fields import Lines


def run_starts(L: Lines) -> np.ndarray:
    """Lines that start a run of mergeable blocks (a change of contig, band or ploidy, or a gap, breaks one)."""
    n = L.n
    m = L.m
    prev = np.r_[0, np.arange(n - 1)]
    brk = ~m | L.chrom_change | np.r_[True, ~m[:-1]]
    brk |= (L.band != L.band[prev]) | (L.ploidy != L.ploidy[prev]) | (L.pos != L.end[prev] + 1)
    brk[0] = True
    return m & brk


def mergeable_runs(
    L: Lines, m: np.ndarray, run_start: np.ndarray, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """First and last line of each run among lines ``[0, stop)``.

    A run that the next record overlaps is left out and its lines are cleared in ``m`` (in place): they are
    copied unchanged, since a cut could land after that record.
    """
    runs = np.flatnonzero(run_start)
    # the last line of each run (a run is a stretch of mergeable lines)
    run_end = np.r_[runs[1:], stop]
    nonm = np.r_[np.flatnonzero(~m), stop]
    last = np.minimum(run_end, nonm[np.searchsorted(nonm, runs)]) - 1
    nxt = np.minimum(last + 1, L.n - 1)
    overlap = (last + 1 < L.n) & ~L.chrom_change[nxt] & (L.pos[nxt] <= L.end[last])
    if overlap.any():
        for r in np.flatnonzero(overlap).tolist():
            m[runs[r]: last[r] + 1] = False
        runs, last = runs[~overlap], last[~overlap]
    return runs, last


@dataclass
class Pieces:
    """The output blocks of a chunk's runs, in line order (arrays of length ``len(ps)``)."""

    ps: np.ndarray  # POS
    pe: np.ndarray  # END
    line: np.ndarray  # the input line holding the block's first base
    band: np.ndarray  # index of the band floor
    keep: np.ndarray  # written (False: a GQ-0 block dropped with gq0="drop")
    dp: np.ndarray  # length-weighted mean DP (0 where dp_miss)
    dp_miss: np.ndarray
    min_dp: np.ndarray  # minimum MIN_DP (0 where min_miss)
    min_miss: np.ndarray
    ref: np.ndarray  # REF byte: the input block's where the piece starts one, else N
    at_start: np.ndarray  # the piece starts where an input block starts
    first_piece: np.ndarray  # per run: its first piece
    n_pieces: np.ndarray  # per run: how many pieces

    def kept_ranges(self) -> tuple[list[int], list[int]]:
        """Per run, the range of its kept pieces among all kept pieces (``[lo, hi)``)."""
        kept_before = np.r_[0, np.cumsum(self.keep)]
        return kept_before[self.first_piece].tolist(), kept_before[self.first_piece + self.n_pieces].tolist()


def cut_runs(
    L: Lines, m: np.ndarray, runs: np.ndarray, last: np.ndarray, *, max_block_length: int, drop_gq0: bool
) -> Pieces | None:
    """Cut each run into blocks of at most ``max_block_length`` bases (None when there are no runs)."""
    if not len(runs):
        return None
    lim = max_block_length
    idx = np.flatnonzero(m)
    S = L.pos[runs]
    E = L.end[last]
    # cuts at the same positions in every sample (k * lim + 1): fewer distinct block starts in the cohort
    g0 = (S - 1) // lim
    nk = (E - 1) // lim - g0 + 1
    prun = np.repeat(np.arange(len(runs)), nk)
    first_piece = np.cumsum(nk) - nk
    k = np.arange(int(nk.sum())) - np.repeat(first_piece, nk)
    ps = np.where(k == 0, S[prun], (g0[prun] + k) * lim + 1)
    pe = np.minimum((g0[prun] + k + 1) * lim, E[prun])
    # the block holding a position: mergeable lines keyed by (run, POS), increasing
    rid = np.searchsorted(runs, idx, side="right") - 1
    key = rid.astype(np.int64) * (1 << 33) + L.pos[idx]
    ea = np.searchsorted(key, prun * (1 << 33) + ps, side="right") - 1
    eb = np.searchsorted(key, prun * (1 << 33) + pe, side="right") - 1
    bpos = L.pos[idx]
    blen = L.end[idx] - bpos + 1
    dpk = L.dp_known[idx]
    rate = np.where(dpk, L.dp[idx], 0).astype(np.float64)
    known = dpk.astype(np.float64)
    c_dp = np.r_[0.0, np.cumsum(rate * blen)]
    c_n = np.r_[0.0, np.cumsum(known * blen)]
    sum_dp = (c_dp[eb] + rate[eb] * (pe - bpos[eb] + 1)) - (c_dp[ea] + rate[ea] * (ps - bpos[ea]))
    n_dp = (c_n[eb] + known[eb] * (pe - bpos[eb] + 1)) - (c_n[ea] + known[ea] * (ps - bpos[ea]))
    dp_miss = n_dp <= 0
    dp_out = np.where(dp_miss, 0, np.floor(sum_dp / np.where(dp_miss, 1, n_dp) + 0.5)).astype(np.int64)
    big = np.int64(1) << 40
    mins = np.where(L.min_known[idx], L.min_dp[idx], np.where(dpk, L.dp[idx], big))
    inter = np.empty(2 * len(ea), np.int64)
    inter[0::2] = ea
    inter[1::2] = eb + 1
    min_out = np.minimum.reduceat(np.r_[mins, big], inter)[0::2]
    min_miss = min_out >= big
    first_line = idx[ea]
    band = L.band[first_line]
    keep = band > 0 if drop_gq0 else np.ones(len(ps), bool)
    # REF: the input block's base where a block starts, else N (the caller may look it up in a FASTA)
    at_start = bpos[ea] == ps
    ref = np.where(at_start, L.ref[first_line], ord("N")).astype(np.int64)
    return Pieces(
        ps=ps, pe=pe, line=first_line, band=band, keep=keep, dp=dp_out, dp_miss=dp_miss,
        min_dp=np.where(min_miss, 0, min_out), min_miss=min_miss, ref=ref, at_start=at_start,
        first_piece=first_piece, n_pieces=nk,
    )
