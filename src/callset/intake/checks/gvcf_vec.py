"""Vectorised helpers of the gVCF scanner: numpy over the raw bytes of a block of records.

Lookup tables for allowed REF/ALT bytes, unsigned integers parsed at many offsets at once (8 bytes per
64-bit word), the offsets of INFO ``END=`` keys, and :func:`check_fields`, the vectorised check of the
records whose fields all parse (the scanner's fast path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LUT_BASE = np.zeros(256, bool)
LUT_BASE[np.frombuffer(b"ACGTNacgtn", np.uint8)] = True
LUT_ALT = LUT_BASE.copy()
LUT_ALT[np.frombuffer(b",*", np.uint8)] = True
_POW10 = 10 ** np.arange(19, dtype=np.int64)


def gather(a: np.ndarray, begin: np.ndarray, width: int) -> np.ndarray:
    """``a[begin[i] + k]`` for k < width (indices clipped to the array)."""
    idx = begin[:, None] + np.arange(width)
    np.clip(idx, 0, len(a) - 1, out=idx)
    return a[idx]


U64 = np.uint64
_C30 = U64(0x3030303030303030)


def u64view(a: np.ndarray) -> np.ndarray:
    """Overlapping little-endian view: element ``i`` holds the 8 bytes ``a[i:i+8]``."""
    return np.ndarray(shape=(max(len(a) - 7, 0),), dtype="<u8", buffer=a, strides=(1,))


def word(text: bytes) -> np.uint64:
    return U64(int.from_bytes(text.ljust(8, b"\0"), "little"))


def parse8(w: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SWAR parse of ``length`` (1-8) ASCII digits at the low end of each word: ``(values, ok)``."""
    n = length.astype(np.uint64)
    w = w << ((U64(8) - n) * U64(8))
    w = w | np.where(n >= U64(8), U64(0), _C30 >> (np.minimum(n, U64(7)) * U64(8)))
    ok = ((w & U64(0xF0F0F0F0F0F0F0F0)) == _C30) & (
        ((w + U64(0x0606060606060606)) & U64(0xF0F0F0F0F0F0F0F0)) == _C30
    )
    d = w - _C30
    d = d * U64(10) + (d >> U64(8))
    d = (
        ((d & U64(0x000000FF000000FF)) * U64(100 + (1000000 << 32)))
        + (((d >> U64(16)) & U64(0x000000FF000000FF)) * U64(1 + (10000 << 32)))
    ) >> U64(32)
    return d.astype(np.int64), ok


