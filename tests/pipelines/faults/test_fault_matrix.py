"""The fault-injection matrix: every fault ends in the fault-free table, or in an unchanged table and
an error that says what Stripe said.

Each test lands a partition through Dagster, the HTTP client and the emulator while the emulator
injects one fault, then compares the table with a fault-free landing of the same partition (rows as
a multiset: none lost, none extra). Load-path faults run on DuckDB and on PostgreSQL. Every test also
searches Dagster's storage and the captured output for the API key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fault_tally import record_outcome

from pipelines.catalog import load_catalog
from pipelines.freshness import Freshness, FreshnessProbe

from .conftest import Attempt, Harness, Partition
from .fault_tables import Table, difference

DAY = "2026-11-08"
ACTIVITY = "balance_change_from_activity_itemized_3"
SUMMARY = "balance_summary_1"
SIGMA = "daily_activity_by_category"

REPORT_RUNS = "/v1/reporting/report_runs"
QUERY_RUNS = "/v1/sigma/query_runs"
CONTENTS = "/v1/files/*/contents"

BOTH = ("duckdb", pytest.param("postgres", marks=pytest.mark.postgres))
DUCKDB = ("duckdb",)


def _rule(kind: str, method: str, path: str, **options: Any) -> dict[str, Any]:
    return {"kind": kind, "method": method, "path": path, **options}


def _check_no_leak(
    harness: Harness, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    captured = capfd.readouterr()
    assert harness.leaks(captured.out, captured.err, caplog.text) == []


def _table_of(harness: Harness, name: str) -> str:
    return harness.catalog.get(name).table


# --------------------------------------------------------------------------------------------------
# Transient faults: retried (by the client, or by Dagster's retry policy) into the fault-free table.


@dataclass(frozen=True)
class Transient:
    """A fault a retry gets past. ``runs``: Stripe jobs created, freshness probes included."""

    name: str
    asset: str
    rules: tuple[dict[str, Any], ...]
    runs: Mapping[str, int]
    step_restarts: int = 0
    partition: Partition = DAY
    stripe: Mapping[str, Any] = field(default_factory=dict)
    replays: int | None = None
    requests: Mapping[str, int] = field(default_factory=dict)
    backends: tuple[Any, ...] = DUCKDB

    def __str__(self) -> str:
        return self.name


TRANSIENT = [
    Transient(
        "http_429 with Stripe-Should-Retry and Retry-After",
        ACTIVITY,
        (_rule("http_429", "POST", REPORT_RUNS, nth=[1, 2], retry_after=0.2),),
        runs={"report_run": 1},
        requests={f"POST {REPORT_RUNS}": 3},
    ),
    Transient(
        "http_500 while polling a report run",
        ACTIVITY,
        (_rule("http_500", "GET", f"{REPORT_RUNS}/*", nth=[1]),),
        runs={"report_run": 1},
    ),
    Transient(
        "http_502 reading a result file's metadata",
        SUMMARY,
        (_rule("http_502", "GET", "/v1/files/*", nth=[1]),),
        runs={"report_run": 1},
    ),
    Transient(
        "http_503 creating a Sigma query run",
        SIGMA,
        # The first query run is the freshness probe; the second is the window's query.
        (_rule("http_503", "POST", QUERY_RUNS, nth=[2]),),
        runs={"query_run": 2},
        requests={f"POST {QUERY_RUNS}": 3},
    ),
    Transient(
        "http_500 with Stripe-Should-Retry: false",
        ACTIVITY,
        (_rule("http_500", "POST", REPORT_RUNS, nth=[1], should_retry=False),),
        # The client believes Stripe and does not repeat the request; Dagster's retry policy runs
        # the step again, which creates the job.
        runs={"report_run": 1},
        step_restarts=1,
        requests={f"POST {REPORT_RUNS}": 2},
    ),
    Transient(
        "dropped connection creating a report run",
        ACTIVITY,
        (_rule("drop_connection", "POST", REPORT_RUNS, nth=[1]),),
        runs={"report_run": 1},
    ),
    Transient(
        "Idempotency-Key replay: response lost after Stripe created the run (ranged run)",
        ACTIVITY,
        (_rule("drop_after_commit", "POST", REPORT_RUNS, nth=[1]),),
        runs={"report_run": 1},
        partition=("2026-11-05", "2026-11-07"),
        replays=1,
    ),
    Transient(
        "slow response past the client's timeout creating a report run",
        ACTIVITY,
        # The held request keeps its idempotency key busy (409 to retries) until Stripe answers it;
        # then the retry is served the stored response.
        (_rule("slow", "POST", REPORT_RUNS, nth=[1], seconds=2.5),),
        runs={"report_run": 1},
        stripe={"request_timeout_seconds": 1.0},
        replays=1,
    ),
    Transient(
        "slow download past the client's timeout",
        ACTIVITY,
        (_rule("slow", "GET", CONTENTS, nth=[1], seconds=2.5),),
        runs={"report_run": 1},
        stripe={"request_timeout_seconds": 1.0},
        requests={"GET /v1/files/{id}/contents": 2},
    ),
    Transient(
        "download cut short",
        ACTIVITY,
        (_rule("truncate_download", "GET", CONTENTS, nth=[1]),),
        runs={"report_run": 1},
        requests={"GET /v1/files/{id}/contents": 2},
        backends=BOTH,
    ),
    Transient(
        "download cut short: Sigma's freshness result",
        SIGMA,
        (_rule("truncate_download", "GET", CONTENTS, nth=[1], bytes=5),),
        runs={"query_run": 2},
    ),
    Transient(
        "report run ends failed (Stripe's internal error)",
        ACTIVITY,
        (_rule("run_failed", "POST", REPORT_RUNS, nth=[1]),),
        # A failed report run is worth another job: the retried step's new idempotency scope
        # starts one.
        runs={"report_run": 2},
        step_restarts=1,
    ),
    Transient(
        "column added to a report's file",
        ACTIVITY,
        (_rule("add_column", "POST", REPORT_RUNS, nth=[1], column="settlement_batch", value="b1"),),
        runs={"report_run": 1},
        backends=BOTH,
    ),
]


@pytest.mark.parametrize(
    ("fault", "backend"),
    [
        pytest.param(f, b, id=f"{f.name} [{getattr(b, 'values', [b])[0]}]")
        for f in TRANSIENT
        for b in f.backends
    ],
)
def test_a_transient_fault_ends_in_the_fault_free_table(
    fault: Transient,
    backend: Any,
    make_harness: Callable[..., Harness],
    record_property: Callable[[str, object], None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = make_harness(backend)
    expected = harness.expected(fault.asset, fault.partition)
    for rule in fault.rules:
        harness.fault(rule)

    attempt = harness.run(fault.asset, fault.partition, **fault.stripe)

    actual = harness.table(_table_of(harness, fault.asset))
    added = [r["column"] for r in fault.rules if r["kind"] == "add_column"]
    if actual.exists and added and set(added) <= set(actual.columns):
        extra = actual.only(added).rows or ()
        actual = actual.only(expected.columns)
    else:
        extra = ()
    diff = difference(expected, actual)
    record_outcome(
        record_property,
        str(fault),
        correct=attempt.success and diff.none,
        lost=diff.lost,
        duplicated=diff.duplicated,
        succeeded=attempt.success,
    )
    assert attempt.success, attempt.messages
    assert diff.none, diff
    assert all(row == tuple(r["value"] for r in fault.rules if r["kind"] == "add_column") for row in extra)
    stats = harness.stats()
    for rule in fault.rules:
        assert stats["faults_fired"].get(rule["kind"], 0) >= 1, "the fault never fired"
    assert stats["runs_created"] == dict(fault.runs)  # no second Stripe job for a retried request
    assert attempt.step_restarts == fault.step_restarts
    requests = harness.requests_once_settled(fault.requests)
    for route, count in fault.requests.items():
        assert requests[route] == count, route
    if fault.replays is not None:
        assert stats["idempotent_replays"] == fault.replays
    _check_no_leak(harness, capfd, caplog)


def test_a_failed_report_run_is_retried_with_stripes_reason_in_the_run_log(
    harness: Harness, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    message = "The report run failed because of an internal error. Please create a new report run."
    harness.fault(_rule("run_failed", "POST", REPORT_RUNS, nth=[1], message=message))

    attempt = harness.run(ACTIVITY, DAY)

    assert attempt.success, attempt.messages
    assert attempt.step_restarts == 1
    assert message in attempt.log and re.search(r"Report run frr_\w+ ended with status 'failed'", attempt.log)
    _check_no_leak(harness, capfd, caplog)


# --------------------------------------------------------------------------------------------------
# Faults that end the run: the table keeps every row it had (not even reloaded), and the error
# names what went wrong.


@dataclass(frozen=True)
class Refused:
    """A fault that fails the run. ``messages`` are patterns the run's failure must contain."""

    name: str
    asset: str
    rules: tuple[dict[str, Any], ...]
    messages: tuple[str, ...]
    requests: Mapping[str, int]
    step_restarts: int = 0
    backends: tuple[Any, ...] = DUCKDB

    def __str__(self) -> str:
        return self.name


