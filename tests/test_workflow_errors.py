"""Operator errors of a workflow run, through Snakemake: a batch whose every sample is rejected ends the run
with one clear line (no traceback), its intake report is written, and a later good batch is joint-called and
released; intake reports name the center's files as written in its manifest, never server paths."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import TESTDATA, make_batch, run_snakemake, write_config

pytestmark = pytest.mark.slow

BAD = TESTDATA / "bad" / "gvcf"


def bad_batch(inbox: Path, batch: str, outside: Path) -> Path:
    """A delivery where nothing is usable: malformed gVCFs (plain text, bad bases, END before POS, no sample
    value), a missing file, and a symlink leading out of the batch folder."""
    d = inbox / batch
    d.mkdir(parents=True)
    rows = ["sample_id\tgvcf"]
    for i, name in enumerate(["bad_dna.gvcf", "bogus_END.gvcf", "bad_nsample.gvcf"]):
        shutil.copyfile(BAD / name, d / name)
        rows.append(f"S{i}\t{name}")
    rows.append("S3\tnot_uploaded.g.vcf.gz")
    outside.write_text("secret\n")
    os.symlink(outside, d / "link.g.vcf.gz")
    rows.append("S4\tlink.g.vcf.gz")
    (d / "manifest.tsv").write_text("\n".join(rows) + "\n")
    return d


def test_batch_with_every_sample_rejected_then_a_good_batch(tmp_path: Path) -> None:
    inbox, results = tmp_path / "inbox", tmp_path / "results"
    bad_batch(inbox, "b1", tmp_path / "server_only.txt")
    cfg = write_config(tmp_path / "config.yaml")

    proc = run_snakemake(tmp_path, cfg, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "ValueError" not in proc.stderr, proc.stderr[-3000:]
    report = results / "intake" / "b1" / "report.tsv"
    last = proc.stderr.strip().splitlines()[-8:]  # then only Snakemake's closing lines
    want = (f"callset: run failed: rule release: no sample has been accepted yet (batch b1: 5 of 5 samples "
            f"rejected, reasons in {report})")
    assert any(line.startswith(want) for line in last), last
    # joint calling recorded the unchanged (empty) cohort without starting Hail
    combine_log = (results / "logs" / "joint_call" / "b1.log").read_text()
    assert "has no accepted sample" in combine_log and "Hail" not in combine_log, combine_log
    assert json.loads((results / "joint" / "cohort" / "b1" / "cohort.json").read_text())["parts"] == []
    assert not (results / "releases" / "v1").exists()

    # the center-facing reports: every sample rejected, files named as in the manifest, no server path
    rows = [ln.split("\t") for ln in report.read_text().splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows] == [(f"S{i}", "rejected") for i in range(5)]
    reasons = {r[0]: r[2] for r in rows}
    assert reasons["S0"].startswith("bad_dna.gvcf: not bgzip-compressed")
    assert "bogus_END.gvcf: line 99 (record 1) (21:10009466): END 10009462 is before POS 10009466" in reasons["S1"]
    assert "manifest.tsv: line 5, column gvcf: not_uploaded.g.vcf.gz: gVCF file does not exist" in reasons["S3"]
    assert "'link.g.vcf.gz' is a symlink that leads outside the batch folder" in reasons["S4"]
    for name in ("report.tsv", "details.tsv"):
        text = (results / "intake" / "b1" / name).read_text()
        assert str(tmp_path) not in text and "server_only" not in text, (name, text)
    # the operator's log keeps the full paths
    intake_log = (results / "logs" / "intake" / "b1.log").read_text()
    assert str(inbox / "b1" / "bad_dna.gvcf") in intake_log and str(tmp_path / "server_only.txt") in intake_log

    # a later good batch: joint-called onto the (empty) cohort and released
    make_batch(inbox, "b2", ["HG00187", "HG00190"])
    run_snakemake(tmp_path, cfg)
    manifest = json.loads((results / "releases" / "v1" / "manifest.json").read_text())
    assert manifest["n_samples"] == 2
    assert report.read_text().count("\trejected\t") == 5  # b1's report is kept as it was
