# Two commands on a fresh machine with only Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo stack lint test test-slow test-all bench clean

# What `make lint` checks: ruff lints and checks the formatting of these; mypy checks shared/ and services/.
LINT_PATHS := shared services reko tests bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# The main job: embedded broker + database, the four services, a synthetic feed, a live view.
demo: $(BIN)/.installed
	$(BIN)/reko demo

# Broker, database and services without a feed; writes stack.json (see README).
stack: $(BIN)/.installed
	$(BIN)/reko stack

# Static checks, configured in pyproject.toml.
lint: $(BIN)/.installed
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
# A clean run every time: a warm cache once reported errors that a clean run (as in CI) did not.
	$(BIN)/mypy --no-incremental shared services

# The static checks, then the default suite (unit, integration, end-to-end); `.ci/run` runs exactly this.
test: lint
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# The suites marked slow only (each a minute or more on 2 cores).
test-slow: $(BIN)/.installed
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# Everything, including the suites marked slow.
test-all: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark (bench/README.md): 200,000 certificate events through the whole local stack, the raw
# broker beside it, CPU and memory per process, latency at 100 events/s. `make bench BENCH_ARGS="--events 20000"`.
BENCH_ARGS ?=
bench: $(BIN)/.installed
	$(BIN)/python -c "import psutil" 2>/dev/null || $(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	$(BIN)/python -m bench.throughput $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .reko .pytest_cache .hypothesis .mypy_cache .ruff_cache stack.json
