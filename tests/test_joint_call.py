"""Joint calling: import partitioning, agreement with Hail's own VDS, N+K == all at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TESTDATA, chr22_gvcf, make_batch

from callset.core.cohort import read_cohort_vds
from callset.core.reference import load_reference
from callset.intake.batches import batch_order
from callset.joint_call.compaction import plan_compaction
from callset.joint_call.intervals import import_interval_bounds, merge_extents

GRCH38 = load_reference("GRCh38")
FIVE = ["HG00187", "HG00190", "HG00308", "HG00313", "HG00320"]


class TestImportIntervals:
    def test_cover_every_position_of_the_extent_aligned(self):
        bounds = import_interval_bounds(
            {"chr22": (10_510_001, 12_600_000)},
            interval_size=250_000, contig_lengths=GRCH38.lengths, contig_order=GRCH38.contigs,
        )
        assert bounds[0] == ("chr22", 10_500_001, 10_750_001)
        assert all((b[2] - b[1]) == 250_000 for b in bounds)
        assert all(a[2] == b[1] for a, b in zip(bounds, bounds[1:], strict=False))  # no gap, no overlap
        assert bounds[0][1] <= 10_510_001 and bounds[-1][2] > 12_600_000

    def test_clipped_at_contig_end_and_reference_order(self):
        n = GRCH38.lengths["chr21"]
        bounds = import_interval_bounds(
            {"chr22": (1, 10), "chr21": (n - 5, n)},
            interval_size=1_000_000, contig_lengths=GRCH38.lengths, contig_order=GRCH38.contigs,
        )
        assert [b[0] for b in bounds] == ["chr21", "chr22"]
        assert bounds[0][2] == n + 1  # half-open end at contig length + 1

    def test_rejects_nonpositive_size(self):
        with pytest.raises(ValueError):
            import_interval_bounds({}, interval_size=0, contig_lengths={}, contig_order=[])

    def test_merge_extents(self):
        assert merge_extents([{"chr1": (5, 10)}, {"chr1": (2, 8), "chr2": (1, 1)}]) == {
            "chr1": (2, 10), "chr2": (1, 1),
        }


def test_batch_order_keeps_joint_called_batches_first(tmp_path: Path):
    for b, i in (("zeta", 0), ("alpha", 1)):
        d = tmp_path / "joint" / "cohort" / b
        d.mkdir(parents=True)
        (d / "cohort.json").write_text(json.dumps({"index": i}))
    assert batch_order(["alpha", "beta", "zeta"], tmp_path) == ["zeta", "alpha", "beta"]


def _dense_gt(hl, vds_or_path):
    """(locus, alleles, s) -> GT for every defined dense entry (of a VDS path or a VDS)."""
    vds = hl.vds.read_vds(vds_or_path) if isinstance(vds_or_path, str) else vds_or_path
    vd = vds.variant_data
    vd = vd.select_entries(GT=hl.vds.lgt_to_gt(vd.LGT, vd.LA))
    mt = hl.vds.to_dense_mt(hl.vds.VariantDataset(vds.reference_data, vd))
    return mt.select_rows().select_cols().entries().key_by("locus", "alleles", "s")


def _compare(hl, a, b):
    j = a.join(b, how="outer")
    same = (j.GT == j.GT_1) | (hl.is_missing(j.GT) & hl.is_missing(j.GT_1))
    return j.aggregate(hl.struct(
        n=hl.agg.count(),
        diff=hl.agg.count_where(~same),
        examples=hl.agg.filter(~same, hl.agg.take(j.row, 5)),
    ))


def _intake(tmp_path: Path, batch: str, samples: list[str]) -> Path:
    from callset.intake.run import run_intake

    d = make_batch(tmp_path / "inbox", batch, samples)
    out = tmp_path / "results" / "intake" / batch
    run_intake(d, out_dir=out, registry_path=tmp_path / "results" / "registry.sqlite")
    return out / "accepted.tsv"


def _combine(tmp_path: Path, batch: str, accepted: Path, previous: Path | None, index: int, size=250_000) -> Path:
    from callset.joint_call.combine import combine_batch

    step = tmp_path / "results" / "joint" / "cohort" / batch
    combine_batch(
        accepted_tsv=str(accepted), previous_step=str(previous) if previous else None, step_dir=str(step),
        work_dir=str(tmp_path / "work" / batch), index=index, import_interval_size=size,
    )
    return step


def test_combined_vds_matches_hails_reference_vds(hail_session, tmp_path: Path):
    """The bundled VDS was made by Hail from the same 5 gVCFs: same variant sites, same genotypes."""
    hl = hail_session
    acc = _intake(tmp_path, "b1", FIVE)
    step = _combine(tmp_path, "b1", acc, None, 0)
    ours = hl.vds.read_vds(str(step / "vds"))
    theirs = hl.vds.read_vds(str(TESTDATA / "vds" / "1kg_chr22_5_samples.vds"))
    def sites(vds):
        return {(r.locus.position, tuple(r.alleles)) for r in vds.variant_data.rows().select().collect()}

    sites_ours, sites_theirs = sites(ours), sites(theirs)
    assert sites_ours == sites_theirs and len(sites_ours) > 50
    reference_vds = str(TESTDATA / "vds" / "1kg_chr22_5_samples.vds")
    res = _compare(hl, _dense_gt(hl, str(step / "vds")), _dense_gt(hl, reference_vds))
    assert res.diff == 0, res.examples
    assert res.n > 300


def test_adding_a_batch_equals_one_run_over_both(hail_session, tmp_path: Path):
    """N+K: batch 1 then batch 2 (merging the cohort VDS, no re-import) == both batches at once."""
    hl = hail_session
    first, second = FIVE[:3], ["HG00323", "HG00373", "NA18507"]
    step1 = _combine(tmp_path, "b1", _intake(tmp_path, "b1", first), None, 0)
    step2 = _combine(tmp_path, "b2", _intake(tmp_path, "b2", second), step1, 1)
    info = json.loads((step2 / "cohort.json").read_text())
    assert info["samples_added"] == second and info["batches"] == ["b1", "b2"]
    assert info["samples"] == first + second

    other = tmp_path / "together"
    both = _combine(other, "all", _intake(other, "all", first + second), None, 0)
    # the cohort after step 2 is its parts unioned (batch 1's VDS + batch 2's own), read as one VDS
    res = _compare(hl, _dense_gt(hl, read_cohort_vds(step2)), _dense_gt(hl, str(both / "vds")))
    assert res.diff == 0, res.examples
    assert res.n > 500
    # the work dir (plan + temporaries) is cleaned after a finished step
    assert not (tmp_path / "work" / "b2").exists()


def test_gvcf_paths_exist_for_test_data():
    for s in FIVE:
        assert chr22_gvcf(s).exists()


class TestPlanCompaction:
    """Cohort parts behave like a base-``fanout`` counter: batch cost follows the batch, parts stay few."""

    @staticmethod
    def _simulate(n_batches: int, fanout: int) -> tuple[list[int], list[int]]:
        levels: list[int] = []
        merged_sizes = []  # parts merged by each batch
        for _ in range(n_batches):
            n, level = plan_compaction(levels, fanout)
            merged_sizes.append(n)
            levels = [*levels[: len(levels) - n], level]
        return levels, merged_sizes

    def test_counter_in_base_fanout(self):
        # 11 batches with fanout 3: 11 = 1*9 + 0*3 + 2*1 -> one level-2 part and two level-0 parts
        levels, merged = self._simulate(11, 3)
        assert levels == [2, 0, 0]
        assert merged == [0, 0, 2, 0, 0, 2, 0, 0, 4, 0, 0]

    def test_parts_bounded_by_log_of_batches(self):
        for fanout in (2, 4, 8):
            for n in (1, 7, 64, 100, 1000):
                levels, _ = self._simulate(n, fanout)
                assert levels == sorted(levels, reverse=True)
                # the number of parts is the digit sum of n in base fanout
                digits, m = 0, n
                while m:
                    digits, m = digits + m % fanout, m // fanout
                assert len(levels) == digits

    def test_fanout_one_is_one_vds(self):
        levels, merged = self._simulate(5, 1)
        assert levels == [0] and merged == [0, 1, 1, 1, 1]

    def test_rejects_bad_fanout(self):
        with pytest.raises(ValueError):
            plan_compaction([], 0)


def _accepted_with_resubmission(tmp_path: Path, batch: str, samples: list[str], resubmitted: set[str]) -> Path:
    """Intake of ``samples`` (own registry), then mark ``resubmitted`` as resubmission=yes (a later version)."""
    from callset.intake.run import run_intake

    d = make_batch(tmp_path / "inbox", batch, samples)
    out = tmp_path / "results" / "intake" / batch
    run_intake(d, out_dir=out, registry_path=tmp_path / "registries" / f"{batch}.sqlite")
    path = out / "accepted.tsv"
    header, *rows = path.read_text().splitlines()
    cols = header.split("\t")
    assert "resubmission" in cols
    fixed = []
    for line in rows:
        r = line.split("\t")
        if r[cols.index("sample_id")] in resubmitted:
            r[cols.index("resubmission")] = "yes"
        fixed.append("\t".join(r))
    path.write_text("\n".join([header, *fixed]) + "\n")
    return path


def test_compaction_and_resubmission_keep_the_cohort_equal_to_one_run(hail_session, tmp_path: Path):
    """Fanout 2 over 4 batches: merges at steps 2 and 4, a resubmitted sample excluded from its old part when
    read and dropped for good when that part is merged; every step's union == one combiner run."""
    from callset.joint_call.combine import combine_batch

    hl = hail_session
    s1, s2, s3, s4, s5, s6 = [*FIVE, "NA18507"]
    batches = [("b1", [s1, s2], set()), ("b2", [s3, s4], set()), ("b3", [s5, s1], {s1}), ("b4", [s6], set())]
    prev, infos = None, {}
    for i, (b, samples, resub) in enumerate(batches):
        acc = _accepted_with_resubmission(tmp_path, b, samples, resub)
        step = tmp_path / "results" / "joint" / "cohort" / b
        infos[b] = combine_batch(accepted_tsv=str(acc), previous_step=str(prev) if prev else None,
                                 step_dir=str(step), work_dir=str(tmp_path / "work" / b), index=i,
                                 import_interval_size=250_000, cohort_fanout=2)
        prev = step
    shape = {b: [(p["batches"], p["level"], p["exclude"]) for p in infos[b]["parts"]] for b in infos}
    assert shape["b1"] == [(["b1"], 0, [])]
    assert shape["b2"] == [(["b1", "b2"], 1, [])]
    assert shape["b3"] == [(["b1", "b2"], 1, [s1]), (["b3"], 0, [])]
    assert shape["b4"] == [(["b1", "b2", "b3", "b4"], 2, [])]
    assert [infos[b]["parts_merged"] for b in infos] == [0, 1, 0, 2]
    assert infos["b3"]["samples_replaced"] == [s1] and sorted(infos["b3"]["samples"]) == sorted([s1, s2, s3, s4, s5])

    other = tmp_path / "together"
    all6 = _combine(other, "all", _intake(other, "all", [s1, s2, s3, s4, s5, s6]), None, 0)
    expected6 = hl.vds.read_vds(str(all6 / "vds"))
    expected5 = hl.vds.filter_samples(expected6, [s6], keep=False, remove_dead_alleles=True)
    for b, expected in (("b3", expected5), ("b4", expected6)):
        got = read_cohort_vds(tmp_path / "results" / "joint" / "cohort" / b)
        cols = got.variant_data.s.collect()
        assert sorted(cols) == sorted(expected.variant_data.s.collect()) and len(set(cols)) == len(cols)
        res = _compare(hl, _dense_gt(hl, got), _dense_gt(hl, expected))
        assert res.diff == 0, (b, res.examples)
        assert res.n > 300
    # the compacted part physically holds each sample once (the old s1 is gone from the VDS itself)
    part = hl.vds.read_vds(str(tmp_path / "results" / "joint" / "cohort" / "b4" / "vds"))
    assert sorted(part.variant_data.s.collect()) == sorted([s1, s2, s3, s4, s5, s6])


