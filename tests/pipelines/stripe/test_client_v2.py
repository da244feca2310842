"""The /v2 side of the client: JSON bodies, v2 headers, indexed includes, v2 errors, v2 lists, bare links."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from pipelines.stripe.client import DEFAULT_DATA_API_VERSION
from pipelines.stripe.errors import (
    APIError,
    AuthenticationError,
    IdempotencyError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
    StripeError,
)


def recorder(respond, body=None):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(200, body if body is not None else {"id": "qrun_1", "status": "running"})

    return handler, seen


def test_a_v2_post_sends_json_with_the_v2_headers(make_client, respond, api_key):
    handler, seen = recorder(respond)
    client = make_client(handler, stripe_version="2025-07-30.basil")

    answer = client.request_v2(
        "POST",
        "/v2/data/query_runs",
        json={"dataset": "analytical", "format": "csv", "query": {"sql": "SELECT 1"}},
        idempotency_key="key-1",
        stripe_context="acct_1/acct_1a",
    )

    assert answer == {"id": "qrun_1", "status": "running"}
    (request,) = seen
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "dataset": "analytical",
        "format": "csv",
        "query": {"sql": "SELECT 1"},
    }
    assert request.headers["Stripe-Version"] == DEFAULT_DATA_API_VERSION == "2026-10-28.preview"
    assert request.headers["Stripe-Context"] == "acct_1/acct_1a"
    assert request.headers["Idempotency-Key"] == "key-1"
    assert "Stripe-Account" not in request.headers
    assert request.headers["Authorization"] == f"Bearer {api_key}"


def test_v1_keeps_its_own_version_and_v2_uses_the_data_api_version(make_client, respond):
    handler, seen = recorder(respond)
    client = make_client(handler, stripe_version="2025-07-30.basil", data_api_version="2026-10-14.preview")

    client.request("GET", "/v1/balance")
    client.request_v2("GET", "/v2/data/query_runs/qrun_1")
    make_client(handler).request("GET", "/v1/balance")

    assert [r.headers.get("Stripe-Version") for r in seen] == [
        "2025-07-30.basil",
        "2026-10-14.preview",
        None,
    ]


def test_a_v2_post_without_a_key_gets_one_and_keeps_it_across_retries(make_client, respond, error):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return error(429, "Too many requests", type="rate_limit")
        return respond(200, {"id": "qrun_1"})

    make_client(handler).request_v2("POST", "/v2/data/query_runs", json={"query": {"sql": "SELECT 1"}})

    keys = [r.headers["Idempotency-Key"] for r in seen]
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0]


def test_get_params_use_indexed_arrays_and_rfc3339_times(make_client, respond):
    handler, seen = recorder(respond)

    make_client(handler).request_v2(
        "GET",
        "/v2/data/report_runs/rrun_1",
        params={"include": ["result.inline", "sql"], "limit": 5, "since": datetime(2026, 11, 8, tzinfo=UTC)},
    )

    (request,) = seen
    assert list(request.url.params.multi_items()) == [
        ("include[0]", "result.inline"),
        ("include[1]", "sql"),
        ("limit", "5"),
        ("since", "2026-11-08T00:00:00.000Z"),
    ]
    assert request.content == b""


def test_json_bodies_write_datetimes_as_rfc3339_and_decimals_as_strings(make_client, respond):
    handler, seen = recorder(respond)

    make_client(handler).request_v2(
        "POST",
        "/v2/data/report_runs",
        json={
            "parameters": {
                "interval_start": datetime(2026, 11, 8, tzinfo=UTC),
                "interval_end": datetime(2026, 11, 9, 0, 0, 0, 123456, tzinfo=UTC),
                "threshold": Decimal("1.50"),
            }
        },
    )

    assert json.loads(seen[0].content)["parameters"] == {
        "interval_start": "2026-11-08T00:00:00.000Z",
        "interval_end": "2026-11-09T00:00:00.123Z",
        "threshold": "1.50",
    }


def test_each_api_generation_refuses_the_others_paths(make_client, respond):
    client = make_client(lambda request: respond(200, {}))

    with pytest.raises(ValueError, match="request_v2"):
        client.request("POST", "/v2/data/query_runs", data={"sql": "SELECT 1"})
    with pytest.raises(ValueError, match="/v2 paths only"):
        client.request_v2("GET", "/v1/balance")
    with pytest.raises(ValueError):
        client.request_v2("GET", "/v2/data/query_runs/qrun_1", json={"a": 1})


@pytest.mark.parametrize(
    ("status", "error_type", "code", "error_class", "retryable"),
    [
        (429, "rate_limit", None, RateLimitError, True),
        (400, "rate_limit", None, RateLimitError, True),
        (400, "idempotency_error", "idempotency_key_in_use", IdempotencyError, False),
        (503, "service_unavailable", None, APIError, True),
        (500, "api_error", None, APIError, True),
        (400, "quota_exceeded", "too_many", InvalidRequestError, False),
        (400, None, "query_run_invalid_sql", InvalidRequestError, False),
        (404, "not_found", "resource_missing", InvalidRequestError, False),
        (401, "authentication_error", None, AuthenticationError, False),
        (403, "permission_error", "data_queries_read_required", PermissionDeniedError, False),
    ],
)
def test_v2_errors_map_to_the_error_classes(
    make_client, respond, status, error_type, code, error_class, retryable
):
    body = {"error": {"type": error_type, "code": code, "message": "Stripe's own words"}}
    client = make_client(lambda request: respond(status, body), max_network_retries=0)

    with pytest.raises(StripeError) as caught:
        client.request_v2("GET", "/v2/data/query_runs/qrun_1")

    raised = caught.value
    assert type(raised) is error_class
    assert raised.retryable is retryable
    assert raised.message == "Stripe's own words"
    assert (raised.http_status, raised.code, raised.type) == (status, code, error_type)


def test_a_v2_429_is_retried_and_a_400_is_not(make_client, respond, clock):
    answers = {"rate": 0, "bad": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("qrun_rate"):
            answers["rate"] += 1
            if answers["rate"] < 3:
                return respond(429, {"error": {"type": "rate_limit", "message": "slow down"}})
            return respond(200, {"id": "qrun_rate"})
        answers["bad"] += 1
        return respond(400, {"error": {"type": "invalid_request", "message": "bad"}})

    client = make_client(handler)

    assert client.request_v2("GET", "/v2/data/query_runs/qrun_rate") == {"id": "qrun_rate"}
    with pytest.raises(InvalidRequestError):
        client.request_v2("GET", "/v2/data/query_runs/qrun_bad")

    assert answers == {"rate": 3, "bad": 1}
    assert len(clock.sleeps) == 2


def test_a_v2_error_never_shows_the_key(make_client, respond, api_key):
    body = {"error": {"type": "authentication_error", "message": f"Invalid API Key provided: {api_key}"}}
    client = make_client(lambda request: respond(401, body))

    with pytest.raises(AuthenticationError) as caught:
        client.request_v2("GET", "/v2/data/schemas")

    assert api_key not in str(caught.value) + repr(caught.value)
    assert api_key[-4:] in caught.value.message


def test_a_v2_list_follows_next_page_url_as_given(make_client, respond):
    pages = {
        "/v2/data/schemas": {
            "data": [{"id": "s1"}, {"id": "s2"}],
            "next_page_url": "/v2/data/schemas?page=p2",
        },
        "/v2/data/schemas?page=p2": {"data": [{"id": "s3"}], "next_page_url": "/v2/data/schemas?page=p3"},
        "/v2/data/schemas?page=p3": {"data": [{"id": "s4"}], "next_page_url": None, "previous_page_url": "x"},
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        target = request.url.raw_path.decode()
        first = target.startswith("/v2/data/schemas?limit=")
        return respond(200, pages["/v2/data/schemas" if first else target])

    objects = list(make_client(handler).list_v2("/v2/data/schemas", {"limit": 2, "include": ["columns"]}))

    assert [o["id"] for o in objects] == ["s1", "s2", "s3", "s4"]
    assert [r.url.raw_path.decode() for r in seen] == [
        "/v2/data/schemas?limit=2&include%5B0%5D=columns",
        "/v2/data/schemas?page=p2",
        "/v2/data/schemas?page=p3",
    ]


@pytest.mark.parametrize(
    "page",
    [
        {"data": []},  # no next_page_url: not a /v2 list
        {"data": [], "next_page_url": "https://elsewhere.example/v2/data/schemas?page=2"},
        {"data": [{"id": "s1"}], "next_page_url": "/v2/data/schemas?page=same"},
    ],
)
def test_a_v2_list_refuses_malformed_foreign_or_looping_pages(make_client, respond, page):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(200, page)

    with pytest.raises(APIError):
        list(make_client(handler).list_v2("/v2/data/schemas"))

    assert all(r.url.host == "api.stripe.test" for r in seen)
    assert len(seen) <= 3


def test_a_presigned_link_is_fetched_without_the_key_or_stripe_headers(make_client, respond, api_key):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"a,b\n1,2\n")

    client = make_client(handler, stripe_version="2025-07-30.basil")
    with client.stream_url("https://storage.example/results/qrun_1?X-Signature=abc") as response:
        assert response.read() == b"a,b\n1,2\n"

    (request,) = seen
    assert "Authorization" not in request.headers
    assert "Stripe-Version" not in request.headers
    assert api_key not in str(request.headers) + str(request.url)
    assert request.url.params["X-Signature"] == "abc"


def test_a_link_that_redirects_is_followed_still_without_the_key(make_client):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "storage.example":
            return httpx.Response(307, headers={"Location": "https://eu.storage.example/r?sig=1"})
        return httpx.Response(200, content=b"ok")

    with make_client(handler).stream_url("https://storage.example/r?sig=1") as response:
        assert response.read() == b"ok"

    assert [r.url.host for r in seen] == ["storage.example", "eu.storage.example"]
    assert not any("Authorization" in r.headers for r in seen)


def test_an_api_redirect_is_not_followed(make_client, respond):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://elsewhere.example/v2/data/schemas"})

    with pytest.raises(APIError):
        make_client(handler, max_network_retries=0).request_v2("GET", "/v2/data/schemas")

    assert len(seen) == 1


def test_a_refused_link_is_an_api_error_with_its_status(make_client):
    client = make_client(lambda request: httpx.Response(403, content=b"<Error>AccessDenied</Error>"))

    with pytest.raises(APIError) as caught, client.stream_url("https://storage.example/r?sig=secret"):
        pass

    assert type(caught.value) is APIError and caught.value.http_status == 403
    assert "secret" not in str(caught.value)


def test_a_link_that_fails_transiently_is_retried(make_client, clock):
    answers = iter([httpx.Response(503), httpx.Response(200, content=b"ok")])
    client = make_client(lambda request: next(answers))

    with client.stream_url("https://storage.example/r") as response:
        assert response.read() == b"ok"

    assert len(clock.sleeps) == 1
