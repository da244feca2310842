"""The Data API v2's conventions as the emulator serves them: versions, keys, context, errors, lists."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from emulator_settings import FAST_CONFIG, SECRET_KEY
from v2_helpers import (
    PREVIEW,
    QUERY_RUNS,
    REPORT_RUNS,
    REPORTS,
    SCHEMAS,
    V2_HEADERS,
    error_of,
    query_body,
    run_query,
    wait,
)

from stripe_emulator.app.v2_conventions import V2Error, fault_error, page_url
from stripe_emulator.faults import FaultSpecError, parse_spec
from stripe_emulator.server import EmulatorServer

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
COLUMN_TYPES = {
    "bigint",
    "boolean",
    "date",
    "datetime",
    "decimal",
    "double",
    "integer",
    "timestamp",
    "varchar",
}


@pytest.fixture
def v2(emulator: EmulatorServer, api: httpx.Client) -> Iterator[httpx.Client]:
    """The v2 API with the secret key and a preview version, on a freshly reset emulator."""
    with httpx.Client(base_url=emulator.url, headers=V2_HEADERS, timeout=30) as client:
        yield client


# -- version, keys, permissions, context ----------------------------------------------------


@pytest.mark.parametrize(
    "version", [None, "2026-10-28", "2025-07-30.basil", "2026-10-28.preview.x", "latest"]
)
def test_a_preview_stripe_version_is_required(emulator: EmulatorServer, version: str | None) -> None:
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    if version is not None:
        headers["Stripe-Version"] = version
    response = httpx.get(f"{emulator.url}{SCHEMAS}", headers=headers)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_stripe_version",
        "Stripe-Version",
    )
    assert "preview" in error["message"]


@pytest.mark.parametrize("version", [PREVIEW, "2026-09-30.preview", "2026-10-14.preview"])
def test_any_dated_preview_version_is_accepted(emulator: EmulatorServer, version: str) -> None:
    headers = {"Authorization": f"Bearer {SECRET_KEY}", "Stripe-Version": version}
    response = httpx.get(f"{emulator.url}{SCHEMAS}", headers=headers)
    assert response.status_code == 200
    assert response.headers["Stripe-Version"] == version


def test_keys_are_v1_keys(emulator: EmulatorServer, v2: httpx.Client) -> None:
    missing = httpx.get(f"{emulator.url}{SCHEMAS}", headers={"Stripe-Version": PREVIEW})
    assert missing.status_code == 401 and error_of(missing)["code"] == "api_key_missing"
    key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    wrong = httpx.get(f"{emulator.url}{SCHEMAS}", headers={**V2_HEADERS, "Authorization": f"Bearer {key}"})
    assert wrong.status_code == 401
    assert error_of(wrong)["code"] == "api_key_invalid" and key not in wrong.text


def test_restricted_keys_need_the_data_permissions(
    emulator: EmulatorServer, v2: httpx.Client, control: httpx.Client
) -> None:
    key = "rk_test_DataReportsOnly42"
    registered = control.post("/keys", json={"key": key, "permissions": ["data_reports_read"]})
    assert registered.status_code == 200, registered.text
    headers = {**V2_HEADERS, "Authorization": f"Bearer {key}"}
    assert v2.get(REPORTS, headers=headers).status_code == 200
    for response in (
        v2.get(SCHEMAS, headers=headers),
        v2.post(QUERY_RUNS, json=query_body("select 1 as one"), headers=headers),
        v2.get(f"{QUERY_RUNS}/qrun_unknown", headers=headers),
    ):
        assert response.status_code == 403
        error = error_of(response)
        assert error["type"] == "invalid_request_error" and error["code"] == "insufficient_permissions"
        assert "'data_queries_read' permission" in error["message"] and "rk_test_****ly42" in error["message"]
    v1_only = "rk_test_SigmaOnly42"
    control.post(
        "/keys", json={"key": v1_only, "permissions": ["rak_sigma_query_run_write"]}
    ).raise_for_status()
    denied = v2.get(SCHEMAS, headers={**V2_HEADERS, "Authorization": f"Bearer {v1_only}"})
    assert denied.status_code == 403
    catalogue = control.get("/permissions").json()
    assert "POST /v2/data/query_runs" in catalogue["data_queries_read"]
    assert "GET /v2/data/report_runs/{id}" in catalogue["data_reports_read"]


def test_stripe_context_selects_the_account(v2: httpx.Client, control: httpx.Client) -> None:
    state = control.get("/state").json()
    account = state["connected_accounts"][0]
    other = state["connected_accounts"][1]
    sql = "select count(*) as n from balance_transactions"
    platform = run_query(v2, sql)
    scoped = run_query(v2, sql, **{"Stripe-Context": account})
    assert platform["status"] == scoped["status"] == "succeeded"
    counts = [
        v2.get(f"{QUERY_RUNS}/{run['id']}", params={"include[]": "result.inline"}, headers=headers).json()
        for run, headers in ((platform, {}), (scoped, {"Stripe-Context": account}))
    ]
    platform_n, scoped_n = (int(run["result"]["inline"]["rows"][0]["data"]["n"]) for run in counts)
    assert 0 < scoped_n != platform_n
    # The platform sees its connected account's run; another connected account does not.
    assert v2.get(f"{QUERY_RUNS}/{scoped['id']}").status_code == 200
    hidden = v2.get(f"{QUERY_RUNS}/{scoped['id']}", headers={"Stripe-Context": other})
    assert hidden.status_code == 404 and error_of(hidden)["code"] == "not_found"
    assert v2.get(SCHEMAS, headers={"Stripe-Context": state["platform_account"]}).status_code == 200


def test_an_unknown_context_or_a_v1_account_header_is_refused(
    v2: httpx.Client, control: httpx.Client
) -> None:
    unknown = v2.get(SCHEMAS, headers={"Stripe-Context": "acct_nobody"})
    assert unknown.status_code == 403 and error_of(unknown)["code"] == "account_invalid"
    account = control.get("/state").json()["connected_accounts"][0]
    v1_header = v2.get(SCHEMAS, headers={"Stripe-Account": account})
    assert v1_header.status_code == 400
    assert (
        error_of(v1_header)["param"] == "Stripe-Account"
        and "Stripe-Context" in error_of(v1_header)["message"]
    )


# -- bodies and errors ------------------------------------------------------------------------


def test_post_bodies_are_json(v2: httpx.Client) -> None:
    form = v2.post(QUERY_RUNS, data={"dataset": "analytical"})
    assert form.status_code == 400 and error_of(form)["code"] == "invalid_content_type"
    garbage = v2.post(QUERY_RUNS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400 and error_of(garbage)["code"] == "invalid_json"
    unknown = v2.post(QUERY_RUNS, json=query_body("select 1", report={"name": "balance.summary"}))
    assert unknown.status_code == 400
    assert error_of(unknown)["param"] == "report" and error_of(unknown)["code"] == "parameter_unknown"
    nested = v2.post(QUERY_RUNS, json={**query_body("select 1"), "query": {"sql": "select 1", "x": 1}})
    assert error_of(nested)["param"] == "query.x"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"format": "csv", "query": {"sql": "select 1"}}, "dataset", "parameter_missing"),
        (
            {"dataset": "warehouse", "format": "csv", "query": {"sql": "select 1"}},
            "dataset",
            "parameter_invalid",
        ),
        ({"dataset": "analytical", "query": {"sql": "select 1"}}, "format", "parameter_missing"),
        (
            {"dataset": "analytical", "format": "parquet", "query": {"sql": "x"}},
            "format",
            "parameter_invalid",
        ),
        ({"dataset": "analytical", "format": "csv"}, "query", "parameter_missing"),
        ({"dataset": "analytical", "format": "csv", "query": {"sql": " "}}, "query.sql", "parameter_missing"),
        (
            query_body("select 1", result_options={"compress_file": "yes"}),
            "result_options.compress_file",
            None,
        ),
    ],
)
def test_invalid_query_run_bodies_are_400s_naming_the_field(
    v2: httpx.Client, body: dict[str, object], param: str, code: str | None
) -> None:
    response = v2.post(QUERY_RUNS, json=body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error" and error["param"] == param
    if code:
        assert error["code"] == code


def test_unknown_ids_and_paths_are_v2_404s(v2: httpx.Client) -> None:
    for path in (
        f"{QUERY_RUNS}/qrun_nope",
        f"{REPORT_RUNS}/rrun_nope",
        f"{SCHEMAS}/schema_nope",
        f"{REPORTS}/x",
    ):
        response = v2.get(path)
        assert response.status_code == 404, path
        error = error_of(response)
        assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "not_found", "id")
    unknown = v2.get("/v2/data/query_runs")
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "unrecognized_request_url"
    # The run kinds do not mix: a query run id is not a report run.
    run = v2.post(QUERY_RUNS, json=query_body("select 1 as one")).json()
    assert v2.get(f"{REPORT_RUNS}/{run['id']}").status_code == 404


def test_faults_answer_in_the_v2_shape(v2: httpx.Client, control: httpx.Client) -> None:
    rules = [
        {"kind": "http_429", "method": "GET", "path": SCHEMAS, "nth": 1, "retry_after": 1},
        {"kind": "http_503", "method": "GET", "path": SCHEMAS, "nth": 2},
        {"kind": "http_500", "method": "GET", "path": SCHEMAS, "nth": 3},
        {"kind": "drop_connection", "method": "GET", "path": SCHEMAS, "nth": 4},
    ]
    control.post("/faults", json={"rules": rules}).raise_for_status()
    limited = v2.get(SCHEMAS)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert (error_of(limited)["type"], error_of(limited)["code"]) == ("rate_limit", "rate_limit")
    unavailable = v2.get(SCHEMAS)
    assert unavailable.status_code == 503 and error_of(unavailable)["type"] == "service_unavailable"
    assert unavailable.headers["Stripe-Should-Retry"] == "true"
    broken = v2.get(SCHEMAS)
    assert broken.status_code == 500 and error_of(broken)["type"] == "api_error"
    with pytest.raises(httpx.TransportError):
        v2.get(SCHEMAS)
    assert v2.get(SCHEMAS).status_code == 200
    fired = control.get("/stats").json()["faults_fired"]
    assert fired == {"http_429": 1, "http_503": 1, "http_500": 1, "drop_connection": 1}


# -- lists, includes and pagination -----------------------------------------------------------


def test_lists_page_with_next_and_previous_urls(v2: httpx.Client) -> None:
    everything = v2.get(SCHEMAS, params={"limit": 1000}).json()
    names = [schema["name"] for schema in everything["data"]]
    assert names == sorted(names) and {"balance_transactions", "charges", "payouts"} <= set(names)
    assert everything["next_page_url"] is None and everything["previous_page_url"] is None

    first = v2.get(SCHEMAS, params={"limit": 4}).json()
    assert first["previous_page_url"] is None and "page=" in first["next_page_url"]
    pages, page = [first], first
    while page["next_page_url"] is not None:
        assert page["next_page_url"].startswith(f"{SCHEMAS}?")
        page = v2.get(page["next_page_url"]).json()
        pages.append(page)
    assert [schema["name"] for p in pages for schema in p["data"]] == names
    assert len(pages) == -(-len(names) // 4)
    back = v2.get(pages[1]["previous_page_url"]).json()
    assert back["data"] == first["data"]


def test_default_limit_is_ten_and_bounds_are_checked(v2: httpx.Client) -> None:
    assert len(v2.get(SCHEMAS).json()["data"]) == 10
    for limit in ("0", "1001", "ten"):
        response = v2.get(SCHEMAS, params={"limit": limit})
        assert response.status_code == 400 and error_of(response)["param"] == "limit"


def test_page_tokens_belong_to_their_filters(v2: httpx.Client) -> None:
    first = v2.get(REPORTS, params={"limit": 2}).json()
    token = httpx.URL(first["next_page_url"]).params["page"]
    assert v2.get(REPORTS, params={"limit": 2, "page": token}).status_code == 200
    changed = v2.get(REPORTS, params={"limit": 2, "page": token, "name": "balance.summary"})
    assert changed.status_code == 400 and error_of(changed)["param"] == "page"
    garbage = v2.get(REPORTS, params={"page": "not-a-token"})
    assert garbage.status_code == 400 and error_of(garbage)["param"] == "page"


def test_include_is_accepted_indexed_appended_or_plain(v2: httpx.Client) -> None:
    forms = [
        v2.get(f"{SCHEMAS}?include[]=columns&limit=2"),
        v2.get(f"{SCHEMAS}?include[0]=columns&limit=2"),
        v2.get(f"{SCHEMAS}?include=columns&limit=2"),
    ]
    bodies = [response.json() for response in forms]
    assert all(response.status_code == 200 for response in forms)
    assert bodies[0]["data"] == bodies[1]["data"] == bodies[2]["data"]
    assert all(schema["columns"] for schema in bodies[0]["data"])
    assert "include[0]=columns" in bodies[0]["next_page_url"]
    plain = v2.get(SCHEMAS, params={"limit": 2}).json()
    assert all(schema["columns"] is None for schema in plain["data"])
    bad = v2.get(f"{SCHEMAS}?include[0]=columns&include[1]=rows")
    assert bad.status_code == 400 and error_of(bad)["param"] == "include"
    unknown = v2.get(SCHEMAS, params={"expand[]": "columns"})
    assert unknown.status_code == 400 and error_of(unknown)["param"] == "expand"


# -- schemas and reports ----------------------------------------------------------------------


def test_schemas_describe_the_sigma_tables_and_refresh_with_the_clock(
    v2: httpx.Client, control: httpx.Client
) -> None:
    listed = v2.get(SCHEMAS, params={"name": "charges"}).json()["data"]
    assert [schema["name"] for schema in listed] == ["charges"]
    schema = v2.get(f"{SCHEMAS}/{listed[0]['id']}").json()
    assert schema["object"] == "v2.data.schema" and schema["dataset"] == "analytical"
    assert schema["id"].startswith("schema_") and schema["livemode"] is False
    columns = {column["name"]: column for column in schema["columns"]}
    assert columns["id"]["is_primary_key"] and columns["amount"]["type"] == "bigint"
    assert columns["created"]["type"] == "timestamp" and columns["paid"]["type"] == "boolean"
    assert {column["type"] for column in schema["columns"]} <= COLUMN_TYPES
    customers = v2.get(SCHEMAS, params={"name": "customers"}).json()["data"][0]
    assert columns["customer_id"]["foreign_keys_to"] == [{"column": "id", "schema": customers["id"]}]
    assert "refunds" not in [report["name"] for report in schema["relevant_reports"]]

    state = control.get("/state").json()
    loaded = datetime.fromisoformat(state["data_load_time"].replace("Z", "+00:00"))
    assert RFC3339.match(schema["refreshed_at"])
    assert datetime.fromisoformat(schema["refreshed_at"].replace("Z", "+00:00")) == loaded.astimezone(UTC)
    control.post("/advance", json={"by_hours": 2}).raise_for_status()
    later = v2.get(f"{SCHEMAS}/{schema['id']}").json()["refreshed_at"]
    assert (datetime.fromisoformat(later.replace("Z", "+00:00")) - loaded).total_seconds() == 7200
    assert v2.get(SCHEMAS, params={"dataset": "other"}).json()["data"] == []
    assert v2.get(f"{SCHEMAS}/{schema['id']}", params={"include[]": "columns"}).status_code == 400


def test_reports_are_the_v1_report_types_without_their_version(v2: httpx.Client) -> None:
    reports = v2.get(REPORTS, params={"limit": 100}).json()["data"]
    names = {report["name"] for report in reports}
    assert {
        "balance.summary",
        "balance_change_from_activity.itemized",
        "payouts.itemized",
        "payout_reconciliation.itemized",
        "ending_balance_reconciliation.itemized",
        "connected_account_balance_change_from_activity.itemized",
        "connected_account_payout_reconciliation.itemized",
    } <= names
    assert all(report["parameters"] is None and report["default_sql"] is None for report in reports)
    assert all(
        report["id"].startswith("report_") and report["object"] == "v2.data.report" for report in reports
    )

    detailed = v2.get(
        REPORTS, params={"name": "payouts.itemized", "include[]": ["parameters", "default_sql"]}
    )
    (report,) = detailed.json()["data"]
    parameters = report["parameters"]
    assert parameters["interval_start"] == {
        "type": "timestamp",
        "required": True,
        "description": parameters["interval_start"]["description"],
        "enum_details": None,
        "array_details": None,
    }
    assert "columns" not in parameters and parameters["timezone"]["required"] is False
    assert "payout" in parameters["reporting_category"]["enum_details"]["allowed_values"]
    assert report["default_sql"].startswith("--")
    connect = v2.get(
        REPORTS, params={"name": "connected_account_payouts.itemized", "include[]": "parameters"}
    )
    assert (
        connect.json()["data"][0]["parameters"]["connected_accounts"]["array_details"]["element_type"]
        == "string"
    )
    again = v2.get(f"{REPORTS}/{report['id']}", params={"include[0]": "parameters"}).json()
    assert again["parameters"] == parameters and again["default_sql"] is None
    ending = v2.get(
        REPORTS, params={"name": "ending_balance_reconciliation.itemized", "include": "parameters"}
    )
    assert "interval_start" not in ending.json()["data"][0]["parameters"]


# -- idempotency ------------------------------------------------------------------------------


def test_an_idempotent_replay_returns_the_current_state(v2: httpx.Client, control: httpx.Client) -> None:
    body = query_body("select count(*) as n from charges")
    created = v2.post(QUERY_RUNS, json=body, headers={"Idempotency-Key": "replay-1"})
    assert created.status_code == 200 and created.json()["status"] == "running"
    assert created.json()["result"] is None and created.json()["status_details"] is None
    done = wait(v2, f"{QUERY_RUNS}/{created.json()['id']}")
    replayed = v2.post(QUERY_RUNS, json=body, headers={"Idempotency-Key": "replay-1"})
    assert replayed.status_code == 200 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == created.json()["id"]
    assert replayed.json()["status"] == done["status"] == "succeeded"
    assert replayed.json()["result"]["row_count"] == "1"
    stats = control.get("/stats").json()
    assert stats["runs_created"] == {"query_run_v2": 1} and stats["idempotent_replays"] == 1

    other = v2.post(QUERY_RUNS, json=query_body("select 2 as two"), headers={"Idempotency-Key": "replay-1"})
    assert other.status_code == 400 and error_of(other)["type"] == "idempotency_error"
    elsewhere = v2.post(REPORT_RUNS, json=body, headers={"Idempotency-Key": "replay-1"})
    assert elsewhere.status_code == 400 and error_of(elsewhere)["type"] == "idempotency_error"


def test_a_rejected_request_does_not_keep_its_key(v2: httpx.Client) -> None:
    bad = v2.post(QUERY_RUNS, json={"dataset": "analytical"}, headers={"Idempotency-Key": "fix-and-retry"})
    assert bad.status_code == 400
    good = v2.post(
        QUERY_RUNS, json=query_body("select 1 as one"), headers={"Idempotency-Key": "fix-and-retry"}
    )
    assert good.status_code == 200 and "Idempotent-Replayed" not in good.headers


def test_keys_are_scoped_per_account(v2: httpx.Client, control: httpx.Client) -> None:
    account = control.get("/state").json()["connected_accounts"][0]
    body = query_body("select 1 as one")
    platform = v2.post(QUERY_RUNS, json=body, headers={"Idempotency-Key": "shared"}).json()
    scoped = v2.post(QUERY_RUNS, json=body, headers={"Idempotency-Key": "shared", "Stripe-Context": account})
    assert scoped.status_code == 200 and scoped.json()["id"] != platform["id"]


def test_a_dropped_response_is_recovered_by_replaying_the_key(
    v2: httpx.Client, control: httpx.Client
) -> None:
    rule = {"kind": "drop_after_commit", "method": "POST", "path": QUERY_RUNS, "times": 1}
    control.post("/faults", json=rule).raise_for_status()
    body = query_body("select 1 as one")
    with pytest.raises(httpx.TransportError):
        v2.post(QUERY_RUNS, json=body, headers={"Idempotency-Key": "dropped"})
    retried = v2.post(QUERY_RUNS, json=body, headers={"Idempotency-Key": "dropped"})
    assert retried.status_code == 200 and retried.headers["Idempotent-Replayed"] == "true"
    assert control.get("/stats").json()["runs_created"] == {"query_run_v2": 1}


def test_objects_use_rfc3339_and_int64_strings(v2: httpx.Client) -> None:
    done = run_query(v2, "select id, amount from charges limit 3")
    assert RFC3339.match(done["created"]) and RFC3339.match(done["refreshed_at"])
    assert done["id"].startswith("qrun_") and len(done["id"]) == len("qrun_") + 44
    result = done["result"]
    assert (result["row_count"], result["col_count"]) == ("3", "2")
    assert isinstance(result["file"]["size"], str) and int(result["file"]["size"]) > 0
    assert RFC3339.match(result["file"]["download_url"]["expires_at"])


# -- the pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "code"),
    [
        (400, "invalid_request_error", "invalid_request"),
        (404, "invalid_request_error", "not_found"),
        (429, "rate_limit", "rate_limit"),
        (500, "api_error", "internal_error"),
        (502, "api_error", "internal_error"),
        (503, "service_unavailable", "service_unavailable"),
    ],
)
def test_v2_errors_take_their_type_and_code_from_the_status(status: int, error_type: str, code: str) -> None:
    error = V2Error(status, "message").body()["error"]
    assert error == {"type": error_type, "code": code, "message": "message"}
    if status >= 429:
        assert fault_error(f"http_{status}", {}).body()["error"]["type"] == error_type


def test_the_v2_fault_kinds_and_options_are_validated() -> None:
    assert (
        parse_spec("expire_download GET /v2/data/query_runs/* seconds=0.5 times=1").option("seconds") == 0.5
    )
    assert parse_spec("run_failed POST /v2/data/query_runs code=file_size_above_limit").option("code")
    assert parse_spec("run_canceled POST /v2/data/report_runs message=stop").kind == "run_canceled"
    for spec in ("expire_download GET /v2/* seconds=-1", "run_failed POST /v2/* code=oops"):
        with pytest.raises(FaultSpecError):
            parse_spec(spec)
    with pytest.raises(ValueError, match="download_url_ttl"):
        dataclasses.replace(FAST_CONFIG, download_url_ttl=-1)


def test_page_urls_index_lists_and_keep_brackets_readable() -> None:
    url = page_url("/v2/data/schemas", {"include": ["columns"], "name": None, "limit": 5, "page": "a=b"})
    assert url == "/v2/data/schemas?include[0]=columns&limit=5&page=a%3Db"
