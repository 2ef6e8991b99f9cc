"""End to end (Snakemake + Hail): every bad file next to good samples in one batch; the good ones are
accepted and released, a withdrawn one is left out, and no submitted sample_id appears in the release."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import run_snakemake, write_config
from intake_fixtures import GOOD, bad_batch, good_row, write_manifest

pytestmark = pytest.mark.slow

WITHDRAWN = "HG00637"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("intake_e2e")
    batch = d / "inbox" / "b1"
    expect = bad_batch(batch)
    rows = list(csv.DictReader((batch / "manifest.tsv").open(), delimiter="\t"))
    rows.append(good_row(WITHDRAWN, batch))
    write_manifest(batch, rows)
    (d / "withdrawals.txt").write_text(f"# participant asked to leave\n{WITHDRAWN}\n")
    cfg = write_config(
        d / "config.yaml",
        combiner={"import_interval_size": 500_000},
        release_options={"target_variants_per_shard": 1000},
        withdrawals=str(d / "withdrawals.txt"),
    )
    run_snakemake(d, cfg)
    (d / "expect.json").write_text(json.dumps(expect))
    return d


def submitted_ids(d: Path) -> set[str]:
    rows = csv.DictReader((d / "inbox" / "b1" / "manifest.tsv").open(), delimiter="\t")
    return {r["sample_id"] for r in rows}


def test_bad_files_rejected_good_samples_released(run_dir: Path) -> None:
    expect = json.loads((run_dir / "expect.json").read_text())
    with open(run_dir / "results" / "intake" / "b1" / "report.tsv") as f:
        rep = {r["sample_id"]: r for r in csv.DictReader(f, delimiter="\t")}
    for sid, fname in expect.items():
        assert rep[sid]["status"] == "rejected" and fname in rep[sid]["reasons"], sid
    for sid in [*GOOD, WITHDRAWN]:
        assert rep[sid]["status"] == "accepted", rep[sid]
    with open(run_dir / "results" / "private" / "research_ids.tsv") as f:
        rids = {r["sample_id"]: r["research_id"] for r in csv.DictReader(f, delimiter="\t")}
    assert set(rids) == {*GOOD, WITHDRAWN}
    release = run_dir / "results" / "releases" / "v1"
    released = (release / "samples.tsv").read_text().split()[1:]
    assert sorted(released) == sorted(rids[s] for s in GOOD)
    from callset.intake.registry import Registry

    parts = {p.sample_id: p for p in Registry(run_dir / "results" / "registry.sqlite").participants()}
    assert parts[WITHDRAWN].withdrawn_at and not parts[GOOD[0]].withdrawn_at


def test_release_tree_has_no_submitted_sample_id(run_dir: Path, hail_session) -> None:
    hl = hail_session
    release = run_dir / "results" / "releases" / "v1"
    ids = submitted_ids(run_dir)
    files = [p for p in release.rglob("*") if p.is_file()]
    assert files
    for p in files:
        data = p.read_bytes()
        for sid in ids:
            assert sid.encode() not in data, (sid, p)
    # Hail files are LZ4 block-compressed: read every table's column keys and globals through Hail
    manifest = json.loads((release / "manifest.json").read_text())
    mts = [release / s["path"] for s in manifest["shards"]]
    assert mts
    seen: list[str] = []
    for mt_path in mts:
        mt = hl.read_matrix_table(str(mt_path))
        seen += mt.s.collect()
        seen.append(str(hl.eval(mt.globals)))
    vds = hl.vds.read_vds(str(release / manifest["vds"]["path"]))
    seen += vds.variant_data.s.collect() + vds.reference_data.s.collect()
    seen.append(str(hl.eval(vds.variant_data.globals)))
    blob = "\n".join(seen)
    for sid in ids:
        assert sid not in blob, sid
    assert set(vds.variant_data.s.collect()) == set((release / "samples.tsv").read_text().split()[1:])
