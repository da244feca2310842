"""A run killed with SIGKILL — no cleanup code runs — while it waits on Stripe, downloads or loads
leaves the table exactly as it was, and the next run lands the window correctly.

The run happens in a child process; the test kills it at an observable moment (the emulator has
seen it poll, the emulator is holding its download, the loader says its transaction is open).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from fault_tally import record_outcome
from pipeline_settings import API_KEY

from .conftest import Harness
from .fault_tables import Table, difference
from .secret_scan import instance_leaks

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("materialize_process.py")
ACTIVITY = "balance_change_from_activity_itemized_3"
DAY = "2026-11-08"
GUARD = 120.0  # seconds: how long a step of these tests may take before it counts as hung


class Child:
    """A materialization in a child process, its output read as it comes."""

    def __init__(self, harness: Harness, home: Path, *, hold_in_transaction: bool = False) -> None:
        command = [sys.executable, str(SCRIPT), str(home), harness.emulator.url, ACTIVITY, DAY]
        if hold_in_transaction:
            command.append("--hold-in-transaction")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "STRIPE_API_KEY": API_KEY,
            "WAREHOUSE_URL": harness.warehouse_url,
        }
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        # Both pipes are drained continuously: Dagster logs enough to fill a pipe and block the child.
        for stream, forward in ((self.process.stdout, True), (self.process.stderr, False)):
            threading.Thread(target=self._drain, args=(stream, forward), daemon=True).start()

    def _drain(self, stream: Any, forward: bool) -> None:
        for line in stream:
            self.output.append(line)
            if forward:
                self._lines.put(line.strip())
        if forward:
            self._lines.put(None)

    def wait_for_line(self, expected: str) -> None:
        """Block until the child prints ``expected``; fail if it exits or hangs first."""
        deadline = time.monotonic() + GUARD
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line == expected:
                return
            if line is None:
                break
        raise AssertionError(f"the child never printed {expected!r}:\n{''.join(self.output)}")

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Poll ``condition`` until it holds; fail if the child exits or the guard time passes."""
        deadline = time.monotonic() + GUARD
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the child never got to {what}:\n{''.join(self.output)}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the process ends at once, without running any cleanup."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        assert self.process.returncode == -signal.SIGKILL


def _kill_and_rerun(
    harness: Harness,
    home: Path,
    moment: str,
    at_moment: Callable[[Child], None],
    record_property: Callable[[str, object], None],
    *,
    hold_in_transaction: bool = False,
) -> None:
    expected = harness.expected(ACTIVITY, DAY)
    before = harness.preload(ACTIVITY, DAY)
    home.mkdir()
    child = Child(harness, home, hold_in_transaction=hold_in_transaction)
    try:
        at_moment(child)
    finally:
        if child.process.poll() is None:
            child.kill()

    after_kill = harness.full_table(ACTIVITY)
    harness.clear_faults()
    rerun = harness.run(ACTIVITY, DAY)

    landed = harness.table(ACTIVITY)
    diff = difference(expected, landed)
    record_outcome(
        record_property,
        f"SIGKILL {moment} [{harness.wh().engine.dialect.name}]",
        correct=after_kill == before and rerun.success and diff.none,
        lost=diff.lost,
        duplicated=diff.duplicated,
        succeeded=rerun.success,
    )
    assert after_kill == before, difference(before, after_kill)
    assert rerun.success, rerun.messages
    assert diff.none, diff
    assert _run_ids(harness.full_table(ACTIVITY)) != _run_ids(before)  # the re-run really replaced the day
    with dg.DagsterInstance.local_temp(tempdir=str(home)) as killed:
        assert instance_leaks(harness.keys, killed) == []
    assert harness.leaks("".join(child.output)) == []


def _run_ids(table: Table) -> set[Any]:
    return set(table.column("_stripe_run_id"))


def test_a_run_killed_while_polling_stripe_leaves_the_table_and_the_next_run_lands_the_day(
    harness: Harness, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    def while_polling(child: Child) -> None:
        harness.fault(
            {"kind": "run_stuck", "method": "POST", "path": "/v1/reporting/report_runs", "nth": [1]}
        )

        def polled() -> bool:
            stats = harness.stats()
            return stats["requests"].get("GET /v1/reporting/report_runs/{id}", 0) >= 1

        child.wait_until(polled, "polling its report run")
        child.kill()

    _kill_and_rerun(harness, tmp_path / "dagster", "while polling", while_polling, record_property)


def test_a_run_killed_while_downloading_leaves_the_table_and_the_next_run_lands_the_day(
    harness: Harness, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    contents = "GET /v1/files/{id}/contents"

    def while_downloading(child: Child) -> None:
        harness.fault(
            {"kind": "slow", "method": "GET", "path": "/v1/files/*/contents", "nth": [1], "seconds": 2}
        )

        def downloading() -> bool:
            rules = harness.control.get("/faults").json()["rules"]
            return any(rule["fired"] >= 1 for rule in rules)

        child.wait_until(downloading, "downloading its result")
        child.kill()
        # The emulator finishes the held response into the closed connection; once it is counted,
        # nothing of the killed run is still in flight.
        harness.requests_once_settled({contents: 1})

    _kill_and_rerun(harness, tmp_path / "dagster", "while downloading", while_downloading, record_property)


@pytest.mark.parametrize("backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_run_killed_inside_the_warehouse_transaction_leaves_the_table_and_the_next_run_lands_the_day(
    backend: str,
    make_harness: Callable[..., Harness],
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    harness = make_harness(backend)

    def while_loading(child: Child) -> None:
        child.wait_for_line("holding")  # the day's old rows deleted and the new ones inserted, not committed
        child.kill()

    _kill_and_rerun(
        harness,
        tmp_path / "dagster",
        "while loading",
        while_loading,
        record_property,
        hold_in_transaction=True,
    )
