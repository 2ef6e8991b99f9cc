"""Release writing on real data: hygiene, research IDs, withdrawals, shards tiling, manifest, >50 partitions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import bare_release_settings

from callset.core.reference import load_reference
from callset.errors import ReleaseError
from callset.release.manifest import digest_of, file_inventory
from callset.release.shards import compute_shards
from callset.release.write import ReleaseInputs, prepare_release_vds, write_release

GRCH38 = load_reference("GRCh38")
SAMPLES = ["HG00187", "HG00190", "HG00308", "HG00313", "HG00320", "NA18507"]
RIDS = {s: f"CS{i:09d}" for i, s in enumerate(SAMPLES, 1)}


def _cohort(tmp: Path, size: int) -> str:
    from conftest import make_batch

    from callset.intake.run import run_intake
    from callset.joint_call.combine import combine_batch

    d = make_batch(tmp / "inbox", "b1", SAMPLES)
    run_intake(d, out_dir=tmp / "intake", registry_path=tmp / "registry.sqlite")
    combine_batch(
        accepted_tsv=str(tmp / "intake" / "accepted.tsv"), previous_step=None, step_dir=str(tmp / "step"),
        work_dir=str(tmp / "work"), index=0, import_interval_size=size,
    )
    return str(tmp / "step" / "vds")


@pytest.fixture(scope="module")
def cohorts(hail_session, tmp_path_factory):
    """The same 6 real samples combined with coarse (250 kb) and fine (20 kb, > 50 partitions) intervals."""
    coarse = _cohort(tmp_path_factory.mktemp("coarse"), 250_000)
    fine = _cohort(tmp_path_factory.mktemp("fine"), 20_000)
    return coarse, fine


@pytest.fixture(scope="module")
def release(cohorts, tmp_path_factory):
    out = tmp_path_factory.mktemp("rel") / "releases" / "v1"
    manifest = write_release(
        ReleaseInputs(cohort_vds=cohorts[0], research_ids=RIDS, withdrawn=frozenset({"HG00190"}),
                      input_batches=("b1",)),
        release_dir=out, release="v1", reference=GRCH38,
        settings=bare_release_settings(target_variants_per_shard=60),
    )
    return out, manifest


def test_release_vds_hygiene_and_ids(hail_session, cohorts):
    hl = hail_session
    vds = prepare_release_vds(hl.vds.read_vds(cohorts[0]), RIDS, ref_block_max_length=1000)
    rd = vds.reference_data
    assert set(rd.s.collect()) == set(RIDS.values())
    stats = rd.aggregate_entries(hl.struct(min_gq=hl.agg.min(rd.GQ), max_len=hl.agg.max(rd.LEN)))
    assert stats.min_gq > 0 and stats.max_len <= 1000
    assert hl.eval(rd.index_globals().ref_block_max_length) <= 1000
    raw = hl.vds.read_vds(cohorts[0]).reference_data
    assert raw.aggregate_entries(hl.agg.count_where(raw.GQ == 0)) > 0  # the real data has GQ0 blocks to drop


def test_shards_tile_each_contig_and_are_balanced(hail_session, cohorts):
    hl = hail_session
    vds = prepare_release_vds(hl.vds.read_vds(cohorts[0]), RIDS)
    n_split = vds.variant_data.aggregate_rows(hl.agg.sum(hl.len(vds.variant_data.alleles) - 1))
    shards = compute_shards(vds, target_variants=40, reference=GRCH38)
    assert {s.contig for s in shards} == {"chr22"}
    assert shards[0].start == 1 and shards[-1].end == GRCH38.lengths["chr22"]
    assert all(a.end + 1 == b.start for a, b in zip(shards, shards[1:], strict=False))
    assert 1 < len(shards) <= math.ceil(n_split / 40)


def test_manifest_matches_shards_and_files(hail_session, release):
    hl = hail_session
    out, manifest = release
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["n_samples"] == 5 and manifest["n_withdrawn_excluded"] == 1
    assert manifest["n_variants"] == sum(s["n_variants"] for s in manifest["shards"]) > 0
    assert len(manifest["shards"]) > 1
    for prev, nxt in zip(manifest["shards"], manifest["shards"][1:], strict=False):
        assert prev["contig"] != nxt["contig"] or prev["end"] + 1 == nxt["start"]
    for s in manifest["shards"]:
        mt = hl.read_matrix_table(str(out / s["path"]))
        assert mt.count_rows() == s["n_variants"]
        pos = mt.aggregate_rows(hl.struct(lo=hl.agg.min(mt.locus.position), hi=hl.agg.max(mt.locus.position),
                                          contigs=hl.agg.collect_as_set(mt.locus.contig), min_ac=hl.agg.min(mt.AC)))
        if s["n_variants"]:
            assert pos.contigs == {s["contig"]} and s["start"] <= pos.lo <= pos.hi <= s["end"]
            assert pos.min_ac > 0
        assert {"GT", "AD", "DP", "GQ"} <= set(mt.entry) and {"variant_qc", "AC", "AN", "AF"} <= set(mt.row)
        assert s["checksum"] == digest_of(file_inventory(out, s["path"]))
    listed = {f["path"] for f in manifest["files"]}
    actual = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert listed == actual


def test_withdrawn_sample_is_gone_everywhere(hail_session, release):
    hl = hail_session
    out, manifest = release
    gone = RIDS["HG00190"]
    samples = (out / "samples.tsv").read_text().split()
    assert samples[0] == "research_id" and gone not in samples and len(samples) == 6
    vds = hl.vds.read_vds(str(out / "vds"))
    assert gone not in vds.variant_data.s.collect() and gone not in vds.reference_data.s.collect()
    for s in manifest["shards"]:
        assert gone not in hl.read_matrix_table(str(out / s["path"])).s.collect()
    assert not (out.parent / ".v1.partial").exists()


def test_release_is_immutable(cohorts, release):
    out, _ = release
    with pytest.raises(ReleaseError, match="immutable"):
        write_release(ReleaseInputs(cohort_vds=cohorts[0], research_ids=RIDS, input_batches=("b1",)),
                      release_dir=out, release="v1", reference=GRCH38)


def test_more_than_50_partitions_densify_the_same(hail_session, cohorts, tmp_path):
    """STACK-NOTES: densify failed above 50 partitions on Hail 0.2.139; check our path at > 50."""
    hl = hail_session
    coarse, fine = cohorts
    assert hl.vds.read_vds(fine).variant_data.n_partitions() > 50
    outs = []
    for name, path in (("coarse", coarse), ("fine", fine)):
        out = tmp_path / name
        write_release(ReleaseInputs(cohort_vds=path, research_ids=RIDS, input_batches=("b1",)),
                      release_dir=out, release=name, reference=GRCH38,
                      settings=bare_release_settings(target_variants_per_shard=10**6))
        outs.append(out)
    mts = [hl.read_matrix_table(str(o / "mt" / "shard_00001.mt")) for o in outs]
    assert mts[1].n_partitions() > 50
    a, b = (m.select_rows().select_cols().select_entries("GT", "AD", "DP", "GQ").entries() for m in mts)
    j = a.join(b, how="outer")
    same = hl.all([(j[f] == j[f + "_1"]) | (hl.is_missing(j[f]) & hl.is_missing(j[f + "_1"]))
                   for f in ("GT", "AD", "DP", "GQ")])
    res = j.aggregate(hl.struct(n=hl.agg.count(), diff=hl.agg.count_where(~same)))
    assert res.diff == 0 and res.n == a.count() == b.count() > 100
    assert mts[0].count_rows() == mts[1].count_rows()
