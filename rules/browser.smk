# Public variant browser of the release (issue 19): a static site built from the release's public summary and
# VAT, outside the immutable release folder. `callset browser serve <results>/browser/<release>` serves it.
BROWSER_DIR = RESULTS / "browser" / config["release"]


rule browser:
    input:
        release=RELEASE_DIR,
    output:
        site=directory(BROWSER_DIR),
    log:
        LOGS / "browser" / f"{config['release']}.log",
    benchmark:
        RESULTS / "benchmarks" / "browser" / f"{config['release']}.tsv"
    message:
        f"browser: building the public variant browser of release {config['release']}"
    # plain Python, one pass over the summary and the VAT
    threads: 1
    params:
        chunk_size=config["browser"]["chunk_size"],
    conda:
        "../envs/vcf.yaml"
    script:
        "../scripts/browser_build.py"


# downstream of the release: forcing it never rewrites the release (rules/common.smk, release guard)
RULES_AFTER_RELEASE.append("browser")
