"""Fixtures of the fault tests: a harness that injects faults, runs assets as Dagster does, and
compares each table with the one a fault-free run lands."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from dagster._serdes import serialize_value
from dagster_runs import failure_messages
from pipeline_settings import API_KEY, FAST_RETRIES, open_warehouse

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import Catalog, load_catalog
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.translator import asset_key
from pipelines.warehouse import Warehouse
from stripe_emulator.server import EmulatorServer

from .fault_tables import Table, read_table
from .secret_scan import instance_leaks, leaks

Partition = str | tuple[str, str]
API_KEY_VARIABLE = "STRIPE_API_KEY"


def stripe_settings(emulator: EmulatorServer, **overrides: Any) -> StripeResource:
    """The Stripe resource of these tests: the emulator, quick polling, ``overrides`` on top.

    The key is an ``EnvVar``, as in production (``pipelines.project.resources_from_env``): a key
    given as a plain string is a default value of the run's config schema, which Dagster stores.
    """
    settings: dict[str, Any] = {
        "api_key": dg.EnvVar(API_KEY_VARIABLE),
        "api_base": emulator.url,
        "files_base": emulator.url,
        "request_timeout_seconds": 5.0,
        "poll_initial_seconds": 0.05,
        "poll_max_seconds": 0.2,
        "run_deadline_seconds": 20.0,
    }
    settings.update(overrides)
    return StripeResource(**settings)


def materialize(
    catalog: Catalog,
    stripe: StripeResource,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    name: str,
    partition: Partition,
) -> dg.ExecuteInProcessResult:
    """Materialize one asset for a day, or a range of days as a backfill's ranged run does."""
    defs = build_definitions(catalog, {"stripe": stripe, "warehouse": warehouse}, retry_policy=FAST_RETRIES)
    key = asset_key(catalog.get(name))
    asset = next(a for a in defs.assets if a.key == key)  # type: ignore[union-attr]
    options: dict[str, Any] = {"instance": instance, "resources": defs.resources, "raise_on_error": False}
    if isinstance(partition, tuple):
        options["tags"] = {RANGE_START_TAG: partition[0], RANGE_END_TAG: partition[1]}
    else:
        options["partition_key"] = partition
    return dg.materialize([asset], **options)


@dataclass
class Attempt:
    """One Dagster run of an asset: its result, what its failure says, how often its step restarted."""

    result: dg.ExecuteInProcessResult

    @property
    def success(self) -> bool:
        return self.result.success

    @property
    def messages(self) -> str:
        return failure_messages(self.result)

    @property
    def step_restarts(self) -> int:
        return sum(e.event_type_value == "STEP_RESTARTED" for e in self.result.all_events)

    @property
    def log(self) -> str:
        """Every event of the run as stored, errors of retried attempts included."""
        return "\n".join(serialize_value(event) for event in self.result.all_events)


