"""Stripe's HTTP conventions as the emulator serves them: auth, errors, ids, pagination, idempotency."""

from __future__ import annotations

import base64
import dataclasses
import threading
import time
from typing import Any

import httpx
import pytest
from emulator_settings import FAST_CONFIG, SECRET_KEY

from stripe_emulator.config import EmulatorConfig
from stripe_emulator.conventions import decode_form, redact_key
from stripe_emulator.server import EmulatorServer

REPORT_TYPES = "/v1/reporting/report_types"


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


# -- authentication -------------------------------------------------------------------------


def test_bearer_and_basic_auth_are_both_accepted(emulator: EmulatorServer, api: httpx.Client) -> None:
    bearer = httpx.get(f"{emulator.url}{REPORT_TYPES}", headers={"Authorization": f"Bearer {SECRET_KEY}"})
    basic = httpx.get(f"{emulator.url}{REPORT_TYPES}", auth=(SECRET_KEY, ""))
    encoded = base64.b64encode(f"{SECRET_KEY}:".encode()).decode()
    explicit = httpx.get(f"{emulator.url}{REPORT_TYPES}", headers={"Authorization": f"Basic {encoded}"})
    assert bearer.status_code == basic.status_code == explicit.status_code == 200
    assert bearer.json() == basic.json()


