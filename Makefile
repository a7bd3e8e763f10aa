# Two entry points (see README): `make run` and `make test`. Both build ./.venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck unit e2e bench clean

run: $(VENV)/.installed
	$(BIN)/companion migrate
	$(BIN)/companion run

test: $(VENV)/.dev-installed lint typecheck
	$(BIN)/pytest -q -n 4 --dist worksteal

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

e2e: $(VENV)/.dev-installed
	$(BIN)/pytest -q -m e2e

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
