"""Vectorised helpers of the gVCF scanner: numpy over the raw bytes of a block of records.

Lookup tables for allowed REF/ALT bytes, unsigned integers parsed at many offsets at once (8 bytes per
64-bit word), and the offsets of INFO ``END=`` keys.
"""

from __future__ import annotations

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
