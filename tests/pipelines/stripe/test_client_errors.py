"""Error responses become typed exceptions that say what Stripe said, and never show the key."""

from __future__ import annotations

import pickle
import traceback

import httpx
import pytest

from pipelines.stripe.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    IdempotencyError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
    StripeError,
)


@pytest.mark.parametrize(
    ("status", "error_type", "code", "error_class"),
    [
        (400, "invalid_request_error", "parameter_invalid_integer", InvalidRequestError),
        (404, "invalid_request_error", "resource_missing", InvalidRequestError),
        (400, "idempotency_error", None, IdempotencyError),
        (401, "invalid_request_error", None, AuthenticationError),
        (403, "invalid_request_error", "secret_key_required", PermissionDeniedError),
        (429, "invalid_request_error", "rate_limit", RateLimitError),
        (400, "invalid_request_error", "rate_limit", RateLimitError),
        (500, "api_error", None, APIError),
        (402, "card_error", "card_declined", APIError),
    ],
)
def test_status_and_type_select_the_exception(make_client, error, status, error_type, code, error_class):
    response = error(status, "Stripe's own words", type=error_type, code=code, param="parameters[columns]")
    client = make_client(lambda request: response, max_network_retries=0)

    with pytest.raises(StripeError) as caught:
        client.request("GET", "/v1/reporting/report_runs/frr_1")

    raised = caught.value
    assert type(raised) is error_class
    assert raised.message == "Stripe's own words"
    assert raised.http_status == status
    assert raised.request_id == response.headers["Request-Id"]
    assert raised.code == code
    assert raised.type == error_type
    assert raised.param == "parameters[columns]"


def test_str_reads_as_stripe_message_with_request_id(make_client, error):
    response = error(404, "No such report run: 'frr_404'", code="resource_missing", param="id")
    client = make_client(lambda request: response)

    with pytest.raises(InvalidRequestError) as caught:
        client.request("GET", "/v1/reporting/report_runs/frr_404")

    text = str(caught.value)
    assert text.startswith("No such report run: 'frr_404'")
    assert response.headers["Request-Id"] in text
    assert "404" in text


def test_an_error_without_a_stripe_body_still_says_what_happened(make_client):
    client = make_client(
        lambda request: httpx.Response(502, content=b"<html>Bad gateway</html>"), max_network_retries=0
    )

    with pytest.raises(APIError) as caught:
        client.request("GET", "/v1/balance")

    assert caught.value.http_status == 502
    assert "502" in str(caught.value)
    assert "/v1/balance" in str(caught.value)


def test_a_success_that_is_not_json_is_an_api_error(make_client):
    client = make_client(
        lambda request: httpx.Response(200, content=b"not json", headers={"Request-Id": "req_x"})
    )

    with pytest.raises(APIError) as caught:
        client.request("GET", "/v1/balance")

    assert caught.value.request_id == "req_x"


def _all_errors(make_client, error, api_key):
    """One exception of each HTTP kind, from a server that echoes the key back in every message."""
    raised: list[BaseException] = []
    cases = [
        (400, "invalid_request_error"),
        (400, "idempotency_error"),
        (401, "invalid_request_error"),
        (403, "invalid_request_error"),
        (404, "invalid_request_error"),
        (429, "invalid_request_error"),
        (500, "api_error"),
    ]
    for status, error_type in cases:
        response = error(status, f"Invalid API Key provided: {api_key}", type=error_type)
        client = make_client(lambda request, response=response: response, max_network_retries=0)
        with pytest.raises(StripeError) as caught:
            client.request("POST", "/v1/reporting/report_runs", data={"report_type": "x"})
        raised.append(caught.value)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(APIConnectionError) as caught:
        make_client(refuse, max_network_retries=1).request("GET", "/v1/balance")
    raised.append(caught.value)
    return raised


def test_the_key_never_appears_in_any_exception(make_client, error, api_key):
    raised = _all_errors(make_client, error, api_key)

    assert len({type(exc) for exc in raised}) == 7
    for exc in raised:
        assert api_key not in str(exc)
        assert api_key not in repr(exc)
        assert api_key not in "".join(traceback.format_exception(exc))
    for exc in raised[:-1]:
        assert api_key[-4:] in str(exc)  # redacted the way Stripe redacts keys, so it stays recognisable


def test_exceptions_survive_pickling_with_their_fields(make_client, error):
    client = make_client(lambda request: error(403, "missing permission", code="permission_denied"))

    with pytest.raises(PermissionDeniedError) as caught:
        client.request("GET", "/v1/reporting/report_types")

    restored = pickle.loads(pickle.dumps(caught.value))
    assert type(restored) is PermissionDeniedError
    assert str(restored) == str(caught.value)
    assert (restored.code, restored.request_id) == (caught.value.code, caught.value.request_id)


class _BodyThatBreaks(httpx.SyncByteStream):
    def __iter__(self):
        raise httpx.ReadError("connection reset while reading the error body")
        yield b""  # pragma: no cover - makes this a generator


def test_an_error_whose_body_cannot_be_read_still_maps_by_status(make_client):
    client = make_client(
        lambda request: httpx.Response(404, stream=_BodyThatBreaks(), headers={"Request-Id": "req_9"})
    )

    with (
        pytest.raises(InvalidRequestError) as caught,
        client.stream("/v1/files/file_gone/contents", base="files"),
    ):
        pass

    assert caught.value.http_status == 404
    assert caught.value.request_id == "req_9"
