"""The official preview SDK (``stripe==16.1.0a4``) is the contract of the emulator's Data API v2.

The SDK runs in a venv of its own (``preview_sdk.py``), so the stable ``stripe`` of the project
venv stays for the v1 tests; ``preview_sdk_contract.py`` drives every v2 endpoint through
``StripeClient(...).v2.data`` there and reports each check back as JSON.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
from emulator_settings import SECRET_KEY
from preview_sdk import PREVIEW_SDK, IndexUnreachable, preview_python

from stripe_emulator.server import EmulatorServer

SCRIPT = Path(__file__).with_name("preview_sdk_contract.py")
EXPECTED_CHECKS = {
    "schemas_list_pages_and_retrieve",
    "schemas_refreshed_at_moves_with_the_clock",
    "reports_list_pages_and_retrieve",
    "query_run_result_file",
    "query_run_inline_rows_over_two_pages",
    "query_run_idempotent_replay",
    "query_run_failures",
    "query_run_expired_download_link",
    "stripe_context_scopes_runs",
    "report_run_matches_the_v1_report",
    "errors_of_each_kind",
}


@pytest.fixture(scope="session")
def preview_sdk() -> Path:
    """The Python of the preview-SDK venv (built once, then reused from ``.cache/preview-sdk/``)."""
    try:
        return preview_python()
    except IndexUnreachable as exc:
        pytest.skip(f"{PREVIEW_SDK} cannot be installed, the package index is unreachable: {exc}")


def test_the_preview_sdk_drives_every_v2_endpoint(
    preview_sdk: Path, emulator: EmulatorServer, control: httpx.Client
) -> None:
    result = subprocess.run(
        [str(preview_sdk), str(SCRIPT), emulator.url, SECRET_KEY],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["sdk"] == PREVIEW_SDK.split("==")[1]
    failed = {name: outcome for name, outcome in report["checks"].items() if outcome != "ok"}
    assert not failed, "\n\n".join(f"{name}:\n{outcome}" for name, outcome in failed.items())
    assert set(report["checks"]) == EXPECTED_CHECKS
