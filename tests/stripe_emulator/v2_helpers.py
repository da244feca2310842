"""Helpers shared by the tests of the emulator's Data API v2."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
from emulator_settings import SECRET_KEY

PREVIEW = "2026-10-28.preview"
V2_HEADERS = {"Authorization": f"Bearer {SECRET_KEY}", "Stripe-Version": PREVIEW}
SCHEMAS, REPORTS = "/v2/data/schemas", "/v2/data/reports"
QUERY_RUNS, REPORT_RUNS = "/v2/data/query_runs", "/v2/data/report_runs"


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The v2 error object of a response, checking the envelope and that no v1-only field leaks in."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"type", "code", "message"} <= set(error) <= {"type", "code", "message", "param"}, error
    return error


def query_body(sql: str, **extra: Any) -> dict[str, Any]:
    """A query run's create body."""
    return {"dataset": "analytical", "format": "csv", "query": {"sql": sql}, **extra}


def wait(client: httpx.Client, path: str, **headers: str) -> dict[str, Any]:
    """Poll a v2 run until it is no longer ``running`` (or 30 s passed)."""
    deadline = time.monotonic() + 30
    while True:
        response = client.get(path, headers=headers)
        response.raise_for_status()
        run: dict[str, Any] = response.json()
        if run["status"] != "running" or time.monotonic() > deadline:
            return run
        time.sleep(0.02)


def run_query(client: httpx.Client, sql: str, **headers: str) -> dict[str, Any]:
    """Create a query run and wait for it."""
    created = client.post(QUERY_RUNS, json=query_body(sql), headers=headers)
    assert created.status_code == 200, created.text
    return wait(client, f"{QUERY_RUNS}/{created.json()['id']}", **headers)


def download(run: dict[str, Any]) -> httpx.Response:
    """GET a run's pre-signed download URL, with no key."""
    return httpx.get(run["result"]["file"]["download_url"]["url"], timeout=30)


def csv_rows(text: str) -> list[list[str]]:
    """The records of a CSV text, header included."""
    return list(csv.reader(io.StringIO(text)))


def loaded_day(control: httpx.Client) -> int:
    """The Unix midnight of the day the emulator has loaded up to (a window may end there)."""
    return int(control.get("/state").json()["data_load_time_unix"]) // 86_400 * 86_400
