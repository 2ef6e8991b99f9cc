"""One source of truth for defaults (issue 15): stages take their thresholds from the config schema
(:func:`callset.config.section`), and library functions whose keyword defaults mirror a config key agree with it."""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any

import pytest

from callset.config import section


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def test_sample_qc_settings_are_the_schema_defaults_updated_by_what_is_given():
    from callset.sample_qc.settings import PARTS, SampleQCSettings

    default = SampleQCSettings.from_config()
    for part in PARTS:
        assert dict(getattr(default, part)) == section(f"sample_qc.{part}"), part
    assert default.hard_filters["min_mean_coverage"] == 30 and default.hard_filters["min_call_rate"] is None
    assert default.relatedness["min_independent_markers"] == {"duplicate": 300, "first": 1000, "second": 10000}

    given = SampleQCSettings.from_config(
        hard_filters={"min_mean_coverage": 20, "max_contamination": None},
        relatedness={"method": "pc_relate", "min_independent_markers": {"second": 50}},
        sex={"x_single": [0.4, 1.3]},
    )
    hard = section("sample_qc.hard_filters")
    assert given.hard_filters == {**hard, "min_mean_coverage": 20, "max_contamination": None}
    assert given.relatedness["method"] == "pc_relate" and given.relatedness["k"] == 3
    assert given.relatedness["min_independent_markers"] == {"duplicate": 300, "first": 1000, "second": 50}
    assert given.qc_sites == section("sample_qc.qc_sites")
    # the karyotype cutoffs as compute_karyotype takes them; the record keeps every value used
    assert given.sex_cutoffs["x_single"] == (0.4, 1.3) and given.sex_cutoffs["x_double"] == (1.6, 2.5)
    assert given.record()["sex_cutoffs"] == given.sex_cutoffs
    assert given.record()["hard_filters"]["min_genome_coverage_20x"] == 0.9


def test_sample_qc_settings_read_renamed_keys_and_refuse_unknown_sections(caplog):
    from callset.sample_qc.settings import SampleQCSettings

    with caplog.at_level(logging.WARNING, logger="callset.config"):
        s = SampleQCSettings.from_config(qc_sites={"min_callrate": 0.8})
    assert s.qc_sites["min_call_rate"] == 0.8 and "min_callrate" not in s.qc_sites
    assert "sample_qc.qc_sites.min_callrate is now called sample_qc.qc_sites.min_call_rate" in caplog.text
    with pytest.raises(TypeError, match="unknown section"):
        SampleQCSettings.from_config(thresholds={"min_mean_coverage": 20})


def test_run_sample_qc_takes_settings_or_sections_not_both():
    from callset.sample_qc.pipeline import run_sample_qc
    from callset.sample_qc.settings import SampleQCSettings

    with pytest.raises(TypeError, match="not both"):
        run_sample_qc(None, settings=SampleQCSettings.from_config(), qc_sites={"min_af": 0.05})  # type: ignore[arg-type]


def test_intake_thresholds_are_the_schema_defaults_updated_by_what_is_given():
    from callset.intake.run import IntakeSettings

    assert dict(IntakeSettings().thresholds) == section("intake.thresholds")
    relaxed = IntakeSettings(thresholds={"max_contamination": None, "min_mean_coverage": 20})
    assert relaxed.thresholds == {**section("intake.thresholds"), "max_contamination": None, "min_mean_coverage": 20}


# (library function, config section, {config key: keyword}) for keywords that mirror a config key. Keys a stage
# passes on from the config every time (so the library's own default is never what a run uses) are listed too:
# a library caller gets the workflow's behaviour.
MIRRORS = [
    ("sample_qc.sex:karyotype_expr", "sample_qc.sex", None),
    ("sample_qc.contamination:compute_contamination", "sample_qc.contamination", None),
    ("sample_qc.relatedness:compute_kinship", "sample_qc.relatedness",
     {"k": "k", "min_individual_maf": "min_individual_maf", "max_pairs_per_sample": "max_pairs_per_sample",
      "min_independent_markers": "min_independent_markers"}),
    ("sample_qc.metrics:get_qc_mt", "sample_qc.qc_sites", {"min_af": "min_af", "min_call_rate": "min_callrate"}),
    ("sample_qc.outliers:outlier_flags", "sample_qc.outliers", None),
    ("sample_qc.ancestry:compute_ancestry_pcs", "sample_qc.ancestry", {"n_pcs": "n_pcs", "min_sites": "min_sites"}),
    ("sample_qc.ancestry:assign_ancestry", "sample_qc.ancestry", {"min_prob": "min_prob"}),
    ("variant_qc.pipeline:compute_site_metrics", "variant_qc.genotype_filter", None),
    ("variant_qc.filters:site_filters_expr", "variant_qc.site_filters", None),
    ("variant_qc.learned:annotate_learned_filter", "variant_qc.learned_filter", None),
]


@pytest.mark.parametrize(("name", "path", "keys"), MIRRORS, ids=[f"{m[0].split(':')[1]}-{m[1]}" for m in MIRRORS])
def test_library_keyword_defaults_agree_with_the_schema(name, path, keys):
    module, attr = name.split(":")
    func = getattr(importlib.import_module(f"callset.{module}"), attr)
    params = inspect.signature(func).parameters
    values = section(path)
    for key, kw in (keys or {k: k for k in values}).items():
        assert kw in params, f"{attr} has no keyword {kw} for {path}.{key}"
        assert _plain(params[kw].default) == _plain(values[key]), f"{path}.{key}"
