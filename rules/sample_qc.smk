rule sample_qc:
    input:
        cohort=get_final_cohort(),
        research_ids=RESULTS / "private" / "research_ids.tsv",
        accepted=expand(RESULTS / "intake" / "{batch}" / "accepted.tsv", batch=BATCHES),
        panel=config["sample_qc"]["ancestry_panel"] or [],
    output:
        tsv=RESULTS / "qc" / "sample_qc.tsv",
        ht=directory(RESULTS / "qc" / "sample_qc.ht"),
        related_pairs=RESULTS / "qc" / "related_pairs.tsv",
        ancestry=RESULTS / "qc" / "ancestry_preds.tsv",
        flagged=RESULTS / "qc" / "flagged_samples.tsv",
        checks=RESULTS / "qc" / "checks.tsv",
        report=report(RESULTS / "qc" / "report.html", caption="../workflow/report/sample_qc.rst",
                      category="Sample QC"),
    log:
        main=LOGS / "sample_qc" / "sample_qc.log",
        hail=LOGS / "sample_qc" / "sample_qc.hail.log",
    benchmark:
        RESULTS / "benchmarks" / "sample_qc" / "sample_qc.tsv"
    message:
        "sample QC: metrics, sex, contamination, relatedness, ancestry, outliers on the cohort VDS"
    # Spark runs local[threads]; densifying the QC sites and PC-Relate scale with cores.
    threads: workflow.cores
    resources:
        mem_mb=6000,
        hail_jobs=1,
    params:
        spark=spark_params(),
        batch_dirs={b: str(INBOX / b) for b in BATCHES},
        reference_fasta=config["intake"].get("reference_fasta"),
        ancestry_labels=config["sample_qc"]["ancestry_labels"],
        options={
            k: config["sample_qc"][k]
            for k in ("hard_filters", "qc_sites", "sex", "contamination", "relatedness", "ancestry", "outliers")
        },
    conda:
        "../envs/hail.yaml"
    script:
        "../scripts/sample_qc_run.py"
