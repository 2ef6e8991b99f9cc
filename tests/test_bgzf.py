"""callset.core.bgzf: the BGZF it writes is what htslib writes, block for block readable by htslib's tools."""

from __future__ import annotations

import gzip
import os
import struct

import pysam
import pysam.bcftools
from conftest import CHR22

from callset.core import bgzf
from callset.intake.checks.files import Decoded, decode_member


def blocks(path) -> list[tuple[int, int]]:
    """(block size, ISIZE) of every BGZF block of ``path``, walking the BSIZE fields."""
    data = open(path, "rb").read()
    out, pos = [], 0
    while pos < len(data):
        assert data[pos: pos + 4] == b"\x1f\x8b\x08\x04" and data[pos + 12: pos + 16] == b"BC\x02\x00"
        size = struct.unpack_from("<H", data, pos + 16)[0] + 1
        out.append((size, struct.unpack_from("<I", data, pos + size - 4)[0]))
        pos += size
    return out


def test_a_real_gvcf_rewritten_reads_the_same_with_htslib(tmp_path):
    src = CHR22 / "HG00187.hg38.g.vcf.gz"
    text = gzip.open(src).read()
    dst = tmp_path / "x.g.vcf.gz"
    with bgzf.BgzfWriter(dst) as w:
        for i in range(0, len(text), 100_003):  # writes that do not fall on lines or blocks
            w.write(text[i: i + 100_003])
    assert gzip.open(dst).read() == text
    b = blocks(dst)
    assert b[-1] == (28, 0) and all(isize <= bgzf.BLOCK_DATA and size <= 1 << 16 for size, isize in b)
    assert sum(isize for _, isize in b) == len(text)
    pysam.tabix_index(str(dst), preset="vcf", force=True)
    for region in ("chr22", "chr22:10600000-10650000"):
        got = pysam.bcftools.view("-H", str(dst), region)
        assert got.count("\n") > 5 and got == pysam.bcftools.view("-H", str(src), region)
    st = Decoded()
    assert b"".join(decode_member(dst, st)) == text and st.compression == "bgzf" and not st.problems


def test_incompressible_data_still_fits_its_blocks(tmp_path):
    data = os.urandom(3 * bgzf.BLOCK_DATA + 17)
    dst = tmp_path / "r.gz"
    with bgzf.BgzfWriter(dst, level=1) as w:
        w.write(data)
    assert gzip.open(dst).read() == data
    assert all(size <= 1 << 16 for size, _ in blocks(dst))
    with pysam.BGZFile(str(dst), "rb") as f:  # htslib's reader
        assert f.read() == data


def test_a_damaged_block_is_reported_not_raised(tmp_path):
    dst = tmp_path / "d.gz"
    with bgzf.BgzfWriter(dst) as w:
        w.write(b"chr22\t1\t.\tA\t<NON_REF>\t.\t.\tEND=10\tGT\t0/0\n" * 5000)
    raw = bytearray(dst.read_bytes())
    raw[40] ^= 0xFF  # inside the first block's deflate data
    dst.write_bytes(bytes(raw))
    st = Decoded()
    list(decode_member(dst, st))
    assert not st.complete and "does not decode" in st.problems[0] and "byte offset 0" in st.problems[0]
