rule intake_batch:
    input:
        manifest=INBOX / "{batch}" / "manifest.tsv",
    output:
        report=RESULTS / "intake" / "{batch}" / "report.tsv",
        accepted=RESULTS / "intake" / "{batch}" / "accepted.tsv",
        details=RESULTS / "intake" / "{batch}" / "details.tsv",
    log:
        LOGS / "intake" / "{batch}.log",
    benchmark:
        RESULTS / "benchmarks" / "intake" / "{batch}.tsv"
    message:
        "intake: validating batch {wildcards.batch}"
    # one streaming htslib pass per file; no Spark
    threads: 1
    resources:
        mem_mb=1000,
    params:
        batch_dir=lambda wc: str(INBOX / wc.batch),
        out_dir=lambda wc: str(RESULTS / "intake" / wc.batch),
        registry=REGISTRY,
        reference_genome=config["reference_genome"],
        contig_recoding=config["contig_recoding"],
        thresholds=config["intake"]["thresholds"],
        require_metrics=config["intake"]["require_metrics"],
        reference_fasta=config["intake"].get("reference_fasta"),
        identity=config["intake"]["identity"],
        gvcf_flavors=config["intake"]["gvcf_flavors"],
        expected_dragen_version=config["intake"]["expected_dragen_version"],
    conda:
        "../envs/vcf.yaml"
    script:
        "../scripts/intake_batch.py"


rule research_ids:
    input:
        accepted=expand(RESULTS / "intake" / "{batch}" / "accepted.tsv", batch=BATCHES),
    output:
        tsv=RESULTS / "private" / "research_ids.tsv",
        identity_matches=RESULTS / "private" / "identity_matches.tsv",
    log:
        LOGS / "intake" / "research_ids.log",
    message:
        "intake: exporting the private research-ID map"
    threads: 1
    resources:
        mem_mb=500,
    params:
        registry=REGISTRY,
    conda:
        "../envs/vcf.yaml"
    script:
        "../scripts/intake_research_ids.py"
