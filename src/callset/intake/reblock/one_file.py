"""Reblocking one bgzipped gVCF on its own (intake does it in its scan's pass instead)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from callset.intake.reblock.reblocker import Reblocker
from callset.intake.reblock.settings import DEFAULT_GQ_BANDS, ReblockResult, ReblockSettings

log = logging.getLogger(__name__)


def reblock_gvcf(
    src: str | Path,
    dst: str | Path,
    *,
    bands: Sequence[int] = DEFAULT_GQ_BANDS,
    max_block: int = 1000,
    gq0: str = "no_call",
    contig_recoding: Mapping[str, str] | None = None,
    fasta: str | None = None,
) -> ReblockResult:
    """Reblock one bgzipped gVCF ``src`` into ``dst`` (+ ``dst.tbi``); see the module docstring.

    Streams ``src`` once. Raises :class:`~callset.errors.CallsetError` naming the file when it does not decode;
    content problems are intake's business (:func:`callset.intake.checks.scan_gvcf` reblocks in its own pass).
    """
    from callset.errors import CallsetError
    from callset.intake.checks.files import Decoded, decode_member

    rb = Reblocker(dst, ReblockSettings(gq_bands=tuple(bands), gq0=gq0, max_block_length=max_block),
                   contig_recoding=contig_recoding, fasta=fasta)
    st = Decoded()
    header: list[str] = []
    carry = b""
    in_header = True
    try:
        for piece in decode_member(Path(src), st):
            text = carry + piece
            if in_header:
                pos = 0
                while pos < len(text) and text[pos: pos + 1] == b"#":
                    nl = text.find(b"\n", pos)
                    if nl < 0:
                        break
                    header.append(text[pos:nl].decode("utf-8", "replace"))
                    pos = nl + 1
                if pos < len(text) and text[pos: pos + 1] != b"#":
                    in_header = False
                    rb.header(header)
                text = text[pos:]
                if in_header:
                    carry = text
                    continue
            cut = text.rfind(b"\n")
            carry = text[cut + 1:]
            rb.records(text[: cut + 1])
        if in_header:
            rb.header(header)
        if carry:
            rb.records(carry + b"\n")
    except BaseException:
        rb.abort()
        raise
    if st.problems:
        rb.abort()
        raise CallsetError(f"{src}: cannot reblock: {st.problems[0]}")
    res = rb.finish()
    log.info("%s: %s", dst, res.summary())
    return res

