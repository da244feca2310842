"""`make dev` for real — the Stripe emulator and `dagster dev` started by scripts/dev.sh — and the
system's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from dagster_ui import SCREENSHOTS, DevServer
from pipeline_settings import API_KEY, DATA_LOAD_TIME
from playwright.sync_api import Browser, Page, expect, sync_playwright
from project_services import (
    ROOT,
    DagsterGraphQL,
    Services,
    dagster_env,
    free_port,
    wait_for_webserver,
    wait_until,
)

UI_DEPS = ROOT / "scripts" / "ui-deps.sh"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
# The UI lays out the asset graph in the browser; on a loaded 2-core machine that takes longer than
# Playwright's 5 s default for `expect`, which the page's own default timeout does not cover.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the system Chromium; scripts/ui-deps.sh installs Debian's package when it is missing."""
    try:
        result = subprocess.run(
            [str(UI_DEPS)], capture_output=True, text=True, timeout=900, check=False, cwd=ROOT
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"Chromium is not available and {UI_DEPS.name} could not install it: {error}")
    if result.returncode != 0:
        pytest.skip(f"Chromium is not available and {UI_DEPS.name} could not install it:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser tab (UTC, US English); on failure, its last state is saved as a screenshot."""
    context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-US")
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    try:
        yield tab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=SCREENSHOTS / f"failed-{request.node.name}.png")
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # Lets the `page` fixture know, while tearing down, whether the test failed.
    report = yield
    setattr(item, f"report_{report.when}", report)  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """scripts/dev.sh (what `make dev` runs) on free ports, with a throwaway Dagster home and warehouse,
    the emulator's clock fixed at DATA_LOAD_TIME."""
    work = tmp_path_factory.mktemp("dagster-dev")
    home = work / "dagster_home"
    _write_instance_yaml(home)
    emulator_port, dagster_port = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    warehouse_url = f"duckdb:///{work / 'warehouse.duckdb'}"
    env = dagster_env(
        home,
        emulator_url=emulator_url,
        api_key=API_KEY,
        warehouse_url=warehouse_url,
        extra={
            "EMULATOR_PORT": str(emulator_port),
            "DAGSTER_PORT": str(dagster_port),
            "EMULATOR_ARGS": f"--data-load-time {DATA_LOAD_TIME.isoformat()} --run-delay 0.05",
        },
    )
    with Services(work / "logs") as services:
        service = services.start("make-dev", [str(ROOT / "scripts" / "dev.sh")], env)
        url = f"http://127.0.0.1:{dagster_port}"
        wait_for_webserver(url, service)
        wait_until(
            lambda: _answers(f"{emulator_url}/_emulator/state"), service, timeout=120, what="the emulator"
        )
        yield DevServer(url, DagsterGraphQL(url), emulator_url, warehouse_url, service)


def _write_instance_yaml(home: Path) -> None:
    """deploy/dagster.local.yaml (what scripts/dev.sh would copy), minus what only slows a test down."""
    config = yaml.safe_load((ROOT / "deploy" / "dagster.local.yaml").read_text())
    # No newsletter pop-up over the page, and queued runs start within a second, not five.
    config["nux"] = {"enabled": False}
    config["run_coordinator"] = {
        "module": "dagster.core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {"dequeue_interval_seconds": 1},
    }
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).is_success
    except httpx.HTTPError:
        return False
