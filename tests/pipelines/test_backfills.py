"""Ranged backfills: few Stripe jobs, and exactly the table that day-by-day runs would build."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster_runs import failure_messages, rows
from pipeline_settings import FAST_RETRIES, open_warehouse

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import load_catalog
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource

pytestmark = pytest.mark.slow

QUARTER = ("2026-08-11", "2026-11-08")  # 90 days
FIVE_WEEKS = ("2026-10-05", "2026-11-08")  # 35 days


def _backfill(
    tmp_path: Path,
    stripe: StripeResource,
    instance: dg.DagsterInstance,
    reports_yaml: str,
    days: tuple[str, str],
    sql: dict[str, str] | None = None,
) -> WarehouseResource:
    """Backfill ``days`` (first and last) the way Dagster's backfill daemon does under the asset's
    backfill policy: one ranged run per ``max_partitions_per_run`` consecutive days."""
    root = tmp_path / f"project-{len(list(tmp_path.iterdir()))}"
    (root / "sql").mkdir(parents=True)
    (root / "reports.yaml").write_text(reports_yaml)
    for name, text in (sql or {}).items():
        (root / "sql" / f"{name}.sql").write_text(text)
    warehouse = WarehouseResource(url=f"duckdb:///{root / 'warehouse.duckdb'}")
    defs = build_definitions(
        load_catalog(root / "reports.yaml", root / "sql"),
        {"stripe": stripe, "warehouse": warehouse},
        retry_policy=FAST_RETRIES,
    )
    [asset] = defs.assets  # type: ignore[misc]
    keys = asset.partitions_def.get_partition_keys()  # type: ignore[union-attr]
    keys = keys[keys.index(days[0]) : keys.index(days[1]) + 1]
    per_run = asset.backfill_policy.max_partitions_per_run  # type: ignore[union-attr]
    for start in range(0, len(keys), per_run):
        run_keys = keys[start : start + per_run]
        result = dg.materialize(
            [asset],
            instance=instance,
            resources=defs.resources,
            tags={RANGE_START_TAG: run_keys[0], RANGE_END_TAG: run_keys[-1]},
            raise_on_error=False,
        )
        assert result.success, failure_messages(result)
    return warehouse


def _report_runs(control: httpx.Client) -> int:
    return control.get("/stats").json()["runs_created"].get("report_run", 0)


def test_a_90_day_backfill_costs_three_report_runs_and_equals_90_single_day_runs(
    tmp_path: Path, stripe: StripeResource, control: httpx.Client, instance: dg.DagsterInstance
) -> None:
    entry = "reports:\n  - report_type: balance_change_from_activity.itemized.3\n"

    ranged = _backfill(tmp_path, stripe, instance, entry, QUARTER)
    ranged_runs = _report_runs(control)
    daily = _backfill(tmp_path, stripe, instance, entry + "    max_days_per_run: 1\n", QUARTER)
    daily_runs = _report_runs(control) - ranged_runs

    assert ranged_runs <= 3
    assert daily_runs == 90
    table = "balance_change_from_activity_itemized_3"
    landed = rows(ranged, table)
    assert len(landed) > 90 * 50
    assert landed == rows(daily, table)
    assert len(open_warehouse(ranged).row_counts(table)) == 90


def test_a_ranged_sigma_backfill_equals_day_by_day(
    tmp_path: Path, stripe: StripeResource, instance: dg.DagsterInstance
) -> None:
    query = {
        "mrr": "-- partition_column: day\n"
        "select date_trunc('day', event_timestamp) as day, currency, sum(mrr_change) as mrr_change\n"
        "from subscription_item_change_events\n"
        "where event_timestamp >= :window_start and event_timestamp < :window_end group by 1, 2\n"
    }
    ranged = _backfill(tmp_path, stripe, instance, "defaults: {max_days_per_run: 7}\n", FIVE_WEEKS, query)
    daily = _backfill(tmp_path, stripe, instance, "defaults: {max_days_per_run: 1}\n", FIVE_WEEKS, query)

    landed = rows(ranged, "mrr")
    assert landed and landed == rows(daily, "mrr")
    assert len(open_warehouse(ranged).row_counts("mrr")) == 35
