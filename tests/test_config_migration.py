"""Renamed config keys (issue 15): an old-style config is read under the new names, with one warning line per
old key, before the schema validates it; through Snakemake the old values reach sample QC."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, make_batch, run_snakemake, write_config
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from callset.config import RENAMED_KEYS, migrate_renamed_keys, migrated_config, section
from callset.errors import ConfigError
from callset.release.guard import config_changes

SCHEMA = str(REPO / "config" / "schemas" / "config.schema.yaml")
OLD_STYLE = {
    "inbox": "/data/inbox",
    "sample_qc": {
        "qc_sites": {"min_af": 0.05, "min_callrate": 0.9},
        "hard_filters": {"min_mean_coverage": 25, "min_coverage_20x": 0.8, "sex": False},
    },
}


def test_old_keys_move_to_their_new_names_with_one_line_each():
    cfg = copy.deepcopy(OLD_STYLE)
    lines = migrate_renamed_keys(cfg)
    assert cfg == {
        "inbox": "/data/inbox",
        "sample_qc": {
            "qc_sites": {"min_af": 0.05, "min_call_rate": 0.9},
            "hard_filters": {"min_mean_coverage": 25, "min_genome_coverage_20x": 0.8, "sex": False},
        },
    }
    assert len(lines) == 2
    for (old, new), line in zip(RENAMED_KEYS.items(), lines, strict=True):
        assert "\n" not in line and old in line and new in line
    assert migrate_renamed_keys(cfg) == []  # a new-style config is left as it is
    assert migrate_renamed_keys({"inbox": "x", "sample_qc": None}) == []  # and so is one without the sections


def test_old_style_config_validates_only_once_migrated():
    with pytest.raises(WorkflowError):  # the schema does not know the old names (additionalProperties: false)
        validate(copy.deepcopy(OLD_STYLE), SCHEMA)
    cfg = copy.deepcopy(OLD_STYLE)
    migrate_renamed_keys(cfg)
    validate(cfg, SCHEMA)  # fills the defaults
    assert cfg["sample_qc"]["qc_sites"]["min_call_rate"] == 0.9
    assert cfg["sample_qc"]["hard_filters"]["min_genome_coverage_20x"] == 0.8
    assert cfg["sample_qc"]["hard_filters"]["max_contamination"] == 0.03  # a default, filled


def test_both_names_agreeing_are_accepted_disagreeing_stop_with_one_line():
    same = {"sample_qc": {"qc_sites": {"min_callrate": 0.9, "min_call_rate": 0.9}}}
    assert len(migrate_renamed_keys(same)) == 1 and same == {"sample_qc": {"qc_sites": {"min_call_rate": 0.9}}}
    with pytest.raises(ConfigError) as e:
        migrate_renamed_keys({"sample_qc": {"hard_filters": {"min_coverage_20x": 0.8, "min_genome_coverage_20x": 0.9}}})
    msg = str(e.value)
    assert "\n" not in msg and "sample_qc.hard_filters.min_coverage_20x" in msg
    assert "sample_qc.hard_filters.min_genome_coverage_20x" in msg and "0.8" in msg and "0.9" in msg


def test_section_reads_old_names_in_its_overrides(caplog):
    given = {"min_callrate": 0.8}
    with caplog.at_level(logging.WARNING, logger="callset.config"):
        qc_sites = section("sample_qc.qc_sites", given)
    assert qc_sites["min_call_rate"] == 0.8 and "min_callrate" not in qc_sites
    assert qc_sites["min_af"] == 0.01  # schema default
    assert given == {"min_callrate": 0.8}  # the caller's mapping is not changed
    assert [r.getMessage() for r in caplog.records if "min_callrate" in r.getMessage()] == [
        migrate_renamed_keys({"min_callrate": 0}, at="sample_qc.qc_sites")[0]
    ]
    assert section("sample_qc", {"hard_filters": {"min_coverage_20x": 0.7}})["hard_filters"][
        "min_genome_coverage_20x"] == 0.7


def test_release_recorded_with_old_names_shows_no_settings_change():
    recorded = copy.deepcopy(OLD_STYLE)
    # what a release written before the rename recorded: the effective config with the old names
    old_effective = migrated_config(recorded)
    validate(old_effective, SCHEMA)
    old_effective["sample_qc"]["qc_sites"]["min_callrate"] = old_effective["sample_qc"]["qc_sites"].pop("min_call_rate")
    hf = old_effective["sample_qc"]["hard_filters"]
    hf["min_coverage_20x"] = hf.pop("min_genome_coverage_20x")
    new_effective = migrated_config(recorded)
    validate(new_effective, SCHEMA)
    assert config_changes(old_effective, new_effective) == []
    new_effective["sample_qc"]["qc_sites"]["min_call_rate"] = 0.99
    assert config_changes(old_effective, new_effective) == ["sample_qc.qc_sites.min_call_rate: 0.9 -> 0.99"]


@pytest.mark.slow
def test_old_style_config_runs_sample_qc_with_its_values(tmp_path: Path):
    """Through Snakemake: an old-style config runs (one warning line per old key), the effective config has the
    new names with the old values, and sample QC applies the old-named 20x threshold to center-reported
    coverage: 0.95 fails at 0.99 (it would pass at the default 0.9), 0.995 passes."""
    samples = ["HG00187", "HG00190", "HG00308", "HG00313", "HG00320", "HG00323", "HG00373", "HG00553"]
    batch = make_batch(tmp_path / "inbox", "b1", samples)
    manifest = pd.read_csv(batch / "manifest.tsv", sep="\t", dtype=str)
    manifest["mean_coverage"] = "35"
    manifest["genome_coverage_20x"] = ["0.95", "0.995"] + [""] * (len(samples) - 2)
    manifest.loc[2:, "mean_coverage"] = ""
    manifest.to_csv(batch / "manifest.tsv", sep="\t", index=False)
    cfg = write_config(tmp_path / "config.yaml", sample_qc={
        "activate": True, "qc_sites": {"min_callrate": 0.9}, "hard_filters": {"min_coverage_20x": 0.99},
    })
    assert "min_callrate" in yaml.safe_load(cfg.read_text())["sample_qc"]["qc_sites"]
    proc = run_snakemake(tmp_path, cfg, str(tmp_path / "results" / "qc" / "sample_qc.tsv"))
    warned = [ln for ln in proc.stderr.splitlines() if "is now called" in ln]
    assert len(warned) == 2, proc.stderr[-3000:]
    assert any("sample_qc.qc_sites.min_callrate" in ln and "sample_qc.qc_sites.min_call_rate" in ln for ln in warned)
    assert any("sample_qc.hard_filters.min_coverage_20x" in ln
               and "sample_qc.hard_filters.min_genome_coverage_20x" in ln for ln in warned)
    eff = json.loads((tmp_path / "results" / "logs" / "effective_config.json").read_text())["sample_qc"]
    assert eff["qc_sites"]["min_call_rate"] == 0.9 and "min_callrate" not in eff["qc_sites"]
    assert eff["hard_filters"]["min_genome_coverage_20x"] == 0.99 and "min_coverage_20x" not in eff["hard_filters"]
    ids = pd.read_csv(tmp_path / "results" / "private" / "research_ids.tsv", sep="\t", dtype=str)
    rid = dict(zip(ids.sample_id, ids.research_id, strict=True))
    qc = pd.read_csv(tmp_path / "results" / "qc" / "sample_qc.tsv", sep="\t", dtype=str,
                     keep_default_na=False).set_index("research_id")
    assert qc.loc[rid["HG00187"], "coverage_source"] == "center"
    assert "low_coverage_20x" in qc.loc[rid["HG00187"], "hard_filter_reasons"].split(";")
    assert "low_coverage_20x" not in qc.loc[rid["HG00190"], "hard_filter_reasons"].split(";")
    assert not qc.drop(index=[rid["HG00187"]]).hard_filter_reasons.str.contains("low_coverage_20x").any()
