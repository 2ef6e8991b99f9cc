"""Numeric fields of one chunk of gVCF record lines, read with numpy over the decoded text.

:func:`parse_lines` turns a chunk (bytes plus the offsets of its newlines and tabs) into :class:`Lines`: per
line its contig, POS, END, whether it is a reference block, and for the plain blocks the reblocker can merge
their GQ band, ploidy, DP, MIN_DP and first REF base. The sample column is walked with word-at-a-time (SWAR)
arithmetic on little-endian 64-bit words, as the intake scan does (:mod:`callset.intake.checks.gvcf_vec`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from callset.intake.checks.gvcf_vec import LUT_BASE, U64, W_END, W_NONREF, W_STAR, parse_uint64, u64view

#: appended to every chunk: words are read past a line's end (at most 5 fields of 9 bytes), never past the buffer
PAD = b"\0" * 64
_HIGHS = U64(0x8080808080808080)

_DEBRUIJN = 0x03F79D71B4CB0A89
_BYTE_OF_BIT = np.full(64, 8, np.int64)  # de Bruijn index of a lowest set bit -> its byte (8: no bit set)
for _bit in range(7, 64, 8):
    _BYTE_OF_BIT[(((1 << _bit) * _DEBRUIJN) & 0xFFFFFFFFFFFFFFFF) >> 58] = _bit // 8
_LOW7 = U64(0x7F7F7F7F7F7F7F7F)
_C30 = U64(0x3030303030303030)
_W_HOMREF, _W_HOMREF_PHASED, _W_NOCALL, _W_NOCALL_PHASED = (U64(int.from_bytes(g, "little"))
                                                           for g in (b"0/0", b"0|0", b"./.", b".|."))


def _lowest_byte(z: np.ndarray) -> np.ndarray:
    """Index (0-7) of the lowest byte whose high bit is set in ``z`` (only high bits set); 8 when none."""
    low = z & (~z + U64(1))
    return _BYTE_OF_BIT[(low * U64(_DEBRUIJN)) >> U64(58)]


def _digit_run(w: np.ndarray) -> np.ndarray:
    """Number of leading ASCII digits (0-8) of each little-endian word (exact, any byte values)."""
    y = w ^ _C30  # digits -> 0..9
    return _lowest_byte((((y & _LOW7) + U64(0x7676767676767676)) | y) & _HIGHS)


def _digits_value(w: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Value of the ``n`` (1-8) leading ASCII digits of each word (garbage where ``n`` is 0)."""
    n = np.clip(n, 1, 8).astype(np.uint64)
    x = w << ((U64(8) - n) * U64(8))
    x |= np.where(n >= U64(8), U64(0), _C30 >> (np.minimum(n, U64(7)) * U64(8)))
    d = x - _C30
    d = d * U64(10) + (d >> U64(8))
    d = (((d & U64(0x000000FF000000FF)) * U64(100 + (1000000 << 32)))
         + (((d >> U64(16)) & U64(0x000000FF000000FF)) * U64(1 + (10000 << 32)))) >> U64(32)
    return d.astype(np.int64)


#: low k bytes of a word (k = 0..8)
MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], np.uint64)


@dataclass
class Lines:
    """Per-line fields of one chunk (arrays of length n; block fields only meaningful where ``m``)."""

    n: int
    starts: np.ndarray
    nl: np.ndarray
    cid: np.ndarray  # contig number of each line (index into ``names``)
    names: list[bytes]
    chrom_change: np.ndarray
    end_tab: np.ndarray  # number of tabs before each line's newline
    pos: np.ndarray  # every record's POS (0 when unreadable)
    m: np.ndarray  # a plain reference block the reblocker can merge
    end: np.ndarray
    band: np.ndarray
    ploidy: np.ndarray
    dp: np.ndarray
    dp_known: np.ndarray
    min_dp: np.ndarray
    min_known: np.ndarray
    ref: np.ndarray  # first REF byte
    star: np.ndarray  # ALT is <*> (else <NON_REF>)
    block: np.ndarray  # a reference block (symbolic ALT and END), mergeable or not


