"""A pytest plugin printing the fault matrix's summary line at the end of the run.

Each fault test records its outcome as a ``fault_outcome`` user property (user properties travel
from pytest-xdist workers to the controller with the test report); the hooks below add them up in
whichever process prints the terminal summary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

PROPERTY = "fault_outcome"
PLUGIN = "fault_tally"

_outcomes: list[dict[str, Any]] = []


def record_outcome(
    record_property: Callable[[str, object], None],
    fault: str,
    *,
    correct: bool,
    lost: int,
    duplicated: int,
    succeeded: bool,
) -> None:
    """Record what one fault left behind: whether its table is as expected, rows lost and extra, and
    whether the run said it succeeded (a success with a wrong table is *silently* wrong)."""
    record_property(
        PROPERTY,
        {
            "fault": fault,
            "correct": correct,
            "lost": lost,
            "duplicated": duplicated,
            "silently_wrong": succeeded and (lost > 0 or duplicated > 0 or not correct),
        },
    )


def summary(outcomes: list[dict[str, Any]]) -> str:
    """``faults tried: N / tables correct: N / rows lost: N / rows duplicated: N / silently wrong: N``."""
    return (
        f"faults tried: {len(outcomes)} / "
        f"tables correct: {sum(bool(o['correct']) for o in outcomes)} / "
        f"rows lost: {sum(int(o['lost']) for o in outcomes)} / "
        f"rows duplicated: {sum(int(o['duplicated']) for o in outcomes)} / "
        f"silently wrong: {sum(bool(o.get('silently_wrong')) for o in outcomes)}"
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _outcomes.extend(value for name, value in report.user_properties if name == PROPERTY)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _outcomes:
        return
    terminalreporter.write_sep("-", "fault matrix")
    terminalreporter.write_line(summary(_outcomes))
    wrong = sorted({o["fault"] for o in _outcomes if not o["correct"]})
    if wrong:
        terminalreporter.write_line(f"tables not as expected after: {', '.join(wrong)}")
