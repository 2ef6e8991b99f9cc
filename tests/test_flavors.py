"""gVCF flavors: hand-made DRAGEN, DeepVariant and GATK gVCFs in each caller's real layout (tests/data/flavors),
detected, checked and normalised at intake; joint-called through Snakemake with every call surviving; and a
simulated cohort whose batches come from the three callers, run end to end."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pysam
import pytest
from conftest import run_snakemake, write_config

from callset.core.reference import load_reference
from callset.intake.checks import md5sum, scan_gvcf
from callset.intake.flavors import (
    CANONICAL_FORMAT,
    CANONICAL_INFO,
    check_flavor,
    detect_flavor,
    dragen_version_problems,
    normalise_gvcf,
)
from callset.variant_qc.filters import fs_expr, sor_expr

DATA = Path(__file__).parent / "data" / "flavors"
SAMPLES = {"GATK1": "gatk_hc", "DRAGEN1": "dragen", "DV1": "deepvariant", "GATK2": "gatk_overlap_bad",
           "DV2": "deepvariant_no_gq"}


def bgzip(name: str, dest: Path) -> Path:
    """A hand-made file bgzipped and indexed under ``dest`` (as a center delivers it)."""
    dest.mkdir(parents=True, exist_ok=True)
    plain = dest / f"{name}.g.vcf"
    shutil.copyfile(DATA / f"{name}.g.vcf", plain)
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True))


def records(path: Path) -> list[list[str]]:
    with pysam.BGZFile(str(path), "rb") as f:
        return [ln.split("\t") for ln in f.read().decode().splitlines() if not ln.startswith("#")]


def header(path: Path) -> list[str]:
    with pysam.BGZFile(str(path), "rb") as f:
        return [ln for ln in f.read().decode().splitlines() if ln.startswith("##")]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("flavors")
    return {sid: bgzip(name, d) for sid, name in SAMPLES.items()}


# ------------------------------------------------------------------------------------------ detection and checks


def test_every_hand_made_file_passes_the_scan(files: dict[str, Path]) -> None:
    ref = load_reference("GRCh38")
    for sid, path in files.items():
        scan = scan_gvcf(path, sample_id=sid, reference=ref)
        assert not scan.problems, (sid, scan.problems)
        assert scan.n_same_pos_variants == (1 if sid.startswith("GATK") else 0), sid
    gatk = scan_gvcf(files["GATK1"], sample_id="GATK1", reference=ref)
    assert gatk.same_pos_variants == [(35, "chr20", 10000500)]


def test_flavor_detection(files: dict[str, Path]) -> None:
    got = {sid: detect_flavor(header(p)) for sid, p in files.items()}
    assert (got["DRAGEN1"].flavor, got["DRAGEN1"].version, got["DRAGEN1"].raw_version) == ("dragen", "3.7.8",
                                                                                            "07.021.604.3.7.8")
    assert (got["DV1"].flavor, got["DV1"].version) == ("deepvariant", "1.6.1")
    assert got["GATK1"].flavor == "gatk" and "HaplotypeCaller" in got["GATK1"].identified_by
    assert got["GATK1"].label == "GATK HaplotypeCaller 4.2.6.1"
    # without the caller's header lines, its fields still tell
    bare = [ln for ln in header(files["DRAGEN1"]) if not ln.startswith(("##DRAGEN", "##source"))]
    assert detect_flavor(bare).flavor == "dragen" and detect_flavor(bare).version is None
    bare_dv = [ln for ln in header(files["DV1"]) if not ln.startswith("##DeepVariant")]
    assert detect_flavor(bare_dv).flavor == "deepvariant"


def test_checks_name_the_flavor_and_what_is_missing(files: dict[str, Path]) -> None:
    dv2 = detect_flavor(header(files["DV2"]))
    problems, _ = check_flavor(dv2, files["DV2"])
    assert problems == [f"{files['DV2']}: DeepVariant 1.6.1 gVCF cannot be joint-called: the header declares no "
                        "FORMAT/GQ (reference blocks give no reference confidence without GQ)"]
    dragen = detect_flavor(header(files["DRAGEN1"]))
    problems, notes = check_flavor(dragen, files["DRAGEN1"], accepted=["gatk"])
    assert problems and "DRAGEN 3.7.8 gVCF" in problems[0] and "accepts only GATK HaplotypeCaller" in problems[0]
    problems, notes = check_flavor(dragen, files["DRAGEN1"])
    assert not problems and "normalised to the GATK layout" in notes[0]


def test_dragen_versions_of_a_batch() -> None:
    assert dragen_version_problems({"a": "3.7.8", "b": "3.7.8", "c": "3.4.12"}) == {
        "c": "DRAGEN version 3.4.12 differs from 3.7.8 (the batch's other DRAGEN gVCFs): a batch must be called "
             "with one DRAGEN version"}
    assert set(dragen_version_problems({"a": "3.7.8", "b": "3.7.8"}, expected="3.4.12")) == {"a", "b"}
    tie = dragen_version_problems({"a": "3.7.8", "b": "3.4.12"})
    assert set(tie) == {"a", "b"} and "no majority" in tie["a"]
    assert "without a DRAGEN version" in dragen_version_problems({"a": None, "b": "3.7.8"})["a"]
    assert dragen_version_problems({}) == {}


# ------------------------------------------------------------------------------------------ normalising


def _by_pos(path: Path) -> dict[tuple[str, int], list[str]]:
    return {(r[0], int(r[1])): r for r in records(path)}


def _fmt(r: list[str]) -> dict[str, str]:
    return dict(zip(r[8].split(":"), r[9].split(":"), strict=True))


def test_deepvariant_normalised(files: dict[str, Path], tmp_path: Path) -> None:
    info = detect_flavor(header(files["DV1"]))
    res = normalise_gvcf(files["DV1"], tmp_path / "dv.g.vcf.gz", info)
    assert not res.problems and res.n_records == 10 and res.n_blocks_no_confidence == 0
    recs = _by_pos(res.path)
    assert all("<*>" not in r[4] for r in recs.values())
    block = recs[("chr20", 10000117)]
    assert block[4] == "<NON_REF>" and block[8] == "GT:DP:GQ:MIN_DP:PL" and _fmt(block) == {
        "GT": "0/0", "DP": "34", "GQ": "50", "MIN_DP": "30", "PL": "0,138,1379"}  # MED_DP as DP
    assert _fmt(recs[("chr20", 10000300)])["GQ"] == "0"  # a ./. block: no reference confidence
    multi = recs[("chr20", 10000400)]
    assert multi[4] == "C,G,<NON_REF>" and multi[6] == "."
    info_f = dict(kv.split("=") for kv in multi[7].split(";"))
    # ReblockGVCF's definitions: QUALapprox = PL[0]; AS_QUALapprox per ALT = PL[0] - min PL of genotypes with it
    assert info_f["QUALapprox"] == "24" and info_f["AS_QUALapprox"] == "|24|24|0"
    assert info_f["AS_VarDP"] == "2|18|17|0" and info_f["VarDP"] == "37" and "RAW_MQandDP" not in info_f
    refcall = recs[("chr20", 10000350)]
    assert _fmt(refcall)["GT"] == "./." and refcall[6] == "."
    # the canonical header: every FORMAT/INFO a record uses is declared, and nothing else of the caller's
    h = header(res.path)
    fmt_ids = {ln.split("ID=")[1].split(",")[0] for ln in h if ln.startswith("##FORMAT")}
    info_ids = {ln.split("ID=")[1].split(",")[0] for ln in h if ln.startswith("##INFO")}
    assert fmt_ids == CANONICAL_FORMAT and info_ids == CANONICAL_INFO
    assert any(ln.startswith("##DeepVariant_version") for ln in h) and any("callset_normalised" in ln for ln in h)
    assert detect_flavor(h).flavor == "deepvariant"  # the staged file still says what it came from
    for r in recs.values():
        assert set(r[8].split(":")) <= CANONICAL_FORMAT
        assert {kv.split("=")[0] for kv in r[7].split(";") if kv != "."} <= CANONICAL_INFO


def test_dragen_normalised(files: dict[str, Path], tmp_path: Path) -> None:
    info = detect_flavor(header(files["DRAGEN1"]))
    res = normalise_gvcf(files["DRAGEN1"], tmp_path / "dragen.g.vcf.gz", info)
    assert not res.problems
    assert res.n_blocks_no_confidence == 1  # the LowDepth block had GQ 3
    assert res.n_filtered_calls == 1  # DRAGENHardQUAL
    recs = _by_pos(res.path)
    assert _fmt(recs[("chr20", 10000401)])["GQ"] == "0" and _fmt(recs[("chr20", 10000118)])["GQ"] == "0"
    assert _fmt(recs[("chr20", 10000001)]) == {"GT": "0/0", "DP": "31", "GQ": "48", "MIN_DP": "27",
                                               "PL": "0,48,710"}
    het = recs[("chr20", 10000117)]
    f = _fmt(het)
    assert het[8] == "GT:AD:DP:GQ:PL:SB" and f["GT"] == "0/1" and f["AD"] == "18,19,0" and f["SB"] == "9,9,10,9"
    info_f = dict(kv.split("=") for kv in het[7].split(";"))
    assert info_f["RAW_MQandDP"] == f"{round(59.87 ** 2 * 38)},38" and info_f["QUALapprox"] == "48"
    assert info_f["AS_SB_TABLE"] == "9,9|10,9|0,0"
    hap = recs[("chrX", 5000101)]
    assert _fmt(hap)["GT"] == "1" and _fmt(hap)["PL"] == "231,0,240"  # haploid stays haploid
    assert _fmt(recs[("chrX", 5000001)])["GT"] == "0"
    assert _fmt(recs[("chr20", 10000211)])["GT"] == "0/0"  # a hard-filtered 0/0 record stays a 0/0 record


def test_same_position_records_merged_or_rejected(files: dict[str, Path], tmp_path: Path) -> None:
    info = detect_flavor(header(files["GATK1"]))
    res = normalise_gvcf(files["GATK1"], tmp_path / "g1.g.vcf.gz", info)
    assert not res.problems and res.merged == ["chr20:10000500"]
    original = records(files["GATK1"])
    out = records(res.path)
    assert len(out) == len(original) - 1
    # every other line exactly as submitted (a GATK gVCF keeps its own layout)
    assert [r for r in out if r[1] != "10000500"] == [r for r in original if r[1] != "10000500"]
    merged = next(r for r in out if r[1] == "10000500")
    assert merged[3:5] == ["AC", "GC,A,<NON_REF>"]
    f = _fmt(merged)
    assert f == {"GT": "1/2", "AD": "14,14,13,0", "DP": "34", "GQ": "97", "PL": "."}
    info_f = dict(kv.split("=") for kv in merged[7].split(";"))
    assert info_f["AS_QUALapprox"] == "|327|284|0" and info_f["QUALapprox"] == "327"
    # each ALT keeps its record's allele-specific MQ and strand counts (REF's from the record whose REF depth
    # AD keeps, 14 reads), and the site's MQ is kept: variant QC can compute AS_MQ/AS_FS/AS_SOR for both alleles
    assert info_f["AS_RAW_MQ"] == "50400.00|50400.00|46800.00|0.00"
    assert info_f["AS_SB_TABLE"] == "7,7|7,7|6,7|0,0"
    assert info_f["RAW_MQandDP"] == "122400,34"
    assert any("same-position variant records merged" in ln for ln in header(res.path))
    # 1/1 and 0/1 at one position: three ALT copies in a diploid sample -> rejected, naming the position
    bad = normalise_gvcf(files["GATK2"], tmp_path / "g2.g.vcf.gz", detect_flavor(header(files["GATK2"])),
                         label="g2")
    assert len(bad.problems) == 1 and bad.problems[0].startswith(
        "g2: line 35: 2 variant records at chr20:10000500 cannot be merged into one: their genotypes hold 3 ALT "
        "copies for ploidy 2")


# ------------------------------------------------------------------------------------------ through Snakemake


def _write_batch(batch: Path, sids: list[str], src: dict[str, Path]) -> None:
    batch.mkdir(parents=True, exist_ok=True)
    lines = ["sample_id\tgvcf\tgvcf_md5\treported_sex"]
    for sid in sids:
        dst = batch / f"{sid}.g.vcf.gz"
        shutil.copyfile(src[sid], dst)
        shutil.copyfile(f"{src[sid]}.tbi", f"{dst}.tbi")
        lines.append(f"{sid}\t{dst.name}\t{md5sum(dst)}\t{'male' if sid == 'DRAGEN1' else 'unknown'}")
    (batch / "manifest.tsv").write_text("\n".join(lines) + "\n")


def test_check_jobs_normalise_and_the_gather_checks_dragen_versions(files: dict[str, Path], tmp_path: Path) -> None:
    """Fanned-out intake: the check job normalises a DeepVariant gVCF and reblocks the GATK-layout copy; the batch's
    gather rejects a DRAGEN gVCF off intake.expected_dragen_version and removes its normalised, reblocked and
    staged copies, keeping the accepted sample's."""
    from callset.intake.reblock import ReblockSettings
    from callset.intake.run import IntakeSettings, check_rows, gather_batch, read_sample_results, write_sample_results

    batch = tmp_path / "inbox" / "b1"
    _write_batch(batch, ["DRAGEN1", "DV1"], files)
    out = tmp_path / "results" / "intake" / "b1"
    settings = IntakeSettings(reblock=ReblockSettings.from_config(None, max_block_length=1000))
    checked = check_rows(batch, settings, out_dir=out)
    assert [r.accepted for r in checked] == [True, True]
    assert sorted(p.name for p in (out / "normalised").iterdir()) == [
        "DRAGEN1.g.vcf.gz", "DRAGEN1.g.vcf.gz.tbi", "DV1.g.vcf.gz", "DV1.g.vcf.gz.tbi"]
    rb = records(out / "reblocked" / "DV1.rb.g.vcf.gz")
    assert rb and all("<*>" not in r[4] for r in rb) and any("<NON_REF>" in r[4] for r in rb)
    write_sample_results(tmp_path / "c.json", batch, checked)
    res = gather_batch(batch, read_sample_results([tmp_path / "c.json"], batch), out_dir=out,
                       registry_path=tmp_path / "results" / "registry.sqlite", expected_dragen_version="4.2.4")
    dragen, dv = res.samples
    assert not dragen.accepted and dv.accepted
    assert any("DRAGEN version 3.7.8" in r and "4.2.4" in r for r in dragen.reasons), dragen.reasons
    for sub, names in (("normalised", ["DV1.g.vcf.gz", "DV1.g.vcf.gz.tbi"]),
                       ("reblocked", ["DV1.rb.g.vcf.gz", "DV1.rb.g.vcf.gz.tbi"]),
                       ("gvcf", ["DV1.g.vcf.gz", "DV1.g.vcf.gz.tbi"])):
        assert sorted(p.name for p in (out / sub).iterdir()) == names, sub
    assert (out / "gvcf" / "DV1.g.vcf.gz").resolve() == (out / "normalised" / "DV1.g.vcf.gz").resolve()


