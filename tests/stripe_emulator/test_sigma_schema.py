"""Stripe's Sigma schema as the emulator shows it: tables, columns, ids, history, FX, Connect, helpers.

Sources: docs.stripe.com/stripe-data/query-billing-data (Billing tables, the MRR template, price
tiers, discounts, promotion codes, stringify_amount), .../query-connect-data (connected_accounts,
connected_account_ tables), .../query-transactions, Stripe's Sigma query templates
(decimalize_amount_no_display, subscription_item_change_events_v2_beta).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from emulator_settings import LOAD_TIME, Rows

from stripe_emulator import Engine
from stripe_emulator.datagen import SIGMA_FUNCTIONS, install_sigma_functions

Sigma = Callable[..., Rows]
TEMPLATES = Path(__file__).parent / "sigma_templates"

# Columns Stripe's docs and query templates name, per table (each table has more).
DOCUMENTED = {
    table: set(columns.split())
    for table, columns in {
        "subscriptions": "id customer_id status price_id discount_coupon_id trial_end created",
        "subscription_items": "id subscription_id price_id price_product_id quantity",
        "subscription_schedules": "id subscription_id customer_id status released_subscription_id",
        "subscription_item_change_events": "event_timestamp local_event_timestamp event_type currency "
        "mrr_change quantity_change product_id price_id customer_id subscription_id subscription_item_id",
        "invoices": "id customer_id subscription_id charge_id amount_due subtotal total tax period_start "
        "period_end status currency",
        "invoice_line_items": "id invoice_id source_id source_type subscription amount period_start",
        "invoice_line_item_discount_amounts": "invoice_id amount",
        "invoice_items": "id invoice_id customer_id amount currency",
        "credit_notes": "id invoice_id amount refund_id status type",
        "prices": "id product_id currency unit_amount nickname",
        "price_tiers": "price_id upto unit_amount flat_amount",
        "plans": "id product_id amount interval currency",
        "products": "id name statement_descriptor",
        "coupons": "id amount_off percent_off valid times_redeemed",
        "discounts": "id coupon_id customer_id subscription_id",
        "promotion_codes": "id code coupon_id times_redeemed",
        "payment_intents": "id amount currency customer_id status latest_charge_id invoice_id",
        "checkout_sessions": "id mode status payment_status payment_intent_id subscription_id",
        "balance_transaction_fee_details": "balance_transaction_id amount currency description type",
        "exchange_rates_from_usd": "date buy_currency_exchange_rates",
        "accounts": "id default_currency business_name",
        "connected_accounts": "id business_name country email requirements_currently_due",
        "connected_account_balance_transactions": "account id amount fee net reporting_category",
        "connected_account_charges": "account id amount customer_id payment_intent_id",
    }.items()
}
# Stripe's id prefixes, by table.
PREFIXES = {
    "subscriptions": "sub_",
    "subscription_items": "si_",
    "subscription_schedules": "sub_sched_",
    "invoices": "in_",
    "invoice_line_items": "il_",
    "invoice_items": "ii_",
    "credit_notes": "cn_",
    "prices": "price_",
    "plans": "price_",
    "products": "prod_",
    "discounts": "di_",
    "promotion_codes": "promo_",
    "payment_intents": "pi_",
    "checkout_sessions": "cs_test_",
    "connected_accounts": "acct_",
}


def test_every_documented_table_has_its_documented_columns(engine: Engine) -> None:
    tables = engine.sigma_columns()
    for table, columns in DOCUMENTED.items():
        assert table in tables, table
        assert columns <= {name for name, _ in tables[table]}, (
            table,
            columns - {n for n, _ in tables[table]},
        )


def test_amounts_are_integers_and_times_are_timestamps(engine: Engine) -> None:
    tables = engine.sigma_columns()
    for table, expected in (
        ("invoices", {"total": "BIGINT", "amount_due": "BIGINT", "created": "TIMESTAMP"}),
        ("subscription_item_change_events", {"mrr_change": "BIGINT", "event_timestamp": "TIMESTAMP"}),
        ("payment_intents", {"amount": "BIGINT", "created": "TIMESTAMP"}),
        ("exchange_rates_from_usd", {"date": "DATE", "buy_currency_exchange_rates": "VARCHAR"}),
    ):
        types = dict(tables[table])
        assert {column: types[column] for column in expected} == expected, table


@pytest.mark.parametrize(("table", "prefix"), sorted(PREFIXES.items()))
def test_ids_have_stripes_prefixes_and_are_unique(sigma: Sigma, table: str, prefix: str) -> None:
    [row] = sigma(
        f"select count(*) as n, count(distinct id) as ids, count_if(starts_with(id, '{prefix}')) as prefixed "
        f"from {table}"
    )
    assert int(row["n"]) > 0 and row["n"] == row["ids"] == row["prefixed"]


def test_the_templates_table_names_are_known_too(sigma: Sigma) -> None:
    same = "select count(*) as n, sum(mrr_change) as mrr from "
    assert sigma(same + "subscription_item_change_events_v2_beta") == sigma(
        same + "subscription_item_change_events"
    )


def test_every_table_covers_the_same_history(sigma: Sigma) -> None:
    firsts = {}
    for table, column in (
        ("customers", "created"),
        ("subscriptions", "created"),
        ("subscription_item_change_events", "event_timestamp"),
        ("invoices", "created"),
        ("charges", "created"),
        ("payment_intents", "created"),
        ("checkout_sessions", "created"),
        ("balance_transactions", "created"),
    ):
        firsts[table] = sigma(f"select cast(min({column}) as date) as first from {table}")[0]["first"]
    [rates] = sigma("select cast(min(date) as varchar) as first from exchange_rates_from_usd")
    assert len(set(firsts.values())) == 1, firsts
    assert rates["first"] == next(iter(firsts.values()))


def test_there_is_an_fx_rate_for_every_day_and_every_currency_used(sigma: Sigma) -> None:
    [days] = sigma(
        "select count(*) as n, date_diff('day', min(date), max(date)) + 1 as span, max(date) as last "
        "from exchange_rates_from_usd"
    )
    assert days["n"] == days["span"] and days["last"] == LOAD_TIME.date().isoformat()
    used = sigma(
        "select distinct currency from (select currency from charges union select currency from "
        "subscription_item_change_events union select currency from checkout_sessions)"
    )
    [rates] = sigma(
        "select cast(json_parse(buy_currency_exchange_rates) as map(varchar, double)) as rates "
        "from exchange_rates_from_usd order by date limit 1"
    )
    for row in used:
        assert f"{row['currency']}=" in rates["rates"], row


def test_accounts_is_the_account_itself_and_connected_accounts_its_connected_accounts(
    engine: Engine, sigma: Sigma
) -> None:
    assert sigma("select id, default_currency from accounts") == [
        {"id": engine.platform_account_id, "default_currency": "usd"}
    ]
    connected = sorted(account["id"] for account in engine.connected_accounts())
    assert sorted(row["id"] for row in sigma("select id from connected_accounts")) == connected
    one = connected[0]
    assert sigma("select id from accounts", account=one) == [{"id": one}]
    assert sigma("select count(*) as n from connected_accounts", account=one) == [{"n": "0"}]


def test_connected_account_tables_hold_every_connected_accounts_rows(engine: Engine, sigma: Sigma) -> None:
    together = {
        row["account"]: row["n"]
        for row in sigma("select account, count(*) as n from connected_account_charges group by 1")
    }
    apart = {
        account["id"]: sigma("select count(*) as n from charges", account=account["id"])[0]["n"]
        for account in engine.connected_accounts()
    }
    assert together == apart
    assert sigma("select count(*) as n from connected_account_charges", account=next(iter(apart))) == [
        {"n": "0"}
    ]


def test_fee_details_add_up_to_each_transactions_fee(sigma: Sigma, engine: Engine) -> None:
    query = (
        "select count(*) as n, count_if(bt.fee = coalesce(f.fee, 0)) as kept, count(f.fee) as detailed "
        "from balance_transactions bt left join (select balance_transaction_id, sum(amount) as fee "
        "from balance_transaction_fee_details group by 1) f on f.balance_transaction_id = bt.id"
    )
    for account in (None, engine.connected_accounts()[0]["id"]):
        [row] = sigma(query, account=account)
        assert row["kept"] == row["n"] and int(row["detailed"]) > 0, account
    kinds = sigma(
        "select type, count(distinct application) as applications from "
        "connected_account_balance_transaction_fee_details "
        "group by 1 order by 1"
    )
    assert kinds == [
        {"type": "application_fee", "applications": "1"},
        {"type": "stripe_fee", "applications": "0"},
    ]


def test_prices_of_the_tiered_plan_have_their_tiers(sigma: Sigma) -> None:
    tiers = sigma(
        "select p.billing_scheme, p.unit_amount as price_unit, t.upto, t.flat_amount, t.unit_amount "
        "from prices p join price_tiers t on t.price_id = p.id where p.currency = 'usd' and "
        "p.recurring_interval = 'month' order by t.upto nulls last"
    )
    assert tiers == [
        {
            "billing_scheme": "tiered",
            "price_unit": "",
            "upto": "5",
            "flat_amount": "4900",
            "unit_amount": "0",
        },
        {"billing_scheme": "tiered", "price_unit": "", "upto": "", "flat_amount": "0", "unit_amount": "900"},
    ]
    assert sigma("select count(*) as n from plans") == sigma("select count(*) as n from prices")


# -- Stripe's Sigma helper functions ----------------------------------------------------------


@pytest.fixture(scope="module")
def helpers() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    install_sigma_functions(con)
    return con


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        # decimalize_amount(_no_display)(currency, minor amount[, digits]): a number in major units.
        ("decimalize_amount('usd', 123456)", 1234.56),
        ("decimalize_amount('JPY', 1234)", 1234.0),
        ("decimalize_amount('kwd', 1234)", 1.234),
        ("decimalize_amount_no_display('usd', 123456, 2)", 1234.56),
        ("decimalize_amount_no_display('usd', 1234.567, 2)", 12.35),
        ("decimalize_amount('usd', cast(null as bigint))", None),
        # stringify_amount(currency, amount, separator): the exact text with the currency's decimals.
        ("stringify_amount('usd', 200, '.')", "2.00"),
        ("stringify_amount('usd', 50, '.')", "0.50"),
        ("stringify_amount('eur', -1234, ',')", "-12,34"),
        ("stringify_amount('jpy', 1234, '.')", "1234"),
        ("stringify_amount('usd', 1234)", "12.34"),
    ],
)
def test_sigma_helpers_turn_minor_units_into_major_ones(
    helpers: duckdb.DuckDBPyConnection, call: str, expected: object
) -> None:
    assert helpers.execute(f"select {call}").fetchone() == (expected,)


def test_sigma_helpers_run_in_sigma_queries(sigma: Sigma) -> None:
    assert set(SIGMA_FUNCTIONS) == {"decimalize_amount", "decimalize_amount_no_display", "stringify_amount"}
    row = sigma(
        "select decimalize_amount_no_display('usd', 123456, 2) as total, stringify_amount('usd', 200, '.') "
        "as price"
    )
    assert row == [{"total": "1234.56", "price": "2.00"}]


# -- Stripe's own templates -------------------------------------------------------------------


def test_stripes_mrr_waterfall_template_runs_and_each_month_begins_where_the_last_ended(sigma: Sigma) -> None:
    months = sigma((TEMPLATES / "mrr_waterfall.sql").read_text())
    assert len(months) > 40  # every month of four years of history
    for month, previous in itertools.pairwise(months):
        assert float(month["beginning_mrr"]) == float(previous["ending_mrr"]), month["local_month_start"]
        assert int(month["beginning_subscribers"]) == int(previous["ending_subscribers"])
    newest = months[0]
    for column in ("new_mrr", "reactivation_mrr", "expansion_mrr"):
        assert float(newest[column]) > 0, column
    for column in ("contraction_mrr", "churn_mrr"):
        assert float(newest[column]) < 0, column
    assert int(newest["reactivated_subscribers"]) > 0 and int(newest["churned_subscribers"]) > 0
    # The ending subscribers are the customers with MRR: active and past-due subscriptions' customers.
    [live] = sigma(
        "select count(distinct customer_id) as n from subscriptions where status in ('active', 'past_due')"
    )
    assert newest["ending_subscribers"] == live["n"]
