"""Data API v2 runs in the emulator: lifecycle, results, inline pages, expiring links, faults, v1 parity."""

from __future__ import annotations

import dataclasses
import io
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from emulator_settings import FAST_CONFIG, Finish
from v2_helpers import (
    QUERY_RUNS,
    REPORT_RUNS,
    V2_HEADERS,
    csv_rows,
    download,
    error_of,
    loaded_day,
    query_body,
    run_query,
    wait,
)

from stripe_emulator.server import EmulatorServer

TEN_ROWS = "select id, amount, currency, created from balance_transactions order by id limit 10"


@pytest.fixture
def v2(emulator: EmulatorServer, api: httpx.Client) -> Iterator[httpx.Client]:
    """The v2 API with the secret key and a preview version, on a freshly reset emulator."""
    with httpx.Client(base_url=emulator.url, headers=V2_HEADERS, timeout=30) as client:
        yield client


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _report_run(v2: httpx.Client, name: str, parameters: dict[str, Any], **headers: str) -> dict[str, Any]:
    created = v2.post(
        REPORT_RUNS,
        json={"report": {"name": name}, "parameters": parameters, "format": "csv"},
        headers=headers,
    )
    assert created.status_code == 200, created.text
    return wait(v2, f"{REPORT_RUNS}/{created.json()['id']}", **headers)


# -- query runs -------------------------------------------------------------------------------


def test_a_query_run_succeeds_with_a_file_the_same_as_v1s(
    v2: httpx.Client, api: httpx.Client, finish: Finish
) -> None:
    created = v2.post(QUERY_RUNS, json=query_body(TEN_ROWS)).json()
    assert created["status"] == "running" and created["result"] is None
    assert created["object"] == "v2.data.query_run" and created["query"] == {"sql": TEN_ROWS}
    assert (created["dataset"], created["format"]) == ("analytical", "csv")
    done = wait(v2, f"{QUERY_RUNS}/{created['id']}")
    assert done["status"] == "succeeded" and done["status_details"] is None
    file = done["result"]["file"]
    assert file["content_type"] == "csv" and done["result"]["inline"] is None
    assert file["columns"] == [
        {"name": "id", "type": "varchar"},
        {"name": "amount", "type": "bigint"},
        {"name": "currency", "type": "varchar"},
        {"name": "created", "type": "timestamp"},
    ]
    body = download(done)
    assert body.status_code == 200 and body.headers["content-type"].startswith("text/csv")
    assert len(body.content) == int(file["size"])
    rows = csv_rows(body.text)
    assert rows[0] == ["id", "amount", "currency", "created"] and len(rows) - 1 == int(
        done["result"]["row_count"]
    )

    v1 = api.post("/v1/sigma/query_runs", data={"sql": TEN_ROWS}).json()
    v1_done = finish(api, f"/v1/sigma/query_runs/{v1['id']}")
    assert api.get(f"/v1/files/{v1_done['result']['file']}/contents").content == body.content


def test_invalid_sql_fails_the_run_not_the_request(v2: httpx.Client) -> None:
    done = run_query(v2, "select no_such_column from balance_transactions")
    assert done["status"] == "failed" and done["result"] is None
    details = done["status_details"]
    assert details["code"] == "query_run_invalid_sql" and "no_such_column" in details["message"]
    assert details["canceled_at"] is None


def test_inline_rows_page_through_the_result(v2: httpx.Client) -> None:
    done = run_query(v2, TEN_ROWS)
    expected = csv_rows(download(done).text)[1:]
    path = f"{QUERY_RUNS}/{done['id']}"
    page = v2.get(path, params={"include[]": "result.inline", "limit": 4}).json()["result"]["inline"]
    assert page["columns"] == done["result"]["file"]["columns"] and page["previous_page_url"] is None
    pages = [page]
    while page["next_page_url"] is not None:
        assert page["next_page_url"].startswith(f"{path}?") and "page=" in page["next_page_url"]
        page = v2.get(page["next_page_url"]).json()["result"]["inline"]
        pages.append(page)
    assert [len(p["rows"]) for p in pages] == [4, 4, 2]
    names = ["id", "amount", "currency", "created"]
    assert [[row["data"][name] for name in names] for p in pages for row in p["rows"]] == expected
    back = v2.get(pages[2]["previous_page_url"]).json()["result"]["inline"]
    assert back["rows"] == pages[1]["rows"]
    token = httpx.URL(pages[0]["next_page_url"]).params["page"]
    by_token = v2.get(path, params={"include[0]": "result.inline", "limit": 4, "page": token}).json()
    assert by_token["result"]["inline"]["rows"] == pages[1]["rows"]
    other = run_query(v2, "select 1 as one")
    foreign = v2.get(f"{QUERY_RUNS}/{other['id']}", params={"include[]": "result.inline", "page": token})
    assert foreign.status_code == 400 and error_of(foreign)["param"] == "page"


