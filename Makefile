# Two entry points on a fresh machine: `make demo` and `make test`. Both build .venv themselves and
# are safe to run again (the install step is skipped while pyproject.toml is unchanged).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo demo-dask demo-spark test lint typecheck pytest graphviz postgresql java chromium screenshot bench bench-report clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

# The demo needs only the package itself (a dev install, if already there, has it too).
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then :; \
	else $(BIN)/python -m pip install --quiet -e .; fi
	touch $(DEMO_STAMP)

# The graphviz *system* package provides `dot`; install it where we may (root with apt-get), else say so.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
	      || echo "warning: could not install graphviz; rendering is skipped"; \
	  else echo "note: the graphviz system package (dot) is missing; install it to render graphs"; fi; }

# The PostgreSQL server binaries (initdb, pg_ctl) let the tests start a throwaway cluster.
PG_CTL_FOUND = ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1
postgresql:
	@$(PG_CTL_FOUND) || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "warning: could not install postgresql; the PostgreSQL tests are skipped"; \
	  else echo "note: PostgreSQL (initdb, pg_ctl) is missing; install it to run the PostgreSQL tests"; fi; }

# Spark needs Java 17+: install Debian's headless JRE where we may (root with apt-get), else say so.
# (Slim images lack the man directory that the JRE's post-install step writes to.)
java:
	@command -v java >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (mkdir -p /usr/share/man/man1 && apt-get update -qq \
	      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
	      || echo "warning: could not install Java; the Spark tests are skipped"; \
	  else echo "note: Java 17+ (java) is missing; install it to run Spark"; fi; }

# Headless Chromium and its driver, for the explorer's browser tests and the README screenshot.
chromium:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; the explorer's browser tests skip"; \
	  else echo "note: chromium and chromium-driver are missing; the explorer's browser tests skip"; fi; }

# The seed pipeline, its graph drawn to lineage.svg and the explorer written to lineage.html.
demo: $(DEMO_STAMP) graphviz
	$(BIN)/python examples/ctr_7d.py
	$(BIN)/lineage ui -o lineage.html

# docs/explorer.png for the README: the seed pipeline's explorer in headless Chromium.
screenshot: $(STAMP) graphviz chromium
	$(BIN)/python -m benchmarks.screenshot docs/explorer.png

# The same pipeline with its per-day partitions on a local Dask cluster; runs show the parent link.
demo-dask: $(STAMP)
	$(BIN)/python examples/ctr_dask.py

# The seed's 7-day counts on a local Spark session (local[2]); executor runs show the parent link.
demo-spark: $(STAMP) graphviz java
	$(BIN)/python examples/ctr_spark.py

lint: $(STAMP)
	$(BIN)/ruff check lineage_sdk tests examples benchmarks
	$(BIN)/ruff format --check lineage_sdk tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict lineage_sdk

pytest: $(STAMP) graphviz java chromium postgresql
	$(BIN)/pytest -q

test: lint typecheck pytest

# The benchmark suite (a few minutes): prints PASS/FAIL per target, writes .bench/report.md and
# exits non-zero when a target is missed. `make bench-report` regenerates the tracked BENCHMARKS.md.
bench: $(STAMP) graphviz chromium
	$(BIN)/python -m benchmarks

bench-report: $(STAMP)
	$(BIN)/python -m benchmarks --out BENCHMARKS.md || true

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
