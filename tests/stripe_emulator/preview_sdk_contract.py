"""The emulator's Data API v2 driven through Stripe's official preview SDK, unmodified.

Runs in the throwaway venv holding ``stripe==16.1.0a4`` (see ``preview_sdk.py``), not in the
project's venv: ``python preview_sdk_contract.py EMULATOR_URL SECRET_KEY``. Every request goes
through ``StripeClient(...).v2.data`` with public calls only; the emulator's control API (reset,
faults, restricted keys, clock, stats) and the pre-signed downloads, which need no SDK, use urllib.
Each check starts on a reset emulator; the result is one JSON object on stdout:
``{"sdk": "16.1.0a4", "checks": {"<name>": "ok" | "<traceback>"}}``.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import stripe

URL, KEY = sys.argv[1], sys.argv[2]
VERSION = "2026-10-28.preview"
TEN_ROWS = "select id, amount, currency from balance_transactions order by id limit 10"
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
CHECKS: dict[str, Callable[[], None]] = {}


def check(function: Callable[[], None]) -> Callable[[], None]:
    """Register a check under its function's name."""
    CHECKS[function.__name__] = function
    return function


def client(key: str = KEY, **options: Any) -> stripe.StripeClient:
    """The SDK client the contract names, with retries off unless asked for."""
    options.setdefault("max_network_retries", 0)
    options.setdefault("stripe_version", VERSION)
    return stripe.StripeClient(key, base_addresses={"api": URL}, **options)


