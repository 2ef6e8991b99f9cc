rule release:
    input:
        cohort=get_final_cohort(),
        research_ids=RESULTS / "private" / "research_ids.tsv",
        withdrawals=config["withdrawals"] or [],
        # sample QC (hard filters, ancestry groups, aux/ tables) and variant QC (shard annotations): only
        # when activated; an empty list is no input
        sample_qc=RESULTS / "qc" / "sample_qc.tsv" if is_activated("sample_qc") else [],
        related_pairs=RESULTS / "qc" / "related_pairs.tsv" if is_activated("sample_qc") else [],
        ancestry_preds=RESULTS / "qc" / "ancestry_preds.tsv" if is_activated("sample_qc") else [],
        flagged_samples=RESULTS / "qc" / "flagged_samples.tsv" if is_activated("sample_qc") else [],
        sites=RESULTS / "variant_qc" / "sites.ht" if is_activated("variant_qc") else [],
        # adds nothing; stops the run at start-up if this would rewrite a finished release (rules/common.smk)
        _guard=get_release_guard,
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
        genotype_filter=config.get("variant_qc", {}).get("genotype_filter", {}),
        # recorded in manifest.json: how the release was made, and what a later run compares it with
        effective_config=EFFECTIVE_CONFIG,
        code=CODE_DIGEST,
        # <results>/private/releases/<release>.json: the withdrawals digest (private, beside the research-ID map)
        provenance_record=lambda w, input: str(
            Path(input.research_ids).parent / "releases" / f"{config['release']}.json"
        ),
    conda:
        "../envs/hail.yaml"
    script:
        "../scripts/release_write.py"


rule release_summary:
    input:
        release=rules.release.output.release,
    output:
        report(
            RESULTS / "reports" / f"release_{config['release']}.md",
            caption="../workflow/report/release.rst",
            category="Release",
        ),
    log:
        LOGS / "release" / f"{config['release']}.summary.log",
    message:
        f"release: summary of {config['release']} for the run report"
    threads: 1
    conda:
        "../envs/hail.yaml"
    script:
        "../scripts/release_summary.py"


RULES_AFTER_RELEASE.append("release_summary")
