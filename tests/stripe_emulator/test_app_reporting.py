"""Reporting API: report types, the report run lifecycle and its validation errors."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
from emulator_settings import Finish

RUNS = "/v1/reporting/report_runs"
ITEMIZED = "balance_change_from_activity.itemized.3"


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat()


def _create(api: httpx.Client, report_type: str, fields: dict[str, Any], **headers: str) -> httpx.Response:
    return api.post(RUNS, data={"report_type": report_type, **fields}, headers=headers)


def test_report_types_expose_their_availability(api: httpx.Client, control: httpx.Client) -> None:
    state = control.get("/state").json()
    listed = api.get("/v1/reporting/report_types").json()
    assert listed["object"] == "list" and listed["has_more"] is False
    by_id = {item["id"]: item for item in listed["data"]}
    assert {"balance.summary.1", ITEMIZED} <= by_id.keys()
    summary = by_id["balance.summary.1"]
    assert summary["object"] == "reporting.report_type"
    assert summary["data_available_end"] == state["data_load_time_unix"]
    assert summary["data_available_start"] < summary["data_available_end"]
    assert summary["default_columns"] == ["category", "currency", "description", "net_amount"]
    assert api.get("/v1/reporting/report_types/balance.summary.1").json() == summary
    missing = api.get("/v1/reporting/report_types/no.such.type.1")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "resource_missing"


def test_a_report_run_goes_from_pending_to_succeeded_with_its_file(
    api: httpx.Client, finish: Finish, report_interval: Any
) -> None:
    columns = ["balance_transaction_id", "created_utc", "currency", "net", "reporting_category"]
    fields = {**report_interval(days=3), "parameters[columns][]": columns}
    created = _create(api, ITEMIZED, fields)
    assert created.status_code == 200, created.text
    run = created.json()
    assert run["id"].startswith("frr_")
    assert run["object"] == "reporting.report_run"
    assert run["status"] == "pending" and run["result"] is None and run["error"] is None
    assert run["parameters"]["columns"] == columns

    done = finish(api, f"{RUNS}/{run['id']}")
    assert done["status"] == "succeeded"
    assert done["succeeded_at"] >= done["created"]
    result = done["result"]
    assert result["object"] == "file" and result["id"].startswith("file_")
    assert result["purpose"] == "finance_report_run" and result["type"] == "csv"
    contents = api.get(result["url"])
    assert contents.status_code == 200
    assert len(contents.content) == result["size"]
    rows = list(csv.reader(io.StringIO(contents.text)))
    assert rows[0] == columns
    assert len(rows) > 1
    start, end = int(fields["parameters[interval_start]"]), int(fields["parameters[interval_end]"])
    for row in rows[1:]:
        created_utc = datetime.strptime(row[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
        assert start <= created_utc < end
    assert api.get(f"/v1/files/{result['id']}").json() == result


def test_default_columns_apply_when_none_are_requested(
    api: httpx.Client, finish: Finish, report_interval: Any
) -> None:
    run = _create(api, "balance.summary.1", report_interval()).json()
    done = finish(api, f"{RUNS}/{run['id']}")
    header = api.get(done["result"]["url"]).text.splitlines()[0]
    defaults = api.get("/v1/reporting/report_types/balance.summary.1").json()["default_columns"]
    assert header.split(",") == defaults


def test_unknown_report_type_is_a_404_naming_report_type(api: httpx.Client, report_interval: Any) -> None:
    response = _create(api, "no.such.report.1", report_interval())
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "resource_missing" and error["param"] == "report_type"


def test_missing_report_type_is_a_400(api: httpx.Client, report_interval: Any) -> None:
    response = api.post(RUNS, data=report_interval())
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "report_type"


def test_interval_outside_availability_is_a_400_with_param(api: httpx.Client, control: httpx.Client) -> None:
    state = control.get("/state").json()
    after = {
        "parameters[interval_start]": str(state["data_load_time_unix"] - 3600),
        "parameters[interval_end]": str(state["data_load_time_unix"] + 3600),
    }
    response = _create(api, "balance.summary.1", after)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"].startswith("parameters[interval_")
    assert control.get("/stats").json()["runs_created"].get("report_run", 0) == 0

    backwards = {
        "parameters[interval_start]": str(state["data_load_time_unix"] - 3600),
        "parameters[interval_end]": str(state["data_load_time_unix"] - 7200),
    }
    assert _create(api, "balance.summary.1", backwards).status_code == 400


def test_unknown_column_is_a_400_naming_columns(api: httpx.Client, report_interval: Any) -> None:
    fields = {**report_interval(), "parameters[columns][]": ["net", "no_such_column"]}
    response = _create(api, ITEMIZED, fields)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "parameters[columns]"


def test_advancing_the_clock_opens_a_later_interval(
    api: httpx.Client, control: httpx.Client, finish: Finish
) -> None:
    state = control.get("/state").json()
    start = state["data_load_time_unix"] // 86400 * 86400
    fields = {"parameters[interval_start]": str(start), "parameters[interval_end]": str(start + 86400)}
    assert _create(api, "balance.summary.1", fields).status_code == 400

    control.post("/advance", json={"to": _iso(start + 86400)}).raise_for_status()
    summary = api.get("/v1/reporting/report_types/balance.summary.1").json()
    assert summary["data_available_end"] == start + 86400
    created = _create(api, "balance.summary.1", fields)
    assert created.status_code == 200, created.text
    assert finish(api, f"{RUNS}/{created.json()['id']}")["status"] == "succeeded"


def test_list_report_runs_newest_first_with_created_filters(api: httpx.Client, report_interval: Any) -> None:
    ids = [_create(api, "balance.summary.1", report_interval()).json()["id"] for _ in range(3)]
    listed = api.get(RUNS).json()
    assert listed["url"] == RUNS
    assert [run["id"] for run in listed["data"]] == list(reversed(ids))
    created = listed["data"][0]["created"]
    assert len(api.get(RUNS, params={"created[lte]": created}).json()["data"]) == 3
    assert api.get(RUNS, params={"created[gt]": created}).json()["data"] == []
    assert len(api.get(RUNS, params={"created": created}).json()["data"]) == sum(
        run["created"] == created for run in listed["data"]
    )
    assert api.get(RUNS, params={"created[between]": created}).status_code == 400


def test_stripe_account_scopes_report_runs(
    api: httpx.Client, control: httpx.Client, finish: Finish, report_interval: Any
) -> None:
    accounts = control.get("/state").json()["connected_accounts"]
    mine, other = accounts[0], accounts[-1]
    run = _create(api, ITEMIZED, report_interval(days=5), **{"Stripe-Account": mine}).json()
    platform_run = _create(api, ITEMIZED, report_interval(days=5)).json()

    as_account = api.get(RUNS, headers={"Stripe-Account": mine}).json()["data"]
    assert [r["id"] for r in as_account] == [run["id"]]
    assert [r["id"] for r in api.get(RUNS).json()["data"]] == [platform_run["id"]]
    if other != mine:
        assert api.get(f"{RUNS}/{run['id']}", headers={"Stripe-Account": other}).status_code == 404

    done = finish(api, f"{RUNS}/{run['id']}", **{"Stripe-Account": mine})
    platform_done = finish(api, f"{RUNS}/{platform_run['id']}")
    assert done["status"] == platform_done["status"] == "succeeded"
    account_rows = api.get(done["result"]["url"]).text.splitlines()
    platform_rows = api.get(platform_done["result"]["url"]).text.splitlines()
    assert account_rows[0] == platform_rows[0]
    assert set(account_rows[1:]).isdisjoint(platform_rows[1:])
