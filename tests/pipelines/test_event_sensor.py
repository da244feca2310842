"""The event-driven sensor: freshness read when Stripe's events say it moved, polling as the fallback,
and what it costs in Stripe requests per asset and day."""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
import pytest

from pipelines import event_sensor
from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.resources import StripeResource

EVENTS = "stripe_events"
BCFA = "balance_change_from_activity_itemized_3"
START = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)


class SimulatedTime:
    """The machine's clock, kept with the emulator's (which starts at its data_load_time)."""

    def __init__(self, control: httpx.Client) -> None:
        self.control = control
        self.now = START

    def move_to(self, moment: datetime) -> None:
        self.now = moment
        self.control.post("/advance", json={"to": moment.isoformat()}).raise_for_status()


@pytest.fixture
def clock(control: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> SimulatedTime:
    simulated = SimulatedTime(control)
    monkeypatch.setattr(event_sensor, "machine_now", lambda: simulated.now)
    return simulated


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None, resources=None):
    sensor = defs.resolve_sensor_def(EVENTS)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=resources or defs.resources, definitions=defs
    ) as context:
        return sensor(context)


def _requested(result: dg.SensorResult, asset: str) -> list[tuple[str, str]]:
    spans = []
    for request in result.run_requests or []:
        if request.asset_selection != [dg.AssetKey(["stripe", asset])]:
            continue
        if request.partition_key is not None:
            spans.append((request.partition_key, request.partition_key))
        else:
            spans.append((request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]))
    return spans


def _sigma_assets(defs: dg.Definitions) -> list[str]:
    """The Sigma assets with day partitions (the per-account ones have none before accounts are known)."""
    sensor = defs.resolve_sensor_def("sigma_queries_freshness")
    graph = defs.resolve_asset_graph()
    return [
        key.path[-1]
        for key in sensor.asset_selection.resolve(graph)
        if not isinstance(graph.get(key).partitions_def, dg.MultiPartitionsDefinition)
    ]


def _stripe_requests(control: httpx.Client) -> int:
    return sum(control.get("/stats").json()["requests"].values())


def test_the_first_tick_polls_every_asset_as_the_freshness_sensors_do(
    defs: dg.Definitions, instance: dg.DagsterInstance, clock: SimulatedTime
) -> None:
    result = _tick(defs, instance, None)

    polled = dg.build_sensor_context(instance=instance, resources=defs.resources, definitions=defs)
    with polled:
        reports = defs.resolve_sensor_def("stripe_reports_freshness")(polled)
    assert _requested(result, BCFA) == _requested(reports, BCFA) == [("2026-11-03", "2026-11-09")]
    assert all(_requested(result, name) for name in _sigma_assets(defs))


def test_between_listings_a_tick_costs_no_request(
    defs: dg.Definitions, instance: dg.DagsterInstance, clock: SimulatedTime, control: httpx.Client
) -> None:
    cursor = _tick(defs, instance, None).cursor
    before = _stripe_requests(control)
    clock.now = START + timedelta(minutes=29)

    result = _tick(defs, instance, cursor)

    assert isinstance(result, dg.SkipReason) and "next listing" in (result.skip_message or "")
    assert _stripe_requests(control) == before


def test_a_report_type_update_requests_the_day_it_completed_and_sigma_waits_for_its_run(
    defs: dg.Definitions, instance: dg.DagsterInstance, clock: SimulatedTime
) -> None:
    cursor = _tick(defs, instance, None).cursor
    clock.move_to(datetime(2026, 11, 11, 0, 30, tzinfo=UTC))  # report types updated at 00:00Z

    after_update = _tick(defs, instance, cursor)

    assert _requested(after_update, BCFA) == [("2026-11-10", "2026-11-10")]
    # Sigma's data moved too, but no scheduled query ran on it yet: its freshness is not read.
    assert not any(_requested(after_update, name) for name in _sigma_assets(defs))
    clock.move_to(datetime(2026, 11, 11, 2, 30, tzinfo=UTC))  # the day's scheduled runs at 02:00Z
    after_runs = _tick(defs, instance, after_update.cursor)
    assert all(_requested(after_runs, name) == [("2026-11-10", "2026-11-10")] for name in _sigma_assets(defs))
    assert _requested(after_runs, BCFA) == []


def test_a_key_that_may_not_list_events_falls_back_to_polling(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    clock: SimulatedTime,
    control: httpx.Client,
    stripe: StripeResource,
) -> None:
    key = f"rk_test_{secrets.token_hex(12)}"
    permissions = ["rak_report_type_read", "rak_sigma_query_run_write", "rak_file_read"]
    control.post("/keys", json={"key": key, "permissions": permissions}).raise_for_status()
    restricted = StripeResource(**{**stripe.model_dump(), "api_key": key})
    resources = {**defs.resources, "stripe": restricted}
    cursor = _tick(defs, instance, None, resources).cursor
    clock.move_to(datetime(2026, 11, 11, 0, 30, tzinfo=UTC))

    result = _tick(defs, instance, cursor, resources)

    assert _requested(result, BCFA) == [("2026-11-10", "2026-11-10")]
    assert json.loads(result.cursor)["polled_at"] == "2026-11-11T00:30:00Z"


def test_steady_state_costs_at_most_six_stripe_requests_per_asset_and_day(
    defs: dg.Definitions, instance: dg.DagsterInstance, clock: SimulatedTime, control: httpx.Client
) -> None:
    # Ticks between listings cost nothing (test_between_listings_a_tick_costs_no_request), so the
    # default suite ticks at the listing cadence; `make events-count` ticks every 30 s, as deployed.
    days, tick = 1, timedelta(seconds=int(os.environ.get("STRIPE_EVENTS_TICK_SECONDS", "1800")))
    assets = len(defs.resolve_sensor_def(EVENTS).asset_selection.resolve(defs.resolve_asset_graph()))
    cursor = _tick(defs, instance, None).cursor
    # Steady state from here: the first tick's poll of every asset is not counted; the day's
    # fallback poll, due a day after it, is.
    before = control.get("/stats").json()["requests"]
    end = clock.now + timedelta(days=days)
    while clock.now < end:
        moment = clock.now + tick
        if moment.minute % 10 == 0 and moment.second == 0:
            clock.move_to(moment)  # Stripe's clock, in steps of ten minutes
        clock.now = moment
        result = _tick(defs, instance, cursor)
        cursor = getattr(result, "cursor", None) or cursor
    after = control.get("/stats").json()["requests"]
    spent = {
        route: count - before.get(route, 0)
        for route, count in after.items()
        if count > before.get(route, 0) and "/_emulator" not in route
    }
    listings = spent.pop("GET /v1/events", 0) / days
    reads = sum(spent.values()) / days
    per_asset = (listings + reads) / assets
    print(
        f"\nstripe_events steady state over {days} days, ticks every {tick.seconds} s, {assets} assets: "
        f"{listings:.0f} event listings + {reads:.0f} freshness requests per day "
        f"= {per_asset:.2f} Stripe requests per asset and day (freshness: {spent})"
    )
    assert per_asset <= 6
    assert listings == 48  # per day: every 30 min, whatever the tick
