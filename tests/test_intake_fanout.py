"""Intake fanned out (issue 18 §2): per-chunk check jobs + one gather per batch give the same reports, staged
files, research-ID map and registry as the batch-level intake did (tests/data/intake_golden.json, recorded
from the code before the fan-out; see tests/intake_golden.py)."""

from __future__ import annotations

import copy
import json
import math
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from intake_fixtures import copy_gvcf, good_row, write_manifest
from intake_golden import GOLDEN, RECODING, build_inbox, run_intake_workflow, snapshot, write_config

from callset.errors import CallsetError
from callset.intake.batches import row_chunks
from callset.intake.checks import md5sum
from callset.intake.manifest import read_manifest
from callset.intake.reblock import ReblockResult, ReblockSettings
from callset.intake.registry import export_research_ids
from callset.intake.run import (
    IntakeSettings,
    SampleResult,
    check_rows,
    gather_batch,
    read_sample_results,
    run_intake,
    write_sample_results,
)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def golden() -> dict:
    g = json.loads(GOLDEN.read_text())
    g.pop("made_with")
    return g


def assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key


@pytest.mark.slow
@pytest.mark.parametrize("per_job", [1, 7])
def test_fanned_out_workflow_matches_batch_level_outputs(tmp_path: Path, per_job: int) -> None:
    batches = build_inbox(tmp_path / "inbox")
    write_config(tmp_path / "config.yaml", samples_per_job=per_job)
    run_intake_workflow(tmp_path, REPO, batches)
    assert_same(snapshot(tmp_path), golden())
    # one check job per chunk of rows, each with its own log; the chunk results were temporary
    for b in batches:
        n_rows = len(read_manifest(tmp_path / "inbox" / b / "manifest.tsv"))
        logs = sorted(p.name for p in (tmp_path / "results" / "logs" / "intake" / b).glob("rows_*.log"))
        want = sorted(f"rows_{a}-{z}.log" for a, z in row_chunks(n_rows, per_job))
        assert logs == want and len(want) == math.ceil(n_rows / per_job)
        assert not list((tmp_path / "results" / "intake" / b / "checks").glob("*.json"))
    # a finished batch is not redone when the chunk size changes (nothing to do), but is when its manifest does
    write_config(tmp_path / "config.yaml", samples_per_job=per_job + 3)
    assert "Nothing to be done" in _dry_run(tmp_path)
    manifest = tmp_path / "inbox" / "b2" / "manifest.tsv"
    manifest.write_text(manifest.read_text().replace("\t35\t", "\t36\t", 1))  # the center corrected a value
    planned = _dry_run(tmp_path)
    jobs = dict(re.findall(r"^(intake_check|intake_batch)\s+(\d+)$", planned, re.M))
    assert jobs == {"intake_check": str(len(row_chunks(6, per_job + 3))), "intake_batch": "1"}, planned
    assert "/intake/b1/" not in planned.replace(f"{tmp_path}/results/intake/b1/report.tsv", ""), planned


def _dry_run(root: Path) -> str:
    targets = [str(root / "results" / "intake" / b / "report.tsv") for b in ("b1", "b2")]
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(root),
         "-n", *targets, "--configfile", str(root / "config.yaml")],
        capture_output=True, text=True, cwd=REPO, check=True,
    )
    return proc.stdout + proc.stderr


#: the workflow's default reblocking (intake.reblock defaults, release_options.ref_block_max_length 1000)
WORKFLOW_REBLOCK = ReblockSettings.from_config(None, max_block_length=1000)


def test_in_process_intake_matches_batch_level_outputs(tmp_path: Path) -> None:
    """``run_intake`` (check_sample for every row, then gather_batch) keeps today's outputs too."""
    batches = build_inbox(tmp_path / "inbox")
    results = tmp_path / "results"
    for b in batches:
        run_intake(tmp_path / "inbox" / b, out_dir=results / "intake" / b, registry_path=results / "registry.sqlite",
                   contig_recoding=RECODING, reblock=WORKFLOW_REBLOCK,
                   identity={"activate": True})  # the workflow's default (intake.identity); the library's is off
    export_research_ids(results / "registry.sqlite", results / "private" / "research_ids.tsv")
    assert_same(snapshot(tmp_path), golden())


