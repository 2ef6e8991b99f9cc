rule combine_batch:
    input:
        accepted=RESULTS / "intake" / "{batch}" / "accepted.tsv",
        previous=get_previous_cohort,
    output:
        step=directory(RESULTS / "joint" / "cohort" / "{batch}"),
    log:
        main=LOGS / "joint_call" / "{batch}.log",
        hail=LOGS / "joint_call" / "{batch}.hail.log",
    benchmark:
        RESULTS / "benchmarks" / "joint_call" / "{batch}.tsv"
    message:
        "joint calling: adding batch {wildcards.batch} to the cohort VDS"
    # Spark runs local[threads]: all cores of a 2-core machine; more helps the combiner linearly.
    threads: workflow.cores
    resources:
        mem_mb=6000,
        hail_jobs=1,
    params:
        spark=spark_params(),
        work_dir=lambda wc: str(RESULTS / "joint" / "_work" / wc.batch),
        index=lambda wc: BATCHES.index(wc.batch),
        combiner=config["combiner"],
    conda:
        "../envs/hail.yaml"
    script:
        "../scripts/joint_call_combine.py"
