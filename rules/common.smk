import sys
import re

from snakemake.exceptions import WorkflowError
from pathlib import Path

from snakemake.utils import validate

from callset.errors import CallsetError
from callset.hail_session import stop as stop_hail_session
from callset.workflow import batch_order, check_manifests, cohort_dir, discover_batches


validate(config, schema="../config/schemas/config.schema.yaml")

RESULTS = Path(config["results"])
INBOX = Path(config["inbox"])
LOGS = RESULTS / "logs"
REGISTRY = config["registry"] or str(RESULTS / "registry.sqlite")
SPARK_TMP = config["spark"]["tmp_dir"] or str(RESULTS / "tmp")
RELEASE_DIR = RESULTS / "releases" / config["release"]

try:
    BATCHES = batch_order(discover_batches(INBOX), RESULTS)
    # structural manifest problems stop the run here, before any job (and any Spark) starts
    check_manifests(INBOX, BATCHES)
except CallsetError as e:
    raise WorkflowError(f"callset: {e}") from None

if not BATCHES:
    raise WorkflowError(f"callset: no batches in inbox {INBOX} (expected <inbox>/<batch_id>/manifest.tsv)")


wildcard_constraints:
    batch="|".join(map(re.escape, BATCHES)),


def is_activated(stage):
    """Whether an optional stage (sample_qc, variant_qc, browser) is switched on in the config."""
    return bool(config.get(stage, {}).get("activate", False))


def spark_params():
    """Spark settings for Hail rules (turned into hl.init arguments by callset.hail_setup)."""
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
        # cluster would hold its executors through the non-Hail jobs too); see callset.hail_session
        shared_session=bool(config["spark"]["shared_session"])
        and config["spark"]["master"].startswith("local")
        and workflow.local_exec
        and not workflow.remote_exec,
    )


def get_previous_cohort(wildcards):
    """The cohort step before this batch (none for the first batch)."""
    i = BATCHES.index(wildcards.batch)
    return [] if i == 0 else str(cohort_dir(RESULTS, BATCHES[i - 1]))


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
    ]
    if is_activated("sample_qc"):
        out += [RESULTS / "qc" / "sample_qc.tsv", RESULTS / "qc" / "report.html"]
    if is_activated("variant_qc"):
        out += [RESULTS / "variant_qc" / "sites.ht", RESULTS / "variant_qc" / "summary.json"]
    if is_activated("browser") and config["release_options"].get("public_summary", True):
        out.append(RESULTS / "browser" / config["release"])  # rules/browser.smk: needs the public summary
    return out


def log_plan():
    print(
        f"callset: {len(BATCHES)} batch(es) in {INBOX}: {', '.join(BATCHES)}; "
        f"release {config['release']} -> {RELEASE_DIR}",
        file=sys.stderr,
    )


def print_summary():
    from callset.summary import release_summary

    if (RELEASE_DIR / "manifest.json").exists():
        print(release_summary(RELEASE_DIR), file=sys.stderr)
