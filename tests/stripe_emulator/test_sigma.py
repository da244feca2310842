"""Sigma: Trino SQL over what an account could see at a data_load_time, written as CSV."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from emulator_settings import LOAD_TIME, Rows, read_csv

from stripe_emulator import Engine
from stripe_emulator.engine import SigmaSqlError

Sigma = Callable[..., Rows]


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=LOAD_TIME.tzinfo)


def _error(engine: Engine, tmp_path: Path, sql: str) -> str:
    with pytest.raises(SigmaSqlError) as raised:
        engine.run_sigma(sql, tmp_path / "failed.csv")
    return str(raised.value)


# -- data_load_time and visibility -----------------------------------------------------------


def test_data_load_time_is_a_timestamp_value(sigma: Sigma):
    rows = sigma("SELECT data_load_time")
    assert rows == [{"data_load_time": LOAD_TIME.strftime("%Y-%m-%d %H:%M:%S.000")}]
    earlier = LOAD_TIME - timedelta(days=2, minutes=30)
    assert sigma("select data_load_time as t", data_load_time=earlier) == [
        {"t": earlier.strftime("%Y-%m-%d %H:%M:%S.000")}
    ]


def test_rows_created_at_or_after_data_load_time_are_invisible(sigma: Sigma):
    for table, column in (
        ("balance_transactions", "created"),
        ("subscription_item_change_events", "event_timestamp"),
    ):
        latest = sigma(f"select max({column}) as latest, count(*) as n from {table}")[0]
        assert _time(latest["latest"]) < LOAD_TIME
        earlier = LOAD_TIME - timedelta(days=3)
        before = sigma(f"select max({column}) as latest, count(*) as n from {table}", data_load_time=earlier)[
            0
        ]
        assert _time(before["latest"]) < earlier
        assert int(before["n"]) < int(latest["n"])
    cut = LOAD_TIME - timedelta(hours=7)
    assert sigma("select count(*) as n from charges where created >= data_load_time", data_load_time=cut) == [
        {"n": "0"}
    ]


def test_state_is_shown_as_of_data_load_time(sigma: Sigma):
    refund = sigma(
        "select r.charge_id, r.amount, r.created from refunds r join charges c on c.id = r.charge_id "
        "where r.created < data_load_time - interval '1' day order by r.created desc limit 1"
    )[0]
    query = f"select amount_refunded, refunded from charges where id = '{refund['charge_id']}'"
    refunded_at = _time(refund["created"])
    assert sigma(query, data_load_time=refunded_at)[0]["amount_refunded"] == "0"
    after = sigma(query, data_load_time=refunded_at + timedelta(seconds=1))[0]
    assert after["amount_refunded"] == refund["amount"]


def test_an_account_sees_only_its_own_rows(engine: Engine, sigma: Sigma):
    connected = [account["id"] for account in engine.connected_accounts()]
    platform_ids = {row["id"] for row in sigma("select id from balance_transactions")}
    seen = set(platform_ids)
    for account in connected:
        ids = {row["id"] for row in sigma("select id from balance_transactions", account=account)}
        assert ids and not ids & seen
        seen |= ids
        # The platform's application fees name the connected account that paid them.
        fees = sigma(f"select count(*) as n from application_fees where account_id = '{account}'")
        own = sigma("select count(*) as n from charges where status = 'succeeded'", account=account)
        assert fees == own
        assert sigma("select count(*) as n from customers", account=account) == [{"n": "0"}]
    listed = {row["id"] for row in sigma("select id from connected_accounts")}
    assert listed == set(connected)
    # The platform's id as Stripe-Account is the platform itself.
    assert sigma("select count(*) as n from charges", account=engine.platform_account_id) == sigma(
        "select count(*) as n from charges"
    )


def test_the_owner_column_is_not_part_of_the_schema(engine: Engine, tmp_path: Path):
    message = _error(engine, tmp_path, "select _account from balance_transactions")
    assert message == "line 1:8: Column '_account' cannot be resolved"
    assert "stripe_raw" not in message
    message = _error(engine, tmp_path, "select * from stripe_raw.balance_transactions")
    assert (
        message
        == "Table 'stripe_raw.balance_transactions' does not exist. Did you mean 'balance_transactions'?"
    )


# -- Trino -----------------------------------------------------------------------------------


def test_integer_division_and_arithmetic_follow_trino(sigma: Sigma):
    rows = sigma("select 5 / 2 as a, -7 / 2 as b, 7.0 / 2 as c, cast(7 as double) / 2 as d, 7 % 3 as e")
    assert rows == [{"a": "2", "b": "-3", "c": "3.5", "d": "3.5", "e": "1"}]


def test_ctes_and_window_functions(sigma: Sigma):
    rows = sigma(
        """
        with daily as (
            select date_trunc('day', created) as day, count(*) as n
            from balance_transactions
            where created >= data_load_time - interval '5' day
            group by 1
        )
        select day, n, sum(n) over (order by day) as running, rank() over (order by n desc) as busiest
        from daily order by day
        """
    )
    assert len(rows) == 6
    running = 0
    for row in rows:
        running += int(row["n"])
        assert int(row["running"]) == running
        assert row["day"].endswith("00:00:00.000")
    assert sorted(int(row["busiest"]) for row in rows)[0] == 1


def test_date_functions(sigma: Sigma):
    row = sigma(
        "select created, date_format(created, '%Y-%m-%d %H:%i') as minute, "
        "date_add('day', 2, created) as later, "
        "from_unixtime(1773964800) as epoch, date_trunc('month', created) as month, "
        "date_diff('hour', created, data_load_time) as hours "
        "from charges order by created desc limit 1"
    )[0]
    created = _time(row["created"])
    assert row["minute"] == created.strftime("%Y-%m-%d %H:%M")
    assert _time(row["later"]) == created + timedelta(days=2)
    assert row["epoch"] == "2026-03-20 00:00:00.000"
    assert row["month"] == created.strftime("%Y-%m-01 00:00:00.000")
    assert int(row["hours"]) == int((LOAD_TIME - created).total_seconds() // 3600)


def test_at_time_zone_shows_the_utc_timestamp_in_that_zone(sigma: Sigma):
    row = sigma("select created, created at time zone 'America/New_York' as local from charges limit 1")[0]
    local = _time(row["created"]).astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None)
    assert row["local"] == local.strftime("%Y-%m-%d %H:%M:%S.000")


def test_json_extract_scalar_reads_the_exchange_rates(sigma: Sigma):
    rows = sigma(
        "select date, buy_currency_exchange_rates as rates, "
        "cast(json_extract_scalar(buy_currency_exchange_rates, '$.eur') as double) as eur "
        "from exchange_rates_from_usd order by date desc limit 3"
    )
    assert len(rows) == 3
    assert rows[0]["date"] == LOAD_TIME.strftime("%Y-%m-%d")
    for row in rows:
        assert float(row["eur"]) == json.loads(row["rates"])["eur"]
        assert json.loads(row["rates"])["usd"] == 1.0


def test_approx_distinct_is_close_to_the_exact_count(sigma: Sigma):
    row = sigma(
        "select approx_distinct(customer_id) as approx, count(distinct customer_id) as exact from charges"
    )[0]
    assert abs(int(row["approx"]) - int(row["exact"])) <= 0.1 * int(row["exact"])


def test_unnest_sequence_of_dates(sigma: Sigma):
    rows = sigma(
        "select d, count(c.id) as charges "
        "from unnest(sequence(date '2026-03-15', date '2026-03-17')) as t(d) "
        "left join charges c on cast(c.created as date) = d group by d order by d"
    )
    assert [row["d"] for row in rows] == ["2026-03-15", "2026-03-16", "2026-03-17"]
    assert all(int(row["charges"]) > 0 for row in rows)
    numbers = sigma("select n from unnest(sequence(1, 4)) as t(n)")
    assert [row["n"] for row in numbers] == ["1", "2", "3", "4"]


def test_interval_arithmetic_on_data_load_time(sigma: Sigma):
    everything = sigma("select created from balance_transactions")
    window = sigma(
        "select count(*) as n from balance_transactions where created >= data_load_time - interval '1' day"
    )
    expected = sum(1 for row in everything if _time(row["created"]) >= LOAD_TIME - timedelta(days=1))
    assert window == [{"n": str(expected)}]


def test_results_name_unnamed_columns_like_trino_and_write_nulls_as_empty(sigma: Sigma):
    rows = sigma(
        "select count(*), cast(null as varchar) as nothing, timestamp '2026-01-02 03:04:05.678' as moment, "
        "currency from charges group by currency order by currency limit 1"
    )
    assert list(rows[0]) == ["_col0", "nothing", "moment", "currency"]
    assert rows[0]["nothing"] == ""
    assert rows[0]["moment"] == "2026-01-02 03:04:05.678"


def test_a_result_reports_its_rows_columns_and_snapshot(engine: Engine, tmp_path: Path):
    path = tmp_path / "charges.csv"
    result = engine.run_sigma("select id, amount from charges order by created limit 25", path)
    header, rows = read_csv(path)
    assert (result.rows, result.columns, header) == (25, ["id", "amount"], ["id", "amount"])
    assert len(rows) == 25 and all(row["id"].startswith("ch_") for row in rows)
    assert result.data_load_time == LOAD_TIME


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("delete from charges", "DELETE"),
        ("insert into charges (id) values ('x')", "INSERT"),
        ("drop table charges", "DROP"),
        ("update charges set amount = 0", "UPDATE"),
        ("create table x as select 1", "CREATE"),
        ("show tables", "SHOW"),
    ],
)
def test_only_select_queries_run(engine: Engine, tmp_path: Path, sql: str, kind: str):
    assert _error(engine, tmp_path, sql) == f"Sigma only runs SELECT queries; got {kind}"


def test_bad_sql_is_explained(engine: Engine, tmp_path: Path):
    assert _error(engine, tmp_path, "select 1; select 2") == "Sigma runs a single query; got 2 statements"
    assert _error(engine, tmp_path, "   ") == "No SQL query was given"
    syntax = _error(engine, tmp_path, "selec id from charges")
    assert syntax.startswith("line 1:") and "mismatched input" in syntax
    assert (
        _error(engine, tmp_path, "select * from chargse")
        == "Table 'chargse' does not exist. Did you mean 'charges'?"
    )
    missing = _error(engine, tmp_path, "select no_such_column from charges")
    assert "no_such_column" in missing and "LINE" not in missing
    assert "Division by zero" in _error(engine, tmp_path, "select 1 / 0")
    assert (
        _error(engine, tmp_path, "select strftime(created, '%Y') from charges")
        == "line 1:8: Function 'strftime' not registered"
    )


def test_unsupported_constructs_are_named(engine: Engine, tmp_path: Path):
    recognize = (
        "select * from charges match_recognize "
        "(order by created measures a.id as x pattern (a) define a as true)"
    )
    assert _error(engine, tmp_path, recognize) == "Unsupported SQL construct: MATCH_RECOGNIZE"
    assert _error(engine, tmp_path, "select * from read_csv('/etc/passwd')").startswith(
        "Table functions are not supported: READ_CSV"
    )
    assert (
        _error(engine, tmp_path, "select getvariable('sigma_account')")
        == "line 1:8: Function 'getvariable' not registered"
    )
