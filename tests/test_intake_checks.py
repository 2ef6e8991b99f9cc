"""Per-file checks (callset.intake.checks), each on a real file damaged in a tmp dir. No Spark."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import pysam
import pytest
from conftest import CHR22, TESTDATA
from intake_fixtures import BAD_GVCF, BAD_HTS

from callset.core.reference import load_reference
from callset.intake import checks

REF = load_reference("GRCh38")
SRC = CHR22 / "HG00187.hg38.g.vcf.gz"
BIG = TESTDATA / "gvcf" / "HG00268.g.vcf.gz"


def scan(path: Path, sid: str = "HG00187", **kw) -> checks.GvcfScan:
    return checks.scan_gvcf(path, sample_id=sid, reference=REF, **kw)


def text_of(path: Path = SRC) -> list[str]:
    return gzip.open(path, "rt").read().splitlines(keepends=True)


def write_bgzip(lines: list[str], dest: Path, *, index: bool = False) -> Path:
    plain = dest.with_suffix("")  # foo.g.vcf
    plain.write_text("".join(lines))
    pysam.tabix_compress(str(plain), str(dest), force=True)
    plain.unlink()
    if index:
        pysam.tabix_index(str(dest), preset="vcf", force=True)
    return dest


def edit_record(lines: list[str], k: int, col: int, value: str) -> list[str]:
    """Set column ``col`` of the ``k``-th record (0-based, after the header)."""
    n_head = sum(1 for x in lines if x.startswith("#"))
    f = lines[n_head + k].rstrip("\n").split("\t")
    f[col] = value
    out = list(lines)
    out[n_head + k] = "\t".join(f) + "\n"
    return out


def joined(s: checks.GvcfScan) -> str:
    return "\n".join(s.problems)


# -- good files: no false positives, same numbers as htslib ---------------------------------------


def test_real_gvcfs_pass_and_extents_match_htslib() -> None:
    from cyvcf2 import VCF

    for p in [SRC, CHR22 / "NA21123.hg38.g.vcf.gz", BIG]:
        sid = p.name.split(".")[0]
        s = scan(p, sid)
        assert s.problems == [], s.problems
        assert s.complete and s.compression == "bgzf"
        assert s.md5 == checks.md5sum(p)
        ext: dict[str, tuple[int, int]] = {}
        n = 0
        for r in VCF(str(p)):
            n += 1
            end = r.INFO.get("END") or r.POS + len(r.REF) - 1
            f, last = ext.get(r.CHROM, (r.POS, end))
            ext[r.CHROM] = (min(f, r.POS), max(last, end))
        assert s.n_records == n
        assert s.extents == ext
        assert checks.check_gvcf_index(p, s) == ([], [], False)


def test_chunk_boundaries_do_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text is checked in chunks: tiny chunks (lines and records split everywhere) give the same answer."""
    ref = scan(BIG, "HG00268")
    from callset.intake.checks import files  # where the streaming decoder keeps its chunk sizes

    monkeypatch.setattr(files, "_TEXT_CHUNK", 300_001)
    monkeypatch.setattr(files, "_RAW_CHUNK", 40_001)
    small = scan(BIG, "HG00268")
    assert small.problems == [] and small.extents == ref.extents
    assert (small.n_records, small.n_variant_records, small.md5) == (
        ref.n_records,
        ref.n_variant_records,
        ref.md5,
    )


def test_edge_gvcfs_from_hail() -> None:
    for name in ["has_filter", "non_ref_call"]:
        s = scan(TESTDATA / "gvcf" / "edge" / f"{name}.g.vcf.gz", "HG00096")
        assert s.problems == [], s.problems


# -- integrity ------------------------------------------------------------------------------------


def test_truncated_bgzip(tmp_path: Path) -> None:
    p = tmp_path / "t.g.vcf.gz"
    data = SRC.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    s = scan(p)
    assert "truncated" in joined(s) and not s.complete


