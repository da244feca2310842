"""The official ``stripe`` package, unmodified, works against the emulator."""

from __future__ import annotations

import time

import httpx
import pytest
import stripe
from emulator_settings import SECRET_KEY

from stripe_emulator.server import EmulatorServer


@pytest.fixture
def client(emulator: EmulatorServer, api: httpx.Client) -> stripe.StripeClient:
    """A StripeClient pointed at the (freshly reset) emulator for both API and file calls."""
    return stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": emulator.url, "files": emulator.url}, max_network_retries=0
    )


def _wait(client: stripe.StripeClient, run_id: str) -> stripe.reporting.ReportRun:
    deadline = time.monotonic() + 15
    run = client.v1.reporting.report_runs.retrieve(run_id)
    while run.status == "pending" and time.monotonic() < deadline:
        time.sleep(0.02)
        run = client.v1.reporting.report_runs.retrieve(run_id)
    return run


def test_report_types_and_runs_through_the_sdk(client: stripe.StripeClient) -> None:
    types = client.v1.reporting.report_types.list()
    assert "balance.summary.1" in [report_type.id for report_type in types.data]
    summary = client.v1.reporting.report_types.retrieve("balance.summary.1")
    end = summary.data_available_end // 86400 * 86400
    columns = ["category", "currency", "net_amount"]
    created = client.v1.reporting.report_runs.create(
        params={
            "report_type": "balance.summary.1",
            "parameters": {"interval_start": end - 2 * 86400, "interval_end": end, "columns": columns},
        }
    )
    assert isinstance(created, stripe.reporting.ReportRun) and created.status == "pending"
    assert created.parameters.columns == columns

    run = _wait(client, created.id)
    assert run.status == "succeeded"
    listed = list(client.v1.reporting.report_runs.list(params={"limit": 1}).auto_paging_iter())
    assert [item.id for item in listed] == [created.id]

    file = client.v1.files.retrieve(run.result.id)
    assert isinstance(file, stripe.File)
    assert file.purpose == "finance_report_run" and file.size == run.result.size
    # The SDK has no public call for file contents; its own downloads (e.g. quote PDFs) stream from the
    # files base address through the service's _request_stream, which is what this uses.
    stream = client.v1.files._request_stream("get", f"/v1/files/{file.id}/contents", base_address="files")
    body = stream.io.read()
    assert len(body) == file.size
    assert body.decode().splitlines()[0].split(",") == columns


def test_sdk_errors_map_to_stripe_exceptions(emulator: EmulatorServer, client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.reporting.report_runs.retrieve("frr_missing")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    bad_key = stripe.StripeClient("sk_live_nope1234", base_addresses={"api": emulator.url})
    with pytest.raises(stripe.AuthenticationError):
        bad_key.v1.reporting.report_types.list()


def test_scheduled_query_runs_through_the_sdk(client: stripe.StripeClient) -> None:
    runs = client.v1.sigma.scheduled_query_runs.list(params={"limit": 5})
    assert runs.data
    run = runs.data[0]
    assert isinstance(run, stripe.sigma.ScheduledQueryRun)
    assert run.object == "scheduled_query_run" and isinstance(run.data_load_time, int)
    again = client.v1.sigma.scheduled_query_runs.retrieve(run.id)
    assert again.id == run.id
    if run.status == "completed":
        assert again.file.id == run.file.id and again.file.purpose == "sigma_scheduled_query"
