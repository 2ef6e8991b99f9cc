"""Joint calling: import partitioning, agreement with Hail's own VDS, N+K == all at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TESTDATA, chr22_gvcf, make_batch

from callset.joint_call import import_interval_bounds, merge_extents
from callset.reference import load_reference
from callset.workflow import batch_order

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


def _dense_gt(hl, vds_path: str):
    """(locus, alleles, s) -> GT for every defined dense entry."""
    vds = hl.vds.read_vds(vds_path)
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
    from callset.intake import run_intake

    d = make_batch(tmp_path / "inbox", batch, samples)
    out = tmp_path / "results" / "intake" / batch
    run_intake(d, out_dir=out, registry_path=tmp_path / "results" / "registry.sqlite")
    return out / "accepted.tsv"


def _combine(tmp_path: Path, batch: str, accepted: Path, previous: Path | None, index: int, size=250_000) -> Path:
    from callset.joint_call import combine_batch

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
    res = _compare(hl, _dense_gt(hl, str(step2 / "vds")), _dense_gt(hl, str(both / "vds")))
    assert res.diff == 0, res.examples
    assert res.n > 500
    # the work dir (plan + temporaries) is cleaned after a finished step
    assert not (tmp_path / "work" / "b2").exists()


def test_gvcf_paths_exist_for_test_data():
    for s in FIVE:
        assert chr22_gvcf(s).exists()
