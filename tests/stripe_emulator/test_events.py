"""The events the emulator emits as its clock moves: Stripe's list conventions on ``GET /v1/events``."""

from __future__ import annotations

import secrets

import httpx
import stripe
from emulator_settings import SECRET_KEY

from stripe_emulator.server import EmulatorServer

REPORT_TYPE_UPDATED = "reporting.report_type.updated"
SCHEDULED_RUN_CREATED = "sigma.scheduled_query_run.created"


def _events(api: httpx.Client, **params: object) -> dict:
    response = api.get("/v1/events", params=params)
    response.raise_for_status()
    return response.json()


def _state(control: httpx.Client) -> dict:
    return control.get("/state").json()


def test_no_event_happens_before_the_clock_moves(api: httpx.Client) -> None:
    page = _events(api)
    assert page["object"] == "list" and page["data"] == [] and page["has_more"] is False


def test_a_day_of_clock_brings_two_updates_per_report_type_and_one_event_per_scheduled_run(
    api: httpx.Client, control: httpx.Client
) -> None:
    control.post("/advance", json={"by_hours": 24}).raise_for_status()
    types = [t["id"] for t in api.get("/v1/reporting/report_types").json()["data"]]

    updates = [e for e in _paged(api, {"type": REPORT_TYPE_UPDATED})]
    runs = [e for e in _paged(api, {"type": SCHEDULED_RUN_CREATED})]

    assert sorted(e["data"]["object"]["id"] for e in updates) == sorted(types * 2)
    # Each update carries the report type as it stood: its data_available_end is the event's time.
    assert all(e["data"]["object"]["data_available_end"] == e["created"] for e in updates)
    assert {e["created"] % 43200 for e in updates} == {0}
    scheduled = api.get("/v1/sigma/scheduled_query_runs", params={"limit": 100}).json()["data"]
    start = _state(control)["data_load_time_unix"] - 24 * 3600
    assert sorted(e["data"]["object"]["id"] for e in runs) == sorted(
        r["id"] for r in scheduled if r["created"] > start
    )
    assert len(runs) > 0


def test_events_list_newest_first_filtered_by_types_and_created(
    api: httpx.Client, control: httpx.Client
) -> None:
    control.post("/advance", json={"by_hours": 36}).raise_for_status()
    every = _paged(api, {})
    created = [e["created"] for e in every]
    assert created == sorted(created, reverse=True)
    assert len({e["id"] for e in every}) == len(every)

    middle = created[len(created) // 2]
    later = _paged(api, {"types[]": [REPORT_TYPE_UPDATED, SCHEDULED_RUN_CREATED], "created[gt]": middle})
    assert later == [e for e in every if e["created"] > middle]
    wildcard = _paged(api, {"type": "reporting.*"})
    assert wildcard == [e for e in every if e["type"] == REPORT_TYPE_UPDATED]


def test_type_and_types_together_are_refused(api: httpx.Client) -> None:
    response = api.get("/v1/events", params={"type": REPORT_TYPE_UPDATED, "types[]": [REPORT_TYPE_UPDATED]})
    assert response.status_code == 400 and response.json()["error"]["param"] == "types"


def test_listing_events_needs_the_event_permission(emulator: EmulatorServer, control: httpx.Client) -> None:
    key = f"rk_test_{secrets.token_hex(12)}"
    control.post("/keys", json={"key": key, "permissions": ["rak_report_type_read"]}).raise_for_status()
    denied = httpx.get(f"{emulator.url}/v1/events", headers={"Authorization": f"Bearer {key}"})
    assert denied.status_code == 403 and "rak_event_read" in denied.json()["error"]["message"]


def test_the_stripe_sdk_lists_and_pages_through_events(
    emulator: EmulatorServer, api: httpx.Client, control: httpx.Client
) -> None:
    control.post("/advance", json={"by_hours": 24}).raise_for_status()
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.url}, max_network_retries=0)

    page = client.v1.events.list(params={"types": [REPORT_TYPE_UPDATED], "limit": 3})
    walked = list(page.auto_paging_iter())

    assert page.has_more is True and len(page.data) == 3
    assert all(isinstance(e, stripe.Event) and e.type == REPORT_TYPE_UPDATED for e in walked)
    assert [e.id for e in walked] == [e["id"] for e in _paged(api, {"type": REPORT_TYPE_UPDATED})]


def _paged(api: httpx.Client, params: dict) -> list[dict]:
    events: list[dict] = []
    query = {"limit": 100, **params}
    while True:
        page = _events(api, **query)
        events += page["data"]
        if not page["has_more"]:
            return events
        query["starting_after"] = page["data"][-1]["id"]
