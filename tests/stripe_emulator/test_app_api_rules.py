"""Rules Stripe's API enforces on every request: versions, parameters, expansion, keys; the files list."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from emulator_settings import FAST_CONFIG, SECRET_KEY, Finish

from stripe_emulator.server import EmulatorServer

RUNS = "/v1/reporting/report_runs"


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


# -- Stripe-Version -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version", ["2024-06-20", "2025-03-31.basil", "2025-07-30.preview", "2026-10-28.endive"]
)
def test_a_dated_api_version_is_accepted_and_echoed(api: httpx.Client, version: str) -> None:
    response = api.get("/v1/reporting/report_types", headers={"Stripe-Version": version})
    assert response.status_code == 200
    assert response.headers["Stripe-Version"] == version


@pytest.mark.parametrize(
    "version", ["2019-2-19", "2022-02-30", "latest", "2020-08-27;link_beta=v1", "2999-01-01"]
)
def test_an_invalid_api_version_is_a_400(api: httpx.Client, version: str) -> None:
    response = api.get("/v1/reporting/report_types", headers={"Stripe-Version": version})
    assert response.status_code == 400
    error = _error(response)
    assert error["type"] == "invalid_request_error"
    assert error["message"] == f"Invalid Stripe API version: {version}"


def test_without_a_version_the_accounts_default_applies(api: httpx.Client) -> None:
    response = api.get("/v1/reporting/report_types")
    assert response.status_code == 200 and response.headers["Stripe-Version"]


# -- unknown parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("GET", RUNS, {"limit": "2", "colour": "red"}),
        ("GET", "/v1/reporting/report_types", {"limit": "3"}),
        ("GET", "/v1/files", {"type": "csv"}),
        ("GET", "/v1/sigma/scheduled_query_runs", {"status": "failed"}),
        ("POST", "/v1/sigma/query_runs", {"sql": "select 1", "timeout": "5"}),
        ("POST", RUNS, {"report_type": "balance.summary.1", "interval_start": "1"}),
    ],
)
def test_an_unknown_parameter_is_a_400_naming_it(
    api: httpx.Client, method: str, path: str, fields: dict[str, str]
) -> None:
    unknown = list(fields)[-1]
    response = api.request(method, path, **({"params": fields} if method == "GET" else {"data": fields}))
    assert response.status_code == 400
    error = _error(response)
    assert error["param"] == unknown and error["code"] == "parameter_unknown"
    assert error["message"] == f"Received unknown parameter: {unknown}"


def test_a_rejected_parameter_creates_nothing(api: httpx.Client, control: httpx.Client) -> None:
    api.post("/v1/sigma/query_runs", data={"sql": "select 1", "colour": "red"})
    assert control.get("/stats").json()["runs_created"] == {}


# -- expand[] -------------------------------------------------------------------------------


def test_expandable_fields_expand_and_others_are_a_400(
    api: httpx.Client, report_interval: Any, finish: Finish
) -> None:
    created = api.post(
        RUNS, data={"report_type": "balance.summary.1", **report_interval(), "expand[]": "result"}
    )
    assert created.status_code == 200
    run = finish(api, f"{RUNS}/{created.json()['id']}")
    assert api.get(f"{RUNS}/{run['id']}", params={"expand[]": "result"}).status_code == 200
    assert api.get(RUNS, params={"expand[]": "data.result"}).status_code == 200

    for path, field in ((f"{RUNS}/{run['id']}", "customer"), (RUNS, "result"), ("/v1/files", "data.purpose")):
        response = api.get(path, params={"expand[]": field})
        assert response.status_code == 400, (path, field)
        assert _error(response)["message"] == f"This property cannot be expanded ({field})."
        assert _error(response)["param"] == "expand"


def test_a_query_runs_result_file_expands_into_the_file(api: httpx.Client, finish: Finish) -> None:
    created = api.post("/v1/sigma/query_runs", data={"sql": "select 1 as one"}).json()
    run = finish(api, f"/v1/sigma/query_runs/{created['id']}")
    assert run["status"] == "succeeded" and isinstance(run["result"]["file"], str)
    expanded = api.get(f"/v1/sigma/query_runs/{run['id']}", params={"expand[0]": "result.file"}).json()
    assert expanded["result"]["file"]["id"] == run["result"]["file"]
    assert expanded["result"]["file"]["object"] == "file"


# -- GET /v1/files --------------------------------------------------------------------------


def _files_of_three_runs(api: httpx.Client, report_interval: Any, finish: Finish) -> dict[str, str]:
    """A report file and two query files; their ids by run id."""
    ids = {}
    report = api.post(RUNS, data={"report_type": "balance.summary.1", **report_interval()}).json()
    ids[report["id"]] = finish(api, f"{RUNS}/{report['id']}")["result"]["id"]
    for sql in ("select 1 as a", "select 2 as b"):
        query = api.post("/v1/sigma/query_runs", data={"sql": sql}).json()
        ids[query["id"]] = finish(api, f"/v1/sigma/query_runs/{query['id']}")["result"]["file"]
    return ids


def test_files_are_listed_newest_first_and_filtered_by_purpose(
    api: httpx.Client, report_interval: Any, finish: Finish
) -> None:
    files = list(_files_of_three_runs(api, report_interval, finish).values())
    listed = api.get("/v1/files").json()
    assert listed["object"] == "list" and listed["url"] == "/v1/files"
    assert [item["id"] for item in listed["data"]] == list(reversed(files))
    reports = api.get("/v1/files", params={"purpose": "finance_report_run"}).json()["data"]
    assert [item["id"] for item in reports] == files[:1]
    page = api.get("/v1/files", params={"limit": 1, "starting_after": files[2]}).json()
    assert [item["id"] for item in page["data"]] == [files[1]] and page["has_more"] is True
    bad = api.get("/v1/files", params={"purpose": "selfies"})
    assert bad.status_code == 400 and _error(bad)["param"] == "purpose"


def test_a_connected_account_lists_only_its_own_files(
    api: httpx.Client, control: httpx.Client, report_interval: Any, finish: Finish
) -> None:
    _files_of_three_runs(api, report_interval, finish)
    account = control.get("/state").json()["connected_accounts"][0]
    headers = {"Stripe-Account": account}
    assert api.get("/v1/files", headers=headers).json()["data"] == []
    query = api.post("/v1/sigma/query_runs", data={"sql": "select 1 as a"}, headers=headers).json()
    own = finish(api, f"/v1/sigma/query_runs/{query['id']}", **headers)["result"]["file"]
    assert [item["id"] for item in api.get("/v1/files", headers=headers).json()["data"]] == [own]


def test_listing_files_needs_the_file_permission(
    emulator: EmulatorServer, api: httpx.Client, control: httpx.Client
) -> None:
    key = "rk_test_filesreader0001"
    control.post("/keys", json={"key": key, "permissions": ["rak_report_run_read"]}).raise_for_status()
    denied = httpx.get(f"{emulator.url}/v1/files", headers={"Authorization": f"Bearer {key}"})
    assert denied.status_code == 403 and "rak_file_read" in _error(denied)["message"]


# -- payout reports -------------------------------------------------------------------------


def test_a_payout_reconciliation_by_id_itemizes_what_one_payout_paid_out(
    api: httpx.Client, finish: Finish, emulator: EmulatorServer, tmp_path: Any
) -> None:
    path = tmp_path / "payout.csv"
    emulator.engine.run_sigma(
        "select id, amount from payouts where currency = 'usd' order by created desc limit 1", path
    )
    payout, amount = path.read_text().splitlines()[1].split(",")
    created = api.post(
        RUNS, data={"report_type": "payout_reconciliation.by_id.summary.1", "parameters[payout]": payout}
    )
    assert created.status_code == 200, created.text
    assert created.json()["parameters"] == {"payout": payout}
    run = finish(api, f"{RUNS}/{created.json()['id']}")
    body = httpx.get(run["result"]["url"], auth=(SECRET_KEY, "")).text.splitlines()
    assert body[0] == "reporting_category,currency,count,gross,fee,net"
    net = sum(round(float(line.split(",")[5]) * 100) for line in body[1:])
    assert net == int(amount)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "parameters[payout]"),
        ({"parameters[payout]": "po_1NoSuchPayout"}, "parameters[payout]"),
        ({"parameters[payout]": "po_x", "parameters[interval_end]": "1"}, "parameters[interval_end]"),
    ],
)
def test_a_payout_report_needs_an_existing_payout_and_no_interval(
    api: httpx.Client, fields: dict[str, str], param: str
) -> None:
    response = api.post(RUNS, data={"report_type": "payout_reconciliation.by_id.itemized.4", **fields})
    assert response.status_code == 400
    assert _error(response)["param"] == param


# -- which keys exist -----------------------------------------------------------------------

LIVE_KEY = "sk_live_51EmulatorLiveKey0000abcd"


@pytest.fixture(scope="module")
def keyed() -> Iterator[EmulatorServer]:
    """An emulator told which keys exist: one test key and one live key."""
    config = dataclasses.replace(FAST_CONFIG, days=3, api_keys=(SECRET_KEY, LIVE_KEY))
    with EmulatorServer(config) as server:
        yield server


def test_by_default_any_test_key_works_and_a_live_key_does_not(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    for key, status in (("sk_test_anyOtherKey123", 200), (LIVE_KEY, 401)):
        response = httpx.get(
            f"{emulator.url}/v1/reporting/report_types", headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == status, key


def test_told_which_keys_exist_a_wrong_test_key_is_refused(keyed: EmulatorServer) -> None:
    wrong = "sk_test_4eC39HqLyjWDarjtT1zdp7XX"
    response = httpx.get(
        f"{keyed.url}/v1/reporting/report_types", headers={"Authorization": f"Bearer {wrong}"}
    )
    assert response.status_code == 401
    assert _error(response)["message"] == "Invalid API Key provided: sk_test_****p7XX"
    right = httpx.get(
        f"{keyed.url}/v1/reporting/report_types", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    assert right.status_code == 200


def test_a_configured_live_key_works_in_live_mode_apart_from_test_mode(keyed: EmulatorServer) -> None:
    live = httpx.Client(base_url=keyed.url, headers={"Authorization": f"Bearer {LIVE_KEY}"})
    test = httpx.Client(base_url=keyed.url, headers={"Authorization": f"Bearer {SECRET_KEY}"})
    created = live.post("/v1/sigma/saved_queries", data={"name": "live", "sql": "select 1"}).json()
    assert created["livemode"] is True
    run = live.post("/v1/sigma/query_runs", data={"sql": "select 1"}).json()
    assert run["livemode"] is True
    # Live objects do not exist for a test key, and the other way round.
    assert test.get(f"/v1/sigma/saved_queries/{created['id']}").status_code == 404
    assert test.get(f"/v1/sigma/query_runs/{run['id']}").status_code == 404
    assert test.get("/v1/sigma/saved_queries").json()["data"] == []
    mine = test.post("/v1/sigma/saved_queries", data={"name": "test", "sql": "select 1"}).json()
    assert mine["livemode"] is False
    assert [q["id"] for q in live.get("/v1/sigma/saved_queries").json()["data"]] == [created["id"]]


def test_keys_must_look_like_secret_keys() -> None:
    with pytest.raises(ValueError, match="api_keys"):
        dataclasses.replace(FAST_CONFIG, api_keys=("pk_test_123",))
    with pytest.raises(ValueError, match="tuple"):
        dataclasses.replace(FAST_CONFIG, api_keys=[SECRET_KEY])  # type: ignore[arg-type]
