"""Settings of the end-to-end tests: the emulator's data and clock, the key, fast retries."""

from datetime import UTC, datetime

import dagster as dg

from pipelines.resources import WarehouseResource
from pipelines.warehouse import Warehouse
from stripe_emulator import EmulatorConfig

API_KEY = "sk_test_51Qx7Rk2Zp9Wv4Ty8Lm3Nb6Hd0Fg5Js1Ca2Xe7abcd"
"""The key every end-to-end test uses; tests that scan output for secrets look for this string."""

DATA_LOAD_TIME = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)
"""Stripe's data is loaded until this instant when each test starts: 2026-11-09 is the newest complete day."""

EMULATOR_CONFIG = EmulatorConfig(
    seed=11,
    days=120,
    future_days=3,
    data_load_time=DATA_LOAD_TIME,
    scale=120,
    connected_accounts=2,
    run_delay=0.05,
    rate_limit=1000.0,
    test_rate_limit=1000.0,
)

FAST_RETRIES = dg.RetryPolicy(max_retries=2, delay=0.1)


def open_warehouse(resource: WarehouseResource) -> Warehouse:
    """The warehouse a resource points at, for a test to read back (tests dispose of nothing)."""
    return Warehouse(resource.url, schema=resource.schema_name)