def input_calls(path: Path, sid: str) -> set[tuple[str, int, str, str, int]]:
    """(contig, pos, ref, alt, ALT copies) of every non-reference call in a gVCF, alleles in minimal form."""
    out = set()
    for rec in pysam.VariantFile(str(path)):
        alts = rec.alts or ()
        gt = rec.samples[0]["GT"]
        if rec.stop > rec.pos and all(a in ("<NON_REF>", "<*>") for a in alts):
            continue
        for j, alt in enumerate(alts, start=1):
            n = sum(1 for a in gt if a == j)
            if n and alt not in ("<NON_REF>", "<*>", "*"):
                ref, a, pos = rec.ref, alt, rec.pos
                while len(ref) > 1 and len(a) > 1 and ref[-1] == a[-1]:  # hl.min_rep: shared suffix, then prefix
                    ref, a = ref[:-1], a[:-1]
                while len(ref) > 1 and len(a) > 1 and ref[0] == a[0]:
                    ref, a, pos = ref[1:], a[1:], pos + 1
                out.add((rec.chrom, pos, ref, a, n))
    return out


def released(hl, release: Path) -> dict[tuple[str, int, str, str, str], object]:  # noqa: ANN001
    """``(contig, pos, ref, alt, research_id) -> GT`` over every dense shard of a release."""
    m = json.loads((release / "manifest.json").read_text())
    mt = None
    for shard in m["shards"]:
        part = hl.read_matrix_table(str(release / shard["path"]))
        mt = part if mt is None else mt.union_rows(part)
    assert mt is not None
    ent = mt.entries()
    rows = ent.select(c=ent.locus.contig, p=ent.locus.position, r=ent.alleles[0], a=ent.alleles[1], GT=ent.GT)
    return {(x.c, x.p, x.r, x.a, x.s): x.GT for x in rows.collect()}