@pytest.mark.parametrize(
    "key", ["sk_live_4eC39HqLyjWDarjtT1zdp7dc", "pk_test_12345678", "not-a-stripe-key-abcd"]
)
def test_an_unknown_key_gets_401_with_the_key_redacted(
    emulator: EmulatorServer, api: httpx.Client, key: str
) -> None:
    response = httpx.get(f"{emulator.url}{REPORT_TYPES}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    error = _error(response)
    assert error["type"] == "invalid_request_error"
    assert error["message"] == f"Invalid API Key provided: {redact_key(key)}"
    assert key not in response.text
    assert key[-4:] in error["message"]


def test_redaction_keeps_the_prefix_and_last_four_characters() -> None:
    assert redact_key("sk_test_4eC39HqLyjWDarjtT1zdabcd") == "sk_test_****abcd"
    assert redact_key("rk_test_51Habcdefwxyz") == "rk_test_****wxyz"
    assert "secret" not in redact_key("secret")


def test_a_request_without_a_key_gets_401(emulator: EmulatorServer, api: httpx.Client) -> None:
    response = httpx.get(f"{emulator.url}{REPORT_TYPES}")
    assert response.status_code == 401
    assert "You did not provide an API key" in _error(response)["message"]


def test_restricted_key_needs_the_endpoint_permission(
    emulator: EmulatorServer, api: httpx.Client, control: httpx.Client, report_interval: Any
) -> None:
    key = "rk_test_51Hrestricted0000abcd"
    registered = control.post("/keys", json={"key": key, "permissions": ["rak_report_type_read"]})
    assert registered.status_code == 200
    assert key not in registered.text
    restricted = httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {key}"})
    assert restricted.get(REPORT_TYPES).status_code == 200

    denied = restricted.post(
        "/v1/reporting/report_runs", data={"report_type": "balance.summary.1", **report_interval()}
    )
    assert denied.status_code == 403
    platform = control.get("/state").json()["platform_account"]
    assert _error(denied)["message"] == (
        f"The provided key 'rk_test_****abcd' does not have the required permissions for this endpoint on "
        f"account '{platform}'. Having the 'rak_report_run_write' permission would allow this request to "
        "continue."
    )
    assert "rak_file_read" in _error(restricted.get("/v1/files/file_123")).get("message", "")


def test_write_permission_includes_read(
    emulator: EmulatorServer, api: httpx.Client, control: httpx.Client
) -> None:
    key = "rk_test_writer00000000000001"
    control.post("/keys", json={"key": key, "permissions": ["rak_report_run_write"]}).raise_for_status()
    client = httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {key}"})
    assert client.get("/v1/reporting/report_runs").status_code == 200
    assert client.get(REPORT_TYPES).status_code == 403


def test_unregistered_restricted_key_and_unknown_permission_are_rejected(
    emulator: EmulatorServer, api: httpx.Client, control: httpx.Client
) -> None:
    response = httpx.get(
        f"{emulator.url}{REPORT_TYPES}", headers={"Authorization": "Bearer rk_test_nobody00000"}
    )
    assert response.status_code == 401
    bad = control.post("/keys", json={"key": "rk_test_abc", "permissions": ["rak_everything"]})
    assert bad.status_code == 400
    assert "rak_everything" in bad.json()["error"]["message"]
    assert control.post("/keys", json={"key": "sk_test_abc", "permissions": []}).status_code == 400


def test_permission_catalogue_lists_every_guarded_endpoint(control: httpx.Client, api: httpx.Client) -> None:
    catalogue = control.get("/permissions").json()
    assert "POST /v1/reporting/report_runs" in catalogue["rak_report_run_write"]
    assert "GET /v1/files/{id}/contents" in catalogue["rak_file_read"]
    assert "POST /v1/sigma/query_runs" in catalogue["rak_sigma_query_run_write"]


# -- errors, request ids, versions ----------------------------------------------------------


def test_every_response_carries_a_request_id(emulator: EmulatorServer, api: httpx.Client) -> None:
    responses = [
        api.get(REPORT_TYPES),
        api.get("/v1/reporting/report_runs/frr_missing"),
        api.get("/v1/no/such/endpoint"),
        httpx.get(f"{emulator.url}{REPORT_TYPES}"),
        httpx.get(f"{emulator.url}/_emulator/state"),
    ]
    ids = [response.headers["Request-Id"] for response in responses]
    assert all(request_id.startswith("req_") for request_id in ids)
    assert len(set(ids)) == len(ids)


def test_missing_object_error_has_stripe_shape(api: httpx.Client) -> None:
    response = api.get("/v1/reporting/report_runs/frr_missing")
    assert response.status_code == 404
    assert _error(response) == {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "message": "No such report run: 'frr_missing'",
        "param": "id",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
    }


def test_unknown_url_is_a_json_404(api: httpx.Client) -> None:
    response = api.post("/v1/charges", data={"amount": "100"})
    assert response.status_code == 404
    assert "Unrecognized request URL (POST: /v1/charges)" in _error(response)["message"]
    wrong_method = api.delete(REPORT_TYPES)
    assert wrong_method.status_code == 404
    assert "Unrecognized request URL (DELETE: /v1/reporting/report_types)" in _error(wrong_method)["message"]


def test_stripe_version_is_echoed(api: httpx.Client) -> None:
    response = api.get(REPORT_TYPES, headers={"Stripe-Version": "2024-06-20"})
    assert response.headers["Stripe-Version"] == "2024-06-20"


def test_unknown_body_parameter_is_named(api: httpx.Client) -> None:
    response = api.post("/v1/sigma/saved_queries", data={"name": "n", "sql": "select 1", "colour": "red"})
    assert response.status_code == 400
    assert _error(response)["param"] == "colour"


# -- form decoding --------------------------------------------------------------------------


def test_bracket_notation_decodes_into_nested_lists_and_dicts() -> None:
    assert decode_form(
        "parameters[columns][0]=a&parameters[columns][1]=b&parameters[interval_start]=123&expand[]=result"
    ) == {"parameters": {"columns": ["a", "b"], "interval_start": "123"}, "expand": ["result"]}
    assert decode_form("parameters[columns][]=a&parameters[columns][]=b") == {
        "parameters": {"columns": ["a", "b"]}
    }
    many = "&".join(f"c[{i}]=v{i}" for i in range(45))
    assert decode_form(many) == {"c": [f"v{i}" for i in range(45)]}
    assert decode_form("sql=select+1+%2B+1%3B") == {"sql": "select 1 + 1;"}


def test_indexed_and_appended_columns_create_the_same_run(api: httpx.Client, report_interval: Any) -> None:
    fields = {"report_type": "balance.summary.1", **report_interval()}
    indexed = api.post(
        "/v1/reporting/report_runs",
        data={**fields, "parameters[columns][0]": "currency", "parameters[columns][1]": "category"},
    )
    appended = api.post(
        "/v1/reporting/report_runs",
        data={**fields, "parameters[columns][]": ["currency", "category"]},
    )
    assert indexed.status_code == appended.status_code == 200, (indexed.text, appended.text)
    assert indexed.json()["parameters"] == appended.json()["parameters"]
    assert indexed.json()["parameters"]["columns"] == ["currency", "category"]
    assert isinstance(indexed.json()["parameters"]["interval_start"], int)


def test_non_integer_interval_is_a_400_naming_the_parameter(api: httpx.Client) -> None:
    response = api.post(
        "/v1/reporting/report_runs",
        data={"report_type": "balance.summary.1", "parameters[interval_start]": "yesterday"},
    )
    assert response.status_code == 400
    assert _error(response)["param"] == "parameters[interval_start]"


# -- pagination -----------------------------------------------------------------------------


def _saved_queries(api: httpx.Client, count: int) -> list[str]:
    ids = []
    for index in range(count):
        response = api.post("/v1/sigma/saved_queries", data={"name": f"q{index}", "sql": f"select {index}"})
        response.raise_for_status()
        ids.append(response.json()["id"])
    return ids


def test_pagination_walks_newest_first_with_has_more(api: httpx.Client) -> None:
    created = _saved_queries(api, 5)
    newest_first = list(reversed(created))
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = api.get("/v1/sigma/saved_queries", params=params).json()
        assert page["object"] == "list" and page["url"] == "/v1/sigma/saved_queries"
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            break
        params = {"limit": 2, "starting_after": seen[-1]}
    assert seen == newest_first

    before = api.get("/v1/sigma/saved_queries", params={"limit": 2, "ending_before": newest_first[3]}).json()
    assert [item["id"] for item in before["data"]] == newest_first[1:3]
    assert before["has_more"] is True
    first = api.get("/v1/sigma/saved_queries", params={"limit": 2, "ending_before": newest_first[1]}).json()
    assert [item["id"] for item in first["data"]] == newest_first[:1]
    assert first["has_more"] is False


def test_default_limit_is_ten(api: httpx.Client) -> None:
    _saved_queries(api, 11)
    page = api.get("/v1/sigma/saved_queries").json()
    assert len(page["data"]) == 10 and page["has_more"] is True


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_limit_out_of_bounds_is_a_400(api: httpx.Client, limit: str) -> None:
    response = api.get("/v1/reporting/report_runs", params={"limit": limit})
    assert response.status_code == 400
    assert _error(response)["param"] == "limit"


def test_bad_cursors_are_rejected(api: httpx.Client) -> None:
    ids = _saved_queries(api, 2)
    both = api.get("/v1/sigma/saved_queries", params={"starting_after": ids[0], "ending_before": ids[1]})
    assert both.status_code == 400
    unknown = api.get("/v1/sigma/saved_queries", params={"starting_after": "qfl_unknown"})
    assert unknown.status_code == 400
    assert _error(unknown)["param"] == "starting_after"


# -- idempotency ----------------------------------------------------------------------------


def test_same_key_same_params_replays_the_first_response(api: httpx.Client, control: httpx.Client) -> None:
    fields = {"name": "daily", "sql": "select 1"}
    first = api.post("/v1/sigma/saved_queries", data=fields, headers={"Idempotency-Key": "key-1"})
    again = api.post("/v1/sigma/saved_queries", data=fields, headers={"Idempotency-Key": "key-1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Request-Id"] != first.headers["Request-Id"]
    assert len(api.get("/v1/sigma/saved_queries").json()["data"]) == 1
    assert control.get("/stats").json()["idempotent_replays"] == 1


def test_same_key_different_params_is_an_idempotency_error(api: httpx.Client) -> None:
    api.post(
        "/v1/sigma/saved_queries", data={"name": "a", "sql": "select 1"}, headers={"Idempotency-Key": "k"}
    )
    other = api.post(
        "/v1/sigma/saved_queries", data={"name": "b", "sql": "select 1"}, headers={"Idempotency-Key": "k"}
    )
    assert other.status_code == 400
    assert _error(other)["type"] == "idempotency_error"


def test_keys_are_scoped_per_api_key(emulator: EmulatorServer, api: httpx.Client) -> None:
    fields = {"name": "a", "sql": "select 1"}
    mine = api.post("/v1/sigma/saved_queries", data=fields, headers={"Idempotency-Key": "shared"})
    other_key = httpx.post(
        f"{emulator.url}/v1/sigma/saved_queries",
        data=fields,
        headers={"Authorization": "Bearer sk_test_another0000000000", "Idempotency-Key": "shared"},
    )
    assert other_key.status_code == 200
    assert "Idempotent-Replayed" not in other_key.headers
    assert other_key.json()["id"] != mine.json()["id"]


def test_a_rejected_request_does_not_burn_its_key(api: httpx.Client, report_interval: Any) -> None:
    bad = api.post(
        "/v1/reporting/report_runs", data={"report_type": "no.such.type.1"}, headers={"Idempotency-Key": "k2"}
    )
    assert bad.status_code == 404
    good = api.post(
        "/v1/reporting/report_runs",
        data={"report_type": "balance.summary.1", **report_interval()},
        headers={"Idempotency-Key": "k2"},
    )
    assert good.status_code == 200
    assert "Idempotent-Replayed" not in good.headers


def test_a_concurrent_request_with_the_same_key_gets_409(api: httpx.Client, control: httpx.Client) -> None:
    control.post(
        "/faults",
        json={
            "kind": "slow",
            "method": "POST",
            "path": "/v1/sigma/saved_queries",
            "seconds": 1.0,
            "nth": [1],
        },
    )
    fields = {"name": "slow", "sql": "select 1"}
    results: dict[str, httpx.Response] = {}

    def first() -> None:
        results["first"] = api.post(
            "/v1/sigma/saved_queries", data=fields, headers={"Idempotency-Key": "busy"}
        )

    thread = threading.Thread(target=first)
    thread.start()
    try:
        for _ in range(100):  # wait until the first request has arrived…
            if control.get("/faults").json()["rules"][0]["seen"] == 1:
                break
            time.sleep(0.01)
        time.sleep(0.2)  # …and claimed its key (it then sleeps for a second)
        concurrent = api.post("/v1/sigma/saved_queries", data=fields, headers={"Idempotency-Key": "busy"})
    finally:
        thread.join()
    assert concurrent.status_code == 409
    assert concurrent.headers["Stripe-Should-Retry"] == "true"
    assert _error(concurrent)["code"] == "idempotency_key_in_use"
    assert results["first"].status_code == 200
    replay = api.post("/v1/sigma/saved_queries", data=fields, headers={"Idempotency-Key": "busy"})
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == results["first"].json()["id"]


# -- rate limiting --------------------------------------------------------------------------


def test_rate_limit_is_a_429_per_key() -> None:
    config = dataclasses.replace(FAST_CONFIG, test_rate_limit=5.0, days=3)
    with EmulatorServer(config) as server:
        fast = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {SECRET_KEY}"})
        responses = [fast.get(REPORT_TYPES) for _ in range(12)]
        assert [response.status_code for response in responses[:5]] == [200] * 5
        limited = [response for response in responses if response.status_code == 429]
        assert limited
        error = _error(limited[0])
        assert error["type"] == "invalid_request_error" and error["code"] == "rate_limit"
        other = httpx.get(
            f"{server.url}{REPORT_TYPES}", headers={"Authorization": "Bearer sk_test_otherkey000"}
        )
        assert other.status_code == 200
        assert httpx.get(f"{server.url}/_emulator/stats").json()["rate_limited"] >= 1


def test_live_and_test_keys_get_stripes_rate_for_their_mode() -> None:
    # Stripe's documented global limits: 100 operations a second in live mode, 25 in test mode.
    assert (EmulatorConfig().rate_limit, EmulatorConfig().test_rate_limit) == (100.0, 25.0)
    live_key = "sk_live_51EmulatorLiveKey0000abcd"
    config = dataclasses.replace(
        FAST_CONFIG, rate_limit=8.0, test_rate_limit=3.0, days=3, api_keys=(SECRET_KEY, live_key)
    )
    with EmulatorServer(config) as server:
        served = {}
        for key in (SECRET_KEY, live_key):
            client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"})
            statuses = [client.get(REPORT_TYPES).status_code for _ in range(10)]
            served[key] = statuses.index(429)
        # Each key's burst is its rate; refills while the requests go can only add to it.
        assert 3 <= served[SECRET_KEY] < 8 <= served[live_key]


# -- Stripe-Account -------------------------------------------------------------------------


def test_unknown_stripe_account_is_a_403(api: httpx.Client) -> None:
    response = api.get("/v1/reporting/report_runs", headers={"Stripe-Account": "acct_doesnotexist"})
    assert response.status_code == 403
    assert _error(response)["code"] == "account_invalid"
    assert "acct_doesnotexist" in _error(response)["message"]


def test_accounts_list_and_retrieve(api: httpx.Client, control: httpx.Client) -> None:
    expected = control.get("/state").json()["connected_accounts"]
    listed = api.get("/v1/accounts", params={"limit": 100}).json()
    assert sorted(account["id"] for account in listed["data"]) == expected
    one = api.get(f"/v1/accounts/{expected[0]}").json()
    assert one["id"] == expected[0] and one["object"] == "account"
    assert api.get("/v1/accounts/acct_nobody").status_code == 404
    assert api.get("/v1/account").json()["id"] == control.get("/state").json()["platform_account"]


# -- control API ----------------------------------------------------------------------------


def test_stats_count_requests_per_route_template(api: httpx.Client, control: httpx.Client) -> None:
    api.get("/v1/reporting/report_runs/frr_a")
    api.get("/v1/reporting/report_runs/frr_b")
    api.get(REPORT_TYPES)
    stats = control.get("/stats").json()
    assert stats["requests"]["GET /v1/reporting/report_runs/{id}"] == 2
    assert stats["requests"]["GET /v1/reporting/report_types"] == 1
    assert stats["responses"]["404"] == 2


def test_advance_and_reset_move_the_clock(control: httpx.Client, api: httpx.Client) -> None:
    initial = control.get("/state").json()
    moved = control.post("/advance", json={"by_hours": 5}).json()
    assert moved["data_load_time_unix"] == initial["data_load_time_unix"] + 5 * 3600
    assert control.post("/advance", json={"to": initial["data_load_time"]}).status_code == 400
    assert control.post("/advance", json={"to": "2999-01-01T00:00:00Z"}).status_code == 400
    assert control.post("/advance", json={}).status_code == 400
    reset = control.post("/reset").json()
    assert reset["data_load_time"] == initial["initial_data_load_time"]
