"""Files: metadata, contents, URLs that follow the request's host, scoping and permissions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_settings import SECRET_KEY, Finish

from stripe_emulator.server import EmulatorServer


@pytest.fixture
def result_file(api: httpx.Client, finish: Finish, report_interval: Any) -> dict[str, Any]:
    """The File object of a finished itemized report run."""
    fields = {"report_type": "balance_change_from_activity.itemized.3", **report_interval(days=2)}
    run = api.post("/v1/reporting/report_runs", data=fields).json()
    return finish(api, f"/v1/reporting/report_runs/{run['id']}")["result"]


def test_contents_match_the_metadata(api: httpx.Client, result_file: dict[str, Any]) -> None:
    metadata = api.get(f"/v1/files/{result_file['id']}").json()
    assert metadata == result_file
    assert metadata["links"]["object"] == "list"
    with api.stream("GET", f"/v1/files/{result_file['id']}/contents") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert int(response.headers["content-length"]) == metadata["size"]
        body = b"".join(response.iter_bytes())
    assert len(body) == metadata["size"]


def test_file_url_follows_the_host_the_client_used(
    emulator: EmulatorServer, api: httpx.Client, result_file: dict[str, Any]
) -> None:
    port = emulator.url.rsplit(":", 1)[1]
    via_localhost = httpx.get(
        f"http://localhost:{port}/v1/files/{result_file['id']}",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    ).json()
    assert via_localhost["url"] == f"http://localhost:{port}/v1/files/{result_file['id']}/contents"
    assert result_file["url"] == f"{emulator.url}/v1/files/{result_file['id']}/contents"


def test_unknown_file_is_a_404(api: httpx.Client) -> None:
    for path in ("/v1/files/file_nope", "/v1/files/file_nope/contents"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "No such file upload: 'file_nope'"


def test_file_download_needs_the_file_permission(
    emulator: EmulatorServer, api: httpx.Client, control: httpx.Client, result_file: dict[str, Any]
) -> None:
    control.post("/keys", json={"key": "rk_test_reportsonly0001", "permissions": ["rak_report_run_read"]})
    control.post("/keys", json={"key": "rk_test_filereader00001", "permissions": ["rak_file_read"]})
    denied = httpx.get(result_file["url"], headers={"Authorization": "Bearer rk_test_reportsonly0001"})
    assert denied.status_code == 403
    assert "'rak_file_read'" in denied.json()["error"]["message"]
    allowed = httpx.get(result_file["url"], headers={"Authorization": "Bearer rk_test_filereader00001"})
    assert allowed.status_code == 200 and len(allowed.content) == result_file["size"]


def test_a_connected_accounts_file_is_hidden_from_other_accounts(
    api: httpx.Client, control: httpx.Client, finish: Finish, report_interval: Any
) -> None:
    accounts = control.get("/state").json()["connected_accounts"]
    fields = {"report_type": "balance.summary.1", **report_interval()}
    run = api.post("/v1/reporting/report_runs", data=fields, headers={"Stripe-Account": accounts[0]}).json()
    done = finish(api, f"/v1/reporting/report_runs/{run['id']}", **{"Stripe-Account": accounts[0]})
    path = f"/v1/files/{done['result']['id']}"
    assert api.get(path, headers={"Stripe-Account": accounts[0]}).status_code == 200
    assert api.get(path).status_code == 200  # the platform sees its connected accounts' files
    if len(accounts) > 1:
        assert api.get(path, headers={"Stripe-Account": accounts[1]}).status_code == 404