def parse_uint64(v64: np.ndarray, begin: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimal integers of 1-16 digits at ``begin`` (via the overlapping word view): ``(values, ok)``."""
    lim = len(v64) - 1
    length = length.astype(np.int64)
    ok = (length >= 1) & (length <= 16) & (begin + np.maximum(length, 8) - 8 <= lim)
    two = length > 8
    lo_begin = np.clip(np.where(two, begin + length - 8, begin), 0, lim)
    lo, ok1 = parse8(v64[lo_begin], np.clip(np.where(two, 8, length), 1, 8))
    ok &= ok1
    if two.any():
        hi, ok2 = parse8(v64[np.clip(begin, 0, lim)], np.clip(length - 8, 1, 8))
        lo = np.where(two, hi * 100_000_000 + lo, lo)
        ok &= ok2 | ~two
    return lo, ok


W_END = word(b"END=")
W_NONREF = word(b"<NON_REF")
W_STAR = word(b"<*>")


def concat_spans(begin: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index array covering all spans back to back, and each span's start in it (lengths must be > 0)."""
    seg = np.zeros(len(length), np.int64)
    np.cumsum(length[:-1], out=seg[1:])
    idx = np.repeat(begin - seg, length) + np.arange(int(length.sum()))
    return idx, seg


def end_key_offsets(joined: bytes) -> list[int]:
    """Offsets of every ``END=`` key (at a line start or after ``;``) in newline-joined INFO fields.

    Same matches as ``re.finditer(rb"(?:^|;)END=", joined, re.M)`` (each offset lies in the same line), found
    with ``bytes.find``: the regex tried its alternation at every byte and was the slowest step on small gVCFs.
    """
    hits = []
    k = joined.find(b"END=")
    while k != -1:
        if k == 0 or joined[k - 1] in (10, 59):  # line start ("\n") or ";"
            hits.append(k)
        k = joined.find(b"END=", k + 4)
    return hits


# ---------------------------------------------------------------------------------------------------
# the vectorised record check: lines with all ten fields, numpy over the raw bytes
# ---------------------------------------------------------------------------------------------------


@dataclass
class RecordFields:
    """What :func:`check_fields` read from a block of lines (one entry per line checked)."""

    #: True: the line needs the detailed (line-by-line) check, which names the problem
    bad: np.ndarray
    pos: np.ndarray
    #: INFO END, or the last base of REF when there is no END
    end: np.ndarray
    #: a reference block (ALT ``<NON_REF>`` or ``<*>``)
    block: np.ndarray


def check_fields(
    a: np.ndarray, buf: bytes, tabs: np.ndarray, end_tab: np.ndarray, nl: np.ndarray, good: np.ndarray
) -> RecordFields:
    """Check POS, REF, ALT, INFO END, FORMAT and GT of the lines ``good`` (each with exactly 9 tabs) of ``buf``
    (``a``: its bytes; ``nl``: each line's newline; ``end_tab``: per line, the index in ``tabs`` of the first
    tab after it)."""
    t = tabs[end_tab[good][:, None] - 9 + np.arange(9)]
    e = nl[good]
    v64 = u64view(a)
    lim = len(v64) - 1
    # words are read at field starts: a line whose last field starts in the buffer's last
    # 8 bytes goes to the detailed check instead
    bad = t[:, 8] + 1 > lim
    t = np.minimum(t, lim - 1)
    p, rlen = _pos_ref(a, v64, t, bad)
    blk, n_alt = _alt(a, v64, t, bad)
    has_end, endv = _info_end(buf, v64, t, bad)
    ref_end = p + rlen - 1
    end_g = np.where(has_end, endv, ref_end)
    bad |= end_g < p
    # a reference block must carry END; a variant record may not be a block without END
    bad |= blk & ~has_end
    _format_gt(v64, t, e, n_alt, bad)
    return RecordFields(bad=bad, pos=p, end=end_g, block=blk)


def _pos_ref(a: np.ndarray, v64: np.ndarray, t: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """POS (a positive integer) and REF (bases only); returns ``(pos, len(REF))`` and marks ``bad``."""
    p, ok = parse_uint64(v64, t[:, 0] + 1, t[:, 1] - t[:, 0] - 1)
    bad |= ~ok | (p < 1)
    rlen = t[:, 3] - t[:, 2] - 1
    bad |= rlen < 1
    r1 = rlen == 1
    bad[r1] |= ~LUT_BASE[a[t[r1, 2] + 1]]
    multi = np.flatnonzero(rlen > 1)
    if len(multi):
        idx, seg = concat_spans(t[multi, 2] + 1, rlen[multi])
        bad[multi] |= np.add.reduceat(~LUT_BASE[a[idx]], seg) > 0
    return p, rlen


def _alt(a: np.ndarray, v64: np.ndarray, t: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ALT: a reference block's ``<NON_REF>``/``<*>``, or alleles of bases, ``*`` and balanced symbolic ``<ID>``s;
    returns ``(is_block, number of ALT alleles)`` and marks ``bad``."""
    alen = t[:, 4] - t[:, 3] - 1
    aw = v64[t[:, 3] + 1]
    blk = ((alen == 9) & (aw == W_NONREF) & (a[np.minimum(t[:, 3] + 9, len(a) - 1)] == 62)) | (
        (alen == 3) & ((aw & U64(0xFFFFFF)) == W_STAR)
    )
    n_alt = np.ones(len(t), np.int64)
    other = np.flatnonzero(~blk)
    bad[other[alen[other] < 1]] = True
    other = other[alen[other] >= 1]
    if len(other):
        idx, seg = concat_spans(t[other, 3] + 1, alen[other])
        c = a[idx]
        lt = np.cumsum(c == 60)
        gt = np.cumsum(c == 62)
        depth = lt - gt
        base_depth = np.repeat(np.where(seg > 0, depth[np.maximum(seg - 1, 0)], 0), alen[other])
        rel = depth - base_depth
        inside = (rel > 0) | (c == 62)
        badc = ~(LUT_ALT[c] | inside | (c == 60))
        # a symbolic allele cannot contain '<' or ',' and brackets must balance within the field
        badc |= (rel > 1) | (rel < 0) | ((c == 44) & (rel > 0))
        bad[other] |= np.add.reduceat(badc, seg) > 0
        bad[other] |= rel[np.r_[seg[1:], len(c)] - 1] != 0
        n_alt[other] = np.add.reduceat(c == 44, seg) + 1
    return blk, n_alt


def _info_end(buf: bytes, v64: np.ndarray, t: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """INFO: ``END=<digits>`` exactly as the first key, or no END at all (an END key elsewhere goes to the
    detailed check); returns ``(has END, END)`` and marks ``bad``."""
    ilen = t[:, 7] - t[:, 6] - 1
    has_end = (ilen > 4) & ((v64[t[:, 6] + 1] & U64(0xFFFFFFFF)) == W_END)
    endv = np.zeros(len(t), np.int64)
    he = np.flatnonzero(has_end)
    if len(he):
        ev, eok = parse_uint64(v64, t[he, 6] + 5, ilen[he] - 4)
        endv[he] = ev
        bad[he] |= ~eok
    ne = np.flatnonzero(~has_end)
    if len(ne):
        joined = b"\n".join(buf[i:j] for i, j in zip((t[ne, 6] + 1).tolist(), t[ne, 7].tolist(), strict=True))
        hits = end_key_offsets(joined)
        if hits:
            offs = np.zeros(len(ne), np.int64)
            np.cumsum(ilen[ne][:-1] + 1, out=offs[1:])
            bad[ne[np.searchsorted(offs, hits, side="right") - 1]] = True
    return has_end, endv


def _format_gt(v64: np.ndarray, t: np.ndarray, e: np.ndarray, n_alt: np.ndarray, bad: np.ndarray) -> None:
    """FORMAT starts with GT, and the sample's GT is ``d[/|]d``, ``d`` (haploid) or ``./.`` with allele indices
    below the number of alleles; marks ``bad``."""
    flen = t[:, 8] - t[:, 7] - 1
    fw = v64[t[:, 7] + 1]
    gt_first = (fw & U64(0xFFFF)) == word(b"GT")
    bad |= ~(gt_first & ((flen == 2) | (((fw >> U64(16)) & U64(0xFF)) == 58)))
    slen = e - t[:, 8] - 1
    gw = v64[t[:, 8] + 1]
    g0 = (gw & U64(0xFF)).astype(np.int64)
    g1 = ((gw >> U64(8)) & U64(0xFF)).astype(np.int64)
    g2 = ((gw >> U64(16)) & U64(0xFF)).astype(np.int64)
    g3 = ((gw >> U64(24)) & U64(0xFF)).astype(np.int64)
    dig0 = (g0 >= 48) & (g0 <= 57)
    dig2 = (g2 >= 48) & (g2 <= 57)
    sep = (g1 == 47) | (g1 == 124)
    term3 = (slen == 3) | ((slen > 3) & (g3 == 58))
    term1 = (slen == 1) | ((slen > 1) & (g1 == 58))
    dip = dig0 & sep & dig2 & term3
    hap = dig0 & term1
    miss = (g0 == 46) & sep & (g2 == 46) & term3
    n_all = n_alt + 1
    a0 = g0 - 48
    a1 = g2 - 48
    gt_ok = (dip & (a0 < n_all) & (a1 < n_all)) | (hap & (a0 < n_all)) | miss
    bad |= ~gt_ok | (slen < 1)
