"""Settings and helpers shared by the emulator's tests."""

import csv
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stripe_emulator.config import EmulatorConfig

SECRET_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"

# Small and quick: a few weeks of sparse data, runs that finish almost at once, no practical rate limit.
FAST_CONFIG = EmulatorConfig(
    seed=7, days=20, scale=40, connected_accounts=2, run_delay=0.05, rate_limit=1000.0, test_rate_limit=1000.0
)

# The ``finish`` fixture: ``finish(client, path, **headers)`` polls a run until it is no longer in progress.
Finish = Callable[..., dict[str, Any]]

# Engine tests: a data_load_time whose 30 days of history include the US spring DST change (2026-03-08).
LOAD_TIME = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
ENGINE_CONFIG = EmulatorConfig(seed=7, days=30, future_days=3, data_load_time=LOAD_TIME, scale=200)

Rows = list[dict[str, str]]


def read_csv(path: Path) -> tuple[list[str], Rows]:
    """The header and the rows (dicts of strings) of a CSV file."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [dict(zip(header, row, strict=True)) for row in reader]
