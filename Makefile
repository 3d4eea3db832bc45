# cloudsources — the commands a newcomer runs first. Needs only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime install for the demo; the dev extra (pytest, pgserver, meltano, stripe) for tests.
# An editable install leaves our own modules uncompiled, and with PYTHONDONTWRITEBYTECODE
# set (as on some CI machines) every start would compile them again: 0.15 s per process.
COMPILE := $(BIN)/python -m compileall -q tap-cloudsources target-warehouse

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(COMPILE)
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	$(COMPILE)
	touch $(VENV)/.runtime $@

## demo: sandbox → tap-cloudsources → target-warehouse (warehouse.duckdb), then rows per table
demo: $(VENV)/.runtime
	$(BIN)/cloudsources demo --warehouse warehouse.duckdb

## test: the whole suite (starts its own sandbox and PostgreSQL)
test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

## bench: target-warehouse vs target-postgres and raw COPY/read_json, then the tap against a
##        zero-latency sandbox (records/s, requests vs the minimum); N=100000 records
N ?= 100000
bench: $(VENV)/.dev
	$(COMPILE)
	$(BIN)/python benchmarks/bench.py --records $(N)
	$(BIN)/python benchmarks/bench_tap.py --records $(N)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

clean:
	rm -rf .demo warehouse.duckdb warehouse.duckdb.wal .pytest_cache
