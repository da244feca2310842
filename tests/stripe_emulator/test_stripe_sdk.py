"""The official ``stripe`` package, unmodified and through its public API only, works against the emulator."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe
from emulator_settings import FAST_CONFIG, SECRET_KEY

from stripe_emulator.server import EmulatorServer


def _client(url: str, key: str = SECRET_KEY, **options: Any) -> stripe.StripeClient:
    options.setdefault("max_network_retries", 0)
    return stripe.StripeClient(key, base_addresses={"api": url, "files": url}, **options)


@pytest.fixture
def client(emulator: EmulatorServer, api: httpx.Client) -> stripe.StripeClient:
    """A StripeClient pointed at the (freshly reset) emulator for both API and file calls."""
    return _client(emulator.url)


def _interval(client: stripe.StripeClient, days: int = 2) -> dict[str, int]:
    end = client.v1.reporting.report_types.retrieve("balance.summary.1").data_available_end // 86400 * 86400
    return {"interval_start": end - days * 86400, "interval_end": end}


def _run(client: stripe.StripeClient, **options: Any) -> stripe.reporting.ReportRun:
    return client.v1.reporting.report_runs.create(
        params={"report_type": "balance.summary.1", "parameters": _interval(client)}, options=options or None
    )


def _wait(client: stripe.StripeClient, run_id: str) -> stripe.reporting.ReportRun:
    deadline = time.monotonic() + 15
    run = client.v1.reporting.report_runs.retrieve(run_id)
    while run.status == "pending" and time.monotonic() < deadline:
        time.sleep(0.02)
        run = client.v1.reporting.report_runs.retrieve(run_id)
    return run


def test_a_report_run_and_its_file_through_the_sdk(client: stripe.StripeClient) -> None:
    types = client.v1.reporting.report_types.list()
    assert "balance.summary.1" in [report_type.id for report_type in types.data]
    columns = ["category", "currency", "net_amount"]
    created = client.v1.reporting.report_runs.create(
        params={
            "report_type": "balance.summary.1",
            "parameters": {**_interval(client), "columns": columns},
        }
    )
    assert isinstance(created, stripe.reporting.ReportRun) and created.status == "pending"
    assert created.parameters.columns == columns

    run = _wait(client, created.id)
    assert run.status == "succeeded"
    file = client.v1.files.retrieve(run.result.id)
    assert isinstance(file, stripe.File)
    assert file.purpose == "finance_report_run" and file.size == run.result.size
    listed = client.v1.files.list(params={"purpose": "finance_report_run"})
    assert [item.id for item in listed.data] == [file.id]
    # Stripe's docs: download the file at its url with the API key.
    body = httpx.get(file.url, auth=(SECRET_KEY, "")).content
    assert len(body) == file.size
    assert body.decode().splitlines()[0].split(",") == columns


def test_lists_page_through_several_requests(client: stripe.StripeClient, control: httpx.Client) -> None:
    created = [_run(client).id for _ in range(7)]
    first = client.v1.reporting.report_runs.list(params={"limit": 3})
    assert [run.id for run in first.data] == created[::-1][:3] and first.has_more is True
    walked = [run.id for run in first.auto_paging_iter()]
    assert walked == created[::-1]
    requests = control.get("/stats").json()["requests"]
    assert requests["GET /v1/reporting/report_runs"] == 3  # pages of 3, 3 and 1


def test_a_retried_create_with_the_same_idempotency_key_replays_the_first(
    client: stripe.StripeClient, control: httpx.Client
) -> None:
    first = _run(client, idempotency_key="nightly-2026-03-19")
    again = _run(client, idempotency_key="nightly-2026-03-19")
    assert again.id == first.id
    assert again.last_response is not None and again.last_response.headers["Idempotent-Replayed"] == "true"
    assert control.get("/stats").json()["idempotent_replays"] == 1
    assert [run.id for run in client.v1.reporting.report_runs.list().data] == [first.id]
    with pytest.raises(stripe.IdempotencyError):
        client.v1.reporting.report_runs.create(
            params={"report_type": "balance.summary.1", "parameters": _interval(client, days=1)},
            options={"idempotency_key": "nightly-2026-03-19"},
        )


def test_a_429_raises_rate_limit_error_or_is_retried_when_stripe_says_so(
    emulator: EmulatorServer, client: stripe.StripeClient, control: httpx.Client
) -> None:
    rule = {"kind": "http_429", "method": "GET", "path": "/v1/reporting/report_types", "nth": [1]}
    control.post("/faults", json={**rule, "should_retry": False}).raise_for_status()
    with pytest.raises(stripe.RateLimitError) as limited:
        client.v1.reporting.report_types.list()
    assert limited.value.http_status == 429
    assert limited.value.error is not None and limited.value.error.code == "rate_limit"

    control.post("/reset")
    control.post("/faults", json=rule).raise_for_status()
    retrying = _client(emulator.url, max_network_retries=2)
    assert retrying.v1.reporting.report_types.list().data
    assert control.get("/stats").json()["responses"] == {"429": 1, "200": 1}


def test_stripe_account_scopes_what_a_connected_account_sees(
    client: stripe.StripeClient, control: httpx.Client
) -> None:
    connected = [account.id for account in client.v1.accounts.list(params={"limit": 100}).auto_paging_iter()]
    assert sorted(connected) == control.get("/state").json()["connected_accounts"]
    mine, theirs = connected[0], connected[1]
    run = _run(client, stripe_account=mine)
    own = client.v1.reporting.report_runs.list(options={"stripe_account": mine})
    assert [item.id for item in own.data] == [run.id]
    assert client.v1.reporting.report_runs.list(options={"stripe_account": theirs}).data == []
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.reporting.report_runs.retrieve(run.id, options={"stripe_account": theirs})
    assert missing.value.http_status == 404
    with pytest.raises(stripe.PermissionError):
        client.v1.reporting.report_runs.list(options={"stripe_account": "acct_1NotConnected"})


def test_stripe_version_is_sent_echoed_and_checked(emulator: EmulatorServer, api: httpx.Client) -> None:
    pinned = _client(emulator.url, stripe_version="2024-06-20")
    types = pinned.v1.reporting.report_types.list()
    assert types.last_response is not None and types.last_response.headers["Stripe-Version"] == "2024-06-20"
    default = _client(emulator.url).v1.reporting.report_types.list()
    assert default.last_response is not None
    assert default.last_response.headers["Stripe-Version"] == stripe.api_version
    with pytest.raises(stripe.InvalidRequestError) as invalid:
        _client(emulator.url, stripe_version="2024-13-01").v1.reporting.report_types.list()
    assert invalid.value.http_status == 400
    assert invalid.value.user_message == "Invalid Stripe API version: 2024-13-01"


def test_scheduled_query_runs_of_every_status(client: stripe.StripeClient) -> None:
    runs = list(client.v1.sigma.scheduled_query_runs.list(params={"limit": 25}).auto_paging_iter())
    assert all(isinstance(run, stripe.sigma.ScheduledQueryRun) for run in runs)
    assert {run.status for run in runs} == {"completed", "failed", "timed_out", "canceled"}
    completed = [run for run in runs if run.status == "completed"][:3]
    unfinished = [run for run in runs if run.status != "completed"]
    assert completed and unfinished
    for run in completed:
        assert run.error is None and run.file.purpose == "sigma_scheduled_query"
        assert client.v1.files.retrieve(run.file.id).size == run.file.size
    for run in unfinished:
        assert run.file is None and run.error.message
    again = client.v1.sigma.scheduled_query_runs.retrieve(unfinished[0].id)
    assert again.status == unfinished[0].status and again.error.message == unfinished[0].error.message


def test_sdk_errors_map_to_stripe_exceptions(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.reporting.report_runs.retrieve("frr_missing")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.reporting.report_runs.list(params={"colour": "red"})  # type: ignore[typeddict-unknown-key]
    assert unknown.value.param == "colour"


@pytest.fixture(scope="module")
def keyed() -> Iterator[EmulatorServer]:
    """An emulator told which keys exist."""
    with EmulatorServer(dataclasses.replace(FAST_CONFIG, days=3, api_keys=(SECRET_KEY,))) as server:
        yield server


def test_a_wrong_test_key_is_an_authentication_error(keyed: EmulatorServer) -> None:
    assert _client(keyed.url).v1.reporting.report_types.list().data
    with pytest.raises(stripe.AuthenticationError) as refused:
        _client(keyed.url, key="sk_test_4eC39HqLyjWDarjtT1zdp7XX").v1.reporting.report_types.list()
    assert refused.value.http_status == 401
