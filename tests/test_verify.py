"""callset verify catches a flipped byte, a deleted shard, a truncated VCF, an unlisted file and an unfinished
release; releases are immutable (writing v2 leaves v1 byte-identical) and v2's notes count the changes."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import TESTDATA

from callset.cli import main as cli_main
from callset.core.reference import load_reference
from callset.errors import ReleaseError
from callset.release.verify import verify_release
from callset.release.write import ReleaseInputs, ReleaseSettings, write_release

GRCH38 = load_reference("GRCh38")
VDS = TESTDATA / "vds" / "1kg_chr22_5_samples.vds"
SAMPLES = ["HG00187", "HG00190", "HG00308", "HG00313", "HG00320"]
RIDS = {s: f"CS{i:09d}" for i, s in enumerate(SAMPLES, 1)}


def tree_hash(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def releases(hail_session, tmp_path_factory):
    """v1: the first 4 samples (an earlier cohort); v2: all 5 with one of v1's samples withdrawn."""
    hl = hail_session
    root = tmp_path_factory.mktemp("verify")
    early = hl.vds.filter_samples(hl.vds.read_vds(str(VDS)), SAMPLES[:4], remove_dead_alleles=True)
    early.write(str(root / "early.vds"))
    settings = ReleaseSettings.from_config({"target_variants_per_shard": 40, "smaller_callsets": ["acaf"],
                                            "acaf": {"min_af": 0.3}, "exports": ["vcf", "plink", "bgen"],
                                            "public_summary": False})
    opts = dict(reference=GRCH38, settings=settings)
    rel = root / "releases"
    v1 = write_release(ReleaseInputs(cohort_vds=str(root / "early.vds"), research_ids={s: RIDS[s] for s in SAMPLES[:4]},
                                     input_batches=("b1",)), release_dir=rel / "v1", release="v1", **opts)
    before = tree_hash(rel / "v1")
    v2 = write_release(ReleaseInputs(cohort_vds=str(VDS), research_ids=RIDS, withdrawn=frozenset({"HG00187"}),
                                     input_batches=("b1", "b2")), release_dir=rel / "v2", release="v2", **opts)
    return rel, v1, v2, before


@pytest.fixture
def damaged(releases, tmp_path):
    rel, *_ = releases
    dst = tmp_path / "v2"
    shutil.copytree(rel / "v2", dst)
    return dst


def test_v2_never_touches_v1_and_notes_count_changes(releases):
    rel, v1, v2, before = releases
    assert tree_hash(rel / "v1") == before
    assert v2["previous_release"] == "v1" and v1["previous_release"] is None
    ch = v2["changes"]
    assert ch["samples_added"] == 1 and ch["samples_removed"] == 1  # HG00320 in, HG00187 withdrawn
    assert ch["variants_added"] + v1["n_variants"] - ch["variants_removed"] == v2["n_variants"]
    notes = (rel / "v2" / "RELEASE_NOTES.md").read_text()
    assert "Compared with `v1`" in notes and "samples added: 1" in notes
    assert "samples no longer released (withdrawn or failing QC; counted, not named): 1" in notes
    assert f"variants added: {ch['variants_added']}" in notes and RIDS["HG00187"] not in notes
    assert v2["n_withdrawn_excluded"] == 1


def test_intact_releases_verify_clean(releases, capsys):
    rel, *_ = releases
    assert verify_release(rel / "v1") == [] and verify_release(rel / "v2") == []
    assert cli_main(["verify", str(rel / "v2")]) == 0
    assert "OK" in capsys.readouterr().out


def test_flipped_byte_is_caught(damaged, capsys):
    bed = next(damaged.glob("acaf/plink/*.bed"))
    data = bytearray(bed.read_bytes())
    data[-1] ^= 0x01
    bed.write_bytes(bytes(data))
    problems = verify_release(damaged)
    assert any(str(bed) in p and "sha256" in p for p in problems), problems
    assert cli_main(["verify", str(damaged)]) == 1
    assert "sha256 differs" in capsys.readouterr().out


def test_deleted_shard_is_caught(damaged):
    shard = damaged / "mt" / "shard_00002.mt"
    shutil.rmtree(shard)
    problems = verify_release(damaged)
    assert any(str(shard) in p and "missing" in p for p in problems), problems
    assert sum("listed in manifest.json but missing" in p for p in problems) > 3


def test_truncated_vcf_is_caught(damaged):
    vcf = next(damaged.glob("acaf/vcf/*.vcf.bgz"))
    data = vcf.read_bytes()
    vcf.write_bytes(data[: len(data) - 40])
    problems = [p for p in verify_release(damaged, open_with_hail=False) if str(vcf) in p]
    assert any("truncated" in p for p in problems) and any("size" in p for p in problems), problems


def test_unlisted_file_and_broken_mt_metadata_are_caught(damaged):
    (damaged / "acaf" / "notes.txt").write_text("hello")
    meta = damaged / "mt" / "shard_00001.mt" / "metadata.json.gz"
    meta.write_bytes(b"not gzip")
    problems = verify_release(damaged)
    assert any("notes.txt" in p and "not listed" in p for p in problems), problems
    assert any(str(damaged / "mt" / "shard_00001.mt") in p and "cannot be read by Hail" in p for p in problems)


def test_unfinished_release_is_refused(releases, tmp_path):
    rel, *_ = releases
    partial = tmp_path / ".v3.partial"
    shutil.copytree(rel / "v1", partial)
    with pytest.raises(ReleaseError, match="unfinished"):
        verify_release(partial)
    half = tmp_path / "v3"
    shutil.copytree(rel / "v1", half)
    (half / "manifest.json").unlink()
    with pytest.raises(ReleaseError, match="no manifest.json"):
        verify_release(half)
    assert cli_main(["verify", str(half)]) == 2  # not a release: an input error, not a damaged release
