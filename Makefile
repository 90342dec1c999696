# Everything runs from .venv, created on first use from pyproject.toml: a fresh clone needs only python3.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Written after a successful install, and older than pyproject.toml when the dependencies changed.
STAMP := $(VENV)/.installed
# Contacts, calls or events per benchmark in `make bench` (its first argument; dial_pacing and bulk_import
# have fixed sizes and ignore it). Small, so every bench together takes under 15 minutes on 2 shared cores;
# docs/performance.md has the latest figures and the larger runs. bench/_*.py are helpers, not benchmarks.
BENCH_N ?= 300

.PHONY: .venv demo dev test lint bench clean

.venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev,voices]'
	touch $@

demo: $(STAMP)
	$(BIN)/ringflow demo

dev: $(STAMP)
	$(BIN)/ringflow dev

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	@set -e; for script in bench/[!_]*.py; do \
		test -e "$$script" || { echo "no benchmarks in bench/"; exit 0; }; \
		echo "== $$script $(BENCH_N)"; \
		$(BIN)/python "$$script" $(BENCH_N); \
	done

clean:
	rm -rf $(VENV) .ringflow .pytest_cache .ruff_cache build *.egg-info test-artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
