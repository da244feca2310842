"""The client against the Stripe emulator over real HTTP: runs, failures, keys, faults and downloads.

Only the base URL and the key differ from production, so these tests exercise the same code paths a
deployment does, including connection handling, retries on injected faults and streamed downloads.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pipelines.stripe import (
    Backoff,
    FileDownloader,
    PollPolicy,
    ReportRunner,
    SavedQueries,
    SigmaRunner,
    StripeClient,
)
from pipelines.stripe.errors import (
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    RunFailedError,
)

server = pytest.importorskip("stripe_emulator.server", reason="the Stripe emulator is not available")
config = pytest.importorskip("stripe_emulator.config")

SECRET_KEY = "sk_test_emulatorClientSuite0123456789"
RESTRICTED_KEY = "rk_test_emulatorReportsReadOnly0123"
FAST_BACKOFF = Backoff(initial=0.05, factor=2.0, maximum=0.2, max_retry_after=0.5)
FAST_POLL = PollPolicy(initial=0.05, factor=1.5, maximum=0.25, deadline=60.0)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = config.EmulatorConfig(
        seed=11,
        days=20,
        scale=40,
        connected_accounts=2,
        run_delay=0.05,
        rate_limit=1000.0,
        test_rate_limit=1000.0,
        files_dir=tmp_path_factory.mktemp("emulator-files"),
    )
    with server.EmulatorServer(settings) as running:
        yield running


@pytest.fixture
def control(emulator: Any) -> Iterator[httpx.Client]:
    """The emulator's control API, reset before each test."""
    with httpx.Client(base_url=f"{emulator.url}/_emulator", timeout=10) as client:
        client.post("/reset").raise_for_status()
        client.delete("/faults").raise_for_status()
        yield client


@pytest.fixture
def client(emulator: Any, control: httpx.Client) -> Iterator[StripeClient]:
    with StripeClient(
        SECRET_KEY, api_base=emulator.url, files_base=emulator.url, timeout=10.0, backoff=FAST_BACKOFF
    ) as stripe:
        yield stripe


def _loaded_until(control: httpx.Client) -> datetime:
    return datetime.fromtimestamp(control.get("/state").json()["data_load_time_unix"], UTC)


def _last_full_day(control: httpx.Client) -> tuple[datetime, datetime]:
    end = _loaded_until(control).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=1), end


