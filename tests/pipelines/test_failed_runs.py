"""The freshness sensor and failed days: a day whose run failed for a transient reason is requested
again after a backoff that doubles; one that failed permanently is not, until its entry changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest
from pipeline_settings import FAST_RETRIES

from pipelines import automation
from pipelines.catalog import load_catalog
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource

DAY = "2026-11-08"
NEWEST = "2026-11-09"
BAD_SQL = (
    "-- partition_column: day\nselect date_trunc('day', created) as day, sum(no_such_column) as n "
    "from balance_transactions where created >= :window_start and created < :window_end group by 1"
)


def _defs(
    tmp_path: Path, stripe: StripeResource, warehouse: WarehouseResource, *, reports: str, sql: str | None
):
    (tmp_path / "reports.yaml").write_text(reports)
    (tmp_path / "sql").mkdir(exist_ok=True)
    if sql is not None:
        (tmp_path / "sql" / "daily.sql").write_text(sql)
    catalog = load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")
    return build_definitions(catalog, {"stripe": stripe, "warehouse": warehouse}, retry_policy=FAST_RETRIES)


def _run(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        list(defs.assets),  # type: ignore[arg-type]
        instance=instance,
        resources=defs.resources,
        partition_key=DAY,
        raise_on_error=False,
    )


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, sensor: str, asset: str):
    # The cursor is past the newest complete day: anything requested is a failed day again.
    with dg.build_sensor_context(
        instance=instance,
        cursor=json.dumps({asset: NEWEST}),
        resources=defs.resources,
        definitions=defs,
    ) as context:
        return defs.resolve_sensor_def(sensor)(context)


def _clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    monkeypatch.setattr(automation, "machine_now", lambda: at)


def test_a_day_that_failed_transiently_is_requested_again_after_a_doubling_backoff(
    tmp_path: Path,
    stripe: StripeResource,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    control: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    control.post(
        "/faults", json={"kind": "run_failed", "method": "POST", "path": "/v1/reporting/report_runs"}
    ).raise_for_status()
    defs = _defs(
        tmp_path, stripe, warehouse, reports="reports:\n  - report_type: payouts.itemized.3\n", sql=None
    )
    sensor, asset = "stripe_reports_freshness", "payouts_itemized_3"
    first = _run(defs, instance)
    assert not first.success
    failed_at = datetime.now(UTC)

    _clock(monkeypatch, failed_at + timedelta(minutes=1))
    held = _tick(defs, instance, sensor, asset)
    assert isinstance(held, dg.SkipReason)
    assert f"{DAY} failed 1 time(s)" in (held.skip_message or "")

    _clock(monkeypatch, failed_at + timedelta(minutes=16))  # past the first backoff, 15 minutes
    again = _tick(defs, instance, sensor, asset)
    assert isinstance(again, dg.SensorResult)
    [request] = again.run_requests or []
    assert request.partition_key == DAY and request.run_key and request.run_key.endswith(":retry-1")

    second = _run(defs, instance)  # Stripe still fails the report run
    assert not second.success
    failed_again_at = datetime.now(UTC)
    _clock(monkeypatch, failed_again_at + timedelta(minutes=16))  # the second backoff is 30 minutes
    assert isinstance(_tick(defs, instance, sensor, asset), dg.SkipReason)
    _clock(monkeypatch, failed_again_at + timedelta(minutes=31))
    [request] = _tick(defs, instance, sensor, asset).run_requests
    assert request.partition_key == DAY and request.run_key.endswith(":retry-2")


def test_a_day_that_failed_permanently_waits_for_its_entry_to_change(
    tmp_path: Path,
    stripe: StripeResource,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defs = _defs(tmp_path, stripe, warehouse, reports="reports: []\n", sql=BAD_SQL)
    sensor, asset = "sigma_queries_freshness", "daily"
    result = _run(defs, instance)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags["stripe/failure"] == "permanent"

    # Later than any backoff: still not requested, and the tick says why.
    _clock(monkeypatch, datetime.now(UTC) + timedelta(days=1))
    held = _tick(defs, instance, sensor, asset)
    assert isinstance(held, dg.SkipReason)
    assert f"{DAY} failed permanently (RunFailedError" in (held.skip_message or "")
    assert "until its catalogue entry changes" in (held.skip_message or "")

    fixed = _defs(
        tmp_path, stripe, warehouse, reports="reports: []\n", sql=BAD_SQL.replace("no_such_column", "amount")
    )
    again = _tick(fixed, instance, sensor, asset)

    assert isinstance(again, dg.SensorResult)
    [request] = again.run_requests or []
    assert request.partition_key == DAY and request.run_key and ":changed-" in request.run_key