def test_sample_results_round_trip_through_json(tmp_path: Path) -> None:
    batches = build_inbox(tmp_path / "inbox")
    batch = tmp_path / "inbox" / batches[1]
    settings = IntakeSettings(contig_recoding=RECODING, reblock=WORKFLOW_REBLOCK)
    results = check_rows(batch, settings, out_dir=tmp_path / "out")
    assert results[0].scan is not None and results[0].scan.extents and results[0].staged is not None
    assert results[0].reblocked is not None and results[0].reblocked.path.is_file()
    assert results[0].stage_notes  # the recoded file got a renamed copy
    chunks = []
    for i, (a, z) in enumerate(row_chunks(len(results), 4)):
        chunks.append(tmp_path / "checks" / f"{i}.json")
        write_sample_results(chunks[-1], batch, results[a - 1 : z])
    back = read_sample_results(chunks[::-1], batch)  # any order of files: manifest order back
    assert back == results
    assert isinstance(back[0].staged, Path) and isinstance(back[0].scan.extents["chr22"], tuple)
    # the reblocked file made by the check job reaches the gather (accepted.tsv, registry) intact
    rb = back[0].reblocked
    assert isinstance(rb, ReblockResult) and isinstance(rb.path, Path) and rb == results[0].reblocked
    assert rb.settings["gq_bands"] == [0, 20, 30, 40] and rb.n_blocks_out > 0


def test_gather_refuses_results_of_another_manifest_or_missing_rows(tmp_path: Path) -> None:
    b = tmp_path / "inbox" / "b1"
    write_manifest(b, [good_row(s, b) for s in ("HG00187", "HG00190")])
    settings = IntakeSettings()
    out = tmp_path / "results" / "intake" / "b1"
    first = tmp_path / "c1.json"
    write_sample_results(first, b, check_rows(b, settings, out_dir=out, rows=slice(0, 1)))
    with pytest.raises(CallsetError, match=r"no per-sample result for line\(s\) \[3\]"):
        read_sample_results([first], b)
    with pytest.raises(CallsetError, match="also checked by another job"):
        read_sample_results([first, first], b)
    rows = (b / "manifest.tsv").read_text().splitlines()
    (b / "manifest.tsv").write_text("\n".join([rows[0], rows[2], rows[1]]) + "\n")  # the center re-sent it
    with pytest.raises(CallsetError, match="checked against another version of"):
        read_sample_results([first], b)


def test_gather_removes_staged_files_of_samples_the_registry_rejects(tmp_path: Path) -> None:
    """A sample whose own checks pass is staged (and reblocked) by its check job; when the batch's gather
    rejects it (here: a sample_id accepted in an earlier batch) its staged and reblocked files go."""
    inbox, results = tmp_path / "inbox", tmp_path / "results"
    write_manifest(inbox / "b1", [good_row("HG00187", inbox / "b1")])
    run_intake(inbox / "b1", out_dir=results / "intake" / "b1", registry_path=results / "registry.sqlite")
    write_manifest(inbox / "b2", [good_row(s, inbox / "b2") for s in ("HG00187", "HG00190")])
    out = results / "intake" / "b2"
    checked = check_rows(inbox / "b2", IntakeSettings(reblock=WORKFLOW_REBLOCK), out_dir=out)
    assert sorted(p.name for p in (out / "gvcf").iterdir()) == [
        "HG00187.g.vcf.gz", "HG00187.g.vcf.gz.tbi", "HG00190.g.vcf.gz", "HG00190.g.vcf.gz.tbi"]
    assert sorted(p.name for p in (out / "reblocked").iterdir()) == [
        "HG00187.rb.g.vcf.gz", "HG00187.rb.g.vcf.gz.tbi", "HG00190.rb.g.vcf.gz", "HG00190.rb.g.vcf.gz.tbi"]
    res = gather_batch(inbox / "b2", checked, out_dir=out, registry_path=results / "registry.sqlite")
    assert [s.accepted for s in res.samples] == [False, True]
    assert sorted(p.name for p in (out / "gvcf").iterdir()) == ["HG00190.g.vcf.gz", "HG00190.g.vcf.gz.tbi"]
    assert sorted(p.name for p in (out / "reblocked").iterdir()) == ["HG00190.rb.g.vcf.gz", "HG00190.rb.g.vcf.gz.tbi"]



def _same_person_row(sample: str, new_id: str, batch: Path) -> dict[str, str]:
    """``sample``'s gVCF under another sample_id (header renamed, so another file with the same genotypes)."""
    import pysam
    import pysam.bcftools

    src = copy_gvcf(sample, batch / "src")
    names = batch / f"{new_id}.names.txt"
    names.write_text(f"{new_id}\n")
    dst = batch / f"{new_id}.g.vcf.gz"
    pysam.bcftools.reheader("-s", str(names), "-o", str(dst), str(src), catch_stdout=False)
    pysam.tabix_index(str(dst), preset="vcf", force=True)
    return {"sample_id": new_id, "gvcf": dst.name, "gvcf_md5": md5sum(dst), "reported_sex": "unknown"}


