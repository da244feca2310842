"""Reporting API: report types, parameter validation, and the numbers and formats of each report."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from emulator_settings import LOAD_TIME, Rows

from stripe_emulator import EmulatorConfig, Engine
from stripe_emulator.engine import ReportParameterError, UnknownReportType

Report = Callable[..., tuple[list[str], Rows]]
Sigma = Callable[..., Rows]

BALANCE = "balance.summary.1"
ACTIVITY = "balance_change_from_activity.itemized.3"
ACTIVITY_SUMMARY = "balance_change_from_activity.summary.1"
PAYOUTS = "payouts.itemized.3"
RECONCILIATION = "payout_reconciliation.itemized.5"
ENDING = "ending_balance_reconciliation.itemized.4"
REQUIRED_TYPES = {
    BALANCE, ACTIVITY, ACTIVITY_SUMMARY, PAYOUTS, "payouts.summary.1", RECONCILIATION, ENDING,
    *(f"connected_account_{t}" for t in (BALANCE, ACTIVITY, PAYOUTS, RECONCILIATION, ENDING)),
}  # fmt: skip
PIPELINE_REPORT_TYPES = Path(__file__).resolve().parents[2] / "pipelines" / "report_types.yaml"
MONEY = {"usd": re.compile(r"^-?\d+\.\d{2}$"), "jpy": re.compile(r"^-?\d+$")}


def day(text: str, zone: str = "UTC", days: int = 1) -> dict[str, int]:
    """Report parameters for ``days`` calendar days from ``text`` (YYYY-MM-DD) in ``zone``."""
    start = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
    end = start + timedelta(days=days)  # wall-clock arithmetic: a DST day is 23 or 25 hours long
    return {"interval_start": int(start.timestamp()), "interval_end": int(end.timestamp())}


def _utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _sums(rows: Rows, *keys: str, value: str = "net") -> dict[tuple[str, ...], Decimal]:
    totals: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[tuple(row[k] for k in keys)] += Decimal(row[value])
    return dict(totals)


def _balance(report: Report, parameters: dict[str, Any], **options: Any) -> dict[tuple[str, str], Decimal]:
    _, rows = report(BALANCE, parameters, **options)
    return {(row["currency"], row["category"]): Decimal(row["net_amount"]) for row in rows}


# -- report types ----------------------------------------------------------------------------


def test_every_report_type_reports_the_data_it_has(engine: Engine):
    types = {t.id: t for t in engine.report_types()}
    assert types.keys() >= REQUIRED_TYPES
    for report_type in types.values():
        assert report_type.data_available_start == engine.data_start
        assert report_type.data_available_end == LOAD_TIME
        assert report_type.version == int(report_type.id.rsplit(".", 1)[1])
        assert report_type.required <= report_type.parameters
        assert report_type.default_columns
    assert types[BALANCE].default_columns == ["category", "currency", "description", "net_amount"]
    assert types[ENDING].required == {"interval_end"}
    assert types[ACTIVITY].required == {"interval_start", "interval_end"}
    assert "connected_account" in types[f"connected_account_{ACTIVITY}"].parameters


def test_every_column_the_pipeline_asks_for_is_served(report: Report):
    catalogue = yaml.safe_load(PIPELINE_REPORT_TYPES.read_text())["report_types"]
    for report_type, spec in catalogue.items():
        parameters: dict[str, Any] = {"columns": list(spec["columns"])}
        window = day("2026-03-10", days=3)
        if spec["interval"] == "range":
            parameters.update(window)
        elif spec["interval"] == "payout":
            _, payouts = report(PAYOUTS, {**window, "columns": ["payout_id"]})
            parameters["payout"] = payouts[0]["payout_id"]
        else:
            parameters["interval_end"] = window["interval_end"]
        header, rows = report(report_type, parameters)
        assert header == list(spec["columns"]), report_type
        assert rows, report_type


def test_default_columns_are_used_without_a_columns_parameter(engine: Engine, report: Report):
    defaults = {t.id: t.default_columns for t in engine.report_types()}
    for report_type in (BALANCE, ACTIVITY, PAYOUTS, RECONCILIATION):
        header, _ = report(report_type, day("2026-03-10"))
        assert header == defaults[report_type]


# -- parameters ------------------------------------------------------------------------------


def _rejected(
    engine: Engine, report_type: str, parameters: dict[str, Any], account: str | None = None
) -> str:
    with pytest.raises(ReportParameterError) as raised:
        engine.validate_report_parameters(report_type, parameters, account=account)
    assert raised.value.param is not None
    return raised.value.param


def test_intervals_must_lie_within_the_available_data(engine: Engine):
    start = int(engine.data_start.timestamp())
    end = int(LOAD_TIME.timestamp())
    engine.validate_report_parameters(ACTIVITY, {"interval_start": start, "interval_end": end}, account=None)
    too_early = {"interval_start": start - 1, "interval_end": end}
    assert _rejected(engine, ACTIVITY, too_early) == "parameters[interval_start]"
    too_late = {"interval_start": start, "interval_end": end + 1}
    assert _rejected(engine, ACTIVITY, too_late) == "parameters[interval_end]"
    empty = {"interval_start": end - 10, "interval_end": end - 10}
    assert _rejected(engine, ACTIVITY, empty) == "parameters[interval_start]"
    assert _rejected(engine, ACTIVITY, {"interval_end": end}) == "parameters[interval_start]"
    assert (
        _rejected(engine, ACTIVITY, {"interval_start": "soon", "interval_end": end})
        == "parameters[interval_start]"
    )


def test_ending_balance_takes_interval_end_only(engine: Engine):
    end = int(LOAD_TIME.timestamp())
    engine.validate_report_parameters(ENDING, {"interval_end": end}, account=None)
    both = {"interval_start": end - 86_400, "interval_end": end}
    assert _rejected(engine, ENDING, both) == "parameters[interval_start]"
    assert (
        _rejected(engine, ENDING, {"interval_end": int(engine.data_start.timestamp())})
        == "parameters[interval_end]"
    )


def test_unknown_parameters_columns_and_values_are_refused(engine: Engine):
    window = day("2026-03-10")
    assert (
        _rejected(engine, ACTIVITY, {**window, "columns": ["net", "no_such_column"]}) == "parameters[columns]"
    )
    assert _rejected(engine, ACTIVITY, {**window, "columns": ["net", "net"]}) == "parameters[columns]"
    assert _rejected(engine, ACTIVITY, {**window, "colour": "blue"}) == "parameters[colour]"
    assert _rejected(engine, ACTIVITY, {**window, "timezone": "Mars/Olympus"}) == "parameters[timezone]"
    assert (
        _rejected(engine, ACTIVITY, {**window, "reporting_category": "lunch"})
        == "parameters[reporting_category]"
    )
    assert _rejected(engine, ACTIVITY, {**window, "currency": "dollars"}) == "parameters[currency]"
    assert (
        _rejected(engine, BALANCE, {**window, "reporting_category": "charge"})
        == "parameters[reporting_category]"
    )
    with pytest.raises(UnknownReportType):
        engine.validate_report_parameters("no.such.report.1", window, account=None)


def test_connect_reports_take_a_known_connected_account(engine: Engine):
    window = day("2026-03-10")
    connect = f"connected_account_{ACTIVITY}"
    account = engine.connected_accounts()[0]["id"]
    engine.validate_report_parameters(connect, {**window, "connected_account": account}, account=None)
    unknown = {**window, "connected_account": "acct_1NOPE"}
    assert _rejected(engine, connect, unknown) == "parameters[connected_account]"
    assert (
        _rejected(engine, ACTIVITY, {**window, "connected_account": account})
        == "parameters[connected_account]"
    )
    # A connected account cannot report on the platform's connected accounts.
    assert _rejected(engine, connect, window, account=account) == "report_type"


# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("date", ["2026-03-02", "2026-03-08", "2026-03-11", "2026-03-15", "2026-03-19"])
def test_activity_adds_up_to_the_balance_summary(report: Report, date: str):
    window = day(date)
    _, activity = report(ACTIVITY, {**window, "columns": ["currency", "net", "reporting_category"]})
    assert activity and all(row["reporting_category"] != "payout" for row in activity)
    balance = _balance(report, window)
    by_currency = _sums(activity, "currency")
    currencies = {currency for currency, _ in balance}
    assert {c for (c,) in by_currency} <= currencies
    for currency in currencies:
        lines = {category: balance[(currency, category)] for c, category in balance if c == currency}
        assert by_currency.get((currency,), Decimal(0)) == lines["activity"]
        assert lines["starting_balance"] + lines["activity"] + lines["payouts"] == lines["ending_balance"]
    # Each day starts where the previous one ended.
    next_day = day((datetime.fromisoformat(date) + timedelta(days=1)).date().isoformat())
    if next_day["interval_end"] > LOAD_TIME.timestamp():
        return
    following = _balance(report, next_day)
    for (currency, category), amount in balance.items():
        if category == "ending_balance":
            assert following[(currency, "starting_balance")] == amount


def test_activity_matches_sigma(report: Report, sigma: Sigma):
    window = day("2026-03-12")
    _, rows = report(
        ACTIVITY, {**window, "columns": ["balance_transaction_id", "net", "gross", "fee", "currency"]}
    )
    queried = sigma(
        "select id, amount, fee, net, currency from balance_transactions "
        "where created >= timestamp '2026-03-12 00:00:00' and created < timestamp '2026-03-13 00:00:00' "
        "and reporting_category <> 'payout'"
    )
    assert {row["balance_transaction_id"] for row in rows} == {row["id"] for row in queried}
    minor = {row["id"]: row for row in queried}
    for row in rows:
        digits = 0 if row["currency"] == "jpy" else 2
        expected = minor[row["balance_transaction_id"]]
        for column, source in (("gross", "amount"), ("fee", "fee"), ("net", "net")):
            assert Decimal(row[column]) == Decimal(expected[source]).scaleb(-digits)


def test_each_payout_is_reconciled_by_the_transactions_it_swept(report: Report):
    window = day("2026-03-09", days=4)
    _, payouts = report(PAYOUTS, {**window, "columns": ["payout_id", "net", "currency", "effective_at_utc"]})
    assert len({row["currency"] for row in payouts}) >= 3
    _, swept = report(
        RECONCILIATION, {**window, "columns": ["automatic_payout_id", "net", "reporting_category"]}
    )
    assert all(row["reporting_category"] != "payout" for row in swept)
    totals = _sums(swept, "automatic_payout_id")
    assert {(row["payout_id"],) for row in payouts} == set(totals)
    for row in payouts:
        assert totals[(row["payout_id"],)] == -Decimal(row["net"])
        assert window["interval_start"] <= _utc(row["effective_at_utc"]).timestamp() < window["interval_end"]


def test_ending_balance_is_itemized_by_what_was_not_paid_out(report: Report):
    window = day("2026-03-14")
    _, items = report(
        ENDING, {"interval_end": window["interval_end"], "columns": ["currency", "net", "created_utc"]}
    )
    assert all(_utc(row["created_utc"]).timestamp() < window["interval_end"] for row in items)
    balance = _balance(report, window)
    by_currency = _sums(items, "currency")
    for (currency, category), amount in balance.items():
        if category == "ending_balance":
            assert by_currency.get((currency,), Decimal(0)) == amount


def test_summaries_group_by_category_and_currency(report: Report):
    window = day("2026-03-10", days=2)
    _, itemized = report(
        ACTIVITY, {**window, "columns": ["reporting_category", "currency", "gross", "fee", "net"]}
    )
    _, summary = report(ACTIVITY_SUMMARY, window)
    for row in summary:
        mine = [
            i
            for i in itemized
            if (i["reporting_category"], i["currency"]) == (row["reporting_category"], row["currency"])
        ]
        assert int(row["count"]) == len(mine)
        for column in ("gross", "fee", "net"):
            assert Decimal(row[column]) == sum(Decimal(i[column]) for i in mine)


# -- formats and filters ---------------------------------------------------------------------


def test_money_has_the_currencys_decimals(report: Report):
    _, rows = report(ACTIVITY, {**day("2026-03-10", days=3), "columns": ["currency", "gross", "fee", "net"]})
    seen = {row["currency"] for row in rows}
    assert {"usd", "jpy"} <= seen
    for row in rows:
        if row["currency"] in MONEY:
            for column in ("gross", "fee", "net"):
                assert MONEY[row["currency"]].match(row[column]), row
    _, comma = report(
        ACTIVITY, {**day("2026-03-10"), "currency": "usd", "decimal_separator": ",", "columns": ["net"]}
    )
    assert all(re.match(r"^-?\d+,\d{2}$", row["net"]) for row in comma)


def test_currency_and_category_filters(report: Report):
    window = day("2026-03-10", days=3)
    _, rows = report(ACTIVITY, {**window, "currency": "EUR", "columns": ["currency", "reporting_category"]})
    assert rows and {row["currency"] for row in rows} == {"eur"}
    _, refunds = report(
        ACTIVITY, {**window, "reporting_category": "refund", "columns": ["reporting_category"]}
    )
    assert refunds and {row["reporting_category"] for row in refunds} == {"refund"}
    balance = _balance(report, {**window, "currency": "jpy"})
    assert {currency for currency, _ in balance} == {"jpy"}


@pytest.mark.parametrize(("date", "hours"), [("2026-03-08", 23), ("2026-03-09", 24)])
def test_local_times_follow_the_timezone_across_dst(report: Report, date: str, hours: int):
    zone = ZoneInfo("America/New_York")
    window = day(date, "America/New_York")
    assert window["interval_end"] - window["interval_start"] == hours * 3600
    columns = ["created_utc", "created", "available_on_utc", "available_on"]
    _, rows = report(ACTIVITY, {**window, "timezone": "America/New_York", "columns": columns})
    assert rows
    for row in rows:
        created = _utc(row["created_utc"])
        assert window["interval_start"] <= created.timestamp() < window["interval_end"]
        assert row["created"] == created.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        assert row["created"].startswith(date)
        available = _utc(row["available_on_utc"])
        assert row["available_on"] == available.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    offsets = {_utc(row["created_utc"]).astimezone(zone).utcoffset() for row in rows}
    assert len(offsets) == (2 if hours == 23 else 1)


def test_a_fall_back_day_has_25_hours(tmp_path: Path):
    engine = Engine(
        EmulatorConfig(seed=11, days=6, data_load_time=datetime(2025, 11, 5, 6, tzinfo=UTC), scale=300)
    )
    window = day("2025-11-02", "America/New_York")
    assert window["interval_end"] - window["interval_start"] == 25 * 3600
    path = tmp_path / "fall-back.csv"
    columns = ["created_utc", "created"]
    result = engine.run_report(ACTIVITY, {**window, "timezone": "America/New_York", "columns": columns}, path)
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    assert result.rows == len(rows) > 0
    zone = ZoneInfo("America/New_York")
    for utc, local in rows:
        assert local.startswith("2025-11-02")
        assert local == _utc(utc).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    # Before 02:00 the day is on daylight time, after it on standard time.
    assert {_utc(utc).astimezone(zone).utcoffset() for utc, _ in rows} == {
        timedelta(hours=-4),
        timedelta(hours=-5),
    }


def test_automatic_payouts_not_yet_made_are_left_empty(report: Report):
    columns = ["automatic_payout_id", "automatic_payout_effective_at_utc", "available_on_utc"]
    _, rows = report(ACTIVITY, {**day("2026-03-19"), "columns": columns})
    for row in rows:
        paid_out = row["automatic_payout_effective_at_utc"]
        assert bool(row["automatic_payout_id"]) == bool(paid_out)
        if paid_out:
            assert _utc(paid_out) < LOAD_TIME
    assert any(not row["automatic_payout_id"] for row in rows)


def test_a_connected_account_reports_on_its_own_balance(engine: Engine, report: Report, sigma: Sigma):
    account = engine.connected_accounts()[0]["id"]
    window = day("2026-03-10", days=3)
    _, own = report(ACTIVITY, {**window, "columns": ["balance_transaction_id"]}, account=account)
    queried = sigma(
        "select id from balance_transactions where created >= timestamp '2026-03-10 00:00:00' "
        "and created < timestamp '2026-03-13 00:00:00' and reporting_category <> 'payout'",
        account=account,
    )
    assert own and {row["balance_transaction_id"] for row in own} == {row["id"] for row in queried}


def test_connect_reports_cover_one_or_all_connected_accounts(engine: Engine, report: Report):
    accounts = [a["id"] for a in engine.connected_accounts()]
    window = day("2026-03-10", days=3)
    connect = f"connected_account_{ACTIVITY}"
    _, everyone = report(
        connect, {**window, "columns": ["connected_account", "balance_transaction_id", "net"]}
    )
    assert {row["connected_account"] for row in everyone} == set(accounts)
    _, one = report(
        connect, {**window, "connected_account": accounts[1], "columns": ["connected_account", "net"]}
    )
    assert one and {row["connected_account"] for row in one} == {accounts[1]}
    _, platform = report(ACTIVITY, {**window, "columns": ["balance_transaction_id"]})
    assert not {row["balance_transaction_id"] for row in everyone} & {
        row["balance_transaction_id"] for row in platform
    }
    # Per account, the connect balance summary agrees with the account's own balance summary.
    columns = ["connected_account", "category", "currency", "net_amount"]
    _, summary = report(f"connected_account_{BALANCE}", {**window, "columns": columns})
    for account in accounts:
        own = _balance(report, window, account=account)
        assert {
            (r["currency"], r["category"]): Decimal(r["net_amount"])
            for r in summary
            if r["connected_account"] == account
        } == own
