import json
import sys
import re

from snakemake.exceptions import WorkflowError
from pathlib import Path

from snakemake.utils import validate

from callset.config import migrate_renamed_keys
from callset.errors import CallsetError
from callset.runtime.hail_session import stop as stop_hail_session
from callset.release.guard import (
    code_digest,
    forced_release_reasons,
    immutable_release_message,
    read_withdrawals,
    release_input_changes,
)
from callset.intake.batches import batch_order, check_manifests, discover_batches, row_chunks
from callset.core.cohort import cohort_dir


if not config.get("inbox"):
    raise WorkflowError(
        "callset: no configuration: run with --configfile YOUR.yaml (at least `inbox:`; every other key has a "
        "documented default; template config/config.yaml, demo config/demo.yaml)"
    )

# renamed keys are read under their new names (one warning line each), then every default of the schema is
# filled: the effective configuration of this run
try:
    for line in migrate_renamed_keys(config):
        print(f"callset: {line}", file=sys.stderr)
except CallsetError as e:
    raise WorkflowError(f"callset: {e}") from None
validate(config, schema="../config/schemas/config.schema.yaml")
EFFECTIVE_CONFIG = json.loads(json.dumps(config))
# digest of the package and workflow files, recorded in each release (a finished release is not rewritten by new code)
CODE_DIGEST = code_digest(workflow.basedir)

RESULTS = Path(config["results"])
INBOX = Path(config["inbox"])
LOGS = RESULTS / "logs"
REGISTRY = config["registry"] or str(RESULTS / "registry.sqlite")
SPARK_TMP = config["spark"]["tmp_dir"] or str(RESULTS / "tmp")
RELEASE_DIR = RESULTS / "releases" / config["release"]

try:
    BATCHES = batch_order(discover_batches(INBOX), RESULTS)
    # structural manifest problems stop the run here, before any job (and any Spark) starts
    MANIFEST_ROWS = check_manifests(INBOX, BATCHES)
except CallsetError as e:
    raise WorkflowError(f"callset: {e}") from None

if not BATCHES:
    raise WorkflowError(f"callset: no batches in inbox {INBOX} (expected <inbox>/<batch_id>/manifest.tsv)")


wildcard_constraints:
    batch="|".join(map(re.escape, BATCHES)),


#: rules downstream of the release (their reruns never rewrite it); rule files add theirs
RULES_AFTER_RELEASE = []


def is_activated(stage):
    """Whether an optional stage (sample_qc, variant_qc, browser) is switched on in the config."""
    return bool(config.get(stage, {}).get("activate", False))


def spark_params():
    """Spark settings for Hail rules (turned into hl.init arguments by callset.runtime.hail_setup)."""
    return dict(
        master=config["spark"]["master"],
        driver_memory=config["spark"]["driver_memory"],
        tmp_dir=SPARK_TMP,
        spark_conf=config["spark"]["conf"],
        reference_genome=config["reference_genome"],
        executor_memory=config["spark"]["executor_memory"],
        executor_cores=config["spark"]["executor_cores"],
        executor_instances=config["spark"]["executor_instances"],
        # one Hail session for all Hail jobs, only for an embedded Spark with jobs on this host (a session on a
        # cluster would hold its executors through the non-Hail jobs too); see callset.runtime.hail_session
        shared_session=bool(config["spark"]["shared_session"])
        and config["spark"]["master"].startswith("local")
        and workflow.local_exec
        and not workflow.remote_exec,
    )


def get_previous_cohort(wildcards):
    """The cohort step before this batch (none for the first batch)."""
    i = BATCHES.index(wildcards.batch)
    return [] if i == 0 else str(cohort_dir(RESULTS, BATCHES[i - 1]))


def get_intake_checks(wildcards):
    """The per-sample check results of a batch: one JSON per chunk of `intake.samples_per_job` manifest rows."""
    chunks = row_chunks(MANIFEST_ROWS[wildcards.batch], config["intake"]["samples_per_job"])
    return [str(RESULTS / "intake" / wildcards.batch / "checks" / f"rows_{a}-{b}.json") for a, b in chunks]


def get_variant_qc_resources(wildcards):
    """Resource files named in the config (tracked as inputs so a new ClinVar/GFF3 reruns the stage)."""
    vq = config["variant_qc"]
    keys = ("fasta", "gff3", "clinvar_vcf", "population_sites", "training_sites")
    return {k: vq[k] for k in keys if vq.get(k)}