def test_missing_eof_block(tmp_path: Path) -> None:
    p = tmp_path / "t.g.vcf.gz"
    p.write_bytes(SRC.read_bytes()[: -len(checks.BGZF_EOF)])
    s = scan(p)
    assert "EOF block missing" in joined(s)


def test_changed_byte_fails_crc(tmp_path: Path) -> None:
    p = tmp_path / "t.g.vcf.gz"
    data = bytearray(SRC.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    s = scan(p)
    assert "does not decode" in joined(s) and not s.complete


def test_plain_gzip_and_plain_text(tmp_path: Path) -> None:
    gz = tmp_path / "t.g.vcf.gz"
    gz.write_bytes(gzip.compress(gzip.decompress(SRC.read_bytes())))
    s = scan(gz)
    assert "not BGZF" in joined(s) and s.extents  # content still checked
    assert len(s.problems) == 1
    txt = tmp_path / "t.g.vcf"
    txt.write_bytes(gzip.decompress(SRC.read_bytes()))
    s = scan(txt)
    assert "not bgzip-compressed" in joined(s) and len(s.problems) == 1


def test_present_checks(tmp_path: Path) -> None:
    assert "does not exist" in checks.check_present(tmp_path / "nope.g.vcf.gz", "gVCF")[0]
    (tmp_path / "empty.g.vcf.gz").touch()
    assert "empty" in checks.check_present(tmp_path / "empty.g.vcf.gz", "gVCF")[0]


def test_index_missing_older_stale(tmp_path: Path) -> None:
    p = tmp_path / "HG00187.g.vcf.gz"
    shutil.copyfile(SRC, p)
    s = scan(p)
    problems, notes, rebuild = checks.check_gvcf_index(p, s)
    assert problems == [] and rebuild and "built one" in notes[0]
    # older but consistent: rebuilt, noted
    shutil.copyfile(f"{SRC}.tbi", f"{p}.tbi")
    old = time.time() - 3600
    os.utime(f"{p}.tbi", (old, old))
    problems, notes, rebuild = checks.check_gvcf_index(p, s)
    assert problems == [] and rebuild and "older" in notes[0]
    # an index of another file, or of an earlier version of this one (half the records): rejected
    half = text_of()
    half = half[: len(half) - 500]
    write_bgzip(half, tmp_path / "half.g.vcf.gz", index=True)
    for other in [Path(f"{BIG}.tbi"), tmp_path / "half.g.vcf.gz.tbi"]:
        shutil.copyfile(other, f"{p}.tbi")
        problems, _notes, _ = checks.check_gvcf_index(p, s)
        assert problems and "does not match the data" in problems[0], other


def test_index_counts_tbi_and_csi(tmp_path: Path) -> None:
    assert checks.read_index_counts(Path(f"{BIG}.tbi")) == {"chr20": 153637, "chr21": 81050}
    p = tmp_path / "x.g.vcf.gz"
    shutil.copyfile(BIG, p)
    pysam.tabix_index(str(p), preset="vcf", csi=True, force=True)
    assert checks.read_index_counts(Path(f"{p}.csi")) == {"chr20": 153637, "chr21": 81050}


# -- gVCF content -----------------------------------------------------------------------------------


def test_sample_name_must_match(tmp_path: Path) -> None:
    lines = [x.replace("\tHG00187\n", "\tRENAMED\n") if x.startswith("#CHROM") else x for x in text_of()]
    s = scan(write_bgzip(lines, tmp_path / "t.g.vcf.gz"))
    assert "header sample name 'RENAMED' does not match manifest sample_id 'HG00187'" in joined(s)


def test_two_sample_columns(tmp_path: Path) -> None:
    lines = [x.rstrip("\n") + "\tOTHER\n" if x.startswith("#CHROM") else x for x in text_of()]
    lines = [x if x.startswith("#") else x.rstrip("\n") + "\t0/0\n" for x in lines]
    s = scan(write_bgzip(lines, tmp_path / "t.g.vcf.gz"))
    assert "2 sample columns" in joined(s)


def test_not_a_gvcf(tmp_path: Path) -> None:
    lines = [x for x in text_of() if x.startswith("#") or "END=" not in x]
    s = scan(write_bgzip(lines, tmp_path / "t.g.vcf.gz"))
    assert "not a gVCF" in joined(s)


def test_unsorted(tmp_path: Path) -> None:
    lines = text_of()
    n = sum(1 for x in lines if x.startswith("#"))
    lines[n + 10], lines[n + 11] = lines[n + 11], lines[n + 10]
    s = scan(write_bgzip(lines, tmp_path / "t.g.vcf.gz"))
    assert "not sorted" in joined(s) and f"line {n + 12}" in joined(s)


def test_end_before_pos(tmp_path: Path) -> None:
    lines = edit_record(text_of(), 5, 7, "END=10")
    s = scan(write_bgzip(lines, tmp_path / "t.g.vcf.gz"))
    assert "END 10 is before POS" in joined(s)


def test_bad_ref_and_alt_bases(tmp_path: Path) -> None:
    lines = edit_record(text_of(), 3, 3, "X")
    lines = edit_record(lines, 4, 4, "Q,<NON_REF>")
    s = scan(write_bgzip(lines, tmp_path / "t.g.vcf.gz"))
    assert "invalid REF 'X'" in joined(s) and "invalid ALT allele 'Q'" in joined(s)
    assert "(record 4)" in joined(s) and "(record 5)" in joined(s)


def test_bad_genotypes(tmp_path: Path) -> None:
    lines = text_of()
    n = sum(1 for x in lines if x.startswith("#"))
    f = lines[n + 2].split("\t")
    f[9] = "0/5" + f[9][3:]
    lines[n + 2] = "\t".join(f)
    f = lines[n + 3].split("\t")
    f[9] = "0/0/0" + f[9][3:]
    lines[n + 3] = "\t".join(f)
    s = scan(write_bgzip(lines, tmp_path / "t.g.vcf.gz"))
    assert "allele index 5 out of range" in joined(s) and "ploidy 3" in joined(s)


def test_wrong_build_grch37_lengths(tmp_path: Path) -> None:
    """An hg19 header (chr22 length 51304566) submitted as GRCh38 is caught."""
    lines = [
        x.replace("##contig=<ID=chr22,length=50818468,", "##contig=<ID=chr22,length=51304566,")
        for x in text_of()
    ]
    s = scan(write_bgzip(lines, tmp_path / "t.g.vcf.gz"))
    assert "chr22 (51304566 vs GRCh38 50818468)" in joined(s) and "wrong reference build" in joined(s)


def test_swapped_contig_names_and_recoding(tmp_path: Path) -> None:
    """'22' instead of 'chr22' (GRCh37 naming): unknown contig, unless contig_recoding maps it."""
    p = TESTDATA / "gvcf" / "edge" / "recoding" / "HG00187.hg38.recoded.g.vcf.gz"
    s = scan(p)
    assert "contig '22' is not in GRCh38" in joined(s)
    s = scan(p, contig_recoding={str(i): f"chr{i}" for i in [*range(1, 23), "X", "Y"]} | {"MT": "chrM"})
    assert s.problems == [] and s.needs_recoding and "chr22" in s.extents


def test_end_beyond_contig(tmp_path: Path) -> None:
    lines = edit_record(text_of(), 999, 7, "END=60000000")
    s = scan(write_bgzip(lines, tmp_path / "t.g.vcf.gz"))
    assert "beyond chr22 length" in joined(s)


def test_shared_bad_gvcfs_each_name_their_problem() -> None:
    want = {
        "bad_dna.gvcf": "invalid REF 'KTG'",
        "bad_dna2.gvcf": "invalid REF 'ZCCAT'",
        "bad_nsample.gvcf": "no value for the sample column",
        "bad_sample.gvcf": "'bogus%' is not a valid sample ID",
        "bogus_END.gvcf": "END 10009462 is before POS 10009466",
    }
    assert sorted(p.name for p in BAD_GVCF.iterdir()) == sorted(want)
    for name, msg in want.items():
        s = scan(BAD_GVCF / name, "S1")
        assert msg in joined(s), (name, s.problems)
        assert "not bgzip-compressed" in joined(s)


# -- CRAM -----------------------------------------------------------------------------------------


def make_cram(path: Path, *, sm: str = "HG00187", ln: int = 50818468, m5: str | None = None) -> Path:
    sq = {"SN": "chr22", "LN": ln}
    if m5:
        sq["M5"] = m5
    hdr = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [sq], "RG": [{"ID": "rg1", "SM": sm}]}
    verbosity = pysam.set_verbosity(0)
    with pysam.AlignmentFile(str(path), "wc", header=hdr):
        pass
    pysam.set_verbosity(verbosity)
    return path


