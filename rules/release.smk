def get_release_qc_inputs(wildcards):
    """Sample-QC tables (hard filters, aux tables, ancestry groups) and variant-QC sites, when activated."""
    out = {}
    if is_activated("sample_qc"):
        qc = RESULTS / "qc"
        out.update(
            sample_qc=qc / "sample_qc.tsv",
            related_pairs=qc / "related_pairs.tsv",
            ancestry_preds=qc / "ancestry_preds.tsv",
            flagged_samples=qc / "flagged_samples.tsv",
        )
    if is_activated("variant_qc"):
        out["sites"] = RESULTS / "variant_qc" / "sites.ht"
    return out


rule release:
    input:
        unpack(get_release_qc_inputs),
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
        f"release: writing {config['release']} (VDS, dense MT shards, smaller callsets + exports, public summary, manifest)"
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
        exclude_hard_filtered=config.get("sample_qc", {}).get("exclude_hard_filtered", True),
    conda:
        "../envs/hail.yaml"
    script:
        "../scripts/release_write.py"