REFUSED = [
    Refused(
        "Sigma query run ends failed",
        SIGMA,
        (_rule("run_failed", "POST", QUERY_RUNS, nth=[2]),),
        messages=(
            r"Sigma query run qry_\w+ ended with status 'failed'",
            "Query execution failed because of an internal error",
        ),
        # A Sigma run fails on its SQL, which another run would not change: no retry.
        requests={f"POST {QUERY_RUNS}": 2},
    ),
    Refused(
        "malformed CSV row: unterminated quote",
        ACTIVITY,
        (_rule("malformed_csv", "POST", REPORT_RUNS, line=3),),
        messages=(r"frr_\w+\.csv, line 3: ", "nothing was loaded"),
        # A file Stripe wrote broken is refused once: the same data gives the same file again.
        requests={f"POST {REPORT_RUNS}": 1},
    ),
    Refused(
        "malformed CSV row: wrong number of fields",
        ACTIVITY,
        (_rule("malformed_csv", "POST", REPORT_RUNS, line=4, style="field_count"),),
        messages=(r"frr_\w+\.csv, line 4: expected \d+ fields \(as in the header\), found \d+",),
        requests={f"POST {REPORT_RUNS}": 1},
        backends=BOTH,
    ),
    Refused(
        "column removed from a report's file",
        ACTIVITY,
        (_rule("remove_column", "POST", REPORT_RUNS, nth=[1], column="fee"),),
        messages=(r"frr_\w+\.csv lacks declared column\(s\) `fee`", "nothing was loaded"),
        requests={f"POST {REPORT_RUNS}": 1},
        backends=BOTH,
    ),
    Refused(
        "row duplicated in a report's file",
        ACTIVITY,
        (_rule("duplicate_row", "POST", REPORT_RUNS, nth=[1], line=3),),
        messages=(
            rf"frr_\w+\.csv: balance_transaction_id '\w+' appears 2 times in {DAY}",
            "nothing was loaded",
        ),
        requests={f"POST {REPORT_RUNS}": 1},
        backends=BOTH,
    ),
]


