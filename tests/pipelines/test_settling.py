"""Settling: days Stripe still changes after they are complete are landed again, by the settling
sensor alone, each time Stripe's freshness moves, until a landing past their settling period marks
them settled."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
import pytest
from dagster_runs import Materialize
from pipeline_settings import open_warehouse

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG, SETTLING_SENSOR, SETTLING_TAG
from pipelines.catalog import load_catalog
from pipelines.resources import WarehouseResource
from pipelines.settling import days_to_resettle, is_settled, settles_at

BCFA = "balance_change_from_activity_itemized_3"
DAY = "2026-11-09"


def _end(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)


def test_a_day_is_settled_once_stripe_is_loaded_past_its_end_plus_the_settling_period() -> None:
    end = _end(DAY)  # 2026-11-10T00:00Z
    assert settles_at(end, 3) == datetime(2026, 11, 13, tzinfo=UTC)
    assert not is_settled(end, 3, datetime(2026, 11, 12, 23, 59, tzinfo=UTC))
    assert is_settled(end, 3, datetime(2026, 11, 13, tzinfo=UTC))


def test_a_freshness_move_relands_the_days_complete_but_unsettled_at_the_previous_freshness() -> None:
    days = [(d, _end(d)) for d in ("2026-11-05", "2026-11-06", "2026-11-07", "2026-11-08", "2026-11-09")]
    previous = datetime(2026, 11, 9, 6, tzinfo=UTC)
    current = previous + timedelta(days=1)

    # 11-05 ended 11-06T00: settled at 11-09T00, before the previous freshness. 11-09 was not complete
    # at the previous freshness: a new day, the freshness sensor's.
    assert days_to_resettle(days, 3, previous, current) == ["2026-11-06", "2026-11-07", "2026-11-08"]
    assert days_to_resettle(days, 10, previous, current) == [d for d, _ in days[:-1]]
    assert days_to_resettle(days, 3, previous, previous) == []  # no move, nothing to do
    assert days_to_resettle(days, 3, None, current) == []  # first look: only recorded
    assert days_to_resettle(days, 0, previous, current) == []


def test_settling_days_come_from_the_entry_then_defaults_then_the_report_type(tmp_path) -> None:
    (tmp_path / "reports.yaml").write_text(
        "reports:\n"
        "  - report_type: payout_reconciliation.itemized.5\n"
        "  - report_type: balance_change_from_activity.itemized.3\n"
        "    settling_days: 5\n"
    )
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "late.sql").write_text("-- settling_days: 7\nselect 1 as x\n")
    (sql / "plain.sql").write_text("select 1 as x\n")
    catalog = load_catalog(tmp_path / "reports.yaml", sql)
    assert {s.name: s.settling_days for s in catalog.sources} == {
        "payout_reconciliation_itemized_5": 10,
        "balance_change_from_activity_itemized_3": 5,
        "late": 7,
        "plain": 3,
    }
    (tmp_path / "reports.yaml").write_text(
        "defaults:\n  settling_days: 2\nreports:\n  - report_type: payout_reconciliation.itemized.5\n"
    )
    assert (
        load_catalog(tmp_path / "reports.yaml", sql).get("payout_reconciliation_itemized_5").settling_days
        == 2
    )


def test_a_settling_period_out_of_range_names_the_file_and_line(tmp_path) -> None:
    (tmp_path / "reports.yaml").write_text(
        "reports:\n  - report_type: balance.summary.1\n    settling_days: 61\n"
    )
    with pytest.raises(Exception, match=r"reports.yaml, line 3.*between 0 and 60"):
        load_catalog(tmp_path / "reports.yaml", tmp_path / "none")


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.resolve_sensor_def(SETTLING_SENSOR)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=defs.resources, definitions=defs
    ) as context:
        return sensor(context)


def _requests(result: dg.SensorResult, asset: str) -> list[dg.RunRequest]:
    return [r for r in result.run_requests or [] if r.asset_selection == [dg.AssetKey(["stripe", asset])]]


def _run(materialize: Materialize, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    # The run the daemon would launch for the request: its partition, or its range and tags.
    if request.partition_key is not None:
        return materialize(BCFA, request.partition_key, tags=dict(request.tags))
    return materialize(
        BCFA, (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]), tags=dict(request.tags)
    )


def _blank_payouts(warehouse: WarehouseResource) -> int:
    wh = open_warehouse(warehouse)
    return wh.row_counts("balance_change_from_activity_itemized_3", where={"automatic_payout_id": None}).get(
        DAY, 0
    )


def _metadata(result: dg.ExecuteInProcessResult, day: str) -> dict:
    [event] = [m for m in result.get_asset_materialization_events() if m.partition == day]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_late_payouts_reach_the_warehouse_through_the_settling_sensor_alone(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    control: httpx.Client,
    materialize: Materialize,
    warehouse: WarehouseResource,
) -> None:
    # The morning after (Stripe loaded until 2026-11-10T06:00Z): the day's funds are paid out by
    # the automatic payout created at 2026-11-11T00:00Z (a two-day delay), so Stripe reports every
    # transaction of the day with an empty automatic_payout_id until then.
    first = materialize(BCFA, DAY)
    assert first.success
    landed = _metadata(first, DAY)
    assert landed["settled"] is False and landed["rows_added"] == landed["dagster/row_count"]
    blank_at_first = _blank_payouts(warehouse)
    assert blank_at_first > 0

    cursor = _tick(defs, instance, None).cursor  # the first look records Stripe's freshness
    assert json.loads(cursor)[BCFA] == "2026-11-10T06:00:00Z"

    control.post("/advance", json={"by_hours": 24}).raise_for_status()
    tick = _tick(defs, instance, cursor)
    [request] = _requests(tick, BCFA)  # the only landed day still settling
    assert request.partition_key == DAY and request.tags[SETTLING_TAG] == "2026-11-11T06:00:00Z"
    second = _run(materialize, request)
    assert second.success
    changed = _metadata(second, DAY)
    assert changed["rows_changed"] > 0 and changed["settled"] is False
    assert changed["rows_added"] == changed["rows_removed"] == 0
    assert _blank_payouts(warehouse) < blank_at_first

    # Nothing moved: nothing requested, and the tick says why.
    again = _tick(defs, instance, tick.cursor)
    assert not _requests(again, BCFA) and "unchanged" in (again.skip_reason.skip_message or "")

    # Stripe's data reaches the day's end + 3 days: the last re-landing, marked settled.
    control.post("/advance", json={"to": "2026-11-13T00:00:00Z"}).raise_for_status()
    tick = _tick(defs, instance, tick.cursor)
    [request] = _requests(tick, BCFA)
    final = _metadata(_run(materialize, request), DAY)
    assert final["rows_changed"] == 0
    assert final["settled"] is True  # Stripe's data is past the day's end + 3 days
    # A later move re-lands nothing of a settled day.
    control.post("/advance", json={"by_hours": 6}).raise_for_status()
    assert not _requests(_tick(defs, instance, tick.cursor), BCFA)