def test_variant_qc_of_a_mixed_cohort_uses_what_each_caller_wrote(files: dict[str, Path], tmp_path: Path,
                                                                  hail_session) -> None:  # noqa: ANN001
    """GATK1, DRAGEN1 and DV1 normalised as intake does and combined, plus GATK3: GATK1 with the 10000350 record's
    AS_RAW_MQ/AS_SB_TABLE removed (HaplotypeCaller run without AS annotations). AS_MQ sums each carrier's own MQ
    data (AS_RAW_MQ over its ALT reads, else RAW_MQandDP over DP, else nothing): hand-computed from the files.
    Before the per-entry fallbacks, a carrier without AS_RAW_MQ added its ALT reads but no MQ: C>T at 10000117
    had AS_MQ 48.99, alleles without an AS_RAW_MQ carrier 0. Strand counts: AS_SB_TABLE, else the per-sample SB;
    no carrier with any, no AS_FS/AS_SOR (was SOR of zero reads, log 2)."""
    import math

    from callset.joint_call.combine import combine
    from callset.variant_qc.pipeline import annotation_coverage_notes, compute_site_metrics, dense_split_mt

    hl = hail_session
    text = (DATA / "gatk_hc.g.vcf").read_text().replace("\tGATK1\n", "\tGATK3\n")
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("chr20\t10000350\t"))
    f = lines[i].split("\t")
    f[7] = ";".join(kv for kv in f[7].split(";") if not kv.startswith(("AS_RAW_MQ=", "AS_SB_TABLE=")))
    lines[i] = "\t".join(f)
    (tmp_path / "gatk3.g.vcf").write_text("\n".join(lines) + "\n")
    gatk3 = Path(pysam.tabix_index(str(tmp_path / "gatk3.g.vcf"), preset="vcf", force=True))
    paths = []
    for sid, src in (("GATK1", files["GATK1"]), ("GATK3", gatk3), ("DRAGEN1", files["DRAGEN1"]),
                     ("DV1", files["DV1"])):
        res = normalise_gvcf(src, tmp_path / "norm" / f"{sid}.g.vcf.gz", detect_flavor(header(src)))
        assert not res.problems, (sid, res.problems)
        paths.append(str(res.path))
    combine(gvcf_paths=paths, output_path=str(tmp_path / "cohort.vds"), work_dir=str(tmp_path / "work"),
            intervals=[hl.eval(hl.parse_locus_interval(i, "GRCh38")) for i in ("chr20:10000001-10000601",
                                                                      "chrX:5000001-5000201")],
            sample_names=["GATK1", "GATK3", "DRAGEN1", "DV1"])
    vds = hl.vds.read_vds(str(tmp_path / "cohort.vds"))
    ht = compute_site_metrics(dense_split_mt(vds))
    got = {(r.locus.contig, r.locus.position, r.alleles[0], r.alleles[1]): r.info for r in ht.collect()}

    def mq(*pairs: tuple[float, int]) -> float:  # (raw MQ sum, reads) of each carrier that has MQ data
        return math.sqrt(sum(p[0] for p in pairs) / sum(p[1] for p in pairs))

    dragen = {10000117: (59.87, 38), 10000300: (59.20, 33), 10000400: (60.0, 30), 5000101: (60.0, 15)}
    raw = {pos: (round(m * m * dp), dp) for pos, (m, dp) in dragen.items()}  # RAW_MQandDP as intake writes it
    want_mq = {
        ("chr20", 10000117, "C", "T"): mq((68400, 19), (68400, 19), raw[10000117]),  # 2 GATK + DRAGEN
        ("chr20", 10000300, "ACGT", "A"): mq(raw[10000300]),  # DRAGEN only
        ("chr20", 10000350, "G", "A"): mq((57600, 16), (111600, 31)),  # GATK1 AS_RAW_MQ, GATK3 RAW_MQandDP
        ("chr20", 10000400, "A", "C"): mq(raw[10000400]),  # DRAGEN; DV1 (1/2) adds nothing
        ("chrX", 5000101, "C", "A"): mq(raw[5000101]),  # DRAGEN, haploid
    }
    for key, want in want_mq.items():
        assert got[key].AS_MQ == pytest.approx(want, abs=1e-6), (key, got[key].AS_MQ, want)
    # (136800 + 136208) / (19 + 19 + 38); before: DRAGEN's 19 ALT reads without MQ, sqrt(136800 / 57) = 48.99
    assert got[("chr20", 10000117, "C", "T")].AS_MQ == pytest.approx(59.9350, abs=1e-4)
    # DV1 the only carrier: no MQ/strand data
    for key in (("chr20", 10000211, "T", "C"), ("chr20", 10000400, "A", "G")):
        assert got[key].AS_MQ is None and got[key].AS_FS is None and got[key].AS_SOR is None, (key, got[key])
        assert got[key].AS_QD is not None and got[key].AS_QD > 0  # QUALapprox/VarDP from intake: QD is known
    # GATK1/GATK3's two records at 10000500, merged at intake into AC>GC,A: each allele keeps its record's
    # AS_RAW_MQ and AS_SB_TABLE (REF's from the 0/1 record of 14 REF reads), both samples carry both
    # (until this session the merge dropped them, and these alleles had no AS_MQ/AS_FS/AS_SOR)
    for key, (raw_mq, alt_reads, alt_sb) in {("chr20", 10000500, "A", "G"): (50400, 14, (7, 7)),
                                             ("chr20", 10000500, "AC", "A"): (46800, 13, (6, 7))}.items():
        assert got[key].AS_MQ == pytest.approx(mq((raw_mq, alt_reads), (raw_mq, alt_reads))), (key, got[key])
        sb = hl.eval(hl.struct(fs=fs_expr(14, 14, 2 * alt_sb[0], 2 * alt_sb[1]),
                               sor=sor_expr(14, 14, 2 * alt_sb[0], 2 * alt_sb[1])))
        assert got[key].AS_FS == pytest.approx(sb.fs) and got[key].AS_SOR == pytest.approx(sb.sor), (key, got[key])
    # strand: GATK1's AS_SB_TABLE + GATK3's SB (no AS_SB_TABLE on that record) at 10000350
    fs = hl.eval(hl.struct(fs=fs_expr(16, 14, 16, 16), sor=sor_expr(16, 14, 16, 16)))
    assert got[("chr20", 10000350, "G", "A")].AS_FS == pytest.approx(fs.fs)
    assert got[("chr20", 10000350, "G", "A")].AS_SOR == pytest.approx(fs.sor)
    # 10000117: two GATK AS_SB_TABLEs 9,8|10,9 + DRAGEN's SB 9,9,10,9 (AS_SB_TABLE written at intake)
    one = hl.eval(sor_expr(27, 25, 30, 27))
    assert got[("chr20", 10000117, "C", "T")].AS_SOR == pytest.approx(one)

    notes = annotation_coverage_notes(vds)
    assert notes[0].startswith("2 of 4 samples have GATK allele-specific mapping quality"), notes
    assert any(n.startswith("1 sample has only the site's mapping quality (RAW_MQandDP") for n in notes), notes
    assert any(n.startswith("1 sample has no mapping-quality annotation (DeepVariant)") for n in notes), notes
    assert any(n.startswith("1 sample has no strand counts") for n in notes), notes
    gatk_only = hl.vds.VariantDataset(vds.reference_data.filter_cols(vds.reference_data.s == "GATK1"),
                                      vds.variant_data.filter_cols(vds.variant_data.s == "GATK1"))
    assert annotation_coverage_notes(gatk_only) == []


