"""Report types and report runs of the Reporting API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import httpx
import pytest

from pipelines.stripe import PollPolicy, ReportRunner
from pipelines.stripe.errors import InvalidRequestError, RunDeadlineExceeded, RunFailedError

AVAILABLE_START = 1_767_225_600  # 2026-01-01T00:00:00Z
AVAILABLE_END = 1_772_323_200  # 2026-03-01T00:00:00Z
CREATED = 1_772_366_400
RESULT_SIZE = 52_431


def reporting_server(respond, error, *, polls=2, final="succeeded", failure=None):
    """Report types plus report runs that stay ``pending`` for ``polls`` GETs, then end as ``final``."""
    state = {"runs": {}, "requests": [], "events": []}

    def handler(request: httpx.Request) -> httpx.Response:
        state["requests"].append(request)
        path = request.url.path
        if path == "/v1/reporting/report_types/balance.summary.1":
            return respond(
                200,
                {
                    "id": "balance.summary.1",
                    "object": "reporting.report_type",
                    "name": "Balance summary",
                    "data_available_start": AVAILABLE_START,
                    "data_available_end": AVAILABLE_END,
                    "default_columns": ["category", "currency", "description", "net_amount"],
                    "livemode": False,
                    "updated": AVAILABLE_END + 60,
                    "version": 1,
                },
            )
        if path.startswith("/v1/reporting/report_types/"):
            return error(404, f"No such report type: '{path.rsplit('/', 1)[1]}'", code="resource_missing")
        if request.method == "POST" and path == "/v1/reporting/report_runs":
            run_id = f"frr_{len(state['runs']) + 1}"
            run = {
                "id": run_id,
                "object": "reporting.report_run",
                "created": CREATED,
                "status": "pending",
                "report_type": dict(parse_qsl(request.content.decode()))["report_type"],
                "result": None,
                "error": None,
                "succeeded_at": None,
                "polls": 0,
            }
            state["runs"][run_id] = run
            state["events"].append(("create", run_id))
            return respond(200, _public(run))
        if request.method == "GET" and path.startswith("/v1/reporting/report_runs/"):
            run = state["runs"][path.rsplit("/", 1)[1]]
            run["polls"] += 1
            state["events"].append(("poll", run["id"]))
            if run["polls"] > polls:
                run["status"] = final
                if final == "succeeded":
                    run["succeeded_at"] = CREATED + 42
                    run["result"] = {
                        "id": f"file_{run['id']}",
                        "object": "file",
                        "purpose": "finance_report_run",
                        "size": RESULT_SIZE,
                        "type": "csv",
                    }
                else:
                    run["error"] = failure
            return respond(200, _public(run))
        return error(404, f"Unrecognized request URL {path}")

    return handler, state


def _public(run):
    return {k: v for k, v in run.items() if k != "polls"}


def test_report_type_exposes_availability_as_utc_datetimes(make_client, respond, error):
    handler, _ = reporting_server(respond, error)

    report_type = ReportRunner(make_client(handler)).report_type("balance.summary.1")

    assert report_type.id == "balance.summary.1"
    assert report_type.name == "Balance summary"
    assert report_type.data_available_start == datetime.fromtimestamp(AVAILABLE_START, UTC)
    assert report_type.data_available_end == datetime.fromtimestamp(AVAILABLE_END, UTC)
    assert report_type.data_available_end.utcoffset() == timedelta(0)
    assert report_type.default_columns == ("category", "currency", "description", "net_amount")


def test_an_unknown_report_type_is_an_invalid_request(make_client, respond, error):
    handler, state = reporting_server(respond, error)

    with pytest.raises(InvalidRequestError, match=r"no_such\.report"):
        ReportRunner(make_client(handler)).report_type("no_such.report")
    assert len(state["requests"]) == 1


def test_a_report_run_is_created_with_bracketed_parameters(make_client, respond, error):
    handler, state = reporting_server(respond, error, polls=0)
    start = datetime(2026, 2, 1, tzinfo=UTC)
    parameters = {
        "interval_start": start,
        "interval_end": start + timedelta(days=7),
        "columns": ["category", "net_amount"],
        "timezone": "Etc/UTC",
    }

    ReportRunner(make_client(handler)).run(
        "balance.summary.1", parameters, idempotency_key="balance-2026-02-01", stripe_account="acct_5"
    )

    post = state["requests"][0]
    assert parse_qsl(post.content.decode()) == [
        ("report_type", "balance.summary.1"),
        ("parameters[interval_start]", str(int(start.timestamp()))),
        ("parameters[interval_end]", str(int((start + timedelta(days=7)).timestamp()))),
        ("parameters[columns][0]", "category"),
        ("parameters[columns][1]", "net_amount"),
        ("parameters[timezone]", "Etc/UTC"),
    ]
    assert post.headers["Idempotency-Key"] == "balance-2026-02-01"
    assert all(r.headers["Stripe-Account"] == "acct_5" for r in state["requests"])


def test_a_report_run_is_polled_from_pending_to_succeeded(make_client, respond, error, clock):
    handler, state = reporting_server(respond, error, polls=3)
    policy = PollPolicy(initial=0.5, factor=2.0, maximum=2.0)
    logged: list[str] = []

    finished = ReportRunner(make_client(handler), poll=policy).run(
        "balance.summary.1",
        {"interval_start": AVAILABLE_START, "interval_end": AVAILABLE_END},
        idempotency_key="k",
        on_created=logged.append,
    )

    assert logged == [finished.id] == ["frr_1"]
    assert finished.status == "succeeded"
    assert finished.file_id == "file_frr_1"
    assert finished.file_size == RESULT_SIZE
    assert finished.created == datetime.fromtimestamp(CREATED, UTC)
    assert finished.finished == datetime.fromtimestamp(CREATED + 42, UTC)
    assert [e[0] for e in state["events"]] == ["create"] + ["poll"] * 4
    assert clock.sleeps == list(_take(policy.intervals(), 4))


def test_a_failed_report_run_raises_with_stripes_reason(make_client, respond, error):
    reason = "We are unable to generate this report at this time. Please try again later."
    handler, _ = reporting_server(respond, error, polls=1, final="failed", failure=reason)

    with pytest.raises(RunFailedError) as caught:
        ReportRunner(make_client(handler)).run("balance.summary.1", {}, idempotency_key="k")

    assert caught.value.message == reason
    assert caught.value.run_id == "frr_1"
    assert "Report run frr_1" in str(caught.value)


def test_a_report_run_past_the_deadline_raises(make_client, respond, error, clock):
    handler, _ = reporting_server(respond, error, polls=10_000)
    policy = PollPolicy(initial=5.0, factor=1.5, maximum=60.0, deadline=600.0)

    with pytest.raises(RunDeadlineExceeded) as caught:
        ReportRunner(make_client(handler), poll=policy).run("balance.summary.1", {}, idempotency_key="k")

    assert caught.value.status == "pending"
    assert caught.value.waited == pytest.approx(policy.deadline)


def test_the_idempotency_key_is_required(make_client, respond, error):
    handler, state = reporting_server(respond, error)

    with pytest.raises(ValueError, match="idempotency key"):
        ReportRunner(make_client(handler)).run("balance.summary.1", {}, idempotency_key="")
    assert state["requests"] == []


def _take(iterator, count):
    return [next(iterator) for _ in range(count)]