def cram_check(p: Path, sid: str = "HG00187", **kw) -> tuple[list[str], list[str]]:
    return checks.check_cram(p, sample_id=sid, reference=REF, **kw)


def test_good_cram_index_built_outside_inbox(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    p = make_cram(tmp_path / "in" / "x.cram")
    problems, notes = cram_check(p, index_dir=tmp_path / "out")
    assert problems == []
    assert (tmp_path / "out" / "x.cram.crai").exists() and not Path(f"{p}.crai").exists()
    assert "built one" in notes[0]


def test_cram_sm_and_sq_mismatch(tmp_path: Path) -> None:
    p = make_cram(tmp_path / "x.cram", sm="SOMEONE", ln=51304566)
    problems, _ = cram_check(p)
    text = "\n".join(problems)
    assert "SM ['SOMEONE']" in text and "@SQ lengths differ" in text


def test_cram_m5(tmp_path: Path) -> None:
    p = make_cram(tmp_path / "x.cram", m5="0" * 32)
    _problems, notes = cram_check(p)
    assert any("M5 not checked" in n for n in notes)
    fa = tmp_path / "ref.fa"
    fa.write_text(">chr22\nACGT\n")
    (tmp_path / "ref.dict").write_text(f"@SQ\tSN:chr22\tLN:50818468\tM5:{'1' * 32}\n")
    problems, _ = cram_check(p, reference_fasta=str(fa))
    assert any("M5 differs" in x for x in problems)


def test_truncated_cram(tmp_path: Path) -> None:
    p = tmp_path / "x.cram"
    data = (BAD_HTS / "7.quickcheck.cram30.ok.cram").read_bytes()
    p.write_bytes(data[: len(data) - 100])
    problems, _ = cram_check(p)
    assert any("truncated" in x for x in problems)


def test_shared_bad_hts_files() -> None:
    want = {
        "1.quickcheck.badeof.bam": "EOF block missing",
        "2.quickcheck.badheader.bam": "header unreadable",
        "3.quickcheck.ok.bam": "not a CRAM",
        "5.quickcheck.scramble30.truncated.cram": "CRAM EOF container missing (file truncated?)",
        "6.quickcheck.cram21.ok.cram": "@SQ names are not in GRCh38",
        "7.quickcheck.cram30.ok.cram": "@SQ names are not in GRCh38",
        "8.quickcheck.cram21.truncated.cram": "CRAM EOF container missing (file truncated?)",
    }
    assert sorted(p.name for p in BAD_HTS.iterdir()) == sorted(want)
    for name, msg in want.items():
        problems, _ = cram_check(BAD_HTS / name, "HG00100")
        assert any(msg in x for x in problems), (name, problems)
        if "ok" in name:
            assert not any("truncated" in x or "EOF" in x for x in problems), (name, problems)