class Reference:
    """Fault-free landings of (asset, partition) in a warehouse of their own, computed once per session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._cache: dict[tuple[str, Partition], Table] = {}

    def table(self, catalog: Catalog, stripe: StripeResource, name: str, partition: Partition) -> Table:
        """The rows a fault-free run of ``name`` lands for ``partition`` (load lineage left out)."""
        if (name, partition) not in self._cache:
            warehouse = WarehouseResource(url=self.url)
            with dg.instance_for_test() as instance:
                result = materialize(catalog, stripe, warehouse, instance, name, partition)
            assert result.success, failure_messages(result)
            landed = [str(m.partition) for m in result.asset_materializations_for_node(f"stripe__{name}")]
            table = read_table(Warehouse(self.url), catalog.get(name).table).in_partitions(landed)
            assert table.rows, f"the fault-free run of {name} for {partition} landed no rows"
            self._cache[(name, partition)] = table
        return self._cache[(name, partition)]


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return Reference(f"duckdb:///{tmp_path_factory.mktemp('reference') / 'reference.duckdb'}")


@dataclass
class Harness:
    """One test's emulator, warehouse and Dagster instance, and the ways to disturb them."""

    emulator: EmulatorServer
    control: httpx.Client
    instance: dg.DagsterInstance
    warehouse_url: str
    reference: Reference
    monkeypatch: pytest.MonkeyPatch
    catalog: Catalog = field(default_factory=load_catalog)
    keys: set[str] = field(default_factory=lambda: {API_KEY})

    @property
    def warehouse(self) -> WarehouseResource:
        return WarehouseResource(url=self.warehouse_url)

    def stripe(self, **overrides: Any) -> StripeResource:
        """The Stripe resource with ``overrides``; an ``api_key`` is passed through the environment."""
        if "api_key" in overrides:
            key = overrides.pop("api_key")
            self.keys.add(key)
            variable = f"{API_KEY_VARIABLE}_{sorted(self.keys).index(key)}"
            self.monkeypatch.setenv(variable, key)
            overrides["api_key"] = dg.EnvVar(variable)
        return stripe_settings(self.emulator, **overrides)

    def run(
        self, name: str, partition: Partition, *, catalog: Catalog | None = None, **stripe: Any
    ) -> Attempt:
        """Materialize ``name`` for ``partition`` with the Stripe resource's settings ``stripe``."""
        return Attempt(
            materialize(
                catalog or self.catalog, self.stripe(**stripe), self.warehouse, self.instance, name, partition
            )
        )

    def expected(self, name: str, partition: Partition) -> Table:
        """What a fault-free run lands; the emulator is reset afterwards, so its counters start at 0."""
        table = self.reference.table(self.catalog, self.stripe(), name, partition)
        self.reset()
        return table

    def preload(self, name: str, partition: Partition, *, catalog: Catalog | None = None) -> Table:
        """Land ``partition`` without faults and return the whole table, load lineage included."""
        attempt = self.run(name, partition, catalog=catalog)
        assert attempt.success, attempt.messages
        self.reset()
        return self.full_table((catalog or self.catalog).get(name).table)

    def table(self, table: str) -> Table:
        """The table's rows without load lineage: comparable with a fault-free run's."""
        return read_table(self.wh(), table)

    def full_table(self, table: str) -> Table:
        """The table's rows with every column: unchanged means not even reloaded."""
        return read_table(self.wh(), table, drop=())

    def wh(self) -> Warehouse:
        return open_warehouse(self.warehouse)

    def reset(self) -> None:
        self.control.post("/reset").raise_for_status()

    def fault(self, rule: Mapping[str, Any]) -> None:
        self.control.post("/faults", json=dict(rule)).raise_for_status()

    def clear_faults(self) -> None:
        self.control.delete("/faults").raise_for_status()

    def stats(self) -> dict[str, Any]:
        return dict(self.control.get("/stats").json())

    def requests_once_settled(self, expected: Mapping[str, int], timeout: float = 30.0) -> dict[str, int]:
        """Request counts per route, once each route of ``expected`` has seen at least that many.

        The emulator counts a request when its response ends: a request held by a ``slow`` fault
        after the client gave up on it is counted seconds later.
        """
        deadline = time.monotonic() + timeout
        while True:
            requests: dict[str, int] = self.stats()["requests"]
            settled = all(requests.get(route, 0) >= count for route, count in expected.items())
            if settled or time.monotonic() > deadline:
                return requests
            time.sleep(0.05)

    def register_key(self, key: str, permissions: list[str]) -> None:
        self.keys.add(key)
        self.control.post("/keys", json={"key": key, "permissions": permissions}).raise_for_status()

    def leaks(self, *outputs: str) -> list[str]:
        """Where a key used in this test shows up: Dagster's storage, and the outputs given."""
        return instance_leaks(self.keys, self.instance) + leaks(
            self.keys, [(f"output {n}", text) for n, text in enumerate(outputs)]
        )


@pytest.fixture
def make_harness(
    emulator: EmulatorServer,
    control: httpx.Client,
    instance: dg.DagsterInstance,
    reference: Reference,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Harness]:
    """``make_harness("duckdb")`` or ``make_harness("postgres")``: a harness on that warehouse."""

    def make(backend: str = "duckdb") -> Harness:
        url = (
            f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
            if backend == "duckdb"
            else str(request.getfixturevalue("postgres_url"))
        )
        monkeypatch.setenv(API_KEY_VARIABLE, API_KEY)
        return Harness(emulator, control, instance, url, reference, monkeypatch)

    return make


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Iterator[Harness]:
    """A harness on a DuckDB warehouse."""
    yield make_harness("duckdb")
