# The two commands (README): `make demo` and `make test`. Both set everything up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: install demo report test test-fast lint dry-run clean-demo java-check browser-deps

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@$(MAKE) --no-print-directory java-check
	@# class-data-sharing archive for the Hail driver JVM: ~3 s off every Hail job's start (callset.runtime.jvm_cds)
	$(BIN)/python -m callset.runtime.jvm_cds_build
	touch $@

# Debian's chromium for the browser tests (Playwright drives it; never `playwright install`). Quiet when present.
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium (browser tests)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM) || { echo "no chromium at $(CHROMIUM): install Debian's chromium (apt-get install chromium)"; exit 1; }

java-check:
	@$(BIN)/python -m callset.runtime.java >/dev/null || exit 1
	@echo "Java for Hail: $$($(BIN)/python -m callset.runtime.java)"

# Whole pipeline on the bundled real data (40 x 1000 Genomes chr22, two batches) with local Spark.
demo: install
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml
	@$(BIN)/callset summary results/releases/v1

# Snakemake's native report of the demo run: QC report, release summary, per-rule runtimes (after `make demo`)
report: install
	$(BIN)/snakemake --report results/report.html --configfile config/demo.yaml
	@echo "report: results/report.html"

test: install browser-deps
	$(BIN)/pytest -q --timeout=1800

# quick loop while developing: skips the end-to-end Snakemake runs (CI runs everything)
test-fast: install browser-deps
	$(BIN)/pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/mypy src/callset
	$(BIN)/snakemake --lint --configfile config/demo.yaml

dry-run: install
	$(BIN)/snakemake -n --configfile config/demo.yaml

clean-demo:
	rm -rf results .snakemake
