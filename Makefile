# Two commands: `make run` (set up, train a first model if needed, serve on the embedded
# default) and `make test` (set up and run the whole test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test bench audit clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/credit serve

test: install
	$(BIN)/python -m pytest

# Load benchmark against `mlflow models serve` (needs wrk: apt-get install wrk); docs/benchmarks.md.
# ~14 minutes on a quiet 2-core machine (20 on a busy one); shorter: make bench BENCH_ARGS="--steady-duration 60"
bench: install
	$(BIN)/python -m benchmarks.run --rounds 3 --out benchmarks/results/decision.json $(BENCH_ARGS)

# Security checks. pip-audit needs network access to PyPI's JSON API or OSV (ADR 0062).
audit: install
	$(BIN)/bandit -q -r app core decision sources feature_store models training audit shadow feature_flags review monitoring strategy
	$(BIN)/pip-audit

clean:
	rm -rf $(VENV) .credit .pytest_cache
