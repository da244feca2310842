"""Monthly partitions: a summary over a calendar month, a snapshot at its end, run once complete.

The tests' emulator has data from 2026-07-13 to 2026-11-10T06:00Z: October 2026 is a complete month,
November is not.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import httpx
import sqlalchemy as sa
from dagster_runs import Materialize, count_by_partition, failure_messages, rows
from pipeline_settings import open_warehouse

from pipelines.automation import RANGE_END_TAG
from pipelines.catalog import load_catalog
from pipelines.monthly import MONTHLY_EQUALS_DAILY
from pipelines.partition_windows import PartitionWindow, chunks
from pipelines.partitions import partitions_for, resolve
from pipelines.resources import WarehouseResource
from pipelines.warehouse import Window

DAILY, MONTHLY = "balance_summary_1", "balance_summary_monthly"
OCTOBER = "2026-10-01"


def _summary(warehouse: WarehouseResource, table: str) -> dict[str, dict[str, list[tuple[str, Decimal]]]]:
    """{currency: {category: [(partition, net_amount), ...]}} of a landed balance summary."""
    by = defaultdict(lambda: defaultdict(list))  # type: ignore[var-annotated]
    for row in rows(warehouse, table):
        record = dict(zip(["category", "currency", "description", "net_amount"], row[:4], strict=True))
        partition = next(v for v in row if isinstance(v, str) and v[:4] == "2026")
        by[record["currency"]][record["category"]].append((partition, Decimal(record["net_amount"])))
    return by


def test_a_monthly_entry_has_one_partition_per_calendar_month_in_its_zone(tmp_path: Path) -> None:
    (tmp_path / "reports.yaml").write_text(
        "reports:\n  - report_type: balance.summary.1\n    period: month\n    timezone: America/New_York\n"
        '    start_date: "2026-03-15"\n'
    )
    [source] = load_catalog(tmp_path / "reports.yaml", tmp_path / "sql").sources
    partitions = partitions_for(source)

    assert isinstance(partitions, dg.MonthlyPartitionsDefinition)
    keys = partitions.get_partition_keys(current_time=datetime(2026, 7, 2, tzinfo=UTC))
    assert keys == [
        "2026-04-01",
        "2026-05-01",
        "2026-06-01",
    ]  # the first month starting on or after start_date
    [june] = resolve(partitions, ["2026-06-01"])
    assert (june.start.isoformat(), june.end.isoformat()) == (
        "2026-06-01T00:00:00-04:00",
        "2026-07-01T00:00:00-04:00",
    )


def test_a_sql_header_can_ask_for_monthly_partitions(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "monthly_fees.sql").write_text(
        "-- period: month\n-- partition_column: day\n"
        "select date_trunc('day', created) as day, sum(fee) as fees from balance_transactions\n"
        "where created >= :window_start and created < :window_end group by 1\n"
    )
    [source] = load_catalog(tmp_path / "reports.yaml", tmp_path / "sql").sources

    assert source.period == "month"
    assert isinstance(partitions_for(source), dg.MonthlyPartitionsDefinition)


def test_a_month_is_one_stripe_job_whatever_max_days_per_run_allows() -> None:
    def month(start: date, end: date) -> PartitionWindow:
        window = Window(
            start.isoformat(),
            datetime(start.year, start.month, start.day, tzinfo=UTC),
            datetime(end.year, end.month, end.day, tzinfo=UTC),
        )
        return PartitionWindow(window.key, None, window)

    months = [month(date(2026, 8, 1), date(2026, 9, 1)), month(date(2026, 9, 1), date(2026, 10, 1))]

    assert [len(c) for c in chunks(months, 31)] == [1, 1]
    assert [len(c) for c in chunks(months, 7)] == [1, 1]


def _monthly_check(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.AssetCheckEvaluation:
    key = dg.AssetCheckKey(dg.AssetKey(["stripe", MONTHLY]), MONTHLY_EQUALS_DAILY)
    [check] = [c for c in defs.asset_checks if key in c.check_keys]  # type: ignore[union-attr]
    job = dg.define_asset_job("monthly_check_job", selection=dg.AssetSelection.checks(check))
    with_job = dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=[job], resources=defs.resources
    )
    result = with_job.resolve_job_def("monthly_check_job").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert result.success, failure_messages(result)
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_a_monthly_balance_summary_equals_the_sum_of_its_days(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    materialize: Materialize,
    warehouse: WarehouseResource,
    control: httpx.Client,
) -> None:
    monthly = materialize(MONTHLY, OCTOBER)
    assert monthly.success, failure_messages(monthly)
    assert control.get("/stats").json()["runs_created"]["report_run"] == 1  # the whole month at once
    daily = materialize(DAILY, ("2026-10-01", "2026-10-31"))
    assert daily.success, failure_messages(daily)

    assert list(count_by_partition(warehouse, MONTHLY)) == [OCTOBER]
    month, days = _summary(warehouse, MONTHLY), _summary(warehouse, DAILY)
    assert set(month) == set(days) and month
    for currency, lines in month.items():
        day_lines = {category: sorted(values) for category, values in days[currency].items()}
        [(_, starting)] = lines["starting_balance"]
        [(_, ending)] = lines["ending_balance"]
        assert starting == day_lines["starting_balance"][0][1], currency  # the 1st's opening balance
        assert ending == day_lines["ending_balance"][-1][1], currency  # the 31st's closing balance
        for category in ("activity", "payouts"):
            assert sum(v for _, v in lines.get(category, [])) == sum(
                v for _, v in day_lines.get(category, [])
            ), (currency, category)

    # The monthly_equals_daily check says the same, and names a month whose lines disagree.
    passed = _monthly_check(defs, instance)
    assert passed.passed, passed.description
    assert passed.metadata["months_compared"].value == 1
    wh = open_warehouse(warehouse)
    table = sa.table(MONTHLY, sa.column("category"), sa.column("net_amount"), schema=wh.schema)
    with wh.engine.begin() as connection:
        connection.execute(
            table.update().where(table.c.category == "activity").values(net_amount=table.c.net_amount + 1)
        )
    failed = _monthly_check(defs, instance)
    assert not failed.passed
    assert "2026-10-01 usd activity" in (failed.description or "")


def test_a_monthly_snapshot_is_the_balance_at_the_months_end(
    materialize: Materialize, warehouse: WarehouseResource
) -> None:
    assert materialize("ending_balance_reconciliation_monthly", OCTOBER).success
    assert materialize("ending_balance_reconciliation_itemized_4", "2026-10-31").success

    def ids(table: str) -> list[str]:
        return sorted(row[0] for row in rows(warehouse, table))

    month_end = ids("ending_balance_reconciliation_monthly")
    assert month_end and month_end == ids("ending_balance_reconciliation_itemized_4")


def test_a_month_stripe_has_not_finished_is_not_loaded_and_says_why(
    materialize: Materialize, warehouse: WarehouseResource
) -> None:
    result = materialize(MONTHLY, "2026-11-01")

    assert not result.success
    assert "2026-11-01 ends at 2026-12-01T00:00:00Z" in failure_messages(result)
    assert count_by_partition(warehouse, MONTHLY) == {}


def test_the_monthly_schedule_requests_a_month_once_stripe_has_its_end(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    schedule = defs.resolve_schedule_def("stripe_monthly")

    def requested(at: datetime) -> list[tuple[str, str | None, str | None]]:
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=at,
            resources=defs.resources,
            repository_def=defs.get_repository_def(),
        ) as context:
            result = schedule.evaluate_tick(context)
        return [
            (r.asset_selection[0].path[-1], r.partition_key, r.run_key) for r in result.run_requests or []
        ]

    first = requested(datetime(2026, 11, 10, 6, 0, tzinfo=UTC))
    later = requested(datetime(2026, 11, 11, 6, 0, tzinfo=UTC))

    assert {(asset, key) for asset, key, _ in first} == {
        (MONTHLY, OCTOBER),
        ("ending_balance_reconciliation_monthly", OCTOBER),
    }
    # The same run key on every morning of November: Dagster launches October once.
    assert sorted(run_key for *_, run_key in later) == sorted(run_key for *_, run_key in first)
    assert all("2026-11" not in (key or "") for _, key, _ in first)

    # The freshness sensor's first tick, too, asks for complete months only, ending with October.
    sensor = defs.resolve_sensor_def("stripe_reports_freshness")
    with dg.build_sensor_context(instance=instance, resources=defs.resources, definitions=defs) as context:
        tick = sensor(context)
    monthly = [r for r in tick.run_requests if r.asset_selection == [dg.AssetKey(["stripe", MONTHLY])]]
    assert [r.tags.get(RANGE_END_TAG, r.partition_key) for r in monthly] == [OCTOBER]
