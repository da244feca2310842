"""Landing one chunk, below Dagster: one Stripe job, one download, one window replace."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
from stub_stripe import API_BASE, FILES_BASE, StillClock, StubStripe

from pipelines.errors import StaleResultError, is_retryable
from pipelines.freshness import FreshnessProbe
from pipelines.landing import LandedChunk, Landing
from pipelines.partition_windows import PartitionWindow
from pipelines.sources import ReportSource, SigmaSource
from pipelines.stripe import StripeSession, StripeSettings, open_session
from pipelines.stripe.errors import RunDeadlineExceeded, RunFailedError
from pipelines.warehouse import Column, StaleLoadError, Warehouse, Window

LOG = logging.getLogger("test_landing")
DAY_1 = datetime(2026, 3, 8, tzinfo=UTC)

REPORT = ReportSource(
    name="activity",
    table="activity",
    description="",
    timezone="UTC",
    start_date=date(2026, 1, 1),
    max_days_per_run=31,
    report_type="balance_change_from_activity.itemized.3",
    columns=(Column("id", "text"), Column("amount", "money"), Column("created_utc", "timestamp")),
    split_column="created_utc",
    unique_column="id",
)
QUERY = SigmaSource(
    name="charges_per_day",
    table="charges_per_day",
    description="",
    timezone="UTC",
    start_date=date(2026, 1, 1),
    max_days_per_run=31,
    path=Path("charges_per_day.sql"),
    sql="select day, n from t where day >= :window_start and day < :window_end",
    split_column="day",
)


def days(count: int) -> list[PartitionWindow]:
    return [
        PartitionWindow(key, None, Window(key, DAY_1 + timedelta(days=i), DAY_1 + timedelta(days=i + 1)))
        for i in range(count)
        for key in [(DAY_1 + timedelta(days=i)).date().isoformat()]
    ]


@pytest.fixture
def stub() -> StubStripe:
    return StubStripe()


@pytest.fixture
def session(stub: StubStripe) -> Iterator[StripeSession]:
    settings = StripeSettings(api_key="sk_test_landing", api_base=API_BASE, files_base=FILES_BASE)
    with open_session(settings, transport=stub.transport(), clock=StillClock()) as session:
        yield session


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}") as warehouse:
        yield warehouse


def landing(source, session, warehouse, tmp_path: Path, scope: str = "run-1:0") -> Landing:  # type: ignore[no-untyped-def]
    return Landing(
        source,
        session,
        warehouse,
        probe=FreshnessProbe(session),
        idempotency_scope=scope,
        workdir=tmp_path,
        log=LOG,
    )


def test_a_two_day_chunk_is_one_report_run_and_one_replace_of_both_days(
    stub: StubStripe, session: StripeSession, warehouse: Warehouse, tmp_path: Path
) -> None:
    stub.next_file = (
        "id,amount,created_utc\n"
        "txn_1,12.500,2026-03-08 10:00:00\n"
        "txn_2,-3.000,2026-03-09 23:59:59\n"
        "txn_3,1.000,2026-03-09 00:00:00\n"
    )
    probe = FreshnessProbe(session)
    chunk = days(2)

    landed = landing(REPORT, session, warehouse, tmp_path).land(chunk, probe.freshness(REPORT))

    assert stub.requests["POST /v1/reporting/report_runs"] == 1
    assert landed.rows(chunk[0]) == 1 and landed.rows(chunk[1]) == 2
    assert warehouse.row_counts("activity") == {"2026-03-08": 1, "2026-03-09": 2}
    assert landed.data_load_time == stub.data_available_end
    assert not list(tmp_path.glob("*.csv")), "the result file holds customer data and must not stay behind"


def test_a_report_starting_with_a_byte_order_mark_keeps_its_first_column(
    stub: StubStripe, session: StripeSession, warehouse: Warehouse, tmp_path: Path
) -> None:
    stub.next_file = "\ufeffid,amount,created_utc\ntxn_1,1.000,2026-03-08 10:00:00\n"

    landing(REPORT, session, warehouse, tmp_path).land(days(1), FreshnessProbe(session).freshness(REPORT))

    assert [c.name for c in warehouse.table_columns("activity") or []][:3] == ["id", "amount", "created_utc"]
    assert warehouse.preview("activity", "2026-03-08")[0]["id"] == "txn_1"


def test_a_sigma_result_computed_before_the_window_ended_is_refused_and_retried(
    stub: StubStripe, session: StripeSession, warehouse: Warehouse, tmp_path: Path
) -> None:
    stub.next_file = "day,n,_data_load_time\n2026-03-08,4,2026-03-08 12:00:00.000\n"

    with pytest.raises(StaleResultError, match="before the window ends at 2026-03-09T00:00:00Z") as raised:
        landing(QUERY, session, warehouse, tmp_path).land(days(1), FreshnessProbe(session).freshness(QUERY))

    assert is_retryable(raised.value)
    assert warehouse.table_columns("charges_per_day") is None


def test_a_re_executed_attempt_resumes_the_same_stripe_job_and_a_new_attempt_starts_another(
    stub: StubStripe, session: StripeSession, warehouse: Warehouse, tmp_path: Path
) -> None:
    stub.next_file = "id,amount,created_utc\ntxn_1,1.000,2026-03-08 10:00:00\n"
    freshness = FreshnessProbe(session).freshness(REPORT)

    for scope in ("run-1:0", "run-1:0", "run-1:1"):
        landing(REPORT, session, warehouse, tmp_path, scope=scope).land(days(1), freshness)

    first, again, retried = stub.idempotency_keys
    assert first == again != retried


def test_the_probe_asks_stripe_once_per_report_type_and_splits_ready_from_early_days(
    stub: StubStripe, session: StripeSession
) -> None:
    stub.data_available_end = DAY_1 + timedelta(days=1, hours=6)
    probe = FreshnessProbe(session)
    twin = ReportSource(**{**REPORT.__dict__, "name": "activity_twin", "table": "activity_twin"})

    readiness = probe.readiness(REPORT, days(3))
    probe.readiness(twin, days(3))

    assert stub.requests["GET /v1/reporting/report_types/balance_change_from_activity.itemized.3"] == 1
    assert [p.partition_key for p in readiness.ready] == ["2026-03-08"]
    assert [p.partition_key for p in readiness.early] == ["2026-03-09", "2026-03-10"]
    assert "2026-03-09, 2026-03-10 end at 2026-03-11T00:00:00Z" in readiness.early_reason()


def test_sigma_freshness_is_one_query_run_per_account(stub: StubStripe, session: StripeSession) -> None:
    probe = FreshnessProbe(session)

    loaded = {probe.freshness(QUERY, account).loaded_until for account in (None, None, "acct_1", "acct_1")}

    assert loaded == {stub.data_load_time}
    assert stub.requests["POST /v1/sigma/query_runs"] == 2


def test_a_stuck_run_is_given_up_after_the_time_a_job_of_its_size_takes(
    stub: StubStripe, warehouse: Warehouse, tmp_path: Path
) -> None:
    stub.run_status = "pending"
    clock = StillClock()
    settings = StripeSettings(
        api_key="sk_test_landing",
        api_base=API_BASE,
        files_base=FILES_BASE,
        run_deadline_base_seconds=30,
        run_deadline_per_day_seconds=10,
    )
    with (
        open_session(settings, transport=stub.transport(), clock=clock) as session,
        pytest.raises(RunDeadlineExceeded) as raised,
    ):
        landing(REPORT, session, warehouse, tmp_path).land(days(3), FreshnessProbe(session).freshness(REPORT))

    # 30 s + 3 days x 10 s, not the hour the resource allows at most.
    assert 60 <= raised.value.waited < 75
    assert warehouse.table_columns("activity") is None


def test_a_result_computed_from_older_data_never_replaces_a_newer_one(
    stub: StubStripe, session: StripeSession, warehouse: Warehouse, tmp_path: Path
) -> None:
    # A backfill started before Stripe's late correction commits after a single-day run that saw it.
    stub.next_file = "id,amount,created_utc\ntxn_1,2.000,2026-03-08 10:00:00\n"
    stub.data_available_end = datetime(2026, 3, 12, tzinfo=UTC)
    landing(REPORT, session, warehouse, tmp_path).land(days(1), FreshnessProbe(session).freshness(REPORT))
    stub.next_file = "id,amount,created_utc\ntxn_1,1.000,2026-03-08 10:00:00\n"
    stub.data_available_end = datetime(2026, 3, 10, tzinfo=UTC)

    with pytest.raises(StaleLoadError, match="2026-03-12T00:00:00") as raised:
        landing(REPORT, session, warehouse, tmp_path, scope="run-2:0").land(
            days(1), FreshnessProbe(session).freshness(REPORT)
        )

    assert not is_retryable(raised.value)
    assert [row["amount"] for row in warehouse.preview("activity", "2026-03-08")] == [Decimal("2.000")]


# -- many chunks: Stripe jobs kept in flight ------------------------------------------------------


def _per_day_runs(stub: StubStripe, failing_day: str | None = None) -> None:
    """Report runs whose file holds one row on the day of their interval; ``failing_day``'s run fails."""

    def create(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        day = datetime.fromtimestamp(int(form["parameters[interval_start]"]), UTC)
        file_id = stub.add_file(f"id,amount,created_utc\ntxn_{day:%d},1.000,{day:%Y-%m-%d} 12:00:00\n")
        run = {"id": f"frr_{day:%d}", "object": "reporting.report_run", "created": 1772323200}
        if f"{day:%Y-%m-%d}" == failing_day:
            run |= {"status": "failed", "error": "Stripe could not compute this report", "result": None}
        else:
            run |= {"status": "succeeded", "result": {"id": file_id, "size": len(stub.files[file_id])}}
        stub.runs[run["id"]] = run
        return httpx.Response(200, json=run)

    stub.extra_routes["POST /v1/reporting/report_runs"] = create


def _chunks_of_one_day(count: int) -> list[list[PartitionWindow]]:
    return [[day] for day in days(count)]


def _settled_fetches() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("stripe-fetch-"):
            thread.join(timeout=10)


def _created_and_loaded(caplog: pytest.LogCaptureFixture) -> list[str]:
    events = []
    for record in caplog.records:
        message = record.getMessage()
        if "created; waiting" in message:
            events.append("created " + message.split("Stripe run ")[1].split()[0])
        elif " rows for " in message:
            events.append("loaded " + message.split("from Stripe run ")[1].split()[0])
    return events


@contextmanager
def _landing_days(
    stub: StubStripe, warehouse: Warehouse, tmp_path: Path, count: int, jobs_in_flight: int
) -> Iterator[Iterator[LandedChunk]]:
    """``land_all`` over ``count`` one-day chunks of REPORT, with ``jobs_in_flight`` jobs at once."""
    settings = StripeSettings(
        api_key="sk_test_landing", api_base=API_BASE, files_base=FILES_BASE, jobs_in_flight=jobs_in_flight
    )
    with open_session(settings, transport=stub.transport(), clock=StillClock()) as session:
        freshness = FreshnessProbe(session).freshness(REPORT)
        yield landing(REPORT, session, warehouse, tmp_path).land_all(_chunks_of_one_day(count), freshness)


def test_a_run_of_day_chunks_keeps_stripe_jobs_in_flight_while_earlier_days_load(
    stub: StubStripe, warehouse: Warehouse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _per_day_runs(stub)
    caplog.set_level(logging.INFO, logger=LOG.name)
    with _landing_days(stub, warehouse, tmp_path, 4, jobs_in_flight=3) as results:
        landed = list(results)

    assert [chunk.stripe_run_id for chunk in landed] == ["frr_08", "frr_09", "frr_10", "frr_11"]
    assert warehouse.row_counts("activity") == {f"2026-03-{d:02}": 1 for d in (8, 9, 10, 11)}
    events = _created_and_loaded(caplog)
    # Three jobs were going before any day loaded; the fourth started only once the first was in.
    assert set(events[:3]) == {"created frr_08", "created frr_09", "created frr_10"}
    assert [e for e in events if e.startswith("loaded")] == [f"loaded frr_{d:02}" for d in (8, 9, 10, 11)]


def test_one_job_in_flight_runs_each_day_after_the_one_before(
    stub: StubStripe, warehouse: Warehouse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _per_day_runs(stub)
    caplog.set_level(logging.INFO, logger=LOG.name)
    with _landing_days(stub, warehouse, tmp_path, 3, jobs_in_flight=1) as results:
        list(results)

    assert _created_and_loaded(caplog) == [
        f"{what} frr_{d:02}" for d in (8, 9, 10) for what in ("created", "loaded")
    ]


def test_a_failed_day_stops_the_run_after_the_days_before_it_and_leaves_no_file(
    stub: StubStripe, warehouse: Warehouse, tmp_path: Path
) -> None:
    _per_day_runs(stub, failing_day="2026-03-09")
    with _landing_days(stub, warehouse, tmp_path, 4, jobs_in_flight=3) as results:
        with pytest.raises(RunFailedError, match="could not compute"):
            for _ in results:
                pass
        _settled_fetches()

    # The day before the failure landed; the days fetched after it never load.
    assert warehouse.row_counts("activity") == {"2026-03-08": 1}
    assert list(tmp_path.glob("*.csv")) == []
