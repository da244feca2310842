"""EmulatorServer in-process and the ``stripe-emulator`` command in a subprocess."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from emulator_settings import FAST_CONFIG, SECRET_KEY

from stripe_emulator.cli import build_parser, config_from_args
from stripe_emulator.server import EmulatorServer

REPO = Path(__file__).resolve().parents[2]
SMALL = dataclasses.replace(FAST_CONFIG, days=3)


def _command() -> list[str]:
    """The installed console script, or the module entry point when the project is not installed."""
    script = Path(sys.executable).with_name("stripe-emulator")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stripe_emulator"]


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


def test_server_starts_on_a_free_port_and_stops() -> None:
    with EmulatorServer(SMALL) as first, EmulatorServer(SMALL) as second:
        assert first.url != second.url
        assert httpx.get(f"{first.url}/_emulator/state").json()["config"]["days"] == 3
        assert first.engine.data_load_time.tzinfo is not None
        url = first.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_emulator/state", timeout=2)


def test_initial_faults_come_back_after_a_reset() -> None:
    with EmulatorServer(SMALL, faults=["http_503 GET /v1/accounts nth=1"]) as server:
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {SECRET_KEY}"})
        assert [client.get("/v1/accounts").status_code for _ in range(2)] == [503, 200]
        httpx.delete(f"{server.url}/_emulator/faults").raise_for_status()
        httpx.post(f"{server.url}/_emulator/reset").raise_for_status()
        assert [client.get("/v1/accounts").status_code for _ in range(2)] == [503, 200]


def test_cli_serves_until_terminated(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    process = subprocess.Popen(
        [
            *_command(),
            "serve",
            "--port",
            "0",
            "--days",
            "3",
            "--scale",
            "20",
            "--seed",
            "11",
            "--run-delay",
            "0.05",
            "--rate-limit",
            "500",
            "--data-load-time",
            "2025-03-01T12:00:00Z",
            "--fault",
            "http_503 GET /v1/reporting/report_types nth=1",
            "--print-url-file",
            str(url_file),
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not url_file.exists():
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.05)
        url = url_file.read_text().strip()
        state = httpx.get(f"{url}/_emulator/state").json()
        assert state["data_load_time"] == "2025-03-01T12:00:00Z"
        assert state["config"]["seed"] == 11 and state["config"]["run_delay"] == 0.05
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SECRET_KEY}"})
        statuses = [client.get("/v1/reporting/report_types").status_code for _ in range(2)]
        assert statuses == [503, 200]
        request_id = client.get("/v1/accounts").headers["Request-Id"]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"GET /v1/accounts 200 {request_id}" in output
    assert "GET /v1/reporting/report_types 503 req_" in output
    assert SECRET_KEY not in output


def test_cli_rejects_a_bad_fault_spec() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stripe_emulator", "serve", "--fault", "http_503 GET"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "KIND METHOD PATH" in result.stderr


def test_the_cli_can_be_told_which_keys_exist() -> None:
    live = "sk_live_51CliLiveKey00000abcd"
    args = build_parser().parse_args(["serve", "--api-key", SECRET_KEY, "--api-key", live])
    assert config_from_args(args).api_keys == (SECRET_KEY, live)
    assert config_from_args(build_parser().parse_args(["serve"])).api_keys is None
