"""Fixtures shared by the pipeline's end-to-end tests: a real Stripe emulator over HTTP, a real
warehouse file, and Dagster definitions wired to both exactly as in production — only the base URL
and the key differ."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest
from pipeline_settings import API_KEY, EMULATOR_CONFIG, FAST_RETRIES
from postgres_server import fresh_database, server_url

from pipelines.catalog import Catalog, load_catalog
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from stripe_emulator.server import EmulatorServer


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, in the conftest every pytest process loads (the pytest-xdist controller
    # included), so the fault matrix's summary line prints at the end of any run.
    config.pluginmanager.import_plugin("fault_tally")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The tests that start several processes go first (in their collection order): spread over the
    # xdist workers from the start, none of them is left to run alone at the end of the suite.
    items.sort(key=lambda item: not (item.get_closest_marker("slow") or item.get_closest_marker("browser")))


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    """One emulator for the session; :func:`stripe` resets it before each test."""
    with EmulatorServer(EMULATOR_CONFIG) as server:
        yield server


@pytest.fixture
def control(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """The emulator's control API (clock, faults, stats), after a reset to the initial state."""
    with httpx.Client(base_url=f"{emulator.url}/_emulator", timeout=30) as client:
        client.post("/reset").raise_for_status()
        yield client


@pytest.fixture
def stripe(emulator: EmulatorServer, control: httpx.Client) -> StripeResource:
    """The Stripe resource pointed at the emulator, polling quickly."""
    return StripeResource(
        api_key=API_KEY,
        api_base=emulator.url,
        files_base=emulator.url,
        request_timeout_seconds=5.0,
        poll_initial_seconds=0.05,
        poll_max_seconds=0.2,
        run_deadline_seconds=20.0,
    )


@pytest.fixture
def warehouse_url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture
def warehouse(warehouse_url: str) -> WarehouseResource:
    return WarehouseResource(url=warehouse_url)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A running PostgreSQL server: WAREHOUSE_URL's, or one scripts/postgres.sh installs and starts."""
    return server_url()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """An empty PostgreSQL database of this test's own, dropped afterwards."""
    with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture
def catalog() -> Catalog:
    """The project's own catalogue: reports.yaml and sql/."""
    return load_catalog()


@pytest.fixture
def defs(catalog: Catalog, stripe: StripeResource, warehouse: WarehouseResource) -> dg.Definitions:
    return build_definitions(catalog, {"stripe": stripe, "warehouse": warehouse}, retry_policy=FAST_RETRIES)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as dagster_instance:
        yield dagster_instance
