"""/v2/data query runs and report runs: create, poll to a terminal status, judge each failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.stripe import DataQueryRunner, DataReportRunner, DataRun, PollPolicy
from pipelines.stripe.errors import APIError, RunDeadlineExceeded, RunFailedError

SQL = "SELECT id, amount FROM balance_transactions"


def test_a_query_run_is_polled_until_it_succeeds(make_client, data_api, clock):
    api = data_api(polls=3)
    created: list[str] = []

    def on_created(run_id: str) -> None:
        created.append(run_id)
        assert len(api.of("GET")) == 0  # reported before any waiting

    run = DataQueryRunner(make_client(api.handler)).run(
        SQL, idempotency_key="window-1", stripe_context="acct_9", on_created=on_created
    )

    (post,) = api.of("POST")
    assert json.loads(post.content) == {"dataset": "analytical", "format": "csv", "query": {"sql": SQL}}
    assert post.headers["Idempotency-Key"] == "window-1"
    assert {r.headers["Stripe-Context"] for r in api.requests} == {"acct_9"}
    assert created == ["qrun_1"]
    assert len(api.of("GET")) == 4
    assert clock.sleeps == pytest.approx([0.05, 0.075, 0.1125, 0.16875])
    assert (run.id, run.kind, run.status, run.stripe_context) == (
        "qrun_1",
        "query_run",
        "succeeded",
        "acct_9",
    )


def test_a_finished_run_reads_int64_strings_as_ints_and_rfc3339_as_utc(make_client, data_api, clock):
    api = data_api(polls=0, declared_size=9_007_199_254_740_993)  # beyond a double's exact integers

    run = DataQueryRunner(make_client(api.handler)).run(SQL, idempotency_key="k")

    assert run.row_count == 2 and run.col_count == 2
    assert run.file_size == 9_007_199_254_740_993
    assert run.columns == (("id", "varchar"), ("amount", "bigint"))
    assert run.created == clock.start  # nanoseconds in the wire value
    assert run.refreshed_at == clock.start - timedelta(hours=2)
    assert run.refreshed_at.tzinfo is UTC
    assert run.expires_at == clock.now() + timedelta(seconds=300)
    assert run.download_url is not None and run.download_url.startswith("https://storage.")
    assert run.download_url not in repr(run)  # a pre-signed link grants access on its own


@pytest.mark.parametrize(
    "bad", [{"row_count": "2.0"}, {"row_count": " 2"}, {"row_count": True}, {"col_count": []}]
)
def test_a_count_that_is_not_an_int64_string_is_an_api_error(bad):
    obj = {"id": "qrun_1", "status": "succeeded", "result": {"row_count": "2", "col_count": "2", **bad}}

    with pytest.raises(APIError, match="64-bit integer"):
        DataRun.from_stripe(obj, kind="query_run", stripe_context=None)


def test_a_replayed_key_resumes_the_same_run(make_client, data_api):
    api = data_api(polls=0)
    runner = DataQueryRunner(make_client(api.handler))

    first = runner.run(SQL, idempotency_key="same")
    second = runner.run(SQL, idempotency_key="same")

    assert first.id == second.id == "qrun_1"
    assert len(api.runs) == 1


@pytest.mark.parametrize(
    ("final", "details", "retryable", "in_message"),
    [
        (
            "failed",
            {"code": "query_run_invalid_sql", "message": "Column 'amout' cannot be resolved"},
            False,
            "Column 'amout' cannot be resolved",
        ),
        (
            "failed",
            {"code": "internal_error", "message": "Something went wrong"},
            True,
            "Something went wrong",
        ),
        (
            "failed",
            {"code": "file_size_above_limit", "message": "Result too large"},
            False,
            "max_days_per_run",
        ),
        (
            "canceled",
            {"code": None, "message": None, "canceled_at": "2026-03-01T12:00:05.000Z"},
            True,
            "canceled",
        ),
        ("failed", {"code": "a_code_stripe_adds_later", "message": "New"}, True, "New"),
        ("failed", None, True, "no reason"),
    ],
)
def test_each_failure_says_whether_running_again_can_help(
    make_client, data_api, final, details, retryable, in_message
):
    api = data_api(polls=1, final=final, status_details=details)

    with pytest.raises(RunFailedError) as caught:
        DataQueryRunner(make_client(api.handler)).run(SQL, idempotency_key="k")

    failure = caught.value
    assert failure.retryable is retryable
    assert in_message in str(failure)
    assert (failure.run_id, failure.status) == ("qrun_1", final)
    assert failure.code == (details or {}).get("code")
    assert len(api.of("POST")) == 1


def test_a_run_still_going_at_the_deadline_raises(make_client, data_api, clock):
    api = data_api(polls=10_000)
    runner = DataQueryRunner(make_client(api.handler), poll=PollPolicy(initial=1, maximum=5, deadline=600))

    with pytest.raises(RunDeadlineExceeded) as caught:
        runner.run(SQL, idempotency_key="k", deadline=30)

    assert caught.value.run_id == "qrun_1" and caught.value.status == "running"
    assert clock.elapsed == pytest.approx(30)


def test_a_query_run_needs_sql_and_an_idempotency_key(make_client, data_api):
    api = data_api()
    runner = DataQueryRunner(make_client(api.handler))

    with pytest.raises(ValueError):
        runner.run("  ", idempotency_key="k")
    with pytest.raises(ValueError):
        runner.run(SQL, idempotency_key="")
    assert api.requests == []


def test_a_report_run_sends_the_report_by_name_and_rfc3339_intervals(make_client, data_api):
    api = data_api(polls=1)

    run = DataReportRunner(make_client(api.handler)).run(
        "balance.summary",
        {
            "interval_start": datetime(2026, 11, 8, tzinfo=UTC),
            "interval_end": datetime(2026, 11, 9, tzinfo=UTC),
            "currency": "usd",
        },
        idempotency_key="report-window",
    )

    (post,) = api.of("POST")
    assert post.url.path == "/v2/data/report_runs"
    assert json.loads(post.content) == {
        "report": {"name": "balance.summary"},
        "parameters": {
            "interval_start": "2026-11-08T00:00:00.000Z",
            "interval_end": "2026-11-09T00:00:00.000Z",
            "currency": "usd",
        },
        "format": "csv",
    }
    assert [r.url.path for r in api.of("GET")] == ["/v2/data/report_runs/rrun_1"] * 2
    assert (run.id, run.kind, run.row_count) == ("rrun_1", "report_run", 2)


def test_a_failed_report_run_is_judged_by_its_code_too(make_client, data_api):
    api = data_api(
        polls=0, final="failed", status_details={"code": "file_size_above_limit", "message": "Too big"}
    )

    with pytest.raises(RunFailedError) as caught:
        DataReportRunner(make_client(api.handler)).run("balance.summary", {}, idempotency_key="k")

    assert not caught.value.retryable
    assert caught.value.run_kind == "Data report run"
