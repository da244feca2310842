# Every target works on a fresh machine: the first one that needs Python builds .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install demo test dev bench soak lint clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(INSTALLED)

## Emulator + DuckDB: materialize the last 7 complete days of every asset and print row counts.
demo: $(INSTALLED)
	$(BIN)/python scripts/demo.py

## The test suite (CI runs exactly this).
test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2

## Emulator + `dagster dev` on http://127.0.0.1:3000
dev: $(INSTALLED)
	scripts/dev.sh

## Loader and end-to-end benchmarks (minutes; not part of `make test`).
bench: $(INSTALLED)
	$(BIN)/python -m bench.load

## 30 days of partitions under random transient faults.
soak: $(INSTALLED)
	$(BIN)/python -m bench.soak

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	-scripts/postgres.sh stop
	rm -rf $(VENV) data
