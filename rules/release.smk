rule release:
    input:
        cohort=get_final_cohort(),
        research_ids=RESULTS / "private" / "research_ids.tsv",
        withdrawals=config["withdrawals"] or [],
    output:
        release=directory(RELEASE_DIR),
    log:
        main=LOGS / "release" / f"{config['release']}.log",
        hail=LOGS / "release" / f"{config['release']}.hail.log",
    benchmark:
        RESULTS / "benchmarks" / "release" / f"{config['release']}.tsv"
    message:
        f"release: writing {config['release']} (VDS, dense MT shards, manifest)"
    # Spark runs local[threads]; densify and shard writing scale with cores.
    threads: workflow.cores
    resources:
        mem_mb=6000,
        hail_jobs=1,
    params:
        spark=spark_params(),
        release=config["release"],
        registry=REGISTRY,
        options=config["release_options"],
    conda:
        "../envs/hail.yaml"
    script:
        "../scripts/release_write.py"
