"""Fixtures for the emulator's tests.

HTTP tests share one running emulator (reset before each test) and talk to it with httpx. Engine
tests share one in-process :class:`Engine` and read its CSV results back as rows.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_settings import ENGINE_CONFIG, FAST_CONFIG, SECRET_KEY, Finish, Rows, read_csv

from stripe_emulator import Engine
from stripe_emulator.server import EmulatorServer

# -- HTTP ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    """One small, quick emulator for the HTTP tests (``control``, from tests/conftest.py, resets it)."""
    with EmulatorServer(FAST_CONFIG) as server:
        yield server


@pytest.fixture
def api(emulator: EmulatorServer, control: httpx.Client) -> Iterator[httpx.Client]:
    """The Stripe API with the secret key, on a freshly reset emulator."""
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    with httpx.Client(base_url=emulator.url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def finish() -> Finish:
    """``finish(client, path, **headers)``: poll a run until it is no longer pending or running."""

    def poll(client: httpx.Client, path: str, **headers: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while True:
            response = client.get(path, headers=headers)
            response.raise_for_status()
            run: dict[str, Any] = response.json()
            if run.get("status") not in ("pending", "running") or time.monotonic() > deadline:
                return run
            time.sleep(0.02)

    return poll


@pytest.fixture
def report_interval(control: httpx.Client) -> Callable[..., dict[str, str]]:
    """``report_interval(days=1)``: form fields for the last ``days`` whole UTC days that are loaded."""

    def fields(days: int = 1) -> dict[str, str]:
        loaded = int(control.get("/state").json()["data_load_time_unix"])
        end = loaded // 86_400 * 86_400
        return {
            "parameters[interval_start]": str(end - days * 86_400),
            "parameters[interval_end]": str(end),
        }

    return fields


# -- Engine ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def engine() -> Engine:
    """One engine for the tests that only read (they never move its clock)."""
    return Engine(ENGINE_CONFIG)


@pytest.fixture
def output(tmp_path: Path) -> Callable[[], Path]:
    """A fresh result path per call."""
    counter = itertools.count()
    return lambda: tmp_path / f"result-{next(counter)}.csv"


@pytest.fixture
def sigma(engine: Engine, output: Callable[[], Path]) -> Callable[..., Rows]:
    """``sigma(sql, account=None, data_load_time=None)``: the rows of a Sigma query on ``engine``."""

    def run(sql: str, **options: Any) -> Rows:
        path = output()
        engine.run_sigma(sql, path, **options)
        return read_csv(path)[1]

    return run


@pytest.fixture
def report(engine: Engine, output: Callable[[], Path]) -> Callable[..., tuple[list[str], Rows]]:
    """``report(type, parameters, account=None)``: the header and rows of a report on ``engine``."""

    def run(
        report_type: str, parameters: dict[str, Any], account: str | None = None
    ) -> tuple[list[str], Rows]:
        path = output()
        result = engine.run_report(report_type, parameters, path, account=account)
        header, rows = read_csv(path)
        assert (result.rows, result.columns) == (len(rows), header)
        return header, rows

    return run
