"""Batch intake (callset.intake.run.run_intake) on real files: decisions, reports, registry. No Spark."""

from __future__ import annotations

import csv
import multiprocessing as mp
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from intake_fixtures import GOOD, bad_batch, copy_gvcf, good_row, write_manifest

from callset.intake.registry import Registry, export_research_ids
from callset.intake.run import read_accepted, run_intake


def run(tmp: Path, batch: str, **kw):
    return run_intake(
        tmp / "inbox" / batch,
        out_dir=tmp / "results" / "intake" / batch,
        registry_path=tmp / "results" / "registry.sqlite",
        **kw,
    )


def report(tmp: Path, batch: str) -> dict[str, dict[str, str]]:
    with open(tmp / "results" / "intake" / batch / "report.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert list(rows[0]) == ["sample_id", "status", "reasons"]
    return {r["sample_id"]: r for r in rows}


def test_bad_files_rejected_good_accepted(tmp_path: Path) -> None:
    expect = bad_batch(tmp_path / "inbox" / "b1")
    res = run(tmp_path, "b1")
    rep = report(tmp_path, "b1")
    assert len(rep) == len(GOOD) + len(expect)
    for s in GOOD:
        assert rep[s]["status"] == "accepted" and rep[s]["reasons"] == ""
    for sid, fname in expect.items():
        assert rep[sid]["status"] == "rejected", sid
        assert fname in rep[sid]["reasons"], (sid, rep[sid]["reasons"])
    acc = read_accepted(tmp_path / "results" / "intake" / "b1" / "accepted.tsv")
    assert [r["sample_id"] for r in acc] == GOOD
    for r in acc:
        assert Path(r["gvcf"]).is_absolute() and Path(r["gvcf"] + ".tbi").exists()
        assert list(__import__("json").loads(r["extents"])) == ["chr22"]
    assert "3 accepted, 12 rejected" in res.summary()
    # "not provided" metrics are notes, not reasons
    details = (tmp_path / "results" / "intake" / "b1" / "details.tsv").read_text()
    assert "metrics not provided" in details


def test_manifest_row_problems(tmp_path: Path) -> None:
    b = tmp_path / "inbox" / "b1"
    rows = [good_row("HG00187", b), good_row("HG00190", b, contamination="1.5")]
    rows.append({**rows[0]})  # duplicate sample_id
    rows.append({"sample_id": "X1", "gvcf": "/etc/passwd"})
    rows.append({"sample_id": "X2", "gvcf": "../outside.g.vcf.gz"})
    rows.append({"sample_id": "X3", "gvcf": "missing.g.vcf.gz"})
    (tmp_path / "outside.g.vcf.gz").write_bytes(b"x")
    os.symlink(tmp_path / "outside.g.vcf.gz", b / "link.g.vcf.gz")
    rows.append({"sample_id": "X4", "gvcf": "link.g.vcf.gz"})
    rows.append({**good_row("HG00308", b), "gvcf_md5": "0" * 32, "reported_sex": "martian"})
    write_manifest(b, rows)
    run(tmp_path, "b1")
    with open(tmp_path / "results" / "intake" / "b1" / "report.tsv") as f:
        rep = list(csv.DictReader(f, delimiter="\t"))
    status = [(r["sample_id"], r["status"]) for r in rep]
    assert status[0] == ("HG00187", "accepted")
    reasons = [r["reasons"] for r in rep]
    assert "line 3, column contamination" in reasons[1]
    assert "duplicate sample_id 'HG00187' (first on line 2)" in reasons[2]
    assert "absolute path" in reasons[3]
    assert "'..' not allowed" in reasons[4]
    assert "does not exist" in reasons[5] and "line 7, column gvcf" in reasons[5]
    assert "symlink escape" in reasons[6]
    assert "does not match manifest gvcf_md5" in reasons[7] and "column reported_sex" in reasons[7]


def test_metrics_thresholds(tmp_path: Path) -> None:
    b = tmp_path / "inbox" / "b1"
    ok = {
        "mean_coverage": "35",
        "genome_coverage_20x": "0.95",
        "aligned_q30_bases": "9e10",
        "contamination": "0.01",
    }
    rows = [
        good_row("HG00187", b, **ok),
        good_row("HG00190", b, **{**ok, "mean_coverage": "29.5", "contamination": "0.05"}),
        good_row("HG00308", b, **{**ok, "array_concordance": "0.90"}),
        good_row("HG00313", b),  # nothing provided
    ]
    write_manifest(b, rows)
    run(tmp_path, "b1")
    rep = report(tmp_path, "b1")
    assert rep["HG00187"]["status"] == "accepted"
    assert "mean coverage (" not in rep["HG00187"]["reasons"]
    r = rep["HG00190"]["reasons"]
    assert "mean_coverage: mean coverage 29.5 fails threshold >= 30" in r and "contamination 0.05" in r
    assert "array concordance 0.9 fails threshold >= 0.95" in rep["HG00308"]["reasons"]
    assert rep["HG00313"]["status"] == "accepted"
    # configurable: a looser contamination limit, and required metrics
    shutil.rmtree(tmp_path / "results")
    run(tmp_path, "b1", thresholds={"max_contamination": 0.1, "min_mean_coverage": 25}, require_metrics=True)
    rep = report(tmp_path, "b1")
    assert rep["HG00190"]["status"] == "accepted"
    assert "not provided but required" in rep["HG00313"]["reasons"]
    assert "array_concordance" not in rep["HG00313"]["reasons"]  # optional even when metrics are required


def test_missing_index_is_built_and_reported(tmp_path: Path) -> None:
    b = tmp_path / "inbox" / "b1"
    row = good_row("HG00187", b)
    os.unlink(b / "HG00187.hg38.g.vcf.gz.tbi")
    write_manifest(b, [row])
    res = run(tmp_path, "b1")
    assert res.n_accepted == 1
    staged = Path(read_accepted(tmp_path / "results" / "intake" / "b1" / "accepted.tsv")[0]["gvcf"])
    assert Path(f"{staged}.tbi").exists() and not (b / "HG00187.hg38.g.vcf.gz.tbi").exists()
    assert "built one" in (tmp_path / "results" / "intake" / "b1" / "details.tsv").read_text()


def test_contig_recoding_stages_renamed_copy(tmp_path: Path) -> None:
    from conftest import TESTDATA

    b = tmp_path / "inbox" / "b1"
    b.mkdir(parents=True)
    src = TESTDATA / "gvcf" / "edge" / "recoding" / "HG00187.hg38.recoded.g.vcf.gz"
    shutil.copyfile(src, b / src.name)
    shutil.copyfile(f"{src}.tbi", b / f"{src.name}.tbi")
    write_manifest(b, [{"sample_id": "HG00187", "gvcf": src.name}])
    assert run(tmp_path, "b1").n_accepted == 0
    shutil.rmtree(tmp_path / "results")
    recode = {str(i): f"chr{i}" for i in [*range(1, 23), "X", "Y"]}
    assert run(tmp_path, "b1", contig_recoding=recode).n_accepted == 1
    import pysam

    staged = read_accepted(tmp_path / "results" / "intake" / "b1" / "accepted.tsv")[0]
    assert '"chr22"' in staged["extents"]
    with pysam.VariantFile(staged["gvcf"]) as vf:
        assert next(iter(vf)).chrom == "chr22"


# -- across batches --------------------------------------------------------------------------------


def test_duplicate_id_resubmission_and_duplicate_file(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    write_manifest(inbox / "b1", [good_row(s, inbox / "b1") for s in ["HG00187", "HG00190"]])
    r1 = run(tmp_path, "b1")
    rid = r1.research_ids["HG00187"]
    # b2: HG00187 again without the flag, HG00190 as a deliberate resubmission,
    # and HG00187's file under another ID
    b2 = inbox / "b2"
    dup_file = copy_gvcf("HG00187", b2 / "other")
    write_manifest(
        b2,
        [
            good_row("HG00187", b2),
            good_row("HG00190", b2, resubmission="yes"),
            {"sample_id": "NEWID", "gvcf": "other/" + dup_file.name},
            good_row("HG00308", b2, resubmission="yes"),  # flagged but new: accepted as new, with a note
        ],
    )
    r2 = run(tmp_path, "b2")
    rep = report(tmp_path, "b2")
    assert rep["HG00187"]["status"] == "rejected"
    assert "duplicate sample_id 'HG00187': already accepted in batch b1" in rep["HG00187"]["reasons"]
    assert rep["HG00190"]["status"] == "accepted"
    assert (
        "duplicate file: gVCF md5" in rep["NEWID"]["reasons"]
        and "as HG00187 in batch b1" in rep["NEWID"]["reasons"]
    )
    assert rep["HG00308"]["status"] == "accepted"
    acc = {r["sample_id"]: r for r in read_accepted(tmp_path / "results" / "intake" / "b2" / "accepted.tsv")}
    assert acc["HG00190"]["resubmission"] == "yes" and acc["HG00190"]["replaces_batch"] == "b1"
    assert acc["HG00308"]["resubmission"] == ""
    assert r2.research_ids["HG00190"] == r1.research_ids["HG00190"]  # stable research ID
    reg = Registry(tmp_path / "results" / "registry.sqlite")
    assert {p.sample_id: p.batch_id for p in reg.participants()}["HG00190"] == "b2"
    # re-running the older batch afterwards changes nothing (decisions, research IDs, current batch)
    before = reg.events()
    r1b = run(tmp_path, "b1")
    assert r1b.research_ids["HG00187"] == rid and r1b.n_accepted == 2 and not r1b.registry_changed
    assert reg.events() == before
    assert {p.sample_id: p.batch_id for p in reg.participants()}["HG00190"] == "b2"


def test_withdrawn_participant_cannot_be_resubmitted(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    write_manifest(inbox / "b1", [good_row("HG00187", inbox / "b1")])
    run(tmp_path, "b1")
    reg = Registry(tmp_path / "results" / "registry.sqlite")
    assert reg.record_withdrawals(["HG00187", "UNKNOWN"]) == ["HG00187"]
    assert reg.record_withdrawals(["HG00187"]) == []  # recorded once
    (p,) = reg.participants()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", p.withdrawn_at or "")
    assert reg.participants(include_withdrawn=False) == []
    write_manifest(inbox / "b2", [good_row("HG00187", inbox / "b2", resubmission="yes")])
    run(tmp_path, "b2")
    assert "withdrew on" in report(tmp_path, "b2")["HG00187"]["reasons"]
    # the re-run of the original batch still reports it accepted (history is not rewritten)
    assert report(tmp_path, "b1")["HG00187"]["status"] == "accepted"


def test_idempotent_rerun(tmp_path: Path) -> None:
    bad_batch(tmp_path / "inbox" / "b1")
    r1 = run(tmp_path, "b1")
    out = tmp_path / "results" / "intake" / "b1"
    files = {p.name: p.read_bytes() for p in out.glob("*.tsv")}
    db = tmp_path / "results" / "registry.sqlite"
    dump1 = list(sqlite3.connect(db).iterdump())
    r2 = run(tmp_path, "b1")
    assert not r2.registry_changed and r2.research_ids == r1.research_ids
    assert {p.name: p.read_bytes() for p in out.glob("*.tsv")} == files
    assert list(sqlite3.connect(db).iterdump()) == dump1


def test_changed_file_on_rerun_is_recorded(tmp_path: Path) -> None:
    b = tmp_path / "inbox" / "b1"
    write_manifest(b, [good_row("HG00187", b), good_row("HG00190", b)])
    run(tmp_path, "b1")
    g = b / "HG00190.hg38.g.vcf.gz"
    data = g.read_bytes()
    g.write_bytes(data[: len(data) // 2])  # the disk corrupted it since
    r = run(tmp_path, "b1")
    assert r.registry_changed and r.n_accepted == 1
    reg = Registry(tmp_path / "results" / "registry.sqlite")
    assert any(e[3] == "batch_reregistered" for e in reg.events())
    assert not (tmp_path / "results" / "intake" / "b1" / "gvcf" / "HG00190.g.vcf.gz").exists()


def _run_batch(args: tuple[str, str]) -> dict[str, str]:
    tmp, batch = args
    return run(Path(tmp), batch).research_ids


def test_parallel_batches_share_registry(tmp_path: Path) -> None:
    """Two intake jobs at once on one SQLite registry: both recorded, nothing lost or duplicated; a
    sample_id in both batches is accepted exactly once."""
    inbox = tmp_path / "inbox"
    write_manifest(inbox / "b1", [good_row(s, inbox / "b1") for s in ["HG00187", "HG00190", "HG00308"]])
    write_manifest(inbox / "b2", [good_row(s, inbox / "b2") for s in ["HG00313", "HG00320", "HG00308"]])
    with mp.get_context("spawn").Pool(2) as pool:
        rids = pool.map(_run_batch, [(str(tmp_path), "b1"), (str(tmp_path), "b2")])
    reg = Registry(tmp_path / "results" / "registry.sqlite")
    con = sqlite3.connect(tmp_path / "results" / "registry.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert sorted(r[0] for r in con.execute("SELECT batch_id FROM batches")) == ["b1", "b2"]
    parts = reg.participants()
    assert sorted(p.sample_id for p in parts) == ["HG00187", "HG00190", "HG00308", "HG00313", "HG00320"]
    assert len({p.research_id for p in parts}) == 5
    n_acc_308 = sum("HG00308" in r for r in rids)
    assert n_acc_308 == 1
    out = tmp_path / "private" / "research_ids.tsv"
    assert export_research_ids(tmp_path / "results" / "registry.sqlite", out) == 5
    assert out.read_text().splitlines()[0] == "sample_id\tresearch_id\tbatch_id"


def test_research_ids_reveal_nothing(tmp_path: Path) -> None:
    b = tmp_path / "inbox" / "b1"
    write_manifest(b, [good_row(s, b) for s in GOOD])
    rids = run(tmp_path, "b1").research_ids
    for sid, rid in rids.items():
        assert re.fullmatch(r"CS\d{9}", rid) and sid not in rid and sid[2:] not in rid
    assert len(set(rids.values())) == len(rids)


@pytest.mark.parametrize("bad_name", ["manifest.tsv"])
def test_structural_manifest_error_raises(tmp_path: Path, bad_name: str) -> None:
    from callset.errors import ManifestError

    b = tmp_path / "inbox" / "b1"
    b.mkdir(parents=True)
    (b / bad_name).write_text("sample_id\tgvcf\tsurprise\nA\ta.g.vcf.gz\tx\n")
    with pytest.raises(ManifestError, match="unknown column"):
        run(tmp_path, "b1")


def test_reblocked_copies_finished_in_the_background_are_complete(tmp_path: Path, monkeypatch) -> None:
    """Each row's reblocked copy is compressed and indexed in its thread while the next row is scanned: every
    accepted sample's copy is in place with its index and md5 when intake returns; a copy that fails there (never
    expected) rejects only its sample, naming why, and takes back its staged gVCF."""
    import pysam

    from callset.intake.checks import md5sum
    from callset.intake.reblock import Reblocker, ReblockSettings

    b = tmp_path / "inbox" / "b1"
    write_manifest(b, [good_row(s, b) for s in GOOD])
    real = Reblocker._finalize

    def failing(self: Reblocker) -> None:
        if self.dst.name.startswith("HG00190."):
            raise OSError("disk full (planted)")
        real(self)

    monkeypatch.setattr(Reblocker, "_finalize", failing)
    res = run(tmp_path, "b1", reblock=ReblockSettings())
    rep = report(tmp_path, "b1")
    assert rep["HG00190"]["status"] == "rejected"
    assert "reblocking failed (OSError: disk full (planted)); please report this file" in rep["HG00190"]["reasons"]
    out = tmp_path / "results" / "intake" / "b1"
    assert not (out / "gvcf" / "HG00190.g.vcf.gz").exists() and not (out / "gvcf" / "HG00190.g.vcf.gz.tbi").exists()
    assert not list((out / "reblocked").glob("HG00190*"))
    by_id = {s.row.sample_id: s for s in res.samples}
    for sid in ("HG00187", "HG00308"):
        assert rep[sid]["status"] == "accepted"
        rb = by_id[sid].reblocked
        assert rb is not None and rb.path.exists() and rb.index.exists() and rb.md5 == md5sum(rb.path)
        with pysam.TabixFile(str(rb.path)) as tbx:  # the index answers a region query
            assert sum(1 for _ in tbx.fetch("chr22")) == rb.n_blocks_out + rb.n_copied
