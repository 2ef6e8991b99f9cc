"""Reblocking at intake (callset.intake.reblock): exact output on hand-made gVCFs, and on real and simulated
gVCFs every variant record kept byte for byte and every reference base kept in the band of its input GQ."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import CHR22, TESTDATA, VENV_BIN

from callset.intake.reblock import Reblocker, ReblockSettings, reblock_gvcf

HEADER = """##fileformat=VCFv4.2
##ALT=<ID=NON_REF,Description="Represents any possible alternative allele at this location">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype Quality">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=MIN_DP,Number=1,Type=Integer,Description="Minimum DP observed within the GVCF block">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Normalized, Phred-scaled likelihoods">
##GVCFBlock0-1=minGQ=0(inclusive),maxGQ=1(exclusive)
##GVCFBlock1-2=minGQ=1(inclusive),maxGQ=2(exclusive)
##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">
##INFO=<ID=END,Number=1,Type=Integer,Description="Stop position of the interval">
##contig=<ID=chr1,length=248956422>
##contig=<ID=chrX,length=156040895>
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1
"""
F = "GT:DP:GQ:MIN_DP:PL"
VAR = "chr1\t31\t.\tA\tG,<NON_REF>\t100.6\t.\tDP=20\tGT:AD:DP:GQ:PL\t0/1:10,10,0:20:99:130,0,140,160,170,330"
DEL = "chr1\t3200\t.\tACGT\tA,<NON_REF>\t80.6\t.\tDP=18\tGT:AD:DP:GQ:PL\t0/1:9,9,0:18:80:110,0,120,140,150,300"
RECORDS = [
    f"chr1\t1\t.\tA\t<NON_REF>\t.\t.\tEND=10\t{F}\t0/0:30:45:28:0,45,900",
    f"chr1\t11\t.\tC\t<NON_REF>\t.\t.\tEND=20\t{F}\t0/0:20:99:18:0,60,900",  # same band (>= 40): merged
    f"chr1\t21\t.\tG\t<NON_REF>\t.\t.\tEND=25\t{F}\t0/0:10:25:9:0,25,300",  # band 20
    f"chr1\t26\t.\tT\t<NON_REF>\t.\t.\tEND=30\t{F}\t0/0:12:21:11:0,21,300",  # band 20: merged
    VAR,
    f"chr1\t32\t.\tC\t<NON_REF>\t.\t.\tEND=40\t{F}\t0/0:15:5:12:0,5,200",  # band 0
    f"chr1\t41\t.\tA\t<NON_REF>\t.\t.\tEND=41\t{F}\t0/0:3:0:3:0,0,0",  # band 0: merged
    f"chr1\t42\t.\tA\t<NON_REF>\t.\t.\tEND=2600\t{F}\t0/0:30:99:20:0,90,999",  # cut at 1000 and 2000
    f"chr1\t2601\t.\tA\t<NON_REF>\t.\t.\tEND=2700\t{F}\t./.:0:0:0:0,0,0",  # no-call, GQ 0
    f"chr1\t2701\t.\tT\t<NON_REF>\t.\t.\tEND=2800\t{F}\t./.:30:50:30:0,50,700",  # no-call, PL[0] 0: GQ 50
    f"chr1\t2801\t.\tT\t<NON_REF>\t.\t.\tEND=2900\t{F}\t./.:30:50:30:10,0,700",  # no-call, PL[0] 10: GQ 0
    f"chr1\t3001\t.\tT\t<NON_REF>\t.\t.\tEND=3100\t{F}\t0/0:30:50:30:0,50,700",  # a gap before: new block
    f"chr1\t3050\t.\tT\t<NON_REF>\t.\t.\tEND=3060\t{F}\t0/0:30:50:30:0,50,700",  # overlaps: both copied
    DEL,
    f"chr1\t3201\t.\tC\t<NON_REF>\t.\t.\tEND=3210\t{F}\t0/0:25:42:20:0,42,500",  # inside the deletion
    f"chr1\t3211\t.\tG\t<NON_REF>\t.\t.\tEND=3220\t{F}\t0/0:25:60:22:0,60,500",
    f"chrX\t100\t.\tA\t<NON_REF>\t.\t.\tEND=200\t{F}\t0:10:30:9:0,30",  # haploid band 30
    f"chrX\t201\t.\tA\t<NON_REF>\t.\t.\tEND=300\t{F}\t0/0:10:35:9:0,35,400",  # diploid band 30: not merged
    "chrX\t301\t.\tA\t<NON_REF>\t.\t.\tEND=310\tGT:DP:GQ\t0/0:40:90",  # another FORMAT, same band 40
]
B = "\t<NON_REF>\t.\t.\tEND="
EXPECTED = [
    f"chr1\t1\t.\tA{B}20\tGT:DP:GQ:MIN_DP\t0/0:25:40:18",
    f"chr1\t21\t.\tG{B}30\tGT:DP:GQ:MIN_DP\t0/0:11:20:9",
    VAR,
    f"chr1\t32\t.\tC{B}41\tGT:DP:GQ:MIN_DP\t0/0:14:0:3",
    f"chr1\t42\t.\tA{B}1000\tGT:DP:GQ:MIN_DP\t0/0:30:40:20",
    f"chr1\t1001\t.\tN{B}2000\tGT:DP:GQ:MIN_DP\t0/0:30:40:20",
    f"chr1\t2001\t.\tN{B}2600\tGT:DP:GQ:MIN_DP\t0/0:30:40:20",
    f"chr1\t2601\t.\tA{B}2700\tGT:DP:GQ:MIN_DP\t0/0:0:0:0",
    f"chr1\t2701\t.\tT{B}2800\tGT:DP:GQ:MIN_DP\t0/0:30:40:30",
    f"chr1\t2801\t.\tT{B}2900\tGT:DP:GQ:MIN_DP\t0/0:30:0:30",
    RECORDS[11],  # a later record (the next block) starts inside it: copied as it is
    f"chr1\t3050\t.\tT{B}3060\tGT:DP:GQ:MIN_DP\t0/0:30:40:30",
    DEL,
    f"chr1\t3201\t.\tC{B}3220\tGT:DP:GQ:MIN_DP\t0/0:25:40:20",
    f"chrX\t100\t.\tA{B}200\tGT:DP:GQ:MIN_DP\t0:10:30:9",
    f"chrX\t201\t.\tA{B}300\tGT:DP:GQ:MIN_DP\t0/0:10:30:9",
    f"chrX\t301\t.\tA{B}310\tGT:DP:GQ:MIN_DP\t0/0:40:40:40",
]


def write_gvcf(path: Path, records: list[str], header: str = HEADER) -> Path:
    import pysam

    plain = path.with_suffix("")
    plain.write_text(header + "".join(r + "\n" for r in records))
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    plain.unlink()
    return path


def body(path: Path) -> list[str]:
    with gzip.open(path, "rt") as f:
        return [ln.rstrip("\n") for ln in f if not ln.startswith("#")]


def header_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt") as f:
        return [ln.rstrip("\n") for ln in f if ln.startswith("#")]


def test_hand_made_gvcf_is_reblocked_exactly(tmp_path):
    src = write_gvcf(tmp_path / "in.g.vcf.gz", RECORDS)
    res = reblock_gvcf(src, tmp_path / "out.rb.g.vcf.gz", bands=(0, 20, 30, 40), max_block=1000)
    assert body(res.path) == EXPECTED
    assert res.n_records_in == len(RECORDS)
    assert res.n_copied == 3 and res.n_blocks_in == len(RECORDS) - 3  # VAR, DEL and the overlapped block
    assert res.n_blocks_out == len(EXPECTED) - 3
    head = header_lines(res.path)
    assert not any(h.startswith("##GVCFBlock0-1=") for h in head)  # the input's bands are gone
    assert "##GVCFBlock0-20=minGQ=0(inclusive),maxGQ=20(exclusive)" in head
    assert "##GVCFBlock40-100=minGQ=40(inclusive),maxGQ=100(exclusive)" in head
    rec = '##callset_reblock=<GQBands="0,20,30,40",FloorBlocks=true,GQ0=no_call,MaxBlockLength=1000'
    assert any(h.startswith(rec) for h in head)
    assert head[-1].startswith("#CHROM")
    assert res.index.exists() and res.md5 and res.size == res.path.stat().st_size
    assert res.max_block == 1000  # the longest written (the copied 3001-3100 block is shorter)


def test_reblocked_gvcf_reads_cleanly_with_htslib(tmp_path):
    import pysam

    src = write_gvcf(tmp_path / "in.g.vcf.gz", RECORDS)
    res = reblock_gvcf(src, tmp_path / "out.rb.g.vcf.gz")
    proc = subprocess.run([str(VENV_BIN / "python"), "-c", (
        "import pysam, sys\n"
        f"v = pysam.VariantFile({str(res.path)!r})\n"
        "n = sum(1 for _ in v)\n"
        "m = sum(1 for _ in v.fetch('chr1', 1000, 2100))\n"
        "print(n, m)\n")], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == [str(len(EXPECTED)), "2"]
    assert proc.stderr.strip() == ""  # htslib warns about nothing (header declares every field)
    with pysam.VariantFile(str(res.path)) as v:
        blocks = [r for r in v if r.alts == ("<NON_REF>",)]
        assert all(r.stop - r.start <= 1000 for r in blocks)


def test_gq0_drop_leaves_the_lowest_band_out(tmp_path):
    src = write_gvcf(tmp_path / "in.g.vcf.gz", RECORDS)
    res = reblock_gvcf(src, tmp_path / "out.rb.g.vcf.gz", gq0="drop")
    gq0 = {EXPECTED[3], EXPECTED[7], EXPECTED[9]}
    assert all(ln.split("\t")[-1].split(":")[2] == "0" for ln in gq0)
    assert body(res.path) == [ln for ln in EXPECTED if ln not in gq0]
    assert res.n_gq0_dropped == 3 and res.bases_gq0_dropped == 10 + 100 + 100


def test_custom_bands_and_block_length(tmp_path):
    src = write_gvcf(tmp_path / "in.g.vcf.gz", RECORDS[:8])
    got = body(reblock_gvcf(src, tmp_path / "out.rb.g.vcf.gz", bands=(10, 50), max_block=500).path)
    # floors 0, 10, 50: GQ 45 (1-10) and GQ 99 (11-20) now differ; GQ 25 and 21 share band 10; cuts every 500
    assert [ln.split("\t")[1] for ln in got] == ["1", "11", "21", "31", "32", "42", "501", "1001", "1501", "2001",
                                                 "2501"]
    assert got[0].endswith("END=10\tGT:DP:GQ:MIN_DP\t0/0:30:10:28")
    assert got[1].endswith("END=20\tGT:DP:GQ:MIN_DP\t0/0:20:50:18")
    assert got[2].endswith("END=30\tGT:DP:GQ:MIN_DP\t0/0:11:10:9")
    assert got[-1].endswith("END=2600\tGT:DP:GQ:MIN_DP\t0/0:30:50:20")


@pytest.mark.parametrize("bad", [{"gq_bands": (0, 120)}, {"gq0": "zero"}, {"max_block_length": 0}])
def test_settings_are_validated(bad):
    with pytest.raises(ValueError, match="reblock|block length"):
        ReblockSettings(**bad)


def test_contig_recoding_renames_records_and_header(tmp_path):
    recs = [r.replace("chr1\t", "1\t", 1) for r in RECORDS[:6]]
    head = HEADER.replace("##contig=<ID=chr1,", "##contig=<ID=1,")
    src = write_gvcf(tmp_path / "in.g.vcf.gz", recs, head)
    res = reblock_gvcf(src, tmp_path / "out.rb.g.vcf.gz", contig_recoding={"1": "chr1"})
    assert body(res.path) == [*EXPECTED[:3], f"chr1\t32\t.\tC{B}40\tGT:DP:GQ:MIN_DP\t0/0:15:0:12"]
    assert "##contig=<ID=chr1,length=248956422>" in header_lines(res.path)


# ---------------------------------------------------------------------------------------------------
# real and simulated gVCFs: invariants against the input, record by record and base by base
# ---------------------------------------------------------------------------------------------------


def read_records(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt") as f:
        return [ln.rstrip("\n").split("\t") for ln in f if not ln.startswith("#")]


def is_block(f: list[str]) -> bool:
    return f[4] in ("<NON_REF>", "<*>") and f[7].startswith("END=")


def per_base(records: list[list[str]], floors: tuple[int, ...]) -> dict[str, dict[str, np.ndarray]]:
    """Per contig, per base: band floor of the block covering it (-1: none), its DP (-1: none)."""
    by_contig: dict[str, list[tuple[int, int, int, int]]] = {}
    for f in records:
        if not is_block(f):
            continue
        keys = f[8].split(":")
        vals = dict(zip(keys, f[9].split(":"), strict=False))
        gq = int(vals["GQ"]) if vals.get("GQ", ".") != "." else 0
        if vals["GT"].replace("|", "/") not in ("0/0", "0"):
            pl0 = vals.get("PL", "1").split(",")[0]
            gq = gq if pl0 == "0" else 0
        band = max(b for b in floors if b <= min(gq, 99))
        dp = int(vals["DP"]) if vals.get("DP", ".") != "." else -1
        by_contig.setdefault(f[0], []).append((int(f[1]), int(f[7].split(";")[0][4:]), band, dp))
    out = {}
    for c, blocks in by_contig.items():
        arr = np.array(blocks, np.int64)
        lo, hi = int(arr[:, 0].min()), int(arr[:, 1].max())
        if np.all(arr[1:, 0] > arr[:-1, 1]):  # sorted, no overlap: paint with one repeat per array
            start = np.r_[arr[:, 0] - lo, hi - lo + 1]
            gap = start[1:] - (arr[:, 1] - lo + 1)
            seg_len = np.ravel(np.column_stack([arr[:, 1] - arr[:, 0] + 1, gap]))
            band = np.repeat(np.ravel(np.column_stack([arr[:, 2], np.full(len(arr), -1)])), seg_len)
            dp = np.repeat(np.ravel(np.column_stack([arr[:, 3], np.full(len(arr), -1)])), seg_len)
        else:  # overlapping blocks (copied unchanged): the later one wins, as written
            band = np.full(hi - lo + 1, -1, np.int64)
            dp = np.full(hi - lo + 1, -1, np.int64)
            for s, e, b, d in blocks:
                band[s - lo: e - lo + 1] = b
                dp[s - lo: e - lo + 1] = d
        out[c] = {"band": band, "dp": dp, "lo": np.array([lo])}
    return out


def check_reblocked(src: Path, res_path: Path, floors: tuple[int, ...] = (0, 20, 30, 40), max_len: int = 1000) -> int:
    """Assert the invariants; return the number of variant records checked."""
    a = read_records(src)
    b = read_records(res_path)
    # every record that is not a reference block, byte for byte and in order
    var_a = ["\t".join(f) for f in a if not is_block(f)]
    var_b = ["\t".join(f) for f in b if not is_block(f)]
    assert var_b == var_a
    # output sorted, blocks no longer than the cap, GQ a band floor, FORMAT as documented
    keys = [(f[0], int(f[1])) for f in b]
    order = {c: i for i, c in enumerate(dict.fromkeys(k[0] for k in keys))}
    assert keys == sorted(keys, key=lambda k: (order[k[0]], k[1]))
    for f in b:
        if is_block(f) and f[8] == "GT:DP:GQ:MIN_DP":
            assert int(f[7][4:]) - int(f[1]) + 1 <= max_len
            assert int(f[9].split(":")[2]) in floors
    # every base keeps the band of its input block; the mean DP of the covered bases is kept
    pa, pb = per_base(a, floors), per_base(b, floors)
    assert pa.keys() == pb.keys()
    for c in pa:
        assert pa[c]["lo"][0] == pb[c]["lo"][0]
        ba, bb = pa[c]["band"], pb[c]["band"]
        assert np.array_equal(ba, bb), f"{res_path} {c}: bands differ at {np.flatnonzero(ba != bb)[:5]}"
        da, db = pa[c]["dp"], pb[c]["dp"]
        cov = da >= 0
        assert abs(da[cov].mean() - db[cov].mean()) < 0.5
    return len(var_a)


@pytest.fixture(scope="module")
def chr22_reblocked(tmp_path_factory):
    out = tmp_path_factory.mktemp("rb22")
    srcs = sorted(CHR22.glob("*.hg38.g.vcf.gz"))
    assert len(srcs) == 40
    return [(s, reblock_gvcf(s, out / s.name.replace(".hg38.g.vcf.gz", ".rb.g.vcf.gz"))) for s in srcs]


def test_every_real_chr22_gvcf_keeps_its_records_and_bands(chr22_reblocked):
    n_var = sum(check_reblocked(src, res.path) for src, res in chr22_reblocked)
    assert n_var > 1000
    n_in = sum(res.n_blocks_in for _s, res in chr22_reblocked)
    n_out = sum(res.n_blocks_out for _s, res in chr22_reblocked)
    assert n_out < 0.7 * n_in  # low-coverage 1000 Genomes samples: GQ changes often, even in 4 bands


def test_a_large_real_gvcf_keeps_its_records_and_bands(tmp_path):
    src = TESTDATA / "gvcf" / "HG00268.g.vcf.gz"
    res = reblock_gvcf(src, tmp_path / "HG00268.rb.g.vcf.gz")
    assert check_reblocked(src, res.path) == 11110
    assert res.size < src.stat().st_size / 2


def test_intake_pass_and_standalone_write_the_same_file(tmp_path):
    """The scan's sink (chunks with the scan's own arrays, several chunks) equals reblock_gvcf's own pass."""
    from callset.core.reference import load_reference
    from callset.intake.checks import files, scan_gvcf

    src = TESTDATA / "gvcf" / "HG00268.g.vcf.gz"
    one = reblock_gvcf(src, tmp_path / "a.rb.g.vcf.gz")
    old = files._TEXT_CHUNK
    files._TEXT_CHUNK = 1 << 20  # many chunks: runs are carried across chunk edges
    try:
        sink = Reblocker(tmp_path / "b.rb.g.vcf.gz")
        scan = scan_gvcf(src, sample_id="HG00268", reference=load_reference("GRCh38"), sink=sink)
        assert scan.problems == []
        two = sink.finish()
    finally:
        files._TEXT_CHUNK = old
    assert two.md5 == one.md5
    assert (two.n_records_in, two.n_blocks_out) == (one.n_records_in, one.n_blocks_out)