def test_registry_lists_no_files_of_samples_the_gather_rejects(tmp_path: Path) -> None:
    """Issue 18 §2: a sample whose own checks pass is reblocked by its check job; when the gather rejects it (a
    sample_id accepted in an earlier batch; the same person as an earlier participant under a new ID) its
    reblocked file is deleted, and the registry's files table must not list it. Every file listed exists."""
    inbox, results = tmp_path / "inbox", tmp_path / "results"
    registry = results / "registry.sqlite"
    # the chr22 slices (chr22:10.5-12.6 Mb) hold no site of the shipped genome-wide panel: a 17-site panel derived
    # from them (the one shipped before NGSCheckMate's; they call 5-7 of its sites)
    identity = {"activate": True, "min_sites": 5, "panel": str(DATA / "fingerprint_chr22_demo.sites.vcf")}
    write_manifest(inbox / "b1", [good_row("HG00187", inbox / "b1")])
    run_intake(inbox / "b1", out_dir=results / "intake" / "b1", registry_path=registry, reblock=WORKFLOW_REBLOCK,
               identity=identity)
    b2, out = inbox / "b2", results / "intake" / "b2"
    write_manifest(b2, [good_row("HG00187", b2), good_row("HG00190", b2), _same_person_row("HG00187", "NEW1", b2)])
    checked = check_rows(b2, IntakeSettings(reblock=WORKFLOW_REBLOCK, identity=identity), out_dir=out)
    assert [r.accepted and r.reblocked is not None for r in checked] == [True, True, True]
    rerun = copy.deepcopy(checked)  # the gather takes the registry's reasons into the results it is given
    res = gather_batch(b2, checked, out_dir=out, registry_path=registry, identity=identity)
    assert [s.accepted for s in res.samples] == [False, True, False]
    assert "duplicate sample_id 'HG00187'" in res.samples[0].reasons[0]
    assert "same person as a participant accepted in batch b1" in res.samples[2].reasons[0]
    assert sorted(p.name for p in (out / "reblocked").iterdir()) == ["HG00190.rb.g.vcf.gz", "HG00190.rb.g.vcf.gz.tbi"]
    with sqlite3.connect(registry) as con:
        files = con.execute("SELECT batch_id, sample_id, kind, path FROM files").fetchall()
    assert sorted((b, s, k) for b, s, k, _ in files) == [
        ("b1", "HG00187", "gvcf"), ("b1", "HG00187", "reblocked_gvcf"),
        ("b2", "HG00187", "gvcf"), ("b2", "HG00190", "gvcf"), ("b2", "HG00190", "reblocked_gvcf"),
        ("b2", "NEW1", "gvcf"),
    ]
    assert [p for *_, p in files if not Path(p).is_file()] == []
    # the same decisions again: the registry sees nothing new (the digest covers what it recorded)
    again = gather_batch(b2, rerun, out_dir=out, registry_path=registry, identity=identity)
    assert not again.registry_changed

@dataclass
class Extra:
    sites: tuple[int, ...] = ()
    score: float | None = None
    by_contig: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class WithExtra(SampleResult):
    extra: Extra | None = None


def test_sample_result_json_keeps_new_fields() -> None:
    """A field a later per-sample check adds (dataclass, tuple, optional float, dict of lists) travels too."""
    from callset.intake.manifest import ManifestRow
    from callset.intake.results_json import from_json_obj, to_json_obj

    obj = WithExtra(row=ManifestRow(line=2, values={"sample_id": "A", "mean_coverage": 31.0}),
                    extra=Extra(sites=(1, 5), score=float("inf"), by_contig={"chr1": [0.5, 1e-300]}))
    back = from_json_obj(WithExtra, json.loads(json.dumps(to_json_obj(obj))))
    assert back == obj and isinstance(back.extra, Extra) and back.extra.sites == (1, 5)


def test_identity_and_flavor_results_travel_to_the_gather(tmp_path: Path) -> None:
    """With identity checks on (a panel the chr22 slices call sites of), the check job's fingerprint (numpy
    genotypes) and the gVCF flavor reach the gather unchanged, and the header lines used by the flavor check do
    not travel."""
    import numpy as np

    from callset.intake.flavors import FlavorInfo
    from callset.intake.identity import Fingerprint

    b = tmp_path / "inbox" / "b1"
    write_manifest(b, [good_row(s, b) for s in ("HG00187", "HG00190")])
    demo_panel = str(DATA / "fingerprint_chr22_demo.sites.vcf")
    settings = IntakeSettings(identity={"activate": True, "panel": demo_panel}, reblock=WORKFLOW_REBLOCK)
    assert settings.identity_context is not None
    results = check_rows(b, settings, out_dir=tmp_path / "out")
    path = tmp_path / "c.json"
    write_sample_results(path, b, results)
    back = read_sample_results([path], b)
    for got, want in zip(back, results, strict=True):
        fp, fp0 = got.scan.fingerprint, want.scan.fingerprint
        assert isinstance(fp, Fingerprint) and fp.genotypes.dtype == fp0.genotypes.dtype
        assert np.array_equal(fp.genotypes, fp0.genotypes) and fp.panel == fp0.panel and fp.n_called > 0
        assert isinstance(got.flavor, FlavorInfo) and got.flavor == want.flavor and got.flavor.flavor == "gatk"
        assert got.scan.header_lines == [] and got.reblocked == want.reblocked
