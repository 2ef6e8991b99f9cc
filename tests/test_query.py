"""callset query: a region (and samples) of a release equals a direct Hail filter, and only the shards
overlapping the region are opened (the others are deleted first)."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import TESTDATA, bare_release_settings

from callset.cli import main as cli_main
from callset.core.reference import load_reference
from callset.errors import ReleaseError
from callset.release.query import overlapping_shards, parse_region
from callset.release.write import ReleaseInputs, write_release

GRCH38 = load_reference("GRCh38")
VDS = TESTDATA / "vds" / "1kg_chr22_5_samples.vds"
SAMPLES = ["HG00187", "HG00190", "HG00308", "HG00313", "HG00320"]
RIDS = {s: f"CS{i:09d}" for i, s in enumerate(SAMPLES, 1)}
REGION = "chr22:10600000-10700000"


@pytest.fixture(scope="module")
def release(hail_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("query") / "releases" / "v1"
    m = write_release(ReleaseInputs(cohort_vds=str(VDS), research_ids=RIDS, input_batches=("b1",)),
                      release_dir=out, release="v1", reference=GRCH38,
                      settings=bare_release_settings(target_variants_per_shard=20))
    return out, m


def _direct(hl, out, manifest, samples=None):
    mts = [hl.read_matrix_table(str(out / s["path"])) for s in manifest["shards"]]
    mt = mts[0].union_rows(*mts[1:])
    mt = hl.filter_intervals(mt, [hl.parse_locus_interval(REGION, "GRCh38")])
    if samples:
        mt = mt.filter_cols(hl.literal(set(samples)).contains(mt.s))
    return mt


def _calls(mt):
    mt = mt.select_entries("GT").select_rows().select_cols()
    return {(r.locus.position, tuple(r.alleles), r.s): r.GT for r in mt.entries().collect() if r.GT is not None}


def test_parse_region_and_overlap(release):
    _, m = release
    assert parse_region("chr22:10,600,000-10,700,000") == ("chr22", 10_600_000, 10_700_000)
    with pytest.raises(ReleaseError, match="CONTIG:START-END"):
        parse_region("chr22:10600000")
    hits = overlapping_shards(m, *parse_region(REGION))
    assert 1 <= len(hits) < len(m["shards"]) >= 3
    assert overlapping_shards(m, "chr21", 1, 10**6) == []


def test_query_vcf_matches_direct_filter_with_other_shards_removed(hail_session, release, tmp_path):
    hl = hail_session
    out, m = release
    want = _calls(_direct(hl, out, m))
    assert len(want) > 20
    copy = tmp_path / "v1"
    shutil.copytree(out, copy)
    keep = {s["path"] for s in overlapping_shards(m, *parse_region(REGION))}
    for s in m["shards"]:  # shards outside the region are gone: a query that touched them would fail
        if s["path"] not in keep:
            shutil.rmtree(copy / s["path"])
    samples = tmp_path / "samples.txt"
    samples.write_text("research_id\n" + RIDS["HG00187"] + "\n" + RIDS["HG00313"] + "\n")
    vcf = tmp_path / "region.vcf.bgz"
    assert cli_main(["query", "--release", str(copy), "--region", REGION, "--out", str(vcf)]) == 0
    assert (tmp_path / "region.vcf.bgz.tbi").is_file()
    got = _calls(hl.import_vcf(str(vcf), reference_genome="GRCh38", force_bgz=True))
    assert got == want
    sub = tmp_path / "region.mt"
    assert cli_main(["query", "--release", str(copy), "--region", REGION, "--samples", str(samples),
                     "--out", str(sub)]) == 0
    got_mt = hl.read_matrix_table(str(sub))
    assert set(got_mt.s.collect()) == {RIDS["HG00187"], RIDS["HG00313"]}
    assert _calls(got_mt) == _calls(_direct(hl, out, m, [RIDS["HG00187"], RIDS["HG00313"]]))
    assert json.loads((copy / "manifest.json").read_text()) == m


def test_query_rejects_unknown_samples_and_bad_output(hail_session, release, tmp_path):
    out, _ = release
    samples = tmp_path / "s.txt"
    samples.write_text("CS999999999\n")
    assert cli_main(["query", "--release", str(out), "--region", REGION, "--samples", str(samples),
                     "--out", str(tmp_path / "x.mt")]) == 2  # exit 2: an input error (tests/test_cli_errors.py)
    assert cli_main(["query", "--release", str(out), "--region", REGION, "--out", str(tmp_path / "x.txt")]) == 2
