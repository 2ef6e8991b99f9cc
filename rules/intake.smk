# Intake fans out: one job per chunk of `intake.samples_per_job` manifest rows checks those samples (files,
# metrics, staging, reblocking; no registry), then one cheap job per batch gathers them, decides the batch in one
# registry transaction and writes its reports (callset.intake.run).


rule intake_check:
    input:
        manifest=INBOX / "{batch}" / "manifest.tsv",
    output:
        # temporary: consumed by intake_batch (a finished batch never needs them again, and a changed
        # samples_per_job does not rerun it)
        json=temp(RESULTS / "intake" / "{batch}" / "checks" / "rows_{first}-{last}.json"),
    log:
        LOGS / "intake" / "{batch}" / "rows_{first}-{last}.log",
    benchmark:
        RESULTS / "benchmarks" / "intake" / "{batch}" / "rows_{first}-{last}.tsv"
    message:
        "intake: checking rows {wildcards.first}-{wildcards.last} of batch {wildcards.batch}"
    wildcard_constraints:
        first=r"\d+",
        last=r"\d+",
    # one streaming htslib pass per file; no Spark
    threads: 1
    resources:
        mem_mb=1000,
    params:
        batch_dir=lambda wc: str(INBOX / wc.batch),
        out_dir=lambda wc: str(RESULTS / "intake" / wc.batch),
        settings=dict(
            reference_genome=config["reference_genome"],
            contig_recoding=config["contig_recoding"],
            thresholds=config["intake"]["thresholds"],
            require_metrics=config["intake"]["require_metrics"],
            reference_fasta=config["intake"].get("reference_fasta"),
            # reblocked in the scan's pass; blocks capped at the release's length (one setting, never two)
            reblock=config["intake"]["reblock"],
            ref_block_max_length=config["release_options"]["ref_block_max_length"],
            # identity: the gVCF's fingerprint and CRAM vs gVCF here; other participants in intake_batch
            identity=config["intake"]["identity"],
            gvcf_flavors=config["intake"]["gvcf_flavors"],
        ),
    conda:
        "../envs/vcf.yaml"
    script:
        "../scripts/intake_check.py"


rule intake_batch:
    input:
        # a changed manifest reruns the batch even when its (temporary) check results are gone
        manifest=INBOX / "{batch}" / "manifest.tsv",
        checks=get_intake_checks,
    output:
        report=RESULTS / "intake" / "{batch}" / "report.tsv",
        accepted=RESULTS / "intake" / "{batch}" / "accepted.tsv",
        details=RESULTS / "intake" / "{batch}" / "details.tsv",
    log:
        LOGS / "intake" / "{batch}.log",
    benchmark:
        RESULTS / "benchmarks" / "intake" / "{batch}.tsv"
    message:
        "intake: deciding batch {wildcards.batch} (registry, reports)"
    # reads the check results and the registry: seconds, whatever the size of the files
    threads: 1
    resources:
        mem_mb=1000,
    params:
        batch_dir=lambda wc: str(INBOX / wc.batch),
        out_dir=lambda wc: str(RESULTS / "intake" / wc.batch),
        registry=REGISTRY,
        # fingerprints against every earlier participant's (registry) and the batch's DRAGEN versions
        identity=config["intake"]["identity"],
        reference_genome=config["reference_genome"],
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