def _read_csv(path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def _add_fault(control: httpx.Client, **rule: Any) -> None:
    control.post("/faults", json=rule).raise_for_status()


def test_report_type_availability_matches_the_emulators_clock(client, control):
    report_type = ReportRunner(client).report_type("balance.summary.1")

    assert report_type.data_available_end == _loaded_until(control).replace(microsecond=0)
    assert report_type.data_available_start < report_type.data_available_end


def test_a_report_run_finishes_and_its_file_downloads(client, control, tmp_path):
    start, end = _last_full_day(control)
    columns = ["category", "currency", "description", "net_amount"]
    created: list[str] = []

    run = ReportRunner(client, poll=FAST_POLL).run(
        "balance.summary.1",
        {"interval_start": start, "interval_end": end, "columns": columns},
        idempotency_key="report-suite-1",
        on_created=created.append,
    )
    downloaded = FileDownloader(client).download(run.file_id, tmp_path / "balance.csv")

    assert created == [run.id]
    assert run.status == "succeeded"
    assert downloaded.size == run.file_size == downloaded.path.stat().st_size
    assert _read_csv(downloaded.path)[0] == columns


def test_reusing_the_idempotency_key_resumes_the_same_report_run(client, control):
    start, end = _last_full_day(control)
    runner = ReportRunner(client, poll=FAST_POLL)
    parameters = {"interval_start": start, "interval_end": end}

    first = runner.run("balance.summary.1", parameters, idempotency_key="report-suite-resume")
    second = runner.run("balance.summary.1", parameters, idempotency_key="report-suite-resume")

    assert first.id == second.id
    assert control.get("/state").json()["counts"]["report_runs"] == 1


def test_an_interval_past_the_available_data_is_an_invalid_request(client, control):
    loaded = _loaded_until(control)

    with pytest.raises(InvalidRequestError) as caught:
        ReportRunner(client, poll=FAST_POLL).run(
            "balance.summary.1",
            {"interval_start": loaded, "interval_end": loaded + timedelta(days=1)},
            idempotency_key="report-suite-future",
        )

    assert caught.value.http_status == 400
    assert caught.value.request_id


def test_a_query_run_returns_rows_and_data_load_time_matches(client, control, tmp_path):
    sigma = SigmaRunner(client, poll=FAST_POLL)

    run = sigma.run(
        "select count(*) as n from balance_transactions where created < data_load_time",
        idempotency_key="sigma-suite-1",
    )
    rows = _read_csv(FileDownloader(client).download(run.file_id, tmp_path / "count.csv").path)

    assert rows[0] == ["n"]
    assert int(rows[1][0]) > 0
    assert sigma.data_load_time() == _loaded_until(control)


def test_failing_sql_raises_with_the_engines_message(client):
    with pytest.raises(RunFailedError) as caught:
        SigmaRunner(client, poll=FAST_POLL).run(
            "select * from no_such_table", idempotency_key="sigma-suite-bad"
        )

    assert "no_such_table" in caught.value.message
    assert caught.value.run_id.startswith("qry_")
    assert caught.value.status == "failed"


def test_a_bad_key_is_an_authentication_error_that_hides_the_key(emulator, control):
    bad_key = "sk_live_notAKeyTheEmulatorKnows0123456789"
    client = StripeClient(bad_key, api_base=emulator.url, files_base=emulator.url, backoff=FAST_BACKOFF)
    with client, pytest.raises(AuthenticationError) as caught:
        ReportRunner(client).report_type("balance.summary.1")

    assert caught.value.http_status == 401
    assert caught.value.request_id
    assert bad_key not in str(caught.value) and bad_key not in repr(caught.value)
    assert control.get("/stats").json()["responses"].get("401") == 1


def test_a_restricted_key_without_the_permission_is_denied(emulator, control):
    control.post(
        "/keys", json={"key": RESTRICTED_KEY, "permissions": ["rak_report_type_read"]}
    ).raise_for_status()
    with StripeClient(RESTRICTED_KEY, api_base=emulator.url, files_base=emulator.url) as client:
        runner = ReportRunner(client, poll=FAST_POLL)
        start = runner.report_type("balance.summary.1").data_available_start
        with pytest.raises(PermissionDeniedError) as caught:
            runner.run(
                "balance.summary.1",
                {"interval_start": start, "interval_end": start + timedelta(days=1)},
                idempotency_key="restricted-suite",
            )

    assert "rak_report_run_write" in caught.value.message
    assert RESTRICTED_KEY not in str(caught.value)


def test_transient_server_errors_on_create_are_retried_into_one_run(client, control):
    _add_fault(control, kind="http_503", method="POST", path="/v1/reporting/report_runs", nth=[1, 2])
    start, end = _last_full_day(control)

    run = ReportRunner(client, poll=FAST_POLL).run(
        "balance.summary.1",
        {"interval_start": start, "interval_end": end},
        idempotency_key="report-suite-503",
    )

    assert run.status == "succeeded"
    assert control.get("/state").json()["counts"]["report_runs"] == 1


def test_a_lost_create_response_is_replayed_not_repeated(client, control):
    _add_fault(control, kind="drop_after_commit", method="POST", path="/v1/sigma/query_runs", nth=[1])

    run = SigmaRunner(client, poll=FAST_POLL).run("select 1 as one", idempotency_key="sigma-suite-dropped")

    assert run.status in ("succeeded", "completed")
    assert control.get("/state").json()["counts"]["query_runs"] == 1


def test_a_truncated_download_is_fetched_again(client, control, tmp_path):
    start, end = _last_full_day(control)
    run = ReportRunner(client, poll=FAST_POLL).run(
        "balance.summary.1",
        {"interval_start": start, "interval_end": end},
        idempotency_key="report-suite-cut",
    )
    _add_fault(
        control, kind="truncate_download", method="GET", path="/v1/files/*/contents", bytes=10, times=1
    )

    downloaded = FileDownloader(client).download(run.file_id, tmp_path / "balance.csv")

    assert downloaded.size == run.file_size
    assert sum(control.get("/stats").json()["faults_fired"].values()) == 1
    assert list(tmp_path.iterdir()) == [downloaded.path]


def test_saved_queries_sync_and_run(client, control):
    saved = SavedQueries(client)
    local = {"bt_count": "select count(*) as n from balance_transactions where created < data_load_time"}

    ids = saved.apply(saved.plan_sync(local))
    run = SigmaRunner(client, poll=FAST_POLL).run(
        saved_query_id=ids["bt_count"], idempotency_key="saved-suite"
    )

    assert [c.action for c in saved.plan_sync(local)] == ["unchanged"]
    assert run.status in ("succeeded", "completed")


def test_runs_and_files_of_a_connected_account(client, control, tmp_path):
    accounts = [account["id"] for account in client.list("/v1/accounts", {"limit": 1})]
    assert sorted(accounts) == control.get("/state").json()["connected_accounts"]
    sigma = SigmaRunner(client, poll=FAST_POLL)

    run = sigma.run(
        "select count(*) as n from balance_transactions",
        idempotency_key="connect-suite",
        stripe_account=accounts[0],
    )
    downloaded = FileDownloader(client).download(run.file_id, tmp_path / "n.csv", stripe_account=accounts[0])

    assert _read_csv(downloaded.path)[0] == ["n"]
    assert sigma.data_load_time(stripe_account=accounts[0]) == _loaded_until(control)
