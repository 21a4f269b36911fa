# mlbudget: `make demo` runs one full recalibration cycle, `make test` runs the suite.
# Both create .venv/ at the repo root and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Torch must be the CPU build. On this project's machines pip finds torch 2.13.0+cpu
# locally; elsewhere set TORCH_INDEX_URL to PyTorch's CPU wheel index.
TORCH_INDEX_URL ?=
PYTEST_ARGS ?=

.PHONY: help install demo test test-fast lint schema bench clean prometheus chromium redis

help:
	@echo "make demo   - install, then run one full cycle on the demo model (state in .mlbudget/)"
	@echo "make test   - install, then run the whole test suite"
	@echo "make bench  - run the benchmark scripts in benchmarks/"
	@echo "make schema - re-export configs/schema/budget.schema.json"
	@echo "make clean  - remove .mlbudget/ (demo state); add CLEAN_VENV=1 to remove .venv/ too"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# setup.py builds the optional C kernel of drift counting (gcc and Python's headers; numpy without them).
$(STAMP): pyproject.toml setup.py mlbudget/detection/drift/_counting.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0" \
		$(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e ".[airflow,dev]"
	# The editable sources' bytecode too (uv compiles site-packages only): where PYTHONDONTWRITEBYTECODE
	# is set, nothing else writes it and every process compiles mlbudget from source (~0.1 s each).
	$(BIN)/python -m compileall -q mlbudget plugins dags
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mlbudget demo

# The Prometheus end-to-end test needs the prometheus binary: install Debian's package when it
# is missing and we can (root, apt-get). Never fails the build: without it that test skips.
prometheus:
	@command -v prometheus >/dev/null 2>&1 || \
		( [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null ) || \
		echo "prometheus not installed: its tests will skip"

# The report's browser test needs headless Chromium: install Debian's package when it is missing
# and we can (root, apt-get). Never fails the build: without it that test skips.
chromium:
	@command -v chromium >/dev/null 2>&1 || \
		( [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null ) || \
		echo "chromium not installed: the report's browser test will skip"

# The Celery scale-out test needs a Redis broker: Debian's redis-server, installed the same way.
redis:
	@command -v redis-server >/dev/null 2>&1 || \
		( [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null ) || \
		echo "redis-server not installed: the Celery scale-out test will skip"

test: $(STAMP) prometheus chromium redis
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check mlbudget plugins dags tests
	$(BIN)/lint-imports

schema: $(STAMP)
	$(BIN)/mlbudget budget schema > configs/schema/budget.schema.json

bench: $(STAMP)
	$(BIN)/python benchmarks/drift_bench.py
	$(BIN)/python benchmarks/bench_vs_bare_ort.py
	$(BIN)/python benchmarks/demo_cycle.py

clean:
	rm -rf .mlbudget
	$(if $(CLEAN_VENV),rm -rf $(VENV))
