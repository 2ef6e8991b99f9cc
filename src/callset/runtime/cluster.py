"""Where a Hail job's threads come from when Snakemake submits jobs to a cluster (SLURM).

The Hail rules say ``threads: workflow.cores``: under a cluster executor that is counted where Snakemake runs,
not on the node, and Snakemake scales every job's threads down to ``--cores``. So each Hail rule needs its
threads from the profile (``set-threads``) and ``cores`` must not be below them. Snakemake 9 also loads the
workflow profile ``profiles/default`` (``cores: 2``, one Hail job at a time, local memory defaults) with every run
unless ``--workflow-profile`` names another one, and its keys win over ``--profile``: run the cluster with
``--workflow-profile profiles/slurm`` (docs/cluster.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def hail_thread_problems(jobs: Iterable[tuple[str, int]], asked: Mapping[str, object], cores: int | None) -> list[str]:
    """What is wrong with the threads of the planned Hail jobs of a cluster run, one phrase per rule.

    :param jobs: (rule, threads Snakemake gave the job) of every planned job of a Hail rule.
    :param asked: ``set-threads`` of the run (rule -> int or a Snakemake ``Resource`` holding it).
    :param cores: the run's ``--cores`` (None when not set).
    """
    problems: dict[str, str] = {}
    for rule, threads in jobs:
        want = getattr(asked[rule], "value", asked[rule]) if rule in asked else None
        if want is None:
            problems[rule] = f"{rule}: no set-threads (it would take the {threads} cores of the submitting host)"
        elif isinstance(want, int) and threads < want:
            problems[rule] = f"{rule}: set-threads {want} scaled down to {threads} by cores: {cores}"
    return list(problems.values())


def hail_thread_message(problems: list[str]) -> str:
    """One line for the operator: what is wrong and the command that is right."""
    return (
        "callset: the Hail jobs of this cluster run would not get their threads from the profile ("
        + "; ".join(problems)
        + "). Run with --workflow-profile profiles/slurm (a copy of it for your site), not --profile: Snakemake "
        "adds the workflow profile profiles/default (cores: 2) to every run and its keys win (docs/cluster.md)"
    )
