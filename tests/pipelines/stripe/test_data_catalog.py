"""/v2/data catalogues: schemas and reports, every page of them, and parameters checked against a report."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from pipelines.stripe import (
    DataReport,
    DataReports,
    DataSchemas,
    ReportParameter,
    StripeSettings,
    open_session,
)
from pipelines.stripe.errors import InvalidRequestError


def paged_server(respond, collection, objects, per_page):
    """A /v2 list over ``objects`` in pages of ``per_page``, linked by opaque ``page`` tokens."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path != f"/v2/data/{collection}":
            return respond(404, {"error": {"type": "not_found", "message": "no such object"}})
        token = request.url.params.get("page")
        start = int(token.removeprefix("tok")) if token else 0
        end = start + per_page
        next_url = f"/v2/data/{collection}?page=tok{end}" if end < len(objects) else None
        return respond(
            200, {"data": objects[start:end], "next_page_url": next_url, "previous_page_url": None}
        )

    return handler, seen


def schema(i, *, columns=False):
    obj = {
        "id": f"schema_{i}",
        "object": "v2.data.schema",
        "name": f"table_{i}",
        "dataset": "analytical",
        "refreshed_at": "2026-10-05T19:00:00.000000001Z",
    }
    if columns:
        obj["columns"] = [{"name": "id", "type": "varchar"}, {"name": "created", "type": "timestamp"}]
    return obj


def test_schemas_are_listed_over_every_page(make_client, respond):
    handler, seen = paged_server(respond, "schemas", [schema(i) for i in range(5)], per_page=2)

    schemas = DataSchemas(make_client(handler)).list()

    assert [s.name for s in schemas] == [f"table_{i}" for i in range(5)]
    assert [r.url.params.get("page") for r in seen] == [None, "tok2", "tok4"]
    assert dict(seen[0].url.params) == {"limit": "100"}
    assert all(r.headers["Stripe-Version"] == "2026-10-28.preview" for r in seen)
    assert schemas[0].refreshed_at == datetime(2026, 10, 5, 19, tzinfo=UTC)
    assert schemas[0].columns is None  # not asked for, which is not "no columns"


def test_schema_columns_come_with_include_columns(make_client, respond):
    handler, seen = paged_server(respond, "schemas", [schema(1, columns=True)], per_page=2)

    (table,) = DataSchemas(make_client(handler)).list(include_columns=True)

    assert list(seen[0].url.params.multi_items()) == [("limit", "100"), ("include[0]", "columns")]
    assert table.columns == (("id", "varchar"), ("created", "timestamp"))


BALANCE_SUMMARY = {
    "id": "report_61Sud3n5oAGVCWiSr5",
    "object": "v2.data.report",
    "name": "balance.summary",
    "description": "Balance summary",
    "default_sql": None,
    "parameters": {
        "interval_start": {"type": "timestamp", "required": True, "description": "Start"},
        "interval_end": {"type": "timestamp", "required": True, "description": "End"},
        "currency": {"type": "enum", "required": False, "enum_details": {"allowed_values": ["usd", "eur"]}},
        "reporting_categories": {
            "type": "array",
            "required": False,
            "array_details": {
                "element_type": "enum",
                "enum_details": {"allowed_values": ["charge", "refund"]},
            },
        },
        "timezone": {"type": "string", "required": False},
    },
}


def test_reports_are_listed_over_every_page_with_their_parameters(make_client, respond):
    others = [{"id": f"report_{i}", "name": f"other.{i}", "parameters": {}} for i in range(4)]
    handler, seen = paged_server(respond, "reports", [BALANCE_SUMMARY, *others], per_page=2)

    reports = DataReports(make_client(handler)).list()

    assert [r.name for r in reports] == ["balance.summary", "other.0", "other.1", "other.2", "other.3"]
    assert len(seen) == 3
    assert list(seen[0].url.params.multi_items()) == [("limit", "100"), ("include[0]", "parameters")]
    assert reports[0].parameters == {
        "interval_start": ReportParameter("timestamp", True, None),
        "interval_end": ReportParameter("timestamp", True, None),
        "currency": ReportParameter("enum", False, ("usd", "eur")),
        "reporting_categories": ReportParameter("array", False, ("charge", "refund")),
        "timezone": ReportParameter("string", False, None),
    }


def test_a_report_is_retrieved_by_name_through_the_name_filter(make_client, respond):
    handler, seen = paged_server(respond, "reports", [BALANCE_SUMMARY], per_page=10)

    report = DataReports(make_client(handler)).retrieve("balance.summary")

    assert report.id == BALANCE_SUMMARY["id"]
    assert seen[0].url.params["name"] == "balance.summary"
    assert seen[0].url.params["include[0]"] == "parameters"


def test_a_report_is_retrieved_by_id_from_its_path(make_client, respond):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(200, {**BALANCE_SUMMARY, "default_sql": "SELECT ..."})

    report = DataReports(make_client(handler)).retrieve(
        BALANCE_SUMMARY["id"], include=("parameters", "default_sql")
    )

    assert seen[0].url.path == f"/v2/data/reports/{BALANCE_SUMMARY['id']}"
    assert list(seen[0].url.params.multi_items()) == [
        ("include[0]", "parameters"),
        ("include[1]", "default_sql"),
    ]
    assert report.default_sql == "SELECT ..."


def test_an_unknown_report_name_is_an_invalid_request(make_client, respond):
    handler, _ = paged_server(respond, "reports", [], per_page=10)

    with pytest.raises(InvalidRequestError, match=r"balance\.sumary"):
        DataReports(make_client(handler)).retrieve("balance.sumary")


def test_parameters_are_checked_against_the_report():
    report = DataReport.from_stripe(BALANCE_SUMMARY)
    start, end = datetime(2026, 11, 8, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC)

    assert (
        report.check_parameters({"interval_start": start, "interval_end": "2026-11-09T00:00:00.000Z"}) == []
    )
    assert report.check_parameters(
        {
            "interval_start": datetime(2026, 11, 8),
            "currency": "gbp",
            "reporting_categories": ["charge", "payout"],
            "columns": ["a"],
        }
    ) == [
        "unknown parameter 'columns' (report balance.summary takes currency, interval_end, interval_start, "
        "reporting_categories, timezone)",
        "missing required parameter 'interval_end'",
        "parameter 'interval_start': datetime.datetime(2026, 11, 8, 0, 0) is not a tz-aware datetime or an "
        "RFC 3339 timestamp",
        "parameter 'currency': 'gbp' is not one of usd, eur",
        "parameter 'reporting_categories': 'payout' is not one of charge, refund",
    ]
    assert report.check_parameters({"interval_start": start, "interval_end": end, "timezone": 3}) == [
        "parameter 'timezone': 3 is not a string"
    ]


def test_a_session_carries_the_data_api_runners_on_one_client(respond, clock):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(200, {"data": [], "next_page_url": None})

    settings = StripeSettings(api_key="sk_test_" + "x" * 30, data_api_version="2026-10-14.preview")
    with open_session(settings, transport=httpx.MockTransport(handler), clock=clock) as session:
        assert session.data_schemas.list() == []
        assert session.data_report_catalog.list() == []
        assert session.data_queries._client is session.data_reports._client is session.client
        assert session.data_queries._files is session.files
        assert session.sigma is not None and session.reports is not None

    assert [r.headers["Stripe-Version"] for r in seen] == ["2026-10-14.preview"] * 2
    assert "2026-10-14.preview" in repr(settings) and "x" * 30 not in repr(settings)
