"""Sigma: query runs, saved queries and scheduled query runs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
from emulator_settings import Finish

RUNS = "/v1/sigma/query_runs"
SAVED = "/v1/sigma/saved_queries"
COUNT_SQL = "select count(*) as n from balance_transactions where created < data_load_time"


def _rows(api: httpx.Client, file_id: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(api.get(f"/v1/files/{file_id}/contents").text)))


def _run(api: httpx.Client, finish: Finish, sql: str, **headers: str) -> dict[str, Any]:
    created = api.post(RUNS, data={"sql": sql}, headers=headers)
    assert created.status_code == 200, created.text
    return finish(api, f"{RUNS}/{created.json()['id']}", **headers)


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_query_run_goes_from_running_to_succeeded(api: httpx.Client, finish: Finish) -> None:
    created = api.post(RUNS, data={"sql": COUNT_SQL})
    run = created.json()
    assert run["object"] == "sigma.sigma_query_run" and run["id"].startswith("qry_")
    assert run["status"] == "running"
    assert run["result"] == {"file": None} and run["finalized_at"] is None and run["error"] is None
    assert run["sql"] == COUNT_SQL

    done = finish(api, f"{RUNS}/{run['id']}")
    assert done["status"] == "succeeded" and done["error"] is None
    assert done["finalized_at"] >= done["created"]
    file_id = done["result"]["file"]
    assert file_id.startswith("file_")
    rows = _rows(api, file_id)
    assert len(rows) == 1 and int(rows[0]["n"]) > 0
    metadata = api.get(f"/v1/files/{file_id}").json()
    assert metadata["size"] == len(api.get(f"/v1/files/{file_id}/contents").content)


def test_data_load_time_is_captured_when_the_run_is_created(
    api: httpx.Client, control: httpx.Client, finish: Finish
) -> None:
    state = control.get("/state").json()
    created = api.post(RUNS, data={"sql": "select data_load_time as loaded"}).json()
    control.post("/advance", json={"by_hours": 6}).raise_for_status()
    done = finish(api, f"{RUNS}/{created['id']}")
    loaded = _timestamp(_rows(api, done["result"]["file"])[0]["loaded"])
    assert loaded.timestamp() == state["data_load_time_unix"]


def test_advancing_the_clock_makes_new_rows_visible(
    api: httpx.Client, control: httpx.Client, finish: Finish
) -> None:
    before = int(_rows(api, _run(api, finish, COUNT_SQL)["result"]["file"])[0]["n"])
    control.post("/advance", json={"by_hours": 24}).raise_for_status()
    after = int(_rows(api, _run(api, finish, COUNT_SQL)["result"]["file"])[0]["n"])
    assert after > before


def test_failing_sql_ends_failed_with_the_error_message(api: httpx.Client, finish: Finish) -> None:
    done = _run(api, finish, "select no_such_column from balance_transactions")
    assert done["status"] == "failed"
    assert done["result"] == {"file": None}
    assert "no_such_column" in done["error"]["message"]
    missing_table = _run(api, finish, "select * from no_such_table")
    assert "no_such_table" in missing_table["error"]["message"]


def test_sql_and_saved_query_are_mutually_exclusive(api: httpx.Client) -> None:
    saved = api.post(SAVED, data={"name": "count", "sql": COUNT_SQL}).json()
    both = api.post(RUNS, data={"sql": COUNT_SQL, "from_saved_query": saved["id"]})
    assert both.status_code == 400
    assert both.json()["error"]["type"] == "invalid_request_error"
    neither = api.post(RUNS, data={})
    assert neither.status_code == 400 and neither.json()["error"]["param"] == "sql"
    unknown = api.post(RUNS, data={"from_saved_query": "qfl_unknown"})
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "from_saved_query"


def test_saved_query_lifecycle_and_runs_from_it(api: httpx.Client, finish: Finish) -> None:
    saved = api.post(SAVED, data={"name": "count", "sql": "select 1 as one"}).json()
    assert saved["object"] == "sigma.sigma_api_query" and saved["id"].startswith("qfl_")
    updated = api.post(f"{SAVED}/{saved['id']}", data={"sql": COUNT_SQL}).json()
    assert updated["sql"] == COUNT_SQL and updated["name"] == "count"
    assert api.get(f"{SAVED}/{saved['id']}").json() == updated

    created = api.post(RUNS, data={"from_saved_query": saved["id"]}).json()
    assert created["id"].startswith("qry_") and created["sql"] == COUNT_SQL
    from_saved = finish(api, f"{RUNS}/{created['id']}")
    direct = _run(api, finish, COUNT_SQL)
    assert _rows(api, from_saved["result"]["file"]) == _rows(api, direct["result"]["file"])

    deleted = api.delete(f"{SAVED}/{saved['id']}").json()
    assert deleted == {"id": saved["id"], "object": "sigma.sigma_api_query", "deleted": True}
    assert api.get(f"{SAVED}/{saved['id']}").status_code == 404


def test_stripe_account_scopes_sigma(api: httpx.Client, control: httpx.Client, finish: Finish) -> None:
    account = control.get("/state").json()["connected_accounts"][0]
    platform = int(_rows(api, _run(api, finish, COUNT_SQL)["result"]["file"])[0]["n"])
    scoped_run = _run(api, finish, COUNT_SQL, **{"Stripe-Account": account})
    scoped = int(_rows(api, scoped_run["result"]["file"])[0]["n"])
    assert 0 < scoped != platform


def test_scheduled_query_runs_carry_data_load_time_and_an_expanded_file(
    api: httpx.Client, control: httpx.Client
) -> None:
    state = control.get("/state").json()
    listed = api.get("/v1/sigma/scheduled_query_runs", params={"limit": 100}).json()
    assert listed["url"] == "/v1/sigma/scheduled_query_runs"
    runs = listed["data"]
    assert runs
    completed = [run for run in runs if run["status"] == "completed"]
    assert completed
    for run in runs:
        assert run["object"] == "scheduled_query_run" and run["id"].startswith("sqr_")
        assert isinstance(run["data_load_time"], int)
        assert run["data_load_time"] <= state["data_load_time_unix"]
    run = completed[0]
    file = run["file"]
    assert file["object"] == "file" and file["purpose"] == "sigma_scheduled_query"
    contents = api.get(file["url"])
    assert len(contents.content) == file["size"]
    assert contents.text.splitlines()[0]

    again = api.get(f"/v1/sigma/scheduled_query_runs/{run['id']}").json()
    assert again["file"]["id"] == file["id"]
    assert api.get("/v1/sigma/scheduled_query_runs/sqr_unknown").status_code == 404
    if len(runs) > 1:
        first = api.get("/v1/sigma/scheduled_query_runs", params={"limit": 1}).json()
        assert first["has_more"] is True and first["data"][0]["id"] == runs[0]["id"]