def _assert_unchanged(
    fault: str,
    before: Table,
    after: Table,
    attempt: Attempt,
    record_property: Callable[[str, object], None],
) -> None:
    diff = difference(before, after)
    record_outcome(
        record_property,
        fault,
        correct=not attempt.success and after == before,
        lost=diff.lost,
        duplicated=diff.duplicated,
        succeeded=attempt.success,
    )
    assert not attempt.success
    assert after == before, diff


@pytest.mark.parametrize(
    ("fault", "backend"),
    [
        pytest.param(f, b, id=f"{f.name} [{getattr(b, 'values', [b])[0]}]")
        for f in REFUSED
        for b in f.backends
    ],
)
def test_a_refused_result_leaves_the_table_as_it_was_and_says_why(
    fault: Refused,
    backend: Any,
    make_harness: Callable[..., Harness],
    record_property: Callable[[str, object], None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = make_harness(backend)
    before = harness.preload(fault.asset, DAY)
    for rule in fault.rules:
        harness.fault(rule)

    attempt = harness.run(fault.asset, DAY)

    _assert_unchanged(
        str(fault), before, harness.full_table(_table_of(harness, fault.asset)), attempt, record_property
    )
    for pattern in fault.messages:
        assert re.search(pattern, attempt.messages), (pattern, attempt.messages)
    assert attempt.step_restarts == fault.step_restarts
    stats = harness.stats()
    for route, count in fault.requests.items():
        assert stats["requests"][route] == count, route
    _check_no_leak(harness, capfd, caplog)


# --------------------------------------------------------------------------------------------------
# Permanent errors: fail at the first attempt, with Stripe's message and request id, no retry storm.


def test_a_bad_api_key_fails_once_with_stripes_message(
    harness: Harness,
    record_property: Callable[[str, object], None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = harness.preload(ACTIVITY, DAY)
    bad_key = "sk_live_51Rv8Kq2Xz6Wm3Tn9Pb5Hy4Lc7Jd0Gf1wxyz"

    attempt = harness.run(ACTIVITY, DAY, api_key=bad_key)

    _assert_unchanged("bad API key", before, harness.full_table(ACTIVITY), attempt, record_property)
    assert re.search(
        r"Invalid API Key provided: sk_live_\*+wxyz \(HTTP 401, request_id req_\w+\)", attempt.messages
    )
    assert attempt.step_restarts == 0
    assert sum(harness.stats()["requests"].values()) == 1  # the first request failed, nothing repeated it
    _check_no_leak(harness, capfd, caplog)


def test_bad_sql_fails_once_with_sigmas_message(
    harness: Harness,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (tmp_path / "reports.yaml").write_text("reports: []\n")
    query = sql_dir / "refunds_per_day.sql"
    template = (
        "-- partition_column: day\n"
        "select date_trunc('day', created) as day, count(*) as refunds, sum({column}) as amount\n"
        "from refunds where created >= :window_start and created < :window_end group by 1\n"
    )
    query.write_text(template.format(column="amount"))
    before = harness.preload("refunds_per_day", DAY, catalog=load_catalog(tmp_path / "reports.yaml", sql_dir))
    query.write_text(template.format(column="amount_refunded_in_cents"))

    attempt = harness.run("refunds_per_day", DAY, catalog=load_catalog(tmp_path / "reports.yaml", sql_dir))

    _assert_unchanged("bad SQL", before, harness.full_table("refunds_per_day"), attempt, record_property)
    assert re.search(
        r"Sigma query run qry_\w+ ended with status 'failed': .*amount_refunded_in_cents", attempt.messages
    )
    assert attempt.step_restarts == 0
    assert harness.stats()["requests"][f"POST {QUERY_RUNS}"] == 2  # the freshness probe and the query
    _check_no_leak(harness, capfd, caplog)


def test_an_unknown_report_type_fails_once_with_stripes_message(
    harness: Harness,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "reports.yaml").write_text(
        "reports:\n"
        "  - report_type: balance_change_from_activity.itemized.99\n"
        "    name: future_activity\n"
        "    split_column: created_utc\n"
        "    columns: {balance_transaction_id: text, created_utc: timestamp, net: money}\n"
    )
    catalog = load_catalog(tmp_path / "reports.yaml", tmp_path / "no-sql")
    before = harness.full_table("future_activity")

    attempt = harness.run("future_activity", DAY, catalog=catalog)

    _assert_unchanged(
        "unknown report type", before, harness.full_table("future_activity"), attempt, record_property
    )
    assert re.search(
        r"No such report type: 'balance_change_from_activity\.itemized\.99' "
        r"\(HTTP 404, code resource_missing, param id, request_id req_\w+\)",
        attempt.messages,
    )
    assert attempt.step_restarts == 0
    assert sum(harness.stats()["requests"].values()) == 1
    _check_no_leak(harness, capfd, caplog)


def test_an_interval_past_stripes_data_fails_once_with_stripes_message(
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = harness.preload(ACTIVITY, DAY)
    # The freshness guard normally keeps such a day from reaching Stripe; with a probe that believes
    # Stripe's data reaches the end of time, Stripe itself must refuse the interval.
    end_of_data = harness.emulator.engine.data_end
    monkeypatch.setattr(
        FreshnessProbe, "freshness", lambda self, source, account=None: Freshness(end_of_data, "test")
    )

    attempt = harness.run(ACTIVITY, "2026-11-10")

    _assert_unchanged(
        "interval past data_available_end", before, harness.full_table(ACTIVITY), attempt, record_property
    )
    assert re.search(
        r"parameters\[interval_end\] must be at most data_available_end .*"
        r"\(HTTP 400, param parameters\[interval_end\], request_id req_\w+\)",
        attempt.messages,
    )
    assert attempt.step_restarts == 0
    stats = harness.stats()
    assert stats["requests"][f"POST {REPORT_RUNS}"] == 1 and stats["runs_created"] == {}
    _check_no_leak(harness, capfd, caplog)


def test_a_restricted_key_without_a_permission_fails_once_naming_it(
    harness: Harness,
    record_property: Callable[[str, object], None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = harness.preload(ACTIVITY, DAY)
    key = "rk_test_51Mx4Tq8Zr2Wk6Vb9Np3Hc7Ly5Dq2kl3z"
    harness.register_key(key, ["rak_report_type_read", "rak_report_run_read", "rak_file_read"])

    attempt = harness.run(ACTIVITY, DAY, api_key=key)

    _assert_unchanged(
        "restricted key lacking a permission", before, harness.full_table(ACTIVITY), attempt, record_property
    )
    assert re.search(
        r"The provided key 'rk_test_\*+kl3z' does not have the required permissions .*"
        r"Having the 'rak_report_run_write' permission would allow this request to continue\. "
        r"\(HTTP 403, request_id req_\w+\)",
        attempt.messages,
    )
    assert attempt.step_restarts == 0
    assert harness.stats()["requests"][f"POST {REPORT_RUNS}"] == 1
    _check_no_leak(harness, capfd, caplog)


# --------------------------------------------------------------------------------------------------
# A run stuck at Stripe: the deadline fails it clearly, and the next run lands the same window.


def test_a_run_stuck_past_the_deadline_fails_clearly_and_the_next_run_lands_the_window(
    harness: Harness,
    record_property: Callable[[str, object], None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    expected = harness.expected(ACTIVITY, DAY)
    harness.fault(_rule("run_stuck", "POST", REPORT_RUNS, nth=[1]))

    stuck = harness.run(ACTIVITY, DAY, run_deadline_seconds=1.0)

    assert not stuck.success
    assert not harness.table(ACTIVITY).exists
    assert re.search(
        r"Report run frr_\w+ was still 'pending' after waiting \d+\.\d s \(the Stripe resource's "
        r"run_deadline_seconds\); nothing was loaded\. "
        r"The next run of this partition starts a new Stripe job",
        stuck.messages,
    )
    assert stuck.step_restarts == 0

    harness.clear_faults()
    again = harness.run(ACTIVITY, DAY, run_deadline_seconds=1.0)

    diff = difference(expected, harness.table(ACTIVITY))
    record_outcome(
        record_property,
        "run stuck past the deadline",
        correct=again.success and diff.none,
        lost=diff.lost,
        duplicated=diff.duplicated,
        succeeded=again.success,
    )
    assert again.success, again.messages
    assert diff.none, diff
    assert harness.stats()["runs_created"] == {"report_run": 2}
    _check_no_leak(harness, capfd, caplog)