def test_empty_values_are_null_inline(v2: httpx.Client) -> None:
    done = run_query(v2, "select cast(null as varchar) as nothing, 'x' as something")
    inline = v2.get(f"{QUERY_RUNS}/{done['id']}", params={"include[]": "result.inline"}).json()["result"][
        "inline"
    ]
    assert inline["rows"] == [{"data": {"nothing": None, "something": "x"}}]
    assert inline["next_page_url"] is None


def test_a_compressed_result_is_a_zip_of_the_csv(v2: httpx.Client) -> None:
    created = v2.post(QUERY_RUNS, json=query_body(TEN_ROWS, result_options={"compress_file": True})).json()
    assert created["result_options"] == {"compress_file": True}
    done = wait(v2, f"{QUERY_RUNS}/{created['id']}")
    assert done["result"]["file"]["content_type"] == "zip"
    body = download(done)
    assert len(body.content) == int(done["result"]["file"]["size"])
    with zipfile.ZipFile(io.BytesIO(body.content)) as archive:
        (name,) = archive.namelist()
        assert len(csv_rows(archive.read(name).decode())) == 11


# -- download links ---------------------------------------------------------------------------


def test_each_retrieval_issues_a_fresh_link_needing_no_key(v2: httpx.Client) -> None:
    done = run_query(v2, TEN_ROWS)
    again = v2.get(f"{QUERY_RUNS}/{done['id']}").json()
    first, second = done["result"]["file"]["download_url"], again["result"]["file"]["download_url"]
    assert first["url"] != second["url"] and first["url"].startswith("http")
    assert httpx.get(first["url"]).content == httpx.get(second["url"]).content
    expires = datetime.fromisoformat(second["expires_at"].replace("Z", "+00:00"))
    assert 280 < (expires - datetime.now(UTC)).total_seconds() <= 300
    unknown = httpx.get(first["url"].rsplit("/", 1)[0] + "/nope")
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "not_found"


def test_links_stop_working_after_they_expire(v2: httpx.Client, control: httpx.Client) -> None:
    done = run_query(v2, TEN_ROWS)
    path = f"{QUERY_RUNS}/{done['id']}"
    rules = [
        {"kind": "expire_download", "method": "GET", "path": f"{QUERY_RUNS}/*", "nth": 1},
        {"kind": "expire_download", "method": "GET", "path": f"{QUERY_RUNS}/*", "nth": 2, "seconds": 0.3},
    ]
    control.post("/faults", json={"rules": rules}).raise_for_status()
    expired = v2.get(path).json()["result"]["file"]["download_url"]
    gone = httpx.get(expired["url"])
    assert gone.status_code == 404 and error_of(gone)["code"] == "download_url_expired"
    short = v2.get(path).json()["result"]["file"]["download_url"]
    assert httpx.get(short["url"]).status_code == 200
    time.sleep(0.35)
    assert httpx.get(short["url"]).status_code == 404
    fresh = v2.get(path).json()["result"]["file"]["download_url"]
    assert httpx.get(fresh["url"]).status_code == 200
    assert control.get("/stats").json()["faults_fired"] == {"expire_download": 2}


def test_download_url_ttl_sets_the_default_lifetime() -> None:
    config = dataclasses.replace(FAST_CONFIG, download_url_ttl=0.4)
    with EmulatorServer(config) as server, httpx.Client(base_url=server.url, headers=V2_HEADERS) as client:
        done = run_query(client, "select 1 as one")
        assert httpx.get(done["result"]["file"]["download_url"]["url"]).status_code == 200
        time.sleep(0.45)
        assert httpx.get(done["result"]["file"]["download_url"]["url"]).status_code == 404


def test_downloads_take_the_download_faults(v2: httpx.Client, control: httpx.Client) -> None:
    done = run_query(v2, TEN_ROWS)
    rule = {"kind": "truncate_download", "method": "GET", "path": "/v2/data/files/*", "bytes": 20, "times": 1}
    control.post("/faults", json=rule).raise_for_status()
    with pytest.raises(httpx.TransportError):
        download(done).read()
    assert len(download(done).content) == int(done["result"]["file"]["size"])