def test_simulated_gatk_band_gvcfs_keep_their_records_and_bands(tmp_path):
    sim = tmp_path / "sim"
    subprocess.run([str(VENV_BIN / "callset"), "simulate", "--samples", "4", "--seed", "3", "--out", str(sim),
                    "--region-size", "100000", "--gq-bands", "gatk"], check=True, capture_output=True)
    srcs = sorted(sim.glob("inbox/*/*.g.vcf.gz"))
    assert len(srcs) == 4
    n_var = 0
    for s in srcs:
        res = reblock_gvcf(s, tmp_path / "rb" / s.name)
        n_var += check_reblocked(s, res.path)
        assert res.n_blocks_out < res.n_blocks_in / 5
    assert n_var > 50


def test_gq0_drop_on_a_real_gvcf_leaves_out_exactly_the_gq0_blocks(tmp_path):
    """gq0="drop" writes the gq0="no_call" output without its GQ-0 blocks (the last run of the file is one:
    every piece of the final chunk dropped)."""
    src = CHR22 / "HG00187.hg38.g.vcf.gz"
    kept = reblock_gvcf(src, tmp_path / "keep.rb.g.vcf.gz")
    dropped = reblock_gvcf(src, tmp_path / "drop.rb.g.vcf.gz", gq0="drop")
    gq0 = [r for r in body(kept.path)
           if r.split("\t")[8] == "GT:DP:GQ:MIN_DP" and r.split("\t")[9].split(":")[2] == "0"]
    assert gq0 and dropped.n_gq0_dropped == len(gq0) and kept.n_gq0_dropped == 0
    assert body(dropped.path) == [r for r in body(kept.path) if r not in set(gq0)]
    assert dropped.bases_gq0_dropped == sum(int(r.split("\t")[7][4:]) - int(r.split("\t")[1]) + 1 for r in gq0)


def test_a_gvcf_with_nothing_to_merge_is_copied(tmp_path):
    """No mergeable block in a chunk (variant records, a block with another INFO key): the lines as they were."""
    records = [f"chr1\t1\t.\tA\t<NON_REF>\t.\t.\tEND=30;XX=1\t{F}\t0/0:30:45:28:0,45,900", VAR, DEL]
    src = write_gvcf(tmp_path / "in.g.vcf.gz", records)
    res = reblock_gvcf(src, tmp_path / "out.g.vcf.gz", contig_recoding={"chr1": "1"})
    assert body(res.path) == [r.replace("chr1\t", "1\t", 1) for r in records]
    assert (res.n_records_in, res.n_blocks_in, res.n_blocks_out, res.n_copied) == (3, 0, 0, 3)
