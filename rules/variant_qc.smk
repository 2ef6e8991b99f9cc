# Variant QC and annotation: cohort VDS -> <results>/variant_qc/sites.ht (+ summary.json).
# The release joins sites.ht into each shard (callset.variant_qc.shard_annotations) and writes the VAT.


rule variant_qc_sites:
    input:
        unpack(get_variant_qc_resources),
        cohort=get_final_cohort(),
    output:
        sites=directory(RESULTS / "variant_qc" / "sites.ht"),
        summary=report(RESULTS / "variant_qc" / "summary.json", caption="../workflow/report/variant_qc.rst",
                       category="Variant QC"),
    log:
        main=LOGS / "variant_qc" / "sites.log",
        hail=LOGS / "variant_qc" / "sites.hail.log",
    benchmark:
        RESULTS / "benchmarks" / "variant_qc" / "sites.tsv"
    message:
        "variant QC: site filters, learned filter, consequences, ClinVar"
    # Spark runs local[threads]: densifying the cohort and the joins scale with cores.
    threads: workflow.cores
    resources:
        mem_mb=6000,
        hail_jobs=1,
    params:
        spark=spark_params(),
        work_dir=str(RESULTS / "variant_qc" / "_work"),
        options=lambda wc: {
            "genotype": config["variant_qc"]["genotype_filter"],
            "site": config["variant_qc"]["site_filters"],
            "learned": config["variant_qc"]["learned_filter"],
            "population_fields": config["variant_qc"]["population_fields"],
        },
    conda:
        "../envs/hail.yaml"
    script:
        "../scripts/variant_qc_sites.py"
