# callset: genome-center gVCF batches -> cohort VDS -> released, sharded joint callset.
# Run: .venv/bin/snakemake --cores 2 --configfile <config.yaml>   (see README)
from snakemake.utils import min_version

min_version("9.0")


# No default configfile: a run's settings are its own --configfile plus the schema defaults (the demo's tuning
# lives in config/demo.yaml, passed by `make demo`; config/config.yaml is a template to copy).


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/intake.smk"
include: "rules/joint_call.smk"
include: "rules/sample_qc.smk"
include: "rules/variant_qc.smk"
include: "rules/release.smk"
include: "rules/browser.smk"


rule all:
    default_target: True
    input:
        get_final_output(),


onstart:
    guard_planned_release()
    guard_cluster_threads()
    log_plan()


onsuccess:
    stop_hail_session(SPARK_TMP)
    print_summary()


onerror:
    stop_hail_session(SPARK_TMP)
    from callset.runtime.smk import failure_summary

    print(failure_summary(log, LOGS), file=sys.stderr)
