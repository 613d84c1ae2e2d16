# clickstream-etl: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JARS_STAMP := .jars/.resolved
# The Trino server of the query-engine test tier (make trino; test-only, never part of install).
TRINO_STAMP := .trino/.installed
ENV ?= local
# Architectures of the EMR environment archives (make install fetches, make package builds them).
EMR_ARCHS ?= x86_64 aarch64
# pip of the venv (it installs the EMR environment archive: pinned, so the archive is reproducible).
PIP_VERSION := 26.3
EVENTS ?= 2000000
# More harness options for make bench, e.g. BENCH_ARGS="--only pipeline,scan --event-log"
BENCH_ARGS ?=
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help install jars trino postgres test test-fast lint format demo bench package clean wheelhouse

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): setup.py tools/setup.py jvm/pom.xml libs/clickstream/aws/glue_runtime.py
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	@# pip pinned: the EMR environment archive is built by pip, and its bytes must not change with it.
	$(BIN)/pip install --quiet "pip==$(PIP_VERSION)"
	$(BIN)/pip install --quiet -e '.[lock,test,lint,demo,bench,package]' -e ./tools
	$(BIN)/pip check
	$(MAKE) --no-print-directory jars
	$(MAKE) --no-print-directory wheelhouse
	@# Spark's classes as a JVM class-data archive: local JVMs start and warm up ~2x faster.
	$(BIN)/python -m clickstream_tools.jvm_archive || echo "warning: no JVM class archive (needs JDK 13+); Spark starts slower"
	@$(MAKE) --no-print-directory postgres
	@touch $(STAMP)

install: $(STAMP) ## Create .venv/ and install the package and the tools package (tools/), editable, with test, lint, demo and bench extras; build the JVM class archive

postgres: ## Install the PostgreSQL server the JDBC tests start (Debian package postgresql), as root and when missing
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -q postgresql >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null)) \
		|| echo "warning: apt-get install postgresql failed; the JDBC tests skip (and fail with CI=true)"; \
	else echo "note: no PostgreSQL server binaries (sudo apt-get install postgresql); the JDBC tests skip (and fail with CI=true)"; fi

$(JARS_STAMP): jvm/pom.xml
	@command -v mvn >/dev/null || { echo "mvn not found: install Maven 3 (apt-get install maven)"; exit 1; }
	rm -f .jars/*.jar
	mvn -q -B -f jvm/pom.xml dependency:copy-dependencies
	@touch $@

jars: $(JARS_STAMP) ## Copy the JVM jars pinned in jvm/pom.xml (S3A, Delta) from Maven Central into .jars/

$(TRINO_STAMP): jvm/trino/pom.xml | $(STAMP)
	$(BIN)/python -m clickstream_tools.trino_server install
	@touch $@

trino: $(TRINO_STAMP) ## Fetch the Trino server of the test tier (jvm/trino/pom.xml) into .trino/, pruned to the hive and delta-lake plugins; needs a JDK >= 24 (make test runs it, make install and make demo never do)

test: $(STAMP) $(TRINO_STAMP) ## Run the test suite (installs first when .venv is missing or stale; fetches Trino for tests/trino)
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## The fast tier while working: transforms, reader, config, planners, catalog and deploy on moto; no pipeline runs (pytest -m "not slow", under 3 minutes)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP) ## Lint with ruff
	$(BIN)/ruff check libs tools jobs tests
	$(BIN)/ruff format --check libs tools jobs tests

format: $(STAMP) ## Reformat the code with ruff
	$(BIN)/ruff format libs tools jobs tests
	$(BIN)/ruff check --fix libs tools jobs tests

demo: $(STAMP) ## Generate a sample raw zone in .lake/, run the whole pipeline, print DAU and draw a chart
	$(BIN)/clickstream demo --env $(ENV)

bench: $(STAMP) ## Time the pipeline against Spark baselines and DuckDB on EVENTS generated events (.bench/; BENCH_ARGS for more options)
	$(BIN)/python -m clickstream_tools.bench.harness --events $(EVENTS) $(BENCH_ARGS)

wheelhouse: ## Download the pinned wheels Glue 5.0 lacks, EMR's (EMR_ARCHS) and the Glue stand-in's into .wheelhouse/
	$(BIN)/python -m clickstream.aws.wheelhouse --dir .wheelhouse --emr-archs "$(EMR_ARCHS)"

package: $(STAMP) ## Build the wheel, zip, Glue's extra wheels, EMR archives (EMR_ARCHS), jobs and conf/ under dist/
	$(BIN)/python -m clickstream.aws.packaging --dist-dir dist --emr-archs "$(EMR_ARCHS)"

clean: ## Remove the venv, the local lake, build output and caches
	rm -rf $(VENV) .jars .trino .metastore .lake .bench .wheelhouse dist build *.egg-info libs/*.egg-info .pytest_cache .ruff_cache metastore_db spark-warehouse derby.log
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
