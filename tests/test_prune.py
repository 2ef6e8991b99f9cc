"""``callset prune`` (issue 18 §4): cohort parts merged away and combiner work folders of finished steps go;
the current cohort, unfinished steps and releases stay, and the workflow neither reruns nor loses anything."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_batch, run_snakemake, write_config

from callset.core.prune import apply_prune, plan_prune
from callset.errors import CallsetError

CALLSET = Path(sys.executable).parent / "callset"


def _step(results: Path, batch: str, index: int, parts: list[tuple[str, int]], *, own_vds: bool = True) -> Path:
    """A finished cohort step as combine_batch writes it (layout 2); ``parts`` = (step whose vds/, level)."""
    d = results / "joint" / "cohort" / batch
    d.mkdir(parents=True, exist_ok=True)
    if own_vds:
        (d / "vds" / "variant_data").mkdir(parents=True)
        (d / "vds" / "variant_data" / "part-0").write_bytes(b"x" * 1000)
    info = {"layout": 2, "index": index, "batch": batch,
            "parts": [{"vds": f"../{b}/vds", "level": lv, "samples": [b], "exclude": [], "batches": [b]}
                      for b, lv in parts]}
    (d / "cohort.json").write_text(json.dumps(info))
    (d / ".snakemake_timestamp").touch()
    return d


def _tree(root: Path) -> dict[str, tuple[int, str]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_plan_removes_merged_parts_and_spent_work_folders_only(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _step(results, "b1", 0, [("b1", 0)])
    _step(results, "b2", 1, [("b2", 1)])  # b1's part merged into b2's
    _step(results, "b3", 2, [("b2", 1), ("b3", 0)])  # the current cohort
    (results / "joint" / "cohort" / "b4" / "vds").mkdir(parents=True)  # being written (no cohort.json)
    for b in ("b2", "b4"):
        (results / "joint" / "_work" / b / "tmp").mkdir(parents=True)
        (results / "joint" / "_work" / b / "plan.json").write_text("{}")
    (results / "releases" / "v1" / "vds").mkdir(parents=True)
    (results / "releases" / "v1" / "manifest.json").write_text("{}")
    release_before = _tree(results / "releases")

    plan = plan_prune(results)
    assert plan.current_step == results / "joint" / "cohort" / "b3"
    assert sorted(str(i.path.relative_to(results)) for i in plan.remove) == ["joint/_work/b2", "joint/cohort/b1/vds"]
    assert plan.bytes == 1000 + 2
    kept = {str(p.relative_to(results)) for p, _ in plan.keep}
    assert kept == {"joint/cohort/b2/vds", "joint/cohort/b3/vds", "joint/cohort/b4", "joint/_work/b4"}

    assert apply_prune(plan) == plan.bytes
    assert not (results / "joint" / "cohort" / "b1" / "vds").exists()
    # the step keeps its record (batch order) and Snakemake's timestamp (no rerun)
    assert (results / "joint" / "cohort" / "b1" / "cohort.json").is_file()
    assert (results / "joint" / "cohort" / "b1" / ".snakemake_timestamp").is_file()
    assert not (results / "joint" / "_work" / "b2").exists() and (results / "joint" / "_work" / "b4").is_dir()
    assert (results / "joint" / "cohort" / "b4" / "vds").is_dir()
    assert _tree(results / "releases") == release_before
    assert plan_prune(results).remove == []  # idempotent


def test_apply_rechecks_against_a_cohort_that_moved_on(tmp_path: Path) -> None:
    """A plan is re-checked when applied: a folder the cohort uses again by then is kept."""
    results = tmp_path / "results"
    _step(results, "b1", 0, [("b1", 0)])
    _step(results, "b2", 1, [("b1", 0), ("b2", 0)])
    plan = plan_prune(results)
    assert plan.remove == []  # b1 and b2 are both parts of the current cohort
    _step(results, "b3", 2, [("b1", 0), ("b3", 1)])  # b2's part merged away
    stale = plan_prune(results)
    assert [i.path.name for i in stale.remove] == ["vds"] and stale.remove[0].path.parent.name == "b2"
    # now a later step lists b2's vds again (e.g. the results folder was restored): the stale plan must not delete it
    _step(results, "b4", 3, [("b1", 0), ("b2", 0)], own_vds=False)
    assert apply_prune(stale) == 0
    assert (results / "joint" / "cohort" / "b2" / "vds").is_dir()


def test_old_single_vds_layout_keeps_only_the_last_cohort(tmp_path: Path) -> None:
    results = tmp_path / "results"
    for i, b in enumerate(("b1", "b2")):
        d = results / "joint" / "cohort" / b
        (d / "vds").mkdir(parents=True)
        (d / "cohort.json").write_text(json.dumps({"index": i, "batch": b, "vds": "vds", "samples": [b]}))
    assert [str(i.path.relative_to(results)) for i in plan_prune(results).remove] == ["joint/cohort/b1/vds"]


def test_cli_dry_run_lists_and_removes_nothing(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _step(results, "b1", 0, [("b1", 0)])
    _step(results, "b2", 1, [("b2", 1)])
    before = _tree(results)
    out = subprocess.run([str(CALLSET), "prune", str(results), "--dry-run"], capture_output=True, text=True, check=True)
    assert "would remove" in out.stdout and "joint/cohort/b1/vds" in out.stdout and "dry run" in out.stdout
    assert _tree(results) == before
    bad = subprocess.run([str(CALLSET), "prune", str(tmp_path / "nope")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().endswith("no such results folder")  # an input error
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_prune_after_real_merges_keeps_the_workflow_whole(tmp_path: Path, hail_session) -> None:
    """Three batches with cohort_fanout 2 (b2 merges b1's part), a release; prune; the workflow has nothing to
    redo, the release is byte-identical and verifies, and a fourth batch + release v2 still work."""
    inbox = tmp_path / "inbox"
    samples = {"b1": ["HG00187", "HG00190"], "b2": ["HG00308", "HG00313"], "b3": ["HG00320", "HG00323"]}
    for b, ss in samples.items():
        make_batch(inbox, b, ss)
    cfg = write_config(tmp_path / "config.yaml", combiner={"import_interval_size": 500_000, "cohort_fanout": 2},
                       release_options={"target_variants_per_shard": 1000}, browser={"activate": False})
    run_snakemake(tmp_path, cfg)
    results = tmp_path / "results"
    steps = results / "joint" / "cohort"
    assert json.loads((steps / "b2" / "cohort.json").read_text())["parts_merged"] == 1
    (results / "joint" / "_work" / "b1" / "tmp").mkdir(parents=True)  # as a killed-then-finished run leaves it
    release = results / "releases" / "v1"
    release_before = _tree(release)

    out = subprocess.run([str(CALLSET), "prune", str(results)], capture_output=True, text=True, check=True)
    assert not (steps / "b1" / "vds").exists() and not (results / "joint" / "_work" / "b1").exists()
    assert (steps / "b2" / "vds").is_dir() and (steps / "b3" / "vds").is_dir(), out.stdout
    assert _tree(release) == release_before
    verify = subprocess.run([str(CALLSET), "verify", "--no-hail", str(release)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    dry = run_snakemake(tmp_path, cfg, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]
    from callset.core.cohort import read_cohort_vds

    with pytest.raises(CallsetError, match="callset prune"):
        read_cohort_vds(steps / "b1")
    # the cohort goes on: a fourth batch (merging b2's and b3's parts) and a new release of all 8 samples
    make_batch(inbox, "b4", ["HG00373", "HG00524"])
    cfg2 = write_config(tmp_path / "config.yaml", release="v2",
                        combiner={"import_interval_size": 500_000, "cohort_fanout": 2},
                        release_options={"target_variants_per_shard": 1000}, browser={"activate": False})
    run_snakemake(tmp_path, cfg2)
    v2 = json.loads((results / "releases" / "v2" / "manifest.json").read_text())
    assert v2["n_samples"] == 8 and _tree(release) == release_before
