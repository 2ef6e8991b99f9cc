"""The release writes every shard at once and cuts the result into shards (callset.release.cut): each shard must be
exactly what writing that shard on its own gives — the dense MatrixTable (Hail's per-shard interval filter and
densify), each smaller callset, and each export byte for byte (VCF text, PLINK .bed/.bim/.fam, BGEN).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import TESTDATA

from callset.core.reference import load_reference
from callset.release.callsets import ensure_frequencies, filter_acaf, filter_exome, read_exon_intervals
from callset.release.cut import (
    CutError,
    Region,
    cut_matrix_table,
    cut_matrix_table_with_hail,
    native_format_supported,
)
from callset.release.exports import export_shard
from callset.release.shards import Shard, dense_shard_mt, plan_shards
from callset.release.write import ReleaseInputs, ReleaseSettings, write_release

GRCH38 = load_reference("GRCh38")
VDS = TESTDATA / "vds" / "1kg_chr22_5_samples.vds"
SAMPLES = ["HG00187", "HG00190", "HG00308", "HG00313", "HG00320"]
RIDS = {s: f"CS{i:09d}" for i, s in enumerate(SAMPLES, 1)}
EXONS = [(10_560_000, 10_600_000), (10_690_000, 10_700_000)]  # most shards hold no exon: empty exome shards


@pytest.fixture(scope="module")
def release(hail_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("cut")
    gff = root / "genes.gff3"
    gff.write_text("##gff-version 3\n" + "".join(f"chr22\tt\texon\t{s}\t{e}\t.\t+\t.\tParent=transcript:T1\n"
                                                  for s, e in EXONS))
    settings = ReleaseSettings.from_config({
        "target_variants_per_shard": 15, "smaller_callsets": ["acaf", "exome"], "acaf": {"min_ac": 2, "min_af": None},
        "exome_gene_model": str(gff), "exome_padding": 0, "exports": ["vcf", "plink", "bgen"],
        "public_summary": True,
    })
    out = root / "releases" / "v1"
    manifest = write_release(ReleaseInputs(cohort_vds=str(VDS), research_ids=RIDS, input_batches=("b1",)),
                             release_dir=out, release="v1", reference=GRCH38, settings=settings)
    return out, manifest, settings


def test_plan_partitions_lie_inside_shards_and_tile_the_contig(hail_session, release):
    out, manifest, _ = release
    vds = hail_session.vds.read_vds(str(out / "vds"))
    plan = plan_shards(vds, target_variants=15, reference=GRCH38, n_partitions=40)
    assert [s.interval for s in plan.shards] == [s["interval"] for s in manifest["shards"]]
    assert len(plan.partitions) > len(plan.shards) > 3
    for tiles in (plan.shards, plan.partitions):
        assert tiles[0].start == 1 and tiles[-1].end == GRCH38.lengths["chr22"]
        assert all(a.end + 1 == b.start for a, b in zip(tiles, tiles[1:], strict=False))
    for p in plan.partitions:
        assert sum(s.start <= p.start and p.end <= s.end for s in plan.shards) == 1, p


def test_every_dense_shard_equals_its_own_write(hail_session, release):
    hl = hail_session
    out, manifest, _ = release
    rvds = hl.vds.read_vds(str(out / "vds"))
    assert len(manifest["shards"]) > 3
    for s in manifest["shards"]:
        shard = Shard(s["contig"], s["start"], s["end"])
        want = ensure_frequencies(dense_shard_mt(rvds, shard, reference_genome="GRCh38"), None)
        got = hl.read_matrix_table(str(out / s["path"]))
        assert got.count_rows() == s["n_variants"] == want.count_rows()
        assert got._same(want), s["interval"]


def _text(path: Path) -> str:
    with gzip.open(path, "rt") as f:
        return f.read()


def test_every_callset_shard_and_export_equals_its_own_write(hail_session, release, tmp_path):
    hl = hail_session
    out, manifest, settings = release
    exons = read_exon_intervals(settings.exome_gene_model, padding=0, contig_lengths=GRCH38.lengths)
    filters = {"acaf": lambda mt: filter_acaf(mt, min_ac=2, min_af=None),
               "exome": lambda mt: filter_exome(mt, exons)}
    seen = {"acaf": 0, "exome": 0}
    for name, filt in filters.items():
        listed = {s["interval"]: s for s in manifest["callsets"][name]["shards"]}
        for s in manifest["shards"]:
            want = filt(hl.read_matrix_table(str(out / s["path"])))
            n = want.count_rows()
            if n == 0:  # no variant of this callset in the shard: no files at all
                assert s["interval"] not in listed
                continue
            seen[name] += 1
            c = listed[s["interval"]]
            got = hl.read_matrix_table(str(out / c["path"]))
            assert c["n_variants"] == n and got._same(want), (name, s["interval"])
            stem = Path(c["path"]).name.removesuffix(".mt")
            ref = export_shard(want, tmp_path, f"{name}/{{fmt}}/{stem}", reference_genome="GRCh38", release="v1")
            assert ref == c["exports"]
            for files in ref.values():
                for f in files:
                    if f.endswith(".vcf.bgz"):
                        assert _text(out / f) == _text(tmp_path / f), f
                    elif not f.endswith((".tbi", ".idx2")):
                        assert (out / f).read_bytes() == (tmp_path / f).read_bytes(), f
            bgen = [f for f in c["exports"]["bgen"] if f.endswith(".bgen")][0]
            assert hl.import_bgen(str(out / bgen), entry_fields=["GT"]).count_rows() == n  # its index works
    assert seen["acaf"] > 3 and 0 < seen["exome"] < len(manifest["shards"])


def test_no_scratch_left_and_manifest_lists_every_file(release):
    out, manifest, _ = release
    assert not (out / ".work").exists()
    listed = {f["path"] for f in manifest["files"]}
    actual = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert listed == actual
    assert not [p for p in listed if p.endswith(".crc") and "/mt/" not in p and not p.startswith(("vds/", "mt/"))
                and ".idx2/" not in p]


def _range_mt(hl, path: Path, n_partitions: int) -> list[Region]:
    """60 rows at chr22:1000, 1010, ..., 1590 in ``n_partitions`` equal partitions; three regions."""
    mt = hl.utils.range_matrix_table(n_rows=60, n_cols=3)
    mt = mt.key_rows_by(locus=hl.locus("chr22", 1000 + hl.int32(mt.row_idx) * 10, reference_genome="GRCh38"))
    mt = mt.annotate_entries(x=mt.row_idx * mt.col_idx)
    mt.write(str(path.with_suffix(".tmp.mt")))
    step = 600 // n_partitions
    ivs = [hl.Interval(hl.Locus("chr22", 1000 + i * step, "GRCh38"), hl.Locus("chr22", 1000 + (i + 1) * step, "GRCh38"))
           for i in range(n_partitions)]
    hl.read_matrix_table(str(path.with_suffix(".tmp.mt")), _intervals=ivs).write(str(path))
    return [Region("chr22", 1, 1299), Region("chr22", 1300, 1499), Region("chr22", 1500, GRCH38.lengths["chr22"])]


def test_cut_matrix_table_matches_hail_and_refuses_a_crossing_partition(hail_session, tmp_path):
    hl = hail_session
    src = tmp_path / "src.mt"
    regions = _range_mt(hl, src, 6)  # partitions of 10 rows: boundaries at 1100, 1200, ... (one region each)
    assert native_format_supported(src)
    by_hail = cut_matrix_table_with_hail(src, regions, [tmp_path / f"h{k}.mt" for k in range(3)],
                                         reference_genome="GRCh38")
    by_files = cut_matrix_table(src, regions, [tmp_path / f"f{k}.mt" for k in range(3)])
    assert by_files == by_hail == [30, 20, 10]
    for k in range(3):
        a, b = hl.read_matrix_table(str(tmp_path / f"f{k}.mt")), hl.read_matrix_table(str(tmp_path / f"h{k}.mt"))
        assert a._same(b) and a.count_rows() == by_files[k]
    meta = json.loads(gzip.decompress((tmp_path / "f1.mt" / "metadata.json.gz").read_bytes()))
    assert meta["components"]["partition_counts"]["counts"] == [10, 10]
    crossing = tmp_path / "crossing.mt"
    _range_mt(hl, crossing, 4)  # 15 rows per partition: the second one holds 1150-1290
    with pytest.raises(CutError, match="not inside one region"):
        cut_matrix_table(crossing, [Region("chr22", 1, 1200), Region("chr22", 1201, 10**8)],
                         [tmp_path / "x0.mt", tmp_path / "x1.mt"])


def _bgzf_blocks(path: Path) -> list[tuple[int, int]]:
    """(compressed size, uncompressed size) of every BGZF block of ``path``, walking the BSIZE chain (SAM spec
    4.1); raises AssertionError where a block is not a BGZF block."""
    import struct
    import zlib

    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        assert data[pos : pos + 4] == b"\x1f\x8b\x08\x04", (path, pos)
        xlen = struct.unpack_from("<H", data, pos + 10)[0]
        extra = data[pos + 12 : pos + 12 + xlen]
        assert extra[:4] == b"BC\x02\x00", (path, pos)
        bsize = struct.unpack_from("<H", extra, 4)[0] + 1
        block = data[pos : pos + bsize]
        isize = struct.unpack_from("<I", block, bsize - 4)[0]
        text = zlib.decompress(block[12 + xlen : bsize - 8], -15)
        assert len(text) == isize and zlib.crc32(text) == struct.unpack_from("<I", block, bsize - 8)[0], (path, pos)
        out.append((bsize, isize))
        pos += bsize
    return out


def test_cut_vcfs_are_bgzf_with_one_header_a_rebuilt_index_and_no_htslib_warning(release, capfd):
    """Each cut VCF is one BGZF stream (every block valid, empty blocks only as the final end-of-file marker), has
    one header, its .tbi (rebuilt by tabix, not Hail's) finds every record of the shard and of a sub-region, and
    htslib reads it without a word on stderr."""
    import pysam

    from callset.release.cut import BGZF_EOF

    out, manifest, _ = release
    capfd.readouterr()
    checked = 0
    for cs in manifest["callsets"].values():
        for s in cs["shards"]:
            vcf = out / s["exports"]["vcf"][0]
            blocks = _bgzf_blocks(vcf)
            assert vcf.read_bytes().endswith(BGZF_EOF) and blocks[-1][1] == 0
            assert all(isize > 0 for _, isize in blocks[:-1]), vcf
            text = _text(vcf).splitlines()
            assert text[0].startswith("##fileformat=VCF")
            assert sum(line.startswith("#CHROM") for line in text) == 1
            assert sum(line.startswith("##fileformat") for line in text) == 1
            assert not any(line.startswith("#") for line in text[sum(line.startswith("#") for line in text):])
            with pysam.VariantFile(str(vcf)) as vf:
                every = [(r.contig, r.pos) for r in vf]
                assert len(every) == s["n_variants"]
                assert [(r.contig, r.pos) for r in vf.fetch(s["contig"], s["start"] - 1, s["end"])] == every
                lo, hi = every[len(every) // 3][1], every[2 * len(every) // 3][1]
                assert [(r.contig, r.pos) for r in vf.fetch(s["contig"], lo - 1, hi)] == \
                    [(c, p) for c, p in every if lo <= p <= hi]
            checked += 1
    assert checked > 3
    err = capfd.readouterr().err
    assert err == "", err


def test_cut_matrix_tables_have_their_shard_bounds_and_a_working_index(hail_session, release):
    """Hail reads each cut shard's partition bounds (all inside the shard) and seeks with its moved row index:
    reading a sub-interval by index gives the same rows as filtering the whole shard."""
    hl = hail_session
    out, manifest, _ = release
    for s in [*manifest["shards"], *manifest["callsets"]["acaf"]["shards"]]:
        path = out / s["path"]
        spec = json.loads(gzip.decompress((path / "rows" / "rows" / "metadata.json.gz").read_bytes()))
        for b in spec["_jRangeBounds"]:
            for end in ("start", "end"):
                locus = b[end]["locus"]
                assert locus["contig"] == s["contig"] and s["start"] <= locus["position"] <= s["end"] + 1, (s, b)
        rows = hl.read_matrix_table(str(path)).rows()
        loci = [r.position for r in rows.locus.collect()]
        assert len(loci) == s["n_variants"]
        lo, hi = loci[len(loci) // 3], loci[2 * len(loci) // 3]
        iv = hl.Interval(hl.Locus(s["contig"], lo, "GRCh38"), hl.Locus(s["contig"], hi, "GRCh38"),
                         includes_end=True)
        got = hl.read_matrix_table(str(path), _intervals=[iv]).rows().locus.position.collect()
        assert got == [p for p in loci if lo <= p <= hi], s["path"]
