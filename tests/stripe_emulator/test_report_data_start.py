"""The Reporting API's data_available_start: when Stripe's report data begins, configurable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stripe_emulator import EmulatorConfig
from stripe_emulator.cli import build_parser, config_from_args
from stripe_emulator.engine import Engine, ReportParameterError

LOADED = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)


def test_report_types_have_data_from_report_history_days_before_the_load_day() -> None:
    engine = Engine(
        EmulatorConfig(days=10, report_history_days=4, scale=5, connected_accounts=0, data_load_time=LOADED)
    )
    start = datetime(2026, 11, 6, tzinfo=UTC)

    assert {t.data_available_start for t in engine.report_types()} == {start}
    assert engine.data_start < start  # older history exists for Sigma, not for reports
    with pytest.raises(ReportParameterError, match="must be at least data_available_start"):
        engine.validate_report_parameters(
            "balance.summary.1",
            {"interval_start": int(start.timestamp()) - 86400, "interval_end": int(start.timestamp())},
            account=None,
        )
    engine.validate_report_parameters(
        "balance.summary.1",
        {"interval_start": int(start.timestamp()), "interval_end": int(start.timestamp()) + 86400},
        account=None,
    )


def test_report_history_cannot_exceed_the_generated_history() -> None:
    with pytest.raises(ValueError, match="report_history_days must be between 1 and days"):
        EmulatorConfig(days=10, report_history_days=11)


def test_the_command_line_sets_it() -> None:
    args = build_parser().parse_args(["serve", "--days", "30", "--report-history-days", "7"])

    assert config_from_args(args).report_history_days == 7