def get_final_cohort():
    return str(cohort_dir(RESULTS, BATCHES[-1]))


def get_final_output():
    out = [
        *expand(RESULTS / "intake" / "{batch}" / "report.tsv", batch=BATCHES),
        RESULTS / "private" / "research_ids.tsv",
        RELEASE_DIR,
        RESULTS / "reports" / f"release_{config['release']}.md",
    ]
    if is_activated("sample_qc"):
        out += [RESULTS / "qc" / "sample_qc.tsv", RESULTS / "qc" / "report.html"]
    if is_activated("variant_qc"):
        out += [RESULTS / "variant_qc" / "sites.ht", RESULTS / "variant_qc" / "summary.json"]
    if is_activated("browser") and config["release_options"].get("public_summary", True):
        out.append(RESULTS / "browser" / config["release"])  # rules/browser.smk: needs the public summary
    return out


def get_release_guard(wildcards):
    """Input function of the release rule: evaluated whenever the release is part of the job graph (dry runs
    too), with this run's options known. A finished release that this run would write again stops the run
    here, before any job, with one message (callset.release.guard); otherwise no input is added."""
    if workflow.remote_exec or not (RELEASE_DIR / "manifest.json").is_file():
        return []
    try:
        withdrawn = read_withdrawals(config["withdrawals"])
    except OSError as e:
        print(f"callset: withdrawals file {config['withdrawals']}: {e.strerror}", file=sys.stderr)
        sys.exit(1)
    reasons = release_input_changes(
        RELEASE_DIR, batches=BATCHES, config=EFFECTIVE_CONFIG, withdrawn=withdrawn, code=CODE_DIGEST,
        results=RESULTS,
    )
    ds = workflow.dag_settings
    upstream = {r.name for r in workflow.rules} - {"all"} - set(RULES_AFTER_RELEASE)
    reasons += forced_release_reasons(
        forceall=ds.forceall, forcerun=ds.forcerun, forcetargets=ds.forcetargets, upstream_rules=upstream,
        targets=ds.targets, release_dir=RELEASE_DIR, workdir=str(Path.cwd()),
    )
    if reasons:
        # a clean exit: Snakemake releases its lock; nothing has run (an exception here would be wrapped in
        # Snakemake's InputFunctionException with a traceback)
        print(immutable_release_message(config["release"], RELEASE_DIR, reasons), file=sys.stderr)
        sys.exit(1)
    return []


def guard_planned_release():
    """Last check, with the job graph known: Snakemake must not plan the job of a finished release (e.g. a
    QC output touched by hand, or rerun triggers that this module does not model)."""
    if workflow.remote_exec or not (RELEASE_DIR / "manifest.json").is_file():
        return
    for job in workflow.dag.needrun_jobs():
        if job.rule.name == "release":
            why = str(workflow.dag.reason(job)).replace("\n", "; ")
            print(immutable_release_message(config["release"], RELEASE_DIR, [f"Snakemake planned its job ({why})"]),
                  file=sys.stderr)
            sys.exit(1)


def guard_cluster_threads():
    """Under a cluster executor every planned Hail job gets the threads its profile asks (callset.runtime.cluster)."""
    if workflow.local_exec or workflow.remote_exec:
        return
    from callset.runtime.cluster import hail_thread_message, hail_thread_problems

    jobs = [(j.rule.name, j.threads) for j in workflow.dag.needrun_jobs() if "hail_jobs" in j.rule.resources]
    problems = hail_thread_problems(jobs, workflow.resource_settings.overwrite_threads, workflow.resource_settings.cores)
    if problems:
        print(hail_thread_message(problems), file=sys.stderr)
        sys.exit(1)


def log_plan():
    print(
        f"callset: {len(BATCHES)} batch(es) in {INBOX}: {', '.join(BATCHES)}; "
        f"release {config['release']} -> {RELEASE_DIR}",
        file=sys.stderr,
    )
    # the effective configuration (every key, defaults filled) of this run, for the operator's record
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / "effective_config.json").write_text(json.dumps(EFFECTIVE_CONFIG, indent=1, sort_keys=True) + "\n")
    print(f"callset: effective configuration in {LOGS / 'effective_config.json'}", file=sys.stderr)


def print_summary():
    from callset.release.summary import release_summary

    if (RELEASE_DIR / "manifest.json").exists():
        print(release_summary(RELEASE_DIR), file=sys.stderr)
