"""File-level checks: presence, md5, and streaming decode of BGZF/gzip/plain text with CRC checks."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from callset.core import bgzf

log = logging.getLogger(__name__)

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
CRAM3_EOF = bytes.fromhex(
    "0f000000ffffffff0fe0454f46000000000100 05bdd94f0001000606010001000100ee63014b".replace(" ", "")
)
CRAM21_EOF = bytes.fromhex("0b000000ffffffff0fe0454f460000000001000001000606010001000100")
VALID_BASES = re.compile(r"^[ACGTNacgtn]+$")
_RAW_CHUNK = 8 << 20  # raw bytes read at a time
_TEXT_CHUNK = 8 << 20  # decoded text checked at a time: 8 MB keeps numpy's arrays in cache (faster than 32 MB)
FIXED_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]


def md5sum(path: str | Path, *, chunk: int = 1 << 22) -> str:
    """md5 of a file, streamed."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_present(path: Path, what: str) -> list[str]:
    """The file exists, is a regular file and is not empty."""
    if not path.exists():
        return [f"{path}: {what} file does not exist"]
    if not path.is_file():
        return [f"{path}: {what} is not a regular file"]
    if path.stat().st_size == 0:
        return [f"{path}: {what} file is empty"]
    return []


def check_bgzf_eof(path: Path) -> list[str]:
    """A bgzip/BAM style file ends with the BGZF EOF marker block (quick truncation check)."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head[:2] != b"\x1f\x8b":
            return [f"{path}: not bgzip-compressed (gVCFs must be bgzipped and tabix-indexed)"]
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - len(BGZF_EOF)))
        if f.read() != BGZF_EOF:
            return [f"{path}: bgzip EOF block missing (file truncated or not bgzip)"]
    return []


# ---------------------------------------------------------------------------------------------------
# Raw decoding: md5 + BGZF structure + CRC, streamed
# ---------------------------------------------------------------------------------------------------


@dataclass
class Decoded:
    md5: str = ""
    compression: str = ""  # bgzf | gzip | plain
    complete: bool = True  # the whole file decoded
    problems: list[str] = field(default_factory=list)


def decode_member(path: Path, st: Decoded) -> Iterator[bytes]:
    """Yield the decoded text of ``path`` in pieces; fill ``st`` (md5, compression, problems)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        first = f.read(_RAW_CHUNK)
        h.update(first)

        def more() -> bytes:
            b = f.read(_RAW_CHUNK)
            h.update(b)
            return b

        if first[:2] != b"\x1f\x8b":
            st.compression = "plain"
            st.problems.append(f"{path}: not bgzip-compressed (gVCFs must be bgzipped and tabix-indexed)")
            buf = first
            while buf:
                yield buf
                buf = more()
        elif _is_bgzf_header(first, 0):
            st.compression = "bgzf"
            yield from _decode_bgzf(path, first, more, st)
        else:
            st.compression = "gzip"
            st.problems.append(
                f"{path}: gzip-compressed but not BGZF (cannot be tabix-indexed; recompress with bgzip)"
            )
            yield from _decode_gzip(path, first, more, st)
        # make sure the md5 covers the whole file even if decoding stopped early
        while more():
            pass
    st.md5 = h.hexdigest()


def _is_bgzf_header(buf: bytes, off: int) -> bool:
    if len(buf) < off + 18 or buf[off : off + 4] != b"\x1f\x8b\x08\x04":
        return False
    xlen = struct.unpack_from("<H", buf, off + 10)[0]
    extra = buf[off + 12 : off + 12 + xlen]
    i = 0
    while i + 4 <= len(extra):
        si, slen = extra[i : i + 2], struct.unpack_from("<H", extra, i + 2)[0]
        if si == b"BC" and slen == 2:
            return True
        i += 4 + slen
    return False


def _decode_bgzf(path: Path, buf: bytes, more, st: Decoded) -> Iterator[bytes]:  # noqa: ANN001
    """Walk BGZF blocks: structure, CRC32 and ISIZE of each; EOF marker at the end."""
    off = 0  # offset of buf[0] in the file
    pos = 0  # position in buf
    out: list[bytes] = []
    out_len = 0
    last_block_empty = False
    decoding = True
    while True:
        if len(buf) - pos < 18:
            nxt = more()
            if nxt:
                buf = buf[pos:] + nxt
                off += pos
                pos = 0
                continue
            if len(buf) - pos:
                st.problems.append(
                    f"{path}: truncated: {len(buf) - pos} stray bytes at the end (byte offset {off + pos}), "
                    "not a complete BGZF block"
                )
                st.complete = False
            break
        if not _is_bgzf_header(buf, pos):
            st.problems.append(f"{path}: corrupt: no valid BGZF block header at byte offset {off + pos}")
            st.complete = False
            break
        xlen = struct.unpack_from("<H", buf, pos + 10)[0]
        extra = buf[pos + 12 : pos + 12 + xlen]
        i = extra.find(b"BC\x02\x00")
        bsize = struct.unpack_from("<H", extra, i + 4)[0] + 1
        while len(buf) - pos < bsize:
            nxt = more()
            if not nxt:
                break
            buf = buf[pos:] + nxt
            off += pos
            pos = 0
        if len(buf) - pos < bsize:
            st.problems.append(
                f"{path}: truncated: the BGZF block at byte offset {off + pos} needs {bsize} bytes, "
                f"only {len(buf) - pos} remain"
            )
            st.complete = False
            break
        crc, isize = struct.unpack_from("<II", buf, pos + bsize - 8)
        if decoding:
            try:
                data = bgzf.inflate(buf[pos + 12 + xlen : pos + bsize - 8])
                if bgzf.crc32(data) != crc or len(data) != isize:
                    raise zlib.error("CRC32/size mismatch")
            except (zlib.error, bgzf.DecompressError) as e:
                st.problems.append(
                    f"{path}: corrupt data: the BGZF block at byte offset {off + pos} does not decode ({e}); "
                    "content after it not checked"
                )
                st.complete = False
                decoding = False
                data = b""
            if data:
                out.append(data)
                out_len += len(data)
                if out_len >= _TEXT_CHUNK:
                    yield b"".join(out)
                    out, out_len = [], 0
        last_block_empty = isize == 0
        pos += bsize
    if out:
        yield b"".join(out)
    if st.complete and not last_block_empty:
        st.problems.append(f"{path}: bgzip EOF block missing (file truncated?)")
        st.complete = False


def _decode_gzip(path: Path, buf: bytes, more, st: Decoded) -> Iterator[bytes]:  # noqa: ANN001
    d = zlib.decompressobj(31)
    while buf:
        try:
            data = d.decompress(buf)
        except zlib.error as e:
            st.problems.append(f"{path}: corrupt gzip data ({e}); content after it not checked")
            st.complete = False
            return
        if data:
            yield data
        if d.eof:
            buf = d.unused_data
            d = zlib.decompressobj(31)
            if not buf:
                buf = more()
                if buf:
                    continue
                return
            continue
        buf = more()
    if not d.eof:
        st.problems.append(f"{path}: truncated gzip stream")
        st.complete = False