@pytest.mark.slow
def test_hand_made_flavors_joint_called_through_snakemake(files: dict[str, Path], tmp_path: Path,
                                                          hail_session) -> None:  # noqa: ANN001
    """One batch with a GATK (two records at one position), a DRAGEN and a DeepVariant gVCF, plus two that intake
    must reject: every call of the three accepted ones is in the release, reference blocks give 0/0 where the
    caller was confident and no call where it was not, and nothing crashes after intake."""
    hl = hail_session
    _write_batch(tmp_path / "inbox" / "b1", ["GATK1", "DRAGEN1", "DV1", "GATK2", "DV2"], files)
    cfg = write_config(tmp_path / "config.yaml", combiner={"import_interval_size": 1_000_000},
                       release_options={"target_variants_per_shard": 1000, "smaller_callsets": [],
                                        "public_summary": False},
                       browser={"activate": False})
    run_snakemake(tmp_path, cfg)
    res = tmp_path / "results"
    with open(res / "intake" / "b1" / "report.tsv") as f:
        rep = {r["sample_id"]: r for r in csv.DictReader(f, delimiter="\t")}
    assert {s for s, r in rep.items() if r["status"] == "accepted"} == {"GATK1", "DRAGEN1", "DV1"}
    assert "chr20:10000500 cannot be merged" in rep["GATK2"]["reasons"]
    assert "DeepVariant 1.6.1 gVCF cannot be joint-called" in rep["DV2"]["reasons"]
    with open(res / "private" / "research_ids.tsv") as f:
        rid = {r["sample_id"]: r["research_id"] for r in csv.DictReader(f, delimiter="\t")}
    got = released(hl, res / "releases" / "v1")
    for sid in ("GATK1", "DRAGEN1", "DV1"):
        calls = input_calls(files[sid], sid)
        assert calls, sid
        for contig, pos, ref, alt, n in calls:
            gt = got.get((contig, pos, ref, alt, rid[sid]))
            assert gt is not None and gt.n_alt_alleles() == n, (sid, contig, pos, ref, alt, n, gt)
    # DRAGEN's hemizygous call stays haploid
    assert got[("chrX", 5000101, "C", "A", rid["DRAGEN1"])].ploidy == 1
    # reference confidence: a confident block gives 0/0 ...
    assert got[("chr20", 10000117, "C", "T", rid["DV1"])].is_hom_ref()
    assert got[("chr20", 10000211, "T", "C", rid["GATK1"])].is_hom_ref()
    assert got[("chr20", 10000211, "T", "C", rid["DRAGEN1"])].is_hom_ref()  # DRAGEN's 0/0 record
    # ... a DeepVariant ./. block and a RefCall no-call give no call
    # (a no-call: a missing GT, or no entry at all where the dense shard holds none for the sample)
    assert got.get(("chr20", 10000300, "ACGT", "A", rid["DV1"])) is None
    assert got.get(("chr20", 10000350, "G", "A", rid["DV1"])) is None


