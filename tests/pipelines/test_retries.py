"""Each kind of error decides its own attempts: mistakes fail once naming the entry, faults retry.

Runs against the emulator with the test retry policy (2 retries): a transient fault takes 3
attempts, a permanent error exactly 1.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster_runs import failure_messages
from pipeline_settings import FAST_RETRIES

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import load_catalog
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource

DAY = "2026-11-08"
WINDOWED = "from balance_transactions where created >= :window_start and created < :window_end group by 1"


def attempts(result: dg.ExecuteInProcessResult) -> int:
    """How many times the asset's step ran."""
    return sum(1 for e in result.all_events if e.event_type_value in ("STEP_START", "STEP_RESTARTED"))


def run(
    tmp_path: Path,
    stripe: StripeResource,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    *,
    sql: str | None = None,
    reports: str = "reports: []\n",
    partition: str | tuple[str, str] = DAY,
) -> dg.ExecuteInProcessResult:
    (tmp_path / "reports.yaml").write_text(reports)
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir(exist_ok=True)
    if sql is not None:
        (sql_dir / "daily.sql").write_text(sql)
    catalog = load_catalog(tmp_path / "reports.yaml", sql_dir)
    defs = build_definitions(catalog, {"stripe": stripe, "warehouse": warehouse}, retry_policy=FAST_RETRIES)
    options: dict[str, object] = {"partition_key": partition}
    if isinstance(partition, tuple):
        options = {"tags": {RANGE_START_TAG: partition[0], RANGE_END_TAG: partition[1]}}
    return dg.materialize(
        list(defs.assets),
        instance=instance,
        resources=defs.resources,
        raise_on_error=False,
        **options,  # type: ignore[arg-type]
    )


PERMANENT = {
    "sql Sigma rejects": (
        "-- partition_column: day\nselect date_trunc('day', created) as day, sum(no_such_column) as n "
        + WINDOWED,
        "no_such_column",
    ),
    "a partition_column the query does not return": (
        "-- partition_column: day\nselect date_trunc('day', created) as d, count(*) as n " + WINDOWED,
        "lacks split column `day`",
    ),
    "a query without its window filter": (
        "-- partition_column: day\nselect date_trunc('day', created) as day, count(*) as n "
        "from balance_transactions group by 1",
        "outside every window",
    ),
}


@pytest.mark.parametrize("case", list(PERMANENT), ids=list(PERMANENT))
def test_a_mistake_in_a_sql_file_fails_once_naming_the_file(
    case: str,
    tmp_path: Path,
    stripe: StripeResource,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
) -> None:
    sql, reason = PERMANENT[case]

    result = run(tmp_path, stripe, warehouse, instance, sql=sql)

    assert not result.success
    assert attempts(result) == 1
    message = failure_messages(result)
    assert reason in message
    assert "defined in" in message and "daily.sql" in message


def test_a_range_before_the_assets_start_date_fails_once_naming_the_start_date(
    tmp_path: Path, stripe: StripeResource, warehouse: WarehouseResource, instance: dg.DagsterInstance
) -> None:
    reports = "defaults: {start_date: '2026-11-01'}\nreports:\n  - report_type: payouts.itemized.3\n"

    result = run(
        tmp_path, stripe, warehouse, instance, reports=reports, partition=("2026-10-25", "2026-11-03")
    )

    assert not result.success
    assert attempts(result) == 1
    message = failure_messages(result)
    assert "2026-10-25..2026-11-03" in message and "start at 2026-11-01" in message
    assert "reports.yaml" in message


def test_a_report_run_that_fails_at_stripe_is_retried(
    tmp_path: Path,
    stripe: StripeResource,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    control: httpx.Client,
) -> None:
    control.post(
        "/faults", json={"kind": "run_failed", "method": "POST", "path": "/v1/reporting/report_runs"}
    )

    result = run(
        tmp_path, stripe, warehouse, instance, reports="reports:\n  - report_type: payouts.itemized.3\n"
    )

    assert not result.success
    assert attempts(result) == 1 + FAST_RETRIES.max_retries


def test_a_transient_fault_that_clears_succeeds_on_a_later_attempt(
    tmp_path: Path,
    stripe: StripeResource,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    control: httpx.Client,
) -> None:
    control.post(
        "/faults",
        json={"kind": "run_failed", "method": "POST", "path": "/v1/reporting/report_runs", "times": 1},
    )

    result = run(
        tmp_path, stripe, warehouse, instance, reports="reports:\n  - report_type: payouts.itemized.3\n"
    )

    assert result.success
    assert attempts(result) == 2
