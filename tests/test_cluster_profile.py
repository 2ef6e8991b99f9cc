"""profiles/slurm gives every Hail rule its own threads and memory (issue 18): a rule's `threads: workflow.cores`
is evaluated where Snakemake runs (the login node under the SLURM executor), not on the compute node."""

from __future__ import annotations

import re

import yaml
from conftest import REPO


def hail_rules() -> set[str]:
    """Rules of rules/*.smk that declare the ``hail_jobs`` resource (one Spark driver each)."""
    out = set()
    for smk in (REPO / "rules").glob("*.smk"):
        for block in re.split(r"(?m)^(?=rule )", smk.read_text()):
            m = re.match(r"rule (\w+):", block)
            if m and re.search(r"(?m)^\s+hail_jobs\s*=", block):
                out.add(m.group(1))
    return out


def test_every_hail_rule_has_threads_and_memory_in_the_slurm_profile():
    rules = hail_rules()
    assert {"combine_batch", "sample_qc", "variant_qc_sites", "release"} <= rules
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    default_mem = profile["default-resources"]["mem_mb"]
    for rule in sorted(rules):
        assert isinstance(profile["set-threads"].get(rule), int) and profile["set-threads"][rule] > 1, rule
        res = profile["set-resources"].get(rule, {})
        assert res.get("mem_mb", 0) > default_mem and res.get("runtime"), rule


def test_profile_cores_do_not_scale_the_hail_rules_threads_down():
    """Under a cluster executor `cores` caps every job's threads: the profile's must not undo its set-threads."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert isinstance(profile["cores"], int) and profile["cores"] >= max(profile["set-threads"].values())


def test_thread_problems_name_each_rule_once_and_why():
    from callset.runtime.cluster import hail_thread_message, hail_thread_problems

    asked = {"combine_batch": 8, "release": 4}
    jobs = [("combine_batch", 2), ("combine_batch", 2), ("release", 4), ("sample_qc", 2)]
    problems = hail_thread_problems(jobs, asked, 2)
    assert problems == [
        "combine_batch: set-threads 8 scaled down to 2 by cores: 2",
        "sample_qc: no set-threads (it would take the 2 cores of the submitting host)",
    ]
    assert hail_thread_problems([("combine_batch", 8), ("release", 4)], asked, 1024) == []
    line = hail_thread_message(problems)
    assert "\n" not in line and "--workflow-profile profiles/slurm" in line