def parse_lines(
    data: bytes, nl: np.ndarray, tabs: np.ndarray, end_tab: np.ndarray | None,
    given: tuple[np.ndarray, np.ndarray, np.ndarray] | None, *, floors: np.ndarray, last_chrom: bytes | None,
) -> Lines:
    """Read the lines of ``data`` (ends with :data:`PAD`; ``nl``/``tabs`` the offsets of its newlines and tabs).

    :param end_tab: tabs before each line's newline (computed when None).
    :param given: POS, END and "is a reference block" of every line, as the intake scan read them (read here
        when None).
    :param floors: the GQ band floors (ascending, 0 first).
    :param last_chrom: the contig of the last line written before this chunk (a change there starts a new run).
    """
    a = np.frombuffer(data, np.uint8)
    v64 = u64view(a)
    n = len(nl)
    starts = np.empty(n, np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    if end_tab is None:
        end_tab = np.searchsorted(tabs, nl)
    ntabs = np.diff(end_tab, prepend=0)
    first_tab = tabs[np.clip(end_tab - ntabs, 0, max(len(tabs) - 1, 0))] if len(tabs) else nl
    first_tab = np.where(ntabs > 0, first_tab, nl)
    # contigs: names compared as two words and a length; a name longer than 16 bytes starts a new contig
    # run at every line (its blocks are then re-banded but not merged)
    clen = first_tab - starts
    change = np.ones(n, bool)
    if n > 1:
        c0 = v64[starts] & MASKS[np.clip(clen, 0, 8)]
        change[1:] = (clen[1:] != clen[:-1]) | (c0[1:] != c0[:-1])
        if int(clen.max()) > 8:
            c1 = v64[starts + 8] & MASKS[np.clip(clen - 8, 0, 8)]
            change[1:] |= (c1[1:] != c1[:-1]) | (clen[1:] > 16)
    first = np.flatnonzero(change)
    names = [data[int(starts[i]): int(first_tab[i])] for i in first.tolist()]
    cid = np.cumsum(change) - 1
    change[0] = names[0] != last_chrom
    good = ntabs == 9
    pos, end, block = given if given is not None else line_fields(a, v64, tabs, end_tab, good)
    L = Lines(
        n=n, starts=starts, nl=nl, cid=cid, names=names, chrom_change=change, end_tab=end_tab, pos=pos,
        m=np.zeros(n, bool), end=end, band=np.zeros(n, np.int64), ploidy=np.zeros(n, np.int64),
        dp=np.zeros(n, np.int64), dp_known=np.zeros(n, bool), min_dp=np.zeros(n, np.int64),
        min_known=np.zeros(n, bool), ref=np.zeros(n, np.uint8), star=np.zeros(n, bool), block=block,
    )
    g = np.flatnonzero(block & good & (pos >= 1) & (end >= pos))
    if not len(g):
        return L
    base = end_tab[g] - 9
    t2, t3, t4, t7, t8 = (tabs[base + k] for k in (2, 3, 4, 7, 8))
    alen = t4 - t3 - 1
    star = alen == 3
    ref = a[t2 + 1]
    cand = ((alen == 9) | star) & LUT_BASE[ref] & (t3 - t2 > 1)
    ok = np.zeros(len(g), bool)
    band = np.zeros(len(g), np.int64)
    ploidy = np.zeros(len(g), np.int64)
    vals = {k: (np.zeros(len(g), np.int64), np.zeros(len(g), bool)) for k in ("DP", "MIN_DP")}
    # FORMAT: group the few distinct strings (compared as 4 words and a length)
    fstart = t7 + 1
    flen = t8 - t7 - 1
    todo = np.flatnonzero(cand & (flen >= 2) & (flen <= 32))
    while len(todo):
        i0 = todo[0]
        f0 = int(flen[i0])
        same_m = flen[todo] == f0
        for k in range(0, f0, 8):  # compare with the first line's FORMAT, 8 bytes at a time
            mask = MASKS[min(f0 - k, 8)]
            same_m &= (v64[fstart[todo] + k] & mask) == (v64[fstart[i0] + k] & mask)
        same = todo[same_m]
        todo = todo[~same_m]
        keys = data[int(fstart[i0]): int(fstart[i0] + flen[i0])].split(b":")
        if keys[0] != b"GT":
            continue
        r_ok, r_band, r_ploidy, r_vals = sample_fields(v64, t8[same] + 1, keys, floors)
        ok[same] = r_ok
        band[same] = r_band
        ploidy[same] = r_ploidy
        for name in vals:
            vals[name][0][same] = r_vals[name][0]
            vals[name][1][same] = r_vals[name][1]
    L.m[g] = ok
    L.band[g] = band
    L.ploidy[g] = ploidy
    L.dp[g], L.dp_known[g] = vals["DP"]
    L.min_dp[g], L.min_known[g] = vals["MIN_DP"]
    L.ref[g] = ref
    L.star[g] = star
    return L


def line_fields(
    a: np.ndarray, v64: np.ndarray, tabs: np.ndarray, end_tab: np.ndarray, good: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """POS, END and "is a reference block" of every line (what the intake scan passes in)."""
    n = len(end_tab)
    pos = np.zeros(n, np.int64)
    end = np.zeros(n, np.int64)
    block = np.zeros(n, bool)
    gi = np.flatnonzero(good)
    if not len(gi):
        return pos, end, block
    t = tabs[end_tab[gi][:, None] - 9 + np.arange(9)]
    p, p_ok = parse_uint64(v64, t[:, 0] + 1, t[:, 1] - t[:, 0] - 1)
    alen = t[:, 4] - t[:, 3] - 1
    aw = v64[t[:, 3] + 1]
    sym = ((alen == 9) & (aw == W_NONREF) & (a[t[:, 3] + 9] == 62)) | (
        (alen == 3) & ((aw & U64(0xFFFFFF)) == W_STAR))
    ilen = t[:, 7] - t[:, 6] - 1
    has_end = (ilen > 4) & ((v64[t[:, 6] + 1] & U64(0xFFFFFFFF)) == W_END)
    e, e_ok = parse_uint64(v64, t[:, 6] + 5, ilen - 4)
    pos[gi] = np.where(p_ok, p, 0)
    end[gi] = np.where(has_end & e_ok, e, pos[gi] + (t[:, 3] - t[:, 2] - 1) - 1)
    block[gi] = sym & has_end & e_ok  # other INFO keys after END= make e_ok false: copied unchanged
    return pos, end, block


def sample_fields(
    v64: np.ndarray, s: np.ndarray, keys: list[bytes], floors: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Read GT, GQ, DP, MIN_DP (and PL[0] of no-calls) from sample columns starting at ``s``, whose FORMAT
    keys are ``keys`` (GT first): ``(readable, band, ploidy, {"DP"|"MIN_DP": (value, known)})``; ``band`` is
    the index in ``floors`` of the band holding the GQ (above 99 counts as 99; unknown GQ, and a no-call
    whose PL[0] is not 0, count as 0).

    Fields are walked with word-at-a-time (SWAR) arithmetic: each is a run of digits (or ``.``) ending in
    ``:`` (more fields follow) or the line's end.
    """
    n = len(s)
    gw = v64[s]
    w3 = gw & U64(0xFFFFFF)
    b1 = (gw >> U64(8)) & U64(0xFF)
    b3 = (gw >> U64(24)) & U64(0xFF)
    dip = (b1 == 47) | (b1 == 124)
    dip_ref = ((w3 == _W_HOMREF) | (w3 == _W_HOMREF_PHASED)) & ((b3 == 58) | (b3 == 10))
    dip_nc = ((w3 == _W_NOCALL) | (w3 == _W_NOCALL_PHASED)) & ((b3 == 58) | (b3 == 10))
    b0 = gw & U64(0xFF)
    hap_end = (b1 == 58) | (b1 == 10)
    hap_ref = (b0 == 48) & hap_end
    hap_nc = (b0 == 46) & hap_end
    readable = dip_ref | dip_nc | hap_ref | hap_nc
    ploidy = np.where(dip, 2, 1)
    more = np.where(dip, b3, b1) == 58
    start = s + np.where(dip, 4, 2)
    want = {k: keys.index(k) if k in keys else -1 for k in (b"GQ", b"DP", b"MIN_DP", b"PL")}
    values: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
    last = max(want[b"GQ"], want[b"DP"], want[b"MIN_DP"])
    nocall = dip_nc | hap_nc
    pl0_zero = np.zeros(n, bool)
    check_pl = bool(nocall.any()) and want[b"PL"] > 0
    if check_pl:
        last = max(last, want[b"PL"])
    for k in range(1, last + 1):
        w = v64[start]
        ln = _digit_run(w)
        flen = ln + ((w & U64(0xFF)) == 46)  # "." is a field of one
        term = (w >> (flen.astype(np.uint64) << U64(3))) & U64(0xFF)  # garbage when flen is 8: unused
        here = more & (flen < 8) & ((term == 58) | (term == 10))
        for key in (b"GQ", b"DP", b"MIN_DP"):
            if want[key] == k:
                values[key] = (_digits_value(w, ln), here & (ln >= 1))
        if check_pl and k == want[b"PL"]:
            nxt = (w >> U64(8)) & U64(0xFF)
            pl0_zero = more & ((w & U64(0xFF)) == 48) & ((nxt == 44) | (nxt == 58) | (nxt == 10))
        more = here & (term == 58)
        start = start + flen + 1
    zero = (np.zeros(n, np.int64), np.zeros(n, bool))
    gq, gq_known = values.get(b"GQ", zero)
    if check_pl:
        gq_known = gq_known & (~nocall | pl0_zero)
    elif nocall.any():
        gq_known = gq_known & ~nocall
    band = np.searchsorted(floors, np.where(gq_known, np.minimum(gq, 99), 0), side="right") - 1
    return readable, band, ploidy, {"DP": values.get(b"DP", zero), "MIN_DP": values.get(b"MIN_DP", zero)}

