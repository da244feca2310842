"""The engine: its configuration, clock, Connect accounts, scheduled runs and parallel use."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from emulator_settings import ENGINE_CONFIG, LOAD_TIME, read_csv

from stripe_emulator import EmulatorConfig, Engine
from stripe_emulator.engine import UnknownAccount

SMALL = dataclasses.replace(ENGINE_CONFIG, days=5, future_days=2, scale=60)


def _count(engine: Engine, path: Path, sql: str, **options: object) -> int:
    engine.run_sigma(sql, path, **options)  # type: ignore[arg-type]
    return int(read_csv(path)[1][0]["n"])


def test_configuration_is_checked():
    with pytest.raises(ValueError, match="timezone-aware"):
        EmulatorConfig(data_load_time=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="days"):
        EmulatorConfig(days=0)
    with pytest.raises(ValueError, match="scale"):
        EmulatorConfig(scale=0)


def test_without_a_data_load_time_stripe_lags_three_hours_behind_the_hour():
    now = datetime(2026, 5, 4, 13, 47, 12, tzinfo=UTC)
    assert EmulatorConfig().initial_data_load_time(now) == datetime(2026, 5, 4, 10, tzinfo=UTC)


def test_the_generated_range_surrounds_the_load_day(engine: Engine):
    assert engine.data_load_time == LOAD_TIME
    assert engine.data_start == datetime(2026, 2, 18, tzinfo=UTC)  # 30 days before the load day
    assert engine.data_end == datetime(2026, 3, 24, tzinfo=UTC)  # the load day and three more
    assert engine.platform_account_id.startswith("acct_")


def test_the_clock_only_moves_forward_and_not_past_the_data(tmp_path: Path):
    engine = Engine(SMALL)
    path = tmp_path / "count.csv"
    visible = _count(engine, path, "select count(*) as n from balance_transactions")
    later = engine.advance(by=timedelta(hours=20))
    assert later == engine.data_load_time == LOAD_TIME + timedelta(hours=20)
    assert _count(engine, path, "select count(*) as n from balance_transactions") > visible
    assert {t.data_available_end for t in engine.report_types()} == {later}
    with pytest.raises(ValueError, match="only moves forward"):
        engine.advance(to=LOAD_TIME)
    with pytest.raises(ValueError, match="generated until"):
        engine.advance(to=engine.data_end + timedelta(seconds=1))
    with pytest.raises(ValueError, match="exactly one"):
        engine.advance()
    assert engine.advance(to=engine.data_end) == engine.data_end
    engine.reset_clock()
    assert engine.data_load_time == LOAD_TIME
    assert _count(engine, path, "select count(*) as n from balance_transactions") == visible


def test_connected_accounts_are_stripe_account_objects(engine: Engine):
    accounts = engine.connected_accounts()
    assert len(accounts) == ENGINE_CONFIG.connected_accounts
    for account in accounts:
        assert account["object"] == "account"
        assert account["id"].startswith("acct_") and account["id"] != engine.platform_account_id
        assert account["default_currency"] in {"usd", "eur", "gbp", "cad", "jpy"}
        assert account["settings"]["payouts"]["schedule"]["interval"] in {"daily", "weekly"}
    assert len({account["id"] for account in accounts}) == len(accounts)


def test_unknown_accounts_are_refused(engine: Engine, tmp_path: Path):
    with pytest.raises(UnknownAccount):
        engine.run_sigma("select 1", tmp_path / "x.csv", account="acct_1NOPE")
    with pytest.raises(UnknownAccount):
        engine.validate_report_parameters("balance.summary.1", {}, account="acct_1NOPE")


def test_scheduled_query_runs_are_daily_snapshots(engine: Engine, tmp_path: Path):
    runs = engine.scheduled_query_runs()
    assert runs and runs == Engine(ENGINE_CONFIG).scheduled_query_runs()
    assert len({run["id"] for run in runs}) == len(runs)
    for run in runs:
        assert run["id"].startswith("sqr_")
        assert run["object"] == "scheduled_query_run"
        assert run["data_load_time"] % 86_400 == 0
        assert run["data_load_time"] < run["created"] <= LOAD_TIME.timestamp()
        assert run["result_available_until"] > run["created"]
    newest = next(run for run in runs if run["status"] == "completed")
    path = tmp_path / "scheduled.csv"
    snapshot = datetime.fromtimestamp(newest["data_load_time"], UTC)
    result = engine.run_sigma(newest["sql"], path, data_load_time=snapshot)
    assert result.data_load_time == snapshot and result.columns == read_csv(path)[0]


def test_scheduled_runs_that_did_not_complete_say_why(engine: Engine):
    """Stripe: ``completed`` for successful runs, and ``canceled``, ``failed`` or ``timed_out`` otherwise."""
    runs = engine.scheduled_query_runs()
    statuses = {run["status"] for run in runs}
    assert statuses == {"completed", "failed", "timed_out", "canceled"}
    for run in runs:
        if run["status"] == "completed":
            assert run["error"] is None
        else:
            assert run["error"]["message"]
    # Most runs complete; the daily export is the one that often does not.
    completed = [run for run in runs if run["status"] == "completed"]
    assert len(completed) > 0.7 * len(runs)
    unfinished = {run["title"] for run in runs if run["status"] in ("timed_out", "canceled")}
    assert unfinished == {"Charges export"}
    # Any six consecutive days have runs of every status.
    newest_day = runs[0]["data_load_time"]
    week = [run for run in runs if run["data_load_time"] > newest_day - 6 * 86_400]
    assert {run["status"] for run in week} == statuses


def test_more_scheduled_runs_appear_as_the_clock_moves():
    engine = Engine(SMALL)
    before = {run["id"] for run in engine.scheduled_query_runs()}
    engine.advance(by=timedelta(days=1))
    after = {run["id"] for run in engine.scheduled_query_runs()}
    assert before < after


def test_runs_in_parallel_threads_do_not_disturb_each_other(engine: Engine, tmp_path: Path):
    accounts = [None, *(account["id"] for account in engine.connected_accounts())]
    moments = [LOAD_TIME - timedelta(days=days) for days in (0, 1, 4)]
    jobs = [(account, moment) for account in accounts for moment in moments] * 2
    sql = "select count(*) as n, sum(net) as total, max(created) as latest from balance_transactions"

    def run(index: int) -> list[dict[str, str]]:
        account, moment = jobs[index]
        path = tmp_path / f"parallel-{index}.csv"
        engine.run_sigma(sql, path, account=account, data_load_time=moment)
        return read_csv(path)[1]

    expected = [run(index) for index in range(len(jobs))]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(run, range(len(jobs)))) == expected
    assert len({str(rows) for rows in expected}) == len(jobs) // 2


def test_the_same_config_gives_the_same_answers(engine: Engine, tmp_path: Path):
    other = Engine(ENGINE_CONFIG)
    sql = "select id, amount, fee, created, source_id from balance_transactions order by id"
    engine.run_sigma(sql, tmp_path / "a.csv")
    other.run_sigma(sql, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    parameters = {
        "interval_start": int((LOAD_TIME - timedelta(days=3)).timestamp()),
        "interval_end": int(LOAD_TIME.timestamp()),
    }
    engine.run_report("balance_change_from_activity.itemized.3", parameters, tmp_path / "c.csv")
    other.run_report("balance_change_from_activity.itemized.3", parameters, tmp_path / "d.csv")
    assert (tmp_path / "c.csv").read_bytes() == (tmp_path / "d.csv").read_bytes()
