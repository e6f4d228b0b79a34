# The two commands: `make demo` and `make test`. Both create .venv and install the locked
# dependencies first, so they work on a fresh machine with nothing else done.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install java test test-all lint typecheck demo bench clean chromium screenshots

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
test: $(STAMP) chromium
	$(BIN)/ruff check causal estimators tests bench
	$(BIN)/python -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP) chromium
	$(BIN)/python -m pytest -n 2 -m "slow or not slow" $(PYTEST_ARGS)

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

## Headless Chromium for the report tests (tests/report/test_browser.py); Debian's package.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq chromium; } || \
	  { echo "install Chromium (Debian: apt-get install chromium) for the report tests"; exit 1; }

## The README's screenshots of both demo reports (docs/*.png).
CHROMIUM_FLAGS := --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars
screenshots: chromium
	test -f demo/report.html || $(MAKE) demo
	chromium $(CHROMIUM_FLAGS) --user-data-dir=$$(mktemp -d) --window-size=1280,2400 \
	  --screenshot=docs/whatworks_report.png file://$(CURDIR)/demo/report.html
	chromium $(CHROMIUM_FLAGS) --user-data-dir=$$(mktemp -d) --window-size=1280,2000 \
	  --screenshot=docs/readout_report.png file://$(CURDIR)/demo/readout.html