@pytest.mark.slow
def test_simulated_batches_from_three_callers_run_end_to_end(tmp_path: Path, hail_session) -> None:  # noqa: ANN001
    """A simulated cohort whose three batches come from GATK, DRAGEN and DeepVariant runs through intake, joint
    calling, sample QC, variant QC and the release (taken as they are, the DRAGEN/DeepVariant parts could not be
    unioned with the GATK one: variant QC failed), and every call of every gVCF is in the release."""
    from callset.simulate import cli

    hl = hail_session
    sim = tmp_path / "sim"
    assert cli.main(["--samples", "9", "--batches", "3", "--seed", "5", "--region-size", "500000",
                     "--anomaly-rate", "0", "--flavor", "gatk,dragen,deepvariant", "--out", str(sim)]) == 0
    run_snakemake(tmp_path, sim / "config.yaml", timeout=3000)
    import yaml

    res = Path(yaml.safe_load((sim / "config.yaml").read_text())["results"])
    accepted = {}
    for b in sorted((res / "intake").iterdir()):
        with open(b / "accepted.tsv") as f:
            accepted.update({r["sample_id"]: r for r in csv.DictReader(f, delimiter="\t")})
    assert len(accepted) == 9
    assert sorted({r["gvcf_flavor"] for r in accepted.values()}) == ["deepvariant", "dragen", "gatk"]
    assert (res / "variant_qc" / "summary.json").is_file()
    got = released(hl, res / "releases" / "v1")
    with open(sim / "truth.tsv") as f:
        truth = {r["sample_id"]: r for r in csv.DictReader(f, delimiter="\t")}
    for sid, r in accepted.items():
        calls = input_calls(sim / truth[sid]["gvcf"], sid)
        missing = [c for c in calls
                   if (gt := got.get((*c[:4], r["research_id"]))) is None or gt.n_alt_alleles() != c[4]]
        assert not missing, (sid, r["gvcf_flavor"], len(missing), missing[:3])

    # variant QC used what each caller wrote: every simulated read has MQ 60 (GATK AS_RAW_MQ, DRAGEN MQ ->
    # RAW_MQandDP at intake; DeepVariant none), so an allele whose carriers are all DRAGEN has AS_MQ 60 (was 0:
    # their ALT reads counted without MQ) and one carried only by DeepVariant samples has none (was 0)
    flavors: dict[tuple[str, int, str, str], set[str]] = {}
    for sid, r in accepted.items():
        for c in input_calls(sim / truth[sid]["gvcf"], sid):
            flavors.setdefault(c[:4], set()).add(r["gvcf_flavor"])
    sites = hl.read_table(str(res / "variant_qc" / "sites.ht"))
    mq = {(x.locus.contig, x.locus.position, x.alleles[0], x.alleles[1]): x.AS_MQ
          for x in sites.select(AS_MQ=sites.info.AS_MQ).collect()}
    only = {f: [k for k, v in flavors.items() if v == {f} and k in mq] for f in ("dragen", "deepvariant")}
    assert len(only["dragen"]) > 20 and len(only["deepvariant"]) > 20, {f: len(v) for f, v in only.items()}
    assert all(mq[k] == pytest.approx(60.0) for k in only["dragen"]), [mq[k] for k in only["dragen"]][:10]
    assert all(mq[k] is None for k in only["deepvariant"]), [mq[k] for k in only["deepvariant"]][:10]
    # ... and said so: summary.json, the sites table, the manifest and the release notes
    summary = json.loads((res / "variant_qc" / "summary.json").read_text())
    notes = hl.eval(sites.globals.variant_qc_notes)
    assert notes and notes[0].startswith("3 of 9 samples have GATK allele-specific mapping quality"), notes
    assert any(n.startswith("3 samples have only the site's mapping quality") for n in notes), notes
    assert any(n.startswith("3 samples have no mapping-quality annotation (DeepVariant)") for n in notes), notes
    assert all(n in summary["notes"] for n in notes)
    manifest = json.loads((res / "releases" / "v1" / "manifest.json").read_text())
    assert manifest["variant_qc_notes"] == notes
    rn = (res / "releases" / "v1" / "RELEASE_NOTES.md").read_text()
    assert "## Notes on variant QC" in rn and all(f"- {n}" in rn for n in notes)


