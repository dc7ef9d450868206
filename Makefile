PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml setup.py $(wildcard src/rootcause/*/_*.c) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q src
	touch $(STAMP)

$(DEV_STAMP): pyproject.toml setup.py $(wildcard src/rootcause/*/_*.c) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q src
	touch $(DEV_STAMP) $(STAMP)

run: $(STAMP)
	$(BIN)/rootcause serve --demo

test: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

bench: $(DEV_STAMP)
	@# bytecode for our sources, as an installed wheel has it (PYTHONDONTWRITEBYTECODE may be set)
	$(BIN)/python -m compileall -q src
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_interview.py

docs: $(STAMP)
	$(BIN)/python -m rootcause.cli.docs docs/cli.md
	$(BIN)/python -m rootcause.knowledge.traceability docs/seed-claims.md

clean:
	rm -rf $(VENV) build dist *.egg-info src/rootcause/*/_*.so
