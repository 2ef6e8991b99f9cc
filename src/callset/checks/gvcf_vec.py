"""Vectorised helpers of the gVCF scanner: numpy over the raw bytes of a block of records.

Lookup tables for allowed REF/ALT bytes, unsigned integers parsed at many offsets at once (8 bytes per
64-bit word), and the offsets of INFO ``END=`` keys.
"""

from __future__ import annotations

import numpy as np

_LUT_BASE = np.zeros(256, bool)
_LUT_BASE[np.frombuffer(b"ACGTNacgtn", np.uint8)] = True
_LUT_ALT = _LUT_BASE.copy()
_LUT_ALT[np.frombuffer(b",*", np.uint8)] = True
_POW10 = 10 ** np.arange(19, dtype=np.int64)


def _gather(a: np.ndarray, begin: np.ndarray, width: int) -> np.ndarray:
    """``a[begin[i] + k]`` for k < width (indices clipped to the array)."""
    idx = begin[:, None] + np.arange(width)
    np.clip(idx, 0, len(a) - 1, out=idx)
    return a[idx]


def _parse_uint(a: np.ndarray, begin: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimal integers in ``a[begin:begin+length]``: ``(values, ok)``."""
    n = len(begin)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    w = int(min(max(int(length.max()), 1), 18))
    d = _gather(a, begin, w).astype(np.int16) - 48
    k = np.arange(w)
    valid = k < length[:, None]
    okd = ((d >= 0) & (d <= 9)) | ~valid
    ok = okd.all(1) & (length >= 1) & (length <= 18)
    expo = np.where(valid, length[:, None] - 1 - k, 0)
    vals = (np.where(valid & okd, d, 0).astype(np.int64) * _POW10[np.clip(expo, 0, 18)]).sum(1)
    return vals, ok


_U = np.uint64
_C30 = _U(0x3030303030303030)


def _u64view(a: np.ndarray) -> np.ndarray:
    """Overlapping little-endian view: element ``i`` holds the 8 bytes ``a[i:i+8]``."""
    return np.ndarray(shape=(max(len(a) - 7, 0),), dtype="<u8", buffer=a, strides=(1,))


def _word(text: bytes) -> np.uint64:
    return _U(int.from_bytes(text.ljust(8, b"\0"), "little"))


def _parse8(w: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SWAR parse of ``length`` (1-8) ASCII digits at the low end of each word: ``(values, ok)``."""
    n = length.astype(np.uint64)
    w = w << ((_U(8) - n) * _U(8))
    w = w | np.where(n >= _U(8), _U(0), _C30 >> (np.minimum(n, _U(7)) * _U(8)))
    ok = ((w & _U(0xF0F0F0F0F0F0F0F0)) == _C30) & (
        ((w + _U(0x0606060606060606)) & _U(0xF0F0F0F0F0F0F0F0)) == _C30
    )
    d = w - _C30
    d = d * _U(10) + (d >> _U(8))
    d = (
        ((d & _U(0x000000FF000000FF)) * _U(100 + (1000000 << 32)))
        + (((d >> _U(16)) & _U(0x000000FF000000FF)) * _U(1 + (10000 << 32)))
    ) >> _U(32)
    return d.astype(np.int64), ok


def _parse_uint64(v64: np.ndarray, begin: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimal integers of 1-16 digits at ``begin`` (via the overlapping word view): ``(values, ok)``."""
    lim = len(v64) - 1
    length = length.astype(np.int64)
    ok = (length >= 1) & (length <= 16) & (begin + np.maximum(length, 8) - 8 <= lim)
    two = length > 8
    lo_begin = np.clip(np.where(two, begin + length - 8, begin), 0, lim)
    lo, ok1 = _parse8(v64[lo_begin], np.clip(np.where(two, 8, length), 1, 8))
    ok &= ok1
    if two.any():
        hi, ok2 = _parse8(v64[np.clip(begin, 0, lim)], np.clip(length - 8, 1, 8))
        lo = np.where(two, hi * 100_000_000 + lo, lo)
        ok &= ok2 | ~two
    return lo, ok


_W_END = _word(b"END=")
_W_NONREF = _word(b"<NON_REF")
_W_STAR = _word(b"<*>")


def _concat_spans(begin: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index array covering all spans back to back, and each span's start in it (lengths must be > 0)."""
    seg = np.zeros(len(length), np.int64)
    np.cumsum(length[:-1], out=seg[1:])
    idx = np.repeat(begin - seg, length) + np.arange(int(length.sum()))
    return idx, seg


def _end_key_offsets(joined: bytes) -> list[int]:
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