def test_simulator_writes_each_callers_layout(tmp_path: Path) -> None:
    """``--flavor dragen,deepvariant``: batch 1 in DRAGEN's layout, batch 2 in DeepVariant's; intake reads each as
    that caller, the scan finds nothing wrong, and normalising gives back the simulated calls."""
    from callset.simulate.cohort import SimulationOptions, simulate_cohort

    simulate_cohort(tmp_path, SimulationOptions(samples=2, batches=2, seed=3, region_size=100_000, anomaly_rate=0,
                                                panel_per_ancestry=5, flavor="dragen,deepvariant",
                                                truth_genotypes=False))
    with open(tmp_path / "truth.tsv") as f:
        truth = list(csv.DictReader(f, delimiter="\t"))
    ref = load_reference("GRCh38")
    for row, want in zip(truth, ("dragen", "deepvariant"), strict=True):
        path = tmp_path / row["gvcf"]
        scan = scan_gvcf(path, sample_id=row["sample_id"], reference=ref,
                         reference_fasta=str(tmp_path / "reference" / "sim.fa.gz"))
        assert not scan.problems, scan.problems
        info = detect_flavor(scan.header_lines)
        assert info.flavor == want and (info.version == "3.7.8" if want == "dragen" else info.version == "1.6.1")
        assert not check_flavor(info, path)[0]
        recs = records(path)
        if want == "deepvariant":
            assert all("<NON_REF>" not in r[4] for r in recs) and any(r[4] == "<*>" for r in recs)
        else:
            assert any(r[8].startswith("GT:AD:AF:DP:F1R2") for r in recs)
        res = normalise_gvcf(path, tmp_path / f"{want}.norm.g.vcf.gz", info)
        assert not res.problems and res.n_records == len(recs)
        assert input_calls(res.path, row["sample_id"]) == input_calls(path, row["sample_id"])
