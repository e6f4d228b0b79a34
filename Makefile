# The two commands: `make demo` and `make test`. Both create .venv and install the locked
# dependencies first, so they work on a fresh machine with nothing else done.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install java test test-all lint typecheck demo bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,spark]"
	$(MAKE) --no-print-directory java
	touch $(STAMP)

## Spark (the `spark` extra, tests/experiments/test_spark.py) needs Java 17+: a headless JRE
## from Debian's packages is installed only when `java` is missing.
java:
	@java -version >/dev/null 2>&1 || { echo "java not found: installing openjdk-17-jre-headless"; \
		apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	@java -version 2>&1 | head -1

install: $(STAMP)

## Whole always-on suite (slow statistical sweeps excluded; `make test-all` includes them).
test: $(STAMP)
	$(BIN)/ruff check causal estimators tests bench
	$(BIN)/python -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check causal estimators tests bench
	$(BIN)/ruff format --check causal estimators tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## Simulate data on the embedded default (DuckDB) and write the reports to demo/.
demo: $(STAMP)
	$(BIN)/causal demo --out demo

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache .mypy_cache
