# Every target works on a fresh machine: the first one that needs Python builds .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install demo test dev bench bench-connect bench-backfill events-count soak lint clean

# pip prints one line per package it collects and installs, so the first install (about a minute) shows
# its progress. dagster-dbt asks for sqlglot[rs], whose compiled sqlglotc the emulator cannot use (it
# subclasses sqlglot's Trino parser, and compiled classes refuse Python subclasses): it is removed again.
$(INSTALLED): pyproject.toml constraints.txt
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> upgrading pip"
	$(BIN)/pip install --quiet --upgrade pip
	@echo "==> installing the project and its pinned dependencies (constraints.txt)"
	set -o pipefail; $(BIN)/pip install --progress-bar off -c constraints.txt -e '.[dev]' \
		| { grep --line-buffered -E '^(Collecting|Installing|Successfully)' || true; }
	$(BIN)/pip uninstall --yes --quiet sqlglotc sqlglotrs 2>/dev/null || true
	@echo "==> $(VENV) is ready"
	touch $@

install: $(INSTALLED)

## Emulator + DuckDB: materialize the last 7 complete days of every asset and print row counts.
demo: $(INSTALLED)
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

## The test suite (CI runs exactly this).
test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup

## Emulator + `dagster dev` on http://127.0.0.1:3000
dev: $(INSTALLED)
	scripts/dev.sh

## Loader and end-to-end benchmarks (minutes; not part of `make test`).
bench: $(INSTALLED)
	$(BIN)/python -m bench.load

## Connect at platform scale: a 30-day all-accounts backfill over 1,000 connected accounts, then
## the automation tick of account x day against day partitions at 1,000 and 10,000 accounts (the
## 10,000-account tick alone takes more than 10 minutes and ~3.5 GB).
bench-connect: $(INSTALLED)
	$(BIN)/python -m bench.connect

## A year of every asset through the Dagster daemon on PostgreSQL storage (tens of minutes).
bench-backfill: $(INSTALLED)
	$(BIN)/python -m bench.backfill $(BENCH_BACKFILL_ARGS)

## Stripe requests per asset and day of the stripe_events sensor, ticking every 30 s (a few minutes).
events-count: $(INSTALLED)
	STRIPE_EVENTS_TICK_SECONDS=30 $(BIN)/python -m pytest -q -s tests/pipelines/test_event_sensor.py -k steady_state

## 30 days of partitions under random transient faults.
soak: $(INSTALLED)
	$(BIN)/python -m bench.soak

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	-scripts/postgres.sh stop
	rm -rf $(VENV) data