# -- run faults -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["internal_error", "file_size_above_limit", "query_run_invalid_sql"])
def test_run_failed_sets_the_status_details_code(v2: httpx.Client, control: httpx.Client, code: str) -> None:
    rule = {"kind": "run_failed", "method": "POST", "path": QUERY_RUNS, "code": code, "times": 1}
    control.post("/faults", json=rule).raise_for_status()
    failed = run_query(v2, "select 1 as one")
    assert failed["status"] == "failed" and failed["status_details"]["code"] == code
    assert failed["status_details"]["message"]
    assert run_query(v2, "select 1 as one")["status"] == "succeeded"


def test_run_canceled_and_run_stuck(v2: httpx.Client, control: httpx.Client) -> None:
    rules = [
        {"kind": "run_canceled", "method": "POST", "path": REPORT_RUNS, "nth": 1},
        {"kind": "run_stuck", "method": "POST", "path": QUERY_RUNS, "nth": 1},
    ]
    control.post("/faults", json={"rules": rules}).raise_for_status()
    end = loaded_day(control)
    canceled = _report_run(
        v2, "balance.summary", {"interval_start": _iso(end - 86_400), "interval_end": _iso(end)}
    )
    assert canceled["status"] == "canceled" and canceled["result"] is None
    assert canceled["status_details"]["code"] is None and canceled["status_details"]["canceled_at"]
    stuck = v2.post(QUERY_RUNS, json=query_body("select 1 as one")).json()
    time.sleep(FAST_CONFIG.run_delay * 4)
    assert v2.get(f"{QUERY_RUNS}/{stuck['id']}").json()["status"] == "running"


def test_file_faults_change_the_download_not_the_inline_rows(v2: httpx.Client, control: httpx.Client) -> None:
    rule = {"kind": "duplicate_row", "method": "POST", "path": QUERY_RUNS, "times": 1}
    control.post("/faults", json=rule).raise_for_status()
    done = run_query(v2, TEN_ROWS)
    assert done["result"]["row_count"] == "10"
    assert len(csv_rows(download(done).text)) - 1 == 11
    inline = v2.get(f"{QUERY_RUNS}/{done['id']}", params={"include[]": "result.inline", "limit": 100}).json()
    assert len(inline["result"]["inline"]["rows"]) == 10


def test_stats_count_v2_runs_and_requests(v2: httpx.Client, control: httpx.Client) -> None:
    end = loaded_day(control)
    run_query(v2, "select 1 as one")
    _report_run(v2, "balance.summary", {"interval_start": _iso(end - 86_400), "interval_end": _iso(end)})
    stats = control.get("/stats").json()
    assert stats["runs_created"] == {"query_run_v2": 1, "report_run_v2": 1}
    assert stats["requests"]["POST /v2/data/query_runs"] == 1
    assert stats["requests"]["POST /v2/data/report_runs"] == 1
    assert stats["requests"]["GET /v2/data/query_runs/{id}"] >= 1


# -- report runs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "v1_type", "days", "extra"),
    [
        ("balance.summary", "balance.summary.1", 3, {}),
        ("balance_change_from_activity.itemized", "balance_change_from_activity.itemized.3", 2, {}),
        ("payouts.itemized", "payouts.itemized.3", 7, {"timezone": "America/New_York"}),
        ("payout_reconciliation.itemized", "payout_reconciliation.itemized.5", 7, {}),
        ("ending_balance_reconciliation.itemized", "ending_balance_reconciliation.itemized.4", 0, {}),
        (
            "connected_account_balance_change_from_activity.itemized",
            "connected_account_balance_change_from_activity.itemized.3",
            2,
            {"currency": "usd"},
        ),
    ],
)
def test_a_report_run_has_the_rows_of_the_v1_report(
    v2: httpx.Client,
    api: httpx.Client,
    control: httpx.Client,
    finish: Finish,
    name: str,
    v1_type: str,
    days: int,
    extra: dict[str, str],
) -> None:
    end = loaded_day(control)
    parameters = {"interval_end": _iso(end), **extra}
    form = {"report_type": v1_type, "parameters[interval_end]": str(end)}
    form.update({f"parameters[{key}]": value for key, value in extra.items()})
    if days:
        parameters["interval_start"] = _iso(end - days * 86_400)
        form["parameters[interval_start]"] = str(end - days * 86_400)
    done = _report_run(v2, name, parameters)
    assert done["status"] == "succeeded", done["status_details"]
    assert done["name"] == name and done["report"].startswith("report_") and done["parameters"] == parameters
    v1 = api.post("/v1/reporting/report_runs", data=form)
    assert v1.status_code == 200, v1.text
    v1_done = finish(api, f"/v1/reporting/report_runs/{v1.json()['id']}")
    expected = api.get(v1_done["result"]["url"]).content
    assert download(done).content == expected
    assert int(done["result"]["row_count"]) == len(csv_rows(expected.decode())) - 1
    types = {column["name"]: column["type"] for column in done["result"]["file"]["columns"]}
    assert types.get("net", types.get("net_amount")) == "decimal"


