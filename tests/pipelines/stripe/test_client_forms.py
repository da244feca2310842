"""Form encoding: nested parameters in Stripe's bracket notation, in bodies and query strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

import httpx
import pytest

from pipelines.stripe.forms import flatten

INTERVAL_START = datetime(2026, 2, 1, tzinfo=UTC)
INTERVAL_END = datetime(2026, 2, 2, tzinfo=UTC)


def _capture(make_client, respond):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(200, {"id": "frr_1", "object": "reporting.report_run", "status": "pending"})

    return make_client(handler), seen


def test_post_body_uses_brackets_and_indexes_for_nested_values(make_client, respond):
    client, seen = _capture(make_client, respond)
    columns = ["balance_transaction_id", "created_utc", "net"]

    client.request(
        "POST",
        "/v1/reporting/report_runs",
        data={
            "report_type": "balance_change_from_activity.itemized.3",
            "parameters": {
                "interval_start": INTERVAL_START,
                "interval_end": INTERVAL_END,
                "columns": columns,
            },
        },
    )

    request = seen[0]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = parse_qsl(request.content.decode(), keep_blank_values=True)
    assert fields == [
        ("report_type", "balance_change_from_activity.itemized.3"),
        ("parameters[interval_start]", str(int(INTERVAL_START.timestamp()))),
        ("parameters[interval_end]", str(int(INTERVAL_END.timestamp()))),
        *((f"parameters[columns][{i}]", column) for i, column in enumerate(columns)),
    ]


def test_get_params_use_the_same_notation_in_the_query_string(make_client, respond):
    client, seen = _capture(make_client, respond)

    client.request(
        "GET", "/v1/reporting/report_runs", params={"created": {"gte": 100, "lt": 200}, "limit": 3}
    )

    assert list(seen[0].url.params.multi_items()) == [
        ("created[gte]", "100"),
        ("created[lt]", "200"),
        ("limit", "3"),
    ]


def test_none_is_omitted_and_booleans_are_lowercase():
    assert flatten({"a": None, "b": True, "c": {"d": False, "e": None}}) == [("b", "true"), ("c[d]", "false")]


def test_datetimes_in_any_zone_are_encoded_as_the_same_instant():
    plus_two = INTERVAL_START.astimezone(timezone(timedelta(hours=2)))

    assert flatten({"t": plus_two}) == flatten({"t": INTERVAL_START})


def test_naive_datetimes_are_refused_before_anything_is_sent(make_client, respond):
    client, seen = _capture(make_client, respond)

    with pytest.raises(ValueError, match="tz-aware"):
        client.request(
            "POST", "/v1/reporting/report_runs", data={"parameters": {"interval_start": datetime(2026, 1, 1)}}
        )
    assert seen == []


def test_encoding_matches_stripe_python():
    stripe_encode = pytest.importorskip("stripe._encode")
    params = {
        "report_type": "payouts.itemized.3",
        "parameters": {
            "interval_start": INTERVAL_START,
            "columns": ["payout_id", "gross"],
            "currency": "usd",
            "nested": {"deeper": [{"x": 1}, {"y": True}]},
        },
        "expand": ["result"],
        "skipped": None,
    }

    expected = [(key, str(value)) for key, value in stripe_encode._api_encode(params)]

    assert flatten(params) == expected