def control(method: str, path: str, body: Any = None) -> Any:
    """Call the emulator's control API (no key) and return its JSON."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{URL}/_emulator{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET ``url`` (a pre-signed link needs no headers): (status, body)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait(retrieve: Callable[[], Any]) -> Any:
    """Retrieve a run until it leaves ``running`` (at most 30 s)."""
    deadline = time.monotonic() + 30
    run = retrieve()
    while run.status == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
        run = retrieve()
    return run


def query_run(sdk: stripe.StripeClient, sql: str, options: Any = None) -> Any:
    """Create a query run and wait for it."""
    created = sdk.v2.data.query_runs.create(
        {"dataset": "analytical", "format": "csv", "query": {"sql": sql}}, options
    )
    return wait(lambda: sdk.v2.data.query_runs.retrieve(created.id, None, options))


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def loaded_day() -> int:
    return int(control("GET", "/state")["data_load_time_unix"]) // 86_400 * 86_400


def raises(kind: type[Exception], call: Callable[[], Any]) -> Any:
    """The exception ``call`` raises, checked to be a ``kind``."""
    try:
        call()
    except kind as error:
        return error
    raise AssertionError(f"expected {kind.__name__}")


# -- schemas and reports ----------------------------------------------------------------------


@check
def schemas_list_pages_and_retrieve() -> None:
    sdk = client()
    everything = sdk.v2.data.schemas.list({"limit": 1000})
    assert everything.next_page_url is None
    first = sdk.v2.data.schemas.list({"limit": 3})
    assert isinstance(first, stripe.v2.ListObject) and first.next_page_url is not None
    walked = list(first.auto_paging_iter())
    assert len(walked) == len(everything.data) > 3
    assert [schema.name for schema in walked] == [schema.name for schema in everything.data]
    assert all(isinstance(schema, stripe.v2.data.Schema) and schema.columns is None for schema in walked)
    with_columns = sdk.v2.data.schemas.list({"limit": 2, "include": ["columns"]})
    assert all(schema.columns for schema in with_columns.data)
    charges = next(schema for schema in walked if schema.name == "charges")
    retrieved = sdk.v2.data.schemas.retrieve(charges.id)
    assert retrieved.dataset == "analytical" and retrieved.columns
    assert {column.type for column in retrieved.columns} <= COLUMN_TYPES
    assert next(column for column in retrieved.columns if column.name == "id").is_primary_key


@check
def schemas_refreshed_at_moves_with_the_clock() -> None:
    sdk = client()
    schema = sdk.v2.data.schemas.list({"limit": 1}).data[0]
    loaded = parse(control("GET", "/state")["data_load_time"])
    assert parse(schema.refreshed_at) == loaded
    control("POST", "/advance", {"by_hours": 1})
    later = sdk.v2.data.schemas.retrieve(schema.id).refreshed_at
    assert (parse(later) - loaded).total_seconds() == 3600


@check
def reports_list_pages_and_retrieve() -> None:
    sdk = client()
    reports = list(sdk.v2.data.reports.list({"limit": 5}).auto_paging_iter())
    names = {report.name for report in reports}
    assert len(reports) > 5 and all(isinstance(report, stripe.v2.data.Report) for report in reports)
    assert {"balance.summary", "payouts.itemized", "connected_account_payouts.itemized"} <= names
    assert all(report.parameters is None for report in reports)
    report = next(report for report in reports if report.name == "payouts.itemized")
    detailed = sdk.v2.data.reports.retrieve(report.id, {"include": ["parameters", "default_sql"]})
    assert detailed.parameters["interval_start"].type == "timestamp"
    assert detailed.parameters["interval_start"].required is True
    assert isinstance(detailed.default_sql, str)
    (by_name,) = sdk.v2.data.reports.list({"name": "payouts.itemized"}).data
    assert by_name.id == report.id


# -- query runs -------------------------------------------------------------------------------


@check
def query_run_result_file() -> None:
    sdk = client()
    created = sdk.v2.data.query_runs.create(
        {"dataset": "analytical", "format": "csv", "query": {"sql": TEN_ROWS}}
    )
    assert isinstance(created, stripe.v2.data.QueryRun)
    assert created.status == "running" and created.result is None and created.id.startswith("qrun_")
    run = wait(lambda: sdk.v2.data.query_runs.retrieve(created.id))
    assert run.status == "succeeded" and run.status_details is None
    assert run.result.row_count == 10 and run.result.col_count == 3  # int64 strings, read as ints
    file = run.result.file
    assert file.content_type == "csv" and isinstance(file.size, int)
    assert [column.name for column in file.columns] == ["id", "amount", "currency"]
    assert parse(file.download_url.expires_at) > datetime.now(UTC)
    status, body = fetch(file.download_url.url)
    assert status == 200 and len(body) == file.size
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == ["id", "amount", "currency"] and len(rows) == 11


@check
def query_run_inline_rows_over_two_pages() -> None:
    sdk = client()
    run = query_run(sdk, TEN_ROWS)
    expected = list(csv.reader(io.StringIO(fetch(run.result.file.download_url.url)[1].decode())))[1:]
    first = sdk.v2.data.query_runs.retrieve(run.id, {"include": ["result.inline"], "limit": 5}).result.inline
    assert len(first.rows) == 5 and first.next_page_url is not None and first.previous_page_url is None
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(first.next_page_url).query)["page"][0]
    second = sdk.v2.data.query_runs.retrieve(
        run.id, {"include": ["result.inline"], "limit": 5, "page": token}
    ).result.inline
    assert len(second.rows) == 5 and second.next_page_url is None and second.previous_page_url is not None
    names = [column.name for column in first.columns]
    got = [[row.data[name] for name in names] for row in [*first.rows, *second.rows]]
    assert got == expected


@check
def query_run_idempotent_replay() -> None:
    sdk = client()
    params = {"dataset": "analytical", "format": "csv", "query": {"sql": "select 1 as one"}}
    created = sdk.v2.data.query_runs.create(params, {"idempotency_key": "contract-replay"})
    assert created.status == "running"
    done = wait(lambda: sdk.v2.data.query_runs.retrieve(created.id))
    replayed = sdk.v2.data.query_runs.create(params, {"idempotency_key": "contract-replay"})
    assert replayed.id == created.id and replayed.status == done.status == "succeeded"
    assert replayed.result.row_count == 1
    assert control("GET", "/stats")["runs_created"] == {"query_run_v2": 1}
    other = {**params, "query": {"sql": "select 2 as two"}}
    error = raises(
        stripe.IdempotencyError,
        lambda: sdk.v2.data.query_runs.create(other, {"idempotency_key": "contract-replay"}),
    )
    assert error.http_status == 400


@check
def query_run_failures() -> None:
    sdk = client()
    invalid = query_run(sdk, "select nope from balance_transactions")
    assert invalid.status == "failed" and invalid.status_details.code == "query_run_invalid_sql"
    control(
        "POST", "/faults", {"spec": "run_failed POST /v2/data/query_runs code=file_size_above_limit times=1"}
    )
    too_big = query_run(sdk, "select 1 as one")
    assert too_big.status == "failed" and too_big.status_details.code == "file_size_above_limit"
    control("POST", "/faults", {"spec": "run_stuck POST /v2/data/query_runs times=1"})
    stuck = sdk.v2.data.query_runs.create(
        {"dataset": "analytical", "format": "csv", "query": {"sql": "select 1"}}
    )
    time.sleep(0.3)
    assert sdk.v2.data.query_runs.retrieve(stuck.id).status == "running"


@check
def query_run_expired_download_link() -> None:
    sdk = client()
    run = query_run(sdk, TEN_ROWS)
    control("POST", "/faults", {"spec": "expire_download GET /v2/data/query_runs/* times=1"})
    expired = sdk.v2.data.query_runs.retrieve(run.id).result.file.download_url
    assert parse(expired.expires_at) <= datetime.now(UTC)
    status, body = fetch(expired.url)
    assert status == 404 and json.loads(body)["error"]["code"] == "download_url_expired"
    fresh = sdk.v2.data.query_runs.retrieve(run.id).result.file.download_url
    assert fresh.url != expired.url and fetch(fresh.url)[0] == 200


@check
def stripe_context_scopes_runs() -> None:
    sdk = client()
    state = control("GET", "/state")
    account, other = state["connected_accounts"][:2]
    sql = "select count(*) as n from balance_transactions"
    count = lambda run, options=None: int(  # noqa: E731 - a local helper reads best inline
        sdk.v2.data.query_runs.retrieve(run.id, {"include": ["result.inline"]}, options)
        .result.inline.rows[0]
        .data["n"]
    )
    platform = query_run(sdk, sql)
    scoped = query_run(sdk, sql, {"stripe_context": account})
    assert 0 < count(scoped, {"stripe_context": account}) != count(platform)
    as_other = client(stripe_context=other)
    error = raises(stripe.InvalidRequestError, lambda: as_other.v2.data.query_runs.retrieve(scoped.id))
    assert error.http_status == 404


# -- report runs ------------------------------------------------------------------------------


@check
def report_run_matches_the_v1_report() -> None:
    sdk = client()
    end = loaded_day()
    start = end - 2 * 86_400
    created = sdk.v2.data.report_runs.create(
        {
            "report": {"name": "balance_change_from_activity.itemized"},
            "parameters": {"interval_start": iso(start), "interval_end": iso(end)},
            "format": "csv",
        }
    )
    assert isinstance(created, stripe.v2.data.ReportRun) and created.status == "running"
    run = wait(lambda: sdk.v2.data.report_runs.retrieve(created.id))
    assert run.status == "succeeded" and run.name == "balance_change_from_activity.itemized"
    status, v2_body = fetch(run.result.file.download_url.url)
    assert status == 200 and len(v2_body) == run.result.file.size
    with_sql = sdk.v2.data.report_runs.retrieve(run.id, {"include": ["sql", "result.inline"], "limit": 2})
    assert isinstance(with_sql.sql, str) and len(with_sql.result.inline.rows) == min(2, run.result.row_count)

    v1 = stripe.StripeClient(KEY, base_addresses={"api": URL}, max_network_retries=0)
    v1_run = v1.v1.reporting.report_runs.create(
        {
            "report_type": "balance_change_from_activity.itemized.3",
            "parameters": {"interval_start": start, "interval_end": end},
        }
    )
    deadline = time.monotonic() + 30
    while v1_run.status == "pending" and time.monotonic() < deadline:
        time.sleep(0.02)
        v1_run = v1.v1.reporting.report_runs.retrieve(v1_run.id)
    _, v1_body = fetch(v1_run.result.url, {"Authorization": f"Bearer {KEY}"})
    assert v2_body == v1_body and run.result.row_count == v1_body.decode().count("\n") - 1


# -- errors -----------------------------------------------------------------------------------


@check
def errors_of_each_kind() -> None:
    sdk = client()
    bad = raises(
        stripe.InvalidRequestError,
        lambda: sdk.v2.data.query_runs.create({"dataset": "analytical", "format": "csv", "query": {}}),
    )
    assert bad.http_status == 400 and bad.param == "query.sql"
    version = raises(
        stripe.InvalidRequestError, lambda: client(stripe_version="2026-10-28").v2.data.schemas.list()
    )
    assert version.http_status == 400 and version.code == "invalid_stripe_version"
    missing = raises(stripe.InvalidRequestError, lambda: sdk.v2.data.query_runs.retrieve("qrun_missing"))
    assert missing.http_status == 404 and missing.code == "not_found"
    assert (
        raises(stripe.AuthenticationError, lambda: client("sk_test_").v2.data.schemas.list()).http_status
        == 401
    )

    control("POST", "/keys", {"key": "rk_test_ContractReports1", "permissions": ["data_reports_read"]})
    restricted = client("rk_test_ContractReports1")
    assert restricted.v2.data.reports.list().data
    denied = raises(
        stripe.PermissionError,
        lambda: restricted.v2.data.query_runs.create(
            {"dataset": "analytical", "format": "csv", "query": {"sql": "x"}}
        ),
    )
    assert denied.http_status == 403 and "data_queries_read" in str(denied.user_message)

    control("POST", "/faults", {"spec": "http_429 GET /v2/data/schemas times=1"})
    assert raises(stripe.RateLimitError, lambda: sdk.v2.data.schemas.list()).http_status == 429
    control("POST", "/faults", {"spec": "http_503 GET /v2/data/schemas times=1"})
    assert raises(stripe.ServiceUnavailableError, lambda: sdk.v2.data.schemas.list()).http_status == 503
    control("POST", "/faults", {"spec": "http_500 GET /v2/data/schemas times=1"})
    assert raises(stripe.APIError, lambda: sdk.v2.data.schemas.list()).http_status == 500
    control("POST", "/faults", {"spec": "drop_connection GET /v2/data/schemas times=1"})
    raises(stripe.APIConnectionError, lambda: sdk.v2.data.schemas.list())
    # With its retries on, the SDK rides out one 503 (Stripe-Should-Retry: true).
    control("POST", "/faults", {"spec": "http_503 GET /v2/data/schemas times=1"})
    assert client(max_network_retries=2).v2.data.schemas.list().data
    fired = control("GET", "/stats")["faults_fired"]
    assert fired == {"http_429": 1, "http_503": 2, "http_500": 1, "drop_connection": 1}


def main() -> None:
    results: dict[str, str] = {}
    for name, function in CHECKS.items():
        control("POST", "/reset")
        try:
            function()
            results[name] = "ok"
        except Exception:
            results[name] = traceback.format_exc(limit=4)
    print(json.dumps({"sdk": stripe.VERSION, "checks": results}))


if __name__ == "__main__":
    main()
