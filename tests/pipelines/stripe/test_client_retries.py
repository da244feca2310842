"""Retries: which failures are repeated, how long the client waits, and what stays the same."""

from __future__ import annotations

import httpx
import pytest

from pipelines.stripe import Backoff
from pipelines.stripe.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
)


def _sequence(*responses):
    """A handler answering with ``responses`` in turn (an exception instance is raised instead)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        outcome = responses[min(len(seen), len(responses)) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return handler, seen


def _nominal(backoff: Backoff, retry: int) -> float:
    return min(backoff.initial * backoff.factor ** (retry - 1), backoff.maximum)


def test_a_server_error_is_retried_until_it_succeeds(make_client, respond, error, clock):
    handler, seen = _sequence(
        error(500, "boom", type="api_error"), error(503, "busy", type="api_error"), respond(200, {"ok": True})
    )

    assert make_client(handler).request("GET", "/v1/balance") == {"ok": True}
    assert len(seen) == 3
    assert len(clock.sleeps) == 2


def test_should_retry_false_beats_a_500(make_client, error, clock):
    handler, seen = _sequence(
        error(500, "do not repeat", type="api_error", headers={"Stripe-Should-Retry": "false"})
    )

    with pytest.raises(APIError, match="do not repeat"):
        make_client(handler).request("GET", "/v1/balance")
    assert len(seen) == 1
    assert clock.sleeps == []


def test_should_retry_true_makes_a_400_retried(make_client, respond, error):
    handler, seen = _sequence(
        error(400, "try again", headers={"Stripe-Should-Retry": "true"}), respond(200, {"ok": True})
    )

    assert make_client(handler).request("GET", "/v1/balance") == {"ok": True}
    assert len(seen) == 2


def test_a_409_conflict_is_retried(make_client, respond, error):
    handler, seen = _sequence(
        error(409, "concurrent request", type="idempotency_error"), respond(200, {"ok": True})
    )

    assert make_client(handler).request("POST", "/v1/sigma/query_runs", data={"sql": "select 1"}) == {
        "ok": True
    }
    assert len(seen) == 2


def test_retry_after_is_honoured(make_client, respond, error, clock):
    handler, _ = _sequence(
        error(429, "slow down", code="rate_limit", headers={"Retry-After": "7"}), respond(200, {"ok": True})
    )

    make_client(handler).request("GET", "/v1/balance")

    assert clock.sleeps == [pytest.approx(7.0)]


def test_a_huge_retry_after_is_capped(make_client, respond, error, clock):
    backoff = Backoff(max_retry_after=20.0)
    handler, _ = _sequence(error(503, "maintenance", headers={"Retry-After": "86400"}), respond(200, {}))

    make_client(handler, backoff=backoff).request("GET", "/v1/balance")

    assert clock.sleeps == [pytest.approx(backoff.max_retry_after)]


def test_rate_limiting_is_retried_with_growing_backoff_then_raised(make_client, error, clock):
    retries = 4
    backoff = Backoff()
    handler, seen = _sequence(error(429, "Too many requests", code="rate_limit"))

    with pytest.raises(RateLimitError) as caught:
        make_client(handler, max_network_retries=retries, backoff=backoff).request("GET", "/v1/balance")

    assert len(seen) == retries + 1
    assert caught.value.http_status == 429
    assert len(clock.sleeps) == retries
    for retry, slept in enumerate(clock.sleeps, start=1):
        nominal = _nominal(backoff, retry)
        assert max(backoff.initial, nominal / 2) <= slept <= nominal


def test_connection_errors_are_retried(make_client, respond):
    handler, seen = _sequence(
        httpx.ConnectError("connection refused"), httpx.ReadTimeout("slow"), respond(200, {})
    )

    make_client(handler).request("GET", "/v1/balance")

    assert len(seen) == 3


def test_connection_errors_give_up_after_max_network_retries(make_client):
    handler, seen = _sequence(httpx.ConnectError("connection refused"))

    with pytest.raises(APIConnectionError, match="3 attempts") as caught:
        make_client(handler, max_network_retries=2).request("GET", "/v1/balance")

    assert len(seen) == 3
    assert caught.value.http_status is None
    assert "connection refused" in str(caught.value)


def test_max_network_retries_zero_means_one_attempt(make_client, error):
    handler, seen = _sequence(error(500, "boom", type="api_error"))

    with pytest.raises(APIError):
        make_client(handler, max_network_retries=0).request("GET", "/v1/balance")
    assert len(seen) == 1


def test_post_retries_reuse_one_idempotency_key(make_client, respond, error):
    handler, seen = _sequence(
        error(500, "boom", type="api_error"),
        httpx.ReadTimeout("lost response"),
        respond(200, {"id": "qry_1"}),
    )

    make_client(handler).request("POST", "/v1/sigma/query_runs", data={"sql": "select 1"})

    keys = {request.headers["Idempotency-Key"] for request in seen}
    assert len(seen) == 3
    assert len(keys) == 1
    assert keys.pop()


def test_every_post_gets_its_own_key_unless_the_caller_gives_one(make_client, respond):
    handler, seen = _sequence(respond(200, {}))
    client = make_client(handler)

    client.request("POST", "/v1/sigma/saved_queries", data={"name": "a", "sql": "select 1"})
    client.request("POST", "/v1/sigma/saved_queries", data={"name": "b", "sql": "select 2"})
    client.request("POST", "/v1/sigma/query_runs", data={"sql": "select 1"}, idempotency_key="run-2026-03-01")

    keys = [request.headers["Idempotency-Key"] for request in seen]
    assert keys[0] != keys[1]
    assert keys[2] == "run-2026-03-01"


def test_get_requests_carry_no_idempotency_key(make_client, respond):
    handler, seen = _sequence(respond(200, {}))

    make_client(handler).request("GET", "/v1/balance")

    assert "Idempotency-Key" not in seen[0].headers


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, InvalidRequestError),
    ],
)
def test_permanent_errors_are_not_retried(make_client, error, clock, status, error_class):
    handler, seen = _sequence(error(status, "permanent"))

    with pytest.raises(error_class):
        make_client(handler).request("POST", "/v1/reporting/report_runs", data={"report_type": "x"})

    assert len(seen) == 1
    assert clock.sleeps == []


def test_backoff_grows_exponentially_up_to_its_maximum():
    backoff = Backoff(initial=0.5, factor=2.0, maximum=5.0)

    full = [backoff.delay(retry, jitter=0.999999) for retry in range(1, 8)]
    half = [backoff.delay(retry, jitter=0.0) for retry in range(1, 8)]

    assert full == [pytest.approx(_nominal(backoff, retry), rel=1e-5) for retry in range(1, 8)]
    assert half == [max(backoff.initial, _nominal(backoff, retry) / 2) for retry in range(1, 8)]
    assert max(full) == pytest.approx(backoff.maximum, rel=1e-5)


def test_retry_after_as_an_http_date_is_measured_from_now(make_client, respond, error, clock):
    when = clock.now().replace(second=9)
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    handler, _ = _sequence(error(503, "maintenance", headers={"Retry-After": header}), respond(200, {}))

    make_client(handler).request("GET", "/v1/balance")

    assert clock.sleeps == [pytest.approx((when - clock.start).total_seconds())]
