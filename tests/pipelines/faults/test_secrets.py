"""The API key never shows: not in what the UI loads, not in run storage or logs, not in errors.

Every test of the fault matrix also scans its own runs; here the project is configured exactly as
in production (the key and the warehouse URL from the environment) and driven through successes,
retries and failures, then everything Dagster stored and everything printed is searched.
"""

from __future__ import annotations

import pickle
import traceback
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from pipeline_settings import API_KEY, open_warehouse

from pipelines.catalog import load_catalog
from pipelines.partitions import partition_key
from pipelines.project import build_definitions, resources_from_env
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.stripe import FileDownloader, SigmaRunner, StripeClient
from pipelines.stripe.errors import StripeError
from stripe_emulator.server import EmulatorServer

from .conftest import Harness
from .secret_scan import instance_leaks, leaks

DAY = "2026-11-08"
PASSWORD = "pw51Wq8Xz3Rt6Yk2Mn9Vb4Lc7Gs"


def _production_definitions(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer, warehouse_url: str
) -> dg.Definitions:
    environ = {"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": emulator.url, "WAREHOUSE_URL": warehouse_url}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    resources = resources_from_env(environ)
    return build_definitions(load_catalog(), resources, retry_policy=dg.RetryPolicy(max_retries=1, delay=0.1))


def test_what_the_ui_loads_names_the_variables_never_their_values(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    url = f"postgresql+psycopg://pipelines:{PASSWORD}@db.internal:5432/warehouse"
    defs = _production_definitions(monkeypatch, emulator, url)

    snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))

    assert "STRIPE_API_KEY" in snapshot and "WAREHOUSE_URL" in snapshot
    assert leaks([API_KEY, PASSWORD], [("repository snapshot", snapshot)]) == []


def test_a_production_configured_project_never_stores_or_prints_the_key(
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    defs = _production_definitions(monkeypatch, harness.emulator, harness.warehouse_url)
    instance = harness.instance
    # Transient trouble everywhere, and permanent failures, so that retries, errors and failed checks
    # are all logged.
    for rule in (
        {"kind": "http_429", "method": "*", "path": "/v1/*", "nth": [5, 20, 40], "retry_after": 0.1},
        {"kind": "truncate_download", "method": "GET", "path": "/v1/files/*/contents", "nth": [2, 7]},
        {"kind": "run_failed", "method": "POST", "path": "/v1/sigma/query_runs", "nth": [4]},
        {"kind": "duplicate_row", "method": "POST", "path": "/v1/reporting/report_runs", "nth": [3]},
    ):
        harness.fault(rule)
    for name in ("stripe_connected_accounts", "stripe_reports_freshness", "sigma_queries_freshness"):
        sensor = defs.resolve_sensor_def(name)
        with dg.build_sensor_context(
            instance=instance, resources=defs.resources, definitions=defs
        ) as context:
            tick = sensor(context)
        for request in tick.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    accounts = instance.get_dynamic_partitions("stripe_connected_accounts")
    outcomes = []
    for asset in defs.assets:
        partitions = asset.partitions_def  # type: ignore[union-attr]
        if isinstance(partitions, dg.DynamicPartitionsDefinition):
            continue  # one partition per landed payout: nothing to name before payouts are landed
        if isinstance(partitions, dg.MultiPartitionsDefinition):
            key = partition_key(accounts[0], DAY)
        else:  # DAY's day, or its month for monthly entries
            key = partitions.get_partition_key_for_timestamp(
                datetime.fromisoformat(DAY).replace(tzinfo=UTC).timestamp()
            )
        result = dg.materialize(
            [asset], instance=instance, partition_key=key, resources=defs.resources, raise_on_error=False
        )
        outcomes.append(result.success)

    assert any(outcomes) and not all(outcomes)  # the scan covers successful and failed runs
    assert harness.stats()["faults_fired"].keys() >= {"http_429", "truncate_download", "run_failed"}
    captured = capfd.readouterr()
    assert instance_leaks([API_KEY], instance) == []
    assert leaks([API_KEY], [("stdout", captured.out), ("stderr", captured.err), ("logs", caplog.text)]) == []


def test_errors_show_the_key_redacted_like_stripe_does(harness: Harness, tmp_path: Path) -> None:
    emulator = harness.emulator
    unknown = "rk_test_51Hq3Zt8Wk2Vn6Xr9Pb4Ly7Cm5Fj2q9x8"
    errors: list[BaseException] = []
    with StripeClient(
        unknown, api_base=emulator.url, files_base=emulator.url, max_network_retries=0
    ) as client:
        for call in (
            lambda: client.request("GET", "/v1/reporting/report_types/balance.summary.1"),
            lambda: SigmaRunner(client).data_load_time(),
            lambda: FileDownloader(client).download("file_missing", tmp_path / "missing.csv"),
        ):
            with pytest.raises(StripeError) as caught:
                call()
            errors.append(caught.value)
        texts = [repr(client), str(vars(client))]
    for error in errors:
        texts += [
            str(error),
            repr(error),
            "".join(traceback.format_exception(error)),
            repr(pickle.loads(pickle.dumps(error))),
        ]

    assert "rk_test_****q9x8" in str(errors[0])
    assert leaks([unknown], [(f"text {n}", t) for n, t in enumerate(texts)]) == []


@pytest.mark.parametrize("key", [API_KEY, dg.EnvVar("STRIPE_API_KEY")], ids=["plain", "env_var"])
def test_resources_and_clients_print_without_the_key(
    key: str, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
    stripe = StripeResource(api_key=key, api_base=emulator.url, files_base=emulator.url)
    warehouse = WarehouseResource(url=f"postgresql+psycopg://pipelines:{PASSWORD}@db.internal/warehouse")
    texts = [repr(stripe), str(stripe), repr(warehouse), str(warehouse), repr(open_warehouse(warehouse))]
    resolved = stripe.process_config_and_initialize()
    with resolved.session() as session:
        texts += [repr(resolved), repr(session), repr(session.client), str(vars(session.client))]

    assert leaks([API_KEY, PASSWORD], [(f"text {n}", t) for n, t in enumerate(texts)]) == []


def test_a_warehouse_url_from_the_environment_prints_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", f"postgresql+psycopg://pipelines:{PASSWORD}@db.internal/warehouse")
    warehouse = WarehouseResource(url=dg.EnvVar("WAREHOUSE_URL"))

    assert repr(warehouse) == "WarehouseResource(url=<from the environment>, schema_name='stripe')"
    resolved = warehouse.process_config_and_initialize()
    assert "db.internal" in repr(resolved)
    assert leaks([PASSWORD], [("repr", repr(resolved))]) == []