def test_cohort_written_before_parts_still_reads(hail_session, tmp_path: Path):
    """Migration: a step written before layout 2 (cohort.json with only ``vds``) reads as one part."""
    from callset.core.cohort import cohort_parts, cohort_vds_path

    step = _combine(tmp_path, "b1", _intake(tmp_path, "b1", FIVE[:2]), None, 0)
    info = json.loads((step / "cohort.json").read_text())
    old = {k: v for k, v in info.items() if k not in ("parts", "layout", "parts_merged")}
    (step / "cohort.json").write_text(json.dumps(old))
    parts = cohort_parts(step)
    assert len(parts) == 1 and parts[0]["vds"] == str((step / "vds").resolve()) and parts[0]["samples"] == FIVE[:2]
    assert cohort_vds_path(step) == parts[0]["vds"]
    assert sorted(read_cohort_vds(step).variant_data.s.collect()) == sorted(FIVE[:2])


def test_joint_calling_from_reblocked_gvcfs(hail_session, tmp_path: Path):
    """Intake reblocks, the combiner reads the reblocked files: same genotypes at every variant site as joint
    calling the submitted files, reference GQs are band floors, the longest block recorded without a pass, and
    cohort.json says how the reference data was made."""
    import csv
    import json

    from callset.intake.reblock import ReblockSettings
    from callset.intake.run import run_intake

    hl = hail_session
    samples = ["HG00187", "HG00308", "HG00590"]
    d = make_batch(tmp_path / "inbox", "b1", samples)
    out = tmp_path / "results" / "intake" / "b1"
    run_intake(d, out_dir=out, registry_path=tmp_path / "results" / "registry.sqlite", reblock=ReblockSettings())
    with open(out / "accepted.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert all(r["reblocked_gvcf"].endswith(".rb.g.vcf.gz") and Path(r["reblocked_gvcf"]).is_file() for r in rows)
    longest = max(int(r["reblocked_max_block"]) for r in rows)
    step = _combine(tmp_path, "b1", out / "accepted.tsv", None, 0)
    info = json.loads((step / "cohort.json").read_text())
    assert info["reblock"]["b1"]["gq_bands"] == [0, 20, 30, 40] and info["reblock"]["b1"]["gq0"] == "no_call"
    vds = hl.vds.read_vds(str(step / "vds"))
    assert hl.eval(vds.reference_data.index_globals().ref_block_max_length) == longest
    rd = vds.reference_data
    gqs, max_len = rd.aggregate_entries((hl.agg.collect_as_set(rd.GQ), hl.agg.max(rd.LEN)))
    assert gqs <= {0, 20, 30, 40} and max_len == longest <= 1000
    # the variant data is what joint calling the submitted files gives: every entry (GT, AD, DP, GQ) equal
    plain = _intake(tmp_path / "plain", "b1", samples)
    ref_step = _combine(tmp_path / "plain", "b1", plain, None, 0)
    va = hl.vds.read_vds(str(step / "vds")).variant_data
    vb = hl.vds.read_vds(str(ref_step / "vds")).variant_data
    assert va.count_rows() == vb.count_rows() > 50  # 68 variant sites in these three samples
    got = _compare_variant_calls(hl, va, vb)
    assert got.diff == 0, got.examples


def _compare_variant_calls(hl, va, vb):
    ea = va.select_entries(GT=hl.vds.lgt_to_gt(va.LGT, va.LA), AD=va.LAD, DP=va.DP, GQ=va.GQ).entries()
    eb = vb.select_entries(GT=hl.vds.lgt_to_gt(vb.LGT, vb.LA), AD=vb.LAD, DP=vb.DP, GQ=vb.GQ).entries()
    j = ea.select("GT", "AD", "DP", "GQ").join(eb.select("GT", "AD", "DP", "GQ"), how="outer")
    same = hl.all(*[(j[f] == j[f"{f}_1"]) | (hl.is_missing(j[f]) & hl.is_missing(j[f"{f}_1"]))
                    for f in ("GT", "AD", "DP", "GQ")])
    return j.aggregate(hl.struct(diff=hl.agg.count_where(~hl.coalesce(same, False)),
                                 examples=hl.agg.filter(~hl.coalesce(same, False), hl.agg.take(j.row, 5))))
