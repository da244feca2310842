"""Generated data: deterministic, Stripe-shaped, at the requested volume, with Stripe's balance rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from stripe_emulator.datagen import GeneratedData, generate, install_macros, stripe_id

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 4, tzinfo=UTC)
REFERENCE = date(2026, 2, 1)


def _generate(**overrides: object) -> tuple[duckdb.DuckDBPyConnection, GeneratedData]:
    options: dict[str, object] = {
        "seed": 3,
        "data_start": START,
        "data_end": END,
        "reference_day": REFERENCE,
        "scale": 150,
        "connected_accounts": 3,
    }
    options.update(overrides)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con, generate(con, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def generated() -> tuple[duckdb.DuckDBPyConnection, GeneratedData]:
    return _generate()


def _rows(con: duckdb.DuckDBPyConnection, table: str, where: str = "true") -> list[tuple[object, ...]]:
    return con.execute(
        f"SELECT * EXCLUDE (_visible_at) FROM stripe_raw.{table} WHERE {where} ORDER BY ALL"
    ).fetchall()


def test_the_same_seed_and_config_generate_identical_data(
    generated: tuple[duckdb.DuckDBPyConnection, GeneratedData],
):
    con, data = generated
    again, again_data = _generate()
    assert again_data.row_counts == data.row_counts
    for table in (
        "balance_transactions",
        "charges",
        "customers",
        "subscription_item_change_events",
        "payouts",
    ):
        assert _rows(again, table) == _rows(con, table), table
    assert again_data.platform.id == data.platform.id


def test_another_seed_generates_other_data(generated: tuple[duckdb.DuckDBPyConnection, GeneratedData]):
    con, data = generated
    other, other_data = _generate(seed=4)
    assert other_data.platform.id != data.platform.id
    ids = {row[0] for row in con.execute("SELECT id FROM stripe_raw.charges").fetchall()}
    other_ids = {row[0] for row in other.execute("SELECT id FROM stripe_raw.charges").fetchall()}
    assert not ids & other_ids


def test_a_days_rows_do_not_depend_on_how_many_days_are_generated(
    generated: tuple[duckdb.DuckDBPyConnection, GeneratedData],
):
    con, _ = generated
    longer, _ = _generate(data_start=START - timedelta(days=40))
    recent = "created >= TIMESTAMP '2026-01-25'"
    for table in ("charges", "invoices", "customers", "subscriptions"):
        assert _rows(longer, table, recent) == _rows(con, table, recent), table
    charges = f"{recent} AND reporting_category = 'charge'"
    assert _rows(longer, "balance_transactions", charges) == _rows(con, "balance_transactions", charges)


@pytest.mark.parametrize("scale", [100, 600])
def test_the_platform_records_about_scale_balance_transactions_a_day(scale: int):
    con, data = _generate(scale=scale, data_start=START + timedelta(days=14))
    per_account = dict(
        con.execute(
            "SELECT _account, count(*) / 14.0 FROM stripe_raw.balance_transactions "
            "WHERE created >= TIMESTAMP '2026-01-18' AND created < TIMESTAMP '2026-02-01' GROUP BY 1"
        ).fetchall()
    )
    platform = per_account.pop(data.platform.id)
    assert 0.8 * scale <= platform <= 1.2 * scale
    # Connected accounts add about a fifth on top.
    assert 0.1 * scale <= sum(per_account.values()) <= 0.3 * scale
    assert set(per_account) == {account.id for account in data.connected}


def test_several_currencies_in_minor_units(generated: tuple[duckdb.DuckDBPyConnection, GeneratedData]):
    con, _ = generated
    currencies = {
        row[0]
        for row in con.execute("SELECT DISTINCT currency FROM stripe_raw.balance_transactions").fetchall()
    }
    assert {"usd", "eur", "gbp", "cad", "jpy"} <= currencies
    types = dict(
        con.execute(
            "SELECT column_name, column_type FROM (DESCRIBE stripe_raw.balance_transactions)"
        ).fetchall()
    )
    assert types["amount"] == types["fee"] == types["net"] == "BIGINT"
    assert types["created"] == types["available_on"] == "TIMESTAMP"
    # A typical order is tens of dollars: thousands of cents, thousands of yen (no minor unit).
    medians = dict(
        con.execute(
            "SELECT currency, median(amount) FROM stripe_raw.charges "
            "WHERE currency IN ('usd', 'jpy') GROUP BY 1"
        ).fetchall()
    )
    assert 1_000 < medians["usd"] < 20_000
    assert 1_000 < medians["jpy"] < 30_000


def test_net_is_amount_minus_fee_and_funds_become_available_at_midnight(
    generated: tuple[duckdb.DuckDBPyConnection, GeneratedData],
):
    con, data = generated
    delays = {account.id: account.payout_delay_days for account in (data.platform, *data.connected)}
    rows = con.execute(
        "SELECT _account, created, available_on, amount, fee, net, reporting_category "
        "FROM stripe_raw.balance_transactions"
    ).fetchall()
    for account, created, available_on, amount, fee, net, category in rows:
        assert net == amount - fee
        if category != "payout":
            midnight = datetime.combine(created.date(), datetime.min.time())
            assert available_on == midnight + timedelta(days=delays[account])


def test_each_payout_sweeps_what_became_available_and_was_not_paid_out(
    generated: tuple[duckdb.DuckDBPyConnection, GeneratedData],
):
    con, _ = generated
    # One automatic payout per account, currency and day, its transaction the negative of its amount.
    payouts, per_day, own_transaction = con.execute(
        "SELECT count(*), count(DISTINCT (p._account, p.currency, CAST(p.created AS DATE))), "
        "count(*) FILTER (WHERE bt.net = -p.amount) FROM stripe_raw.payouts p "
        "JOIN stripe_raw.balance_transactions bt ON bt.id = p.balance_transaction_id"
    ).fetchone() or (0, 0, 0)
    assert payouts > 1000
    assert payouts == per_day == own_transaction
    # Each sweeps transactions of its own account and currency that were available by then, worth its amount.
    mismatched = con.execute(
        "SELECT count(*) FROM stripe_raw.payouts p JOIN ("
        "  SELECT _automatic_payout_id AS id, sum(net) AS net, max(available_on) AS available, "
        "  count(DISTINCT _account) AS accounts, count(DISTINCT currency) AS currencies, "
        "  any_value(_account) AS account, any_value(currency) AS currency "
        "  FROM stripe_raw.balance_transactions WHERE _automatic_payout_id IS NOT NULL GROUP BY 1"
        ") swept USING (id) "
        "WHERE swept.net <> p.amount OR swept.available > p.created OR swept.accounts <> 1 "
        "OR swept.currencies <> 1 OR swept.account <> p._account OR swept.currency <> p.currency"
    ).fetchone()
    assert mismatched == (0,)
    # Everything that became available a week before the end has been paid out.
    left = con.execute(
        "SELECT count(*) FROM stripe_raw.balance_transactions WHERE reporting_category <> 'payout' "
        "AND _automatic_payout_id IS NULL AND available_on < TIMESTAMP '2026-01-28'"
    ).fetchone()
    assert left == (0,)


def test_ids_look_like_stripe_ids_and_are_unique(generated: tuple[duckdb.DuckDBPyConnection, GeneratedData]):
    con, data = generated
    prefixes = {
        "balance_transactions": "txn_", "charges": "ch_", "customers": "cus_", "payouts": "po_",
        "refunds": "re_",
        "disputes": "dp_", "invoices": "in_", "subscriptions": "sub_", "subscription_items": "si_",
        "prices": "price_", "products": "prod_", "accounts": "acct_", "transfers": "tr_",
        "application_fees": "fee_", "invoice_line_items": "il_",
    }  # fmt: skip
    for table, prefix in prefixes.items():
        total, distinct, good = con.execute(
            "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE starts_with(id, ?)) "
            f"FROM stripe_raw.{table}",
            [prefix],
        ).fetchone() or (0, 0, 0)
        assert total > 0, table
        assert total == distinct == good, table
    assert data.platform.id.startswith("acct_")


def test_python_and_sql_render_the_same_ids():
    con = duckdb.connect()
    install_macros(con)
    for number in (0, 1, 61, 62, 2**32 - 1, 2**32, 123456789123456789, 2**64 - 1):
        rendered = con.execute("SELECT stripe_raw.sid('ch_', CAST(? AS UBIGINT))", [number]).fetchone()
        assert rendered == (stripe_id("ch_", number),)


def test_subscription_events_add_up_to_each_subscriptions_mrr_at_the_end(
    generated: tuple[duckdb.DuckDBPyConnection, GeneratedData],
):
    con, _ = generated
    totals = con.execute(
        "WITH final AS (SELECT _u, arg_max(status, _seq) AS status FROM stripe_raw.subscription_history "
        "GROUP BY 1), "
        "events AS (SELECT subscription_id, sum(mrr_change) AS mrr, sum(quantity_change) AS quantity "
        "FROM stripe_raw.subscription_item_change_events GROUP BY 1) "
        "SELECT f.status, count(*) FILTER (WHERE e.mrr > 0 AND e.quantity > 0), "
        "count(*) FILTER (WHERE coalesce(e.mrr, 0) = 0 AND coalesce(e.quantity, 0) = 0), count(*) "
        "FROM stripe_raw.subscriptions s JOIN final f USING (_u) LEFT JOIN events e ON e.subscription_id = "
        "s.id "
        "GROUP BY 1"
    ).fetchall()
    by_status = {status: (positive, zero, total) for status, positive, zero, total in totals}
    # Active and past-due subscriptions count towards MRR; every other status contributes nothing.
    for status in ("active", "past_due"):
        positive, _, total = by_status[status]
        assert positive == total > 0, status
    for status in ("canceled", "unpaid", "trialing", "incomplete_expired", "paused"):
        _, zero, total = by_status[status]
        assert zero == total > 0, status
