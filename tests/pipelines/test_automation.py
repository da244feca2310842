"""Freshness sensors and the daily schedule, evaluated with Dagster's own test contexts against
the emulator's moving data_load_time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import httpx
from dagster_runs import Materialize

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG

REPORTS_SENSOR = "stripe_reports_freshness"
BCFA = "balance_change_from_activity_itemized_3"
NEW_YORK = "balance_change_from_activity_new_york"


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursor: str | None):
    sensor = defs.resolve_sensor_def(name)
    # As a context manager: the context's resources and instance handle close before the test ends.
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=defs.resources, definitions=defs
    ) as context:
        return sensor(context)


def _requested(result: dg.SensorResult, asset: str) -> list[tuple[str, str]]:
    """(first, last) partition of every run requested for ``asset``."""
    spans = []
    for request in result.run_requests or []:
        if request.asset_selection != [dg.AssetKey(["stripe", asset])]:
            continue
        if request.partition_key is not None:
            spans.append((request.partition_key, request.partition_key))
        else:
            spans.append((request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]))
    return spans


def test_the_first_tick_requests_the_last_complete_week_as_one_ranged_run(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    result = _tick(defs, instance, REPORTS_SENSOR, cursor=None)

    assert isinstance(result, dg.SensorResult)
    # Data is loaded until 2026-11-10T06:00Z: 2026-11-09 is the newest complete UTC day.
    assert _requested(result, BCFA) == [("2026-11-03", "2026-11-09")]
    # New York's 2026-11-09 ends at 05:00Z on the 10th: complete too.
    assert _requested(result, NEW_YORK) == [("2026-11-03", "2026-11-09")]
    assert json.loads(result.cursor)[BCFA] == "2026-11-09"
    assert all(r.run_key for r in result.run_requests)


def test_nothing_is_requested_twice(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    first = _tick(defs, instance, REPORTS_SENSOR, cursor=None)

    second = _tick(defs, instance, REPORTS_SENSOR, cursor=first.cursor)

    assert isinstance(second, dg.SkipReason)
    assert "data_available_end of balance_change_from_activity.itemized.3 is 2026-11-10T06:00:00Z" in (
        second.skip_message or ""
    )


def test_after_stripe_loads_a_day_exactly_that_day_is_requested(
    defs: dg.Definitions, instance: dg.DagsterInstance, control: httpx.Client
) -> None:
    cursor = _tick(defs, instance, REPORTS_SENSOR, cursor=None).cursor
    control.post("/advance", json={"by_hours": 6}).raise_for_status()  # 12:00Z: the 10th still open
    assert isinstance(_tick(defs, instance, REPORTS_SENSOR, cursor=cursor), dg.SkipReason)

    control.post("/advance", json={"by_hours": 18}).raise_for_status()  # 2026-11-11T06:00Z
    result = _tick(defs, instance, REPORTS_SENSOR, cursor=cursor)

    assert isinstance(result, dg.SensorResult)
    for report in (BCFA, NEW_YORK, "balance_summary_1", "payouts_itemized_3"):
        assert _requested(result, report) == [("2026-11-10", "2026-11-10")], report
    assert json.loads(result.cursor)[BCFA] == "2026-11-10"


def test_days_completed_during_downtime_are_caught_up_in_one_ranged_run(
    defs: dg.Definitions, instance: dg.DagsterInstance, control: httpx.Client
) -> None:
    cursor = _tick(defs, instance, REPORTS_SENSOR, cursor=None).cursor
    control.post("/advance", json={"to": "2026-11-13T01:00:00Z"}).raise_for_status()

    result = _tick(defs, instance, REPORTS_SENSOR, cursor=cursor)

    assert _requested(result, BCFA) == [("2026-11-10", "2026-11-12")]


def test_partitions_already_materialized_are_not_requested(
    defs: dg.Definitions, instance: dg.DagsterInstance, control: httpx.Client, materialize: Materialize
) -> None:
    cursor = _tick(defs, instance, REPORTS_SENSOR, cursor=None).cursor
    control.post("/advance", json={"to": "2026-11-12T06:00:00Z"}).raise_for_status()
    assert materialize(BCFA, "2026-11-10").success

    result = _tick(defs, instance, REPORTS_SENSOR, cursor=cursor)

    assert _requested(result, BCFA) == [("2026-11-11", "2026-11-11")]
    assert _requested(result, "balance_summary_1") == [("2026-11-10", "2026-11-11")]


def test_the_sigma_sensor_follows_data_load_time(
    defs: dg.Definitions, instance: dg.DagsterInstance, control: httpx.Client
) -> None:
    cursor = _tick(defs, instance, "sigma_queries_freshness", cursor=None).cursor
    control.post("/advance", json={"by_hours": 24}).raise_for_status()

    result = _tick(defs, instance, "sigma_queries_freshness", cursor=cursor)

    for query in ("daily_activity_by_category", "mrr_movements", "fees_by_type"):
        assert _requested(result, query) == [("2026-11-10", "2026-11-10")]


def test_the_schedule_runs_the_newest_complete_day_and_skips_with_the_reason(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    schedule = defs.resolve_schedule_def("stripe_daily")

    def evaluate(at: datetime):
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=at,
            resources=defs.resources,
            repository_def=defs.get_repository_def(),
        ) as context:
            return schedule.evaluate_tick(context)

    morning = evaluate(datetime(2026, 11, 10, 6, 0, tzinfo=UTC))
    keys = {(r.asset_selection[0].path[-1], r.partition_key) for r in morning.run_requests or []}
    assert (BCFA, "2026-11-09") in keys and ("daily_activity_by_category", "2026-11-09") in keys
    assert all(day == "2026-11-09" for _, day in keys)

    # A day later Stripe has not moved: the 10th is not complete anywhere, so the tick is skipped.
    next_day = evaluate(datetime(2026, 11, 11, 6, 0, tzinfo=UTC))
    assert not next_day.run_requests
    assert "2026-11-10" in (next_day.skip_message or "")
    assert "is 2026-11-10T06:00:00Z" in (next_day.skip_message or "")


def test_new_connected_accounts_become_partitions_once(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    first = _tick(defs, instance, "stripe_connected_accounts", cursor=None)
    [request] = first.dynamic_partitions_requests
    instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))

    second = _tick(defs, instance, "stripe_connected_accounts", cursor=None)

    assert isinstance(second, dg.SkipReason)
    assert "2 connected account(s), none new" in (second.skip_message or "")


def test_days_stripe_completed_before_this_machine_did_wait_for_a_later_tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, monkeypatch
) -> None:
    # Stripe says 2026-11-10T06:00Z; this machine still thinks it is the evening of the 9th, so the
    # 9th does not exist as a partition yet. Asking for it would fail the whole tick.
    monkeypatch.setattr("pipelines.automation.machine_now", lambda: datetime(2026, 11, 9, 20, tzinfo=UTC))
    early = _tick(defs, instance, REPORTS_SENSOR, cursor=None)

    assert isinstance(early, dg.SensorResult)
    assert _requested(early, BCFA) == [("2026-11-02", "2026-11-08")]
    monkeypatch.undo()
    later = _tick(defs, instance, REPORTS_SENSOR, cursor=early.cursor)
    assert _requested(later, BCFA) == [("2026-11-09", "2026-11-09")]


def test_one_assets_failure_does_not_cost_the_others_their_runs(
    defs: dg.Definitions, instance: dg.DagsterInstance, control: httpx.Client
) -> None:
    control.post(
        "/faults",
        json={
            "kind": "http_500",
            "method": "GET",
            "path": "/v1/reporting/report_types/balance.summary.1",
            "should_retry": False,
        },
    ).raise_for_status()

    result = _tick(defs, instance, REPORTS_SENSOR, cursor=None)

    assert isinstance(result, dg.SensorResult)
    assert _requested(result, BCFA) == [("2026-11-03", "2026-11-09")]
    assert _requested(result, "balance_summary_1") == []