def test_report_runs_by_id_with_their_sql(v2: httpx.Client, control: httpx.Client) -> None:
    report = v2.get("/v2/data/reports", params={"name": "balance.summary"}).json()["data"][0]
    end = loaded_day(control)
    parameters = {"interval_start": _iso(end - 86_400), "interval_end": _iso(end)}
    body = {"report": {"id": report["id"]}, "parameters": parameters, "format": "csv"}
    created = v2.post(REPORT_RUNS, json=body).json()
    assert created["object"] == "v2.data.report_run" and created["id"].startswith("rrun_")
    assert created["status"] == "running" and created["name"] == "balance.summary" and created["sql"] is None
    done = wait(v2, f"{REPORT_RUNS}/{created['id']}")
    with_sql = v2.get(f"{REPORT_RUNS}/{done['id']}", params={"include[]": ["sql", "result.inline"]}).json()
    assert "balance.summary" in with_sql["sql"] and with_sql["result"]["inline"]["rows"]
    assert with_sql["refreshed_at"] == done["refreshed_at"]


@pytest.mark.parametrize(
    ("parameters", "param"),
    [
        ({"interval_start": "START"}, "parameters.interval_end"),
        ({"interval_start": "START", "interval_end": "END", "columns": ["net"]}, "parameters.columns"),
        ({"interval_start": "1773000000", "interval_end": "END"}, "parameters.interval_start"),
        ({"interval_start": "START", "interval_end": "2026-03-20T00:00:00"}, "parameters.interval_end"),
        (
            {"interval_start": "START", "interval_end": "END", "timezone": "Mars/Olympus"},
            "parameters.timezone",
        ),
        ({"interval_start": "START", "interval_end": "LATER"}, "parameters.interval_end"),
        ({"interval_start": "EARLY", "interval_end": "END"}, "parameters.interval_start"),
        ({"interval_start": "END", "interval_end": "START"}, "parameters.interval_start"),
    ],
)
def test_report_parameters_are_checked_at_creation(
    v2: httpx.Client, control: httpx.Client, parameters: dict[str, Any], param: str
) -> None:
    end = loaded_day(control)
    values = {
        "START": _iso(end - 86_400),
        "END": _iso(end),
        "LATER": _iso(end + 3 * 86_400),
        "EARLY": _iso(end - 400 * 86_400),
    }
    resolved = {
        key: values.get(value, value) if isinstance(value, str) else value
        for key, value in parameters.items()
    }
    response = v2.post(
        REPORT_RUNS, json={"report": {"name": "payouts.itemized"}, "parameters": resolved, "format": "csv"}
    )
    assert response.status_code == 400, response.text
    assert error_of(response)["param"] == param
    assert "parameters[" not in error_of(response)["message"]


def test_report_references_and_the_connect_rule(v2: httpx.Client, control: httpx.Client) -> None:
    end = loaded_day(control)
    parameters = {"interval_start": _iso(end - 86_400), "interval_end": _iso(end)}
    unknown = v2.post(
        REPORT_RUNS, json={"report": {"name": "balance.summary.1"}, "parameters": parameters, "format": "csv"}
    )
    assert unknown.status_code == 404 and error_of(unknown)["param"] == "report.name"
    missing = v2.post(REPORT_RUNS, json={"report": {}, "parameters": parameters, "format": "csv"})
    assert missing.status_code == 400 and error_of(missing)["param"] == "report"
    account = control.get("/state").json()["connected_accounts"][0]
    connect = v2.post(
        REPORT_RUNS,
        json={
            "report": {"name": "connected_account_payouts.itemized"},
            "parameters": parameters,
            "format": "csv",
        },
        headers={"Stripe-Context": account},
    )
    assert connect.status_code == 400 and "Stripe-Context" in error_of(connect)["message"]
    own = _report_run(v2, "balance.summary", parameters, **{"Stripe-Context": account})
    assert own["status"] == "succeeded"
    assert v2.get(f"{REPORT_RUNS}/{own['id']}").status_code == 200
