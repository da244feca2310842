"""The Sigma schema: one view per Sigma table over the raw generated tables.

Each view shows a raw table as Sigma would at the run's ``data_load_time`` and for the run's
account. Both come from DuckDB session variables that every run sets on its own cursor, so runs
proceed in parallel. Sigma's column list per table is :data:`SIGMA_TABLES`; the other tables'
authors add theirs there.
"""

from __future__ import annotations

import duckdb

from stripe_emulator.datagen import RAW_SCHEMA
from stripe_emulator.sigma.types import TrinoType, from_duckdb

__all__ = ["SIGMA_TABLES", "TABLE_NAMES", "column_types", "install_views"]

_DLT = "getvariable('sigma_data_load_time')"
_ACCOUNT = "getvariable('sigma_account')"

# The start of a subscription's current billing period (its last one once it ended).
_PERIOD = f"{RAW_SCHEMA}.period_start(start_date, _interval_months, _ended_at, {_DLT})"
# What Sigma shows of each raw table: column expressions evaluated as of the run's data_load_time,
# so states that change over time (statuses, refunds, quantities) are those Sigma would have seen.
# fmt: off
SIGMA_TABLES: dict[str, tuple[str, ...]] = {
    "balance_transactions": (
        "id", "amount", "available_on", "created", "currency", "description", "fee", "net",
        f"CASE WHEN available_on <= {_DLT} THEN 'available' ELSE 'pending' END AS status", "type",
        "source_id", "balance_type", "exchange_rate", "reporting_category",
        f"CASE WHEN _payout_created < {_DLT} THEN _automatic_payout_id END AS automatic_payout_id",
    ),
    "charges": (
        "id", "amount", "amount_captured",
        f"CASE WHEN _refunded_at < {_DLT} THEN _refund_amount ELSE 0 END AS amount_refunded",
        "application_fee_amount", "application_fee_id", "balance_transaction_id", "captured", "created",
        "currency", "customer_id", "description", f"coalesce(_disputed_at < {_DLT}, false) AS disputed",
        "failure_code", "failure_message", "invoice_id", "paid", "payment_intent_id", "payment_method_type",
        f"coalesce(_refunded_at < {_DLT} AND _refund_amount = amount, false) AS refunded",
        "statement_descriptor", "status", "card_brand", "card_country", "card_funding", "card_last4",
        "card_exp_month", "card_exp_year",
    ),
    "customers": (
        "id", "created", "email", "name", "description", "currency", "delinquent", "discount_coupon_id",
        "balance", "tax_exempt", "invoice_prefix", "address_line1", "address_line2", "address_city",
        "address_state", "address_postal_code", "address_country", "deleted",
    ),
    "subscriptions": (
        "id", "customer_id", f"CASE WHEN _ended_at < {_DLT} THEN 'canceled' ELSE 'active' END AS status",
        "price_id",
        f"CASE WHEN _quantity_changed_at < {_DLT} THEN _quantity_after ELSE _quantity_before END AS quantity",
        "currency", "created", "start_date", "billing_cycle_anchor",
        f"{_PERIOD} AS current_period_start",
        f"{_PERIOD} + to_months(_interval_months) AS current_period_end",
        f"coalesce(_ended_at >= {_DLT} AND _ended_at - to_months(_interval_months) < {_DLT}, false) "
        "AS cancel_at_period_end",
        f"CASE WHEN _ended_at < {_DLT} THEN _ended_at END AS canceled_at",
        f"CASE WHEN _ended_at < {_DLT} THEN _ended_at END AS ended_at", "collection_method",
        "CAST(NULL AS TIMESTAMP) AS trial_start", "CAST(NULL AS TIMESTAMP) AS trial_end",
    ),
    "subscription_items": (
        "id", "subscription_id", "price_id",
        f"CASE WHEN _quantity_changed_at < {_DLT} THEN _quantity_after ELSE _quantity_before END AS quantity",
        "created",
    ),
    "subscription_item_change_events": (
        "event_timestamp", "local_event_timestamp", "event_type", "currency", "mrr_change", "quantity_change",
        "product_id", "price_id", "customer_id", "subscription_id", "subscription_item_id",
    ),
    "invoices": (
        "id", "customer_id", "subscription_id", "status", "created", "currency", "amount_due", "amount_paid",
        "amount_remaining", "subtotal", "total", "tax", "period_start", "period_end", "number", "paid",
        "charge_id", "payment_intent_id", "billing_reason", "collection_method", "attempt_count",
    ),
    "invoice_line_items": (
        "id", "invoice_id", "source_id", "source_type", "subscription", "subscription_item_id", "amount",
        "currency", "quantity", "price_id", "period_start", "period_end", "proration", "description",
    ),
    "refunds": (
        "id", "amount", "balance_transaction_id", "charge_id", "created", "currency", "payment_intent_id",
        "reason", "status",
    ),
    "disputes": (
        "id", "amount", "balance_transaction_id", "charge_id", "created", "currency", "evidence_due_by",
        "is_charge_refundable", "payment_intent_id", "reason",
        f"CASE WHEN _closed_at < {_DLT} THEN _outcome WHEN created + INTERVAL 5 DAY < {_DLT} "
        "THEN 'under_review' ELSE 'needs_response' END AS status",
    ),
    "payouts": (
        "id", "amount", "arrival_date", "automatic", "balance_transaction_id", "created", "currency",
        "description", "destination_id", "failure_code", "method", "source_type", "statement_descriptor",
        "status", "type",
    ),
    "transfers": (
        "id", "amount", "amount_reversed", "balance_transaction_id", "created", "currency", "description",
        "destination_id", "destination_payment_id", "reversed", "transfer_group",
    ),
    "application_fees": (
        "id", "account_id", "amount", "amount_refunded", "balance_transaction_id", "charge_id", "created",
        "currency", "refunded",
    ),
    "accounts": (
        "id", "business_name", "business_type", "charges_enabled", "country", "created", "default_currency",
        "details_submitted", "email", "payouts_enabled", "type", "payout_schedule_interval",
        "payout_schedule_delay_days",
    ),
    "products": (
        "id", "name", "active", "created", "description", "statement_descriptor", "type", "unit_label",
    ),
    "prices": (
        "id", "product_id", "active", "currency", "unit_amount", "recurring_interval",
        "recurring_interval_count", "recurring_usage_type", "type", "billing_scheme", "nickname", "created",
    ),
    "exchange_rates_from_usd": (
        "date", "buy_currency_exchange_rates",
    ),
}
# fmt: on
# Sigma also knows the connected accounts table by this name.
_ALIASES = {"connected_accounts": "accounts"}
TABLE_NAMES = frozenset(SIGMA_TABLES) | frozenset(_ALIASES)


def install_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create one view per Sigma table (in the default schema) over the raw tables."""
    con.execute(
        f"CREATE OR REPLACE MACRO {RAW_SCHEMA}.months_between(s, t) AS "
        "(year(t) - year(s)) * 12 + month(t) - month(s) "
        "- CASE WHEN s + to_months((year(t) - year(s)) * 12 + month(t) - month(s)) > t THEN 1 ELSE 0 END"
    )
    # The start of the billing period that contains `moment` (the last one, once the subscription ended).
    con.execute(
        f"CREATE OR REPLACE MACRO {RAW_SCHEMA}.period_start(s, step, ended, moment) AS "
        f"s + to_months(({RAW_SCHEMA}.months_between(s, "
        "CASE WHEN ended <= moment THEN ended - INTERVAL 1 SECOND "
        "ELSE moment END) // step) * step)"
    )
    for table, columns in {**SIGMA_TABLES, **{a: SIGMA_TABLES[t] for a, t in _ALIASES.items()}}.items():
        source = _ALIASES.get(table, table)
        con.execute(
            f"CREATE OR REPLACE VIEW main.{table} AS SELECT {', '.join(columns)} FROM {RAW_SCHEMA}.{source} "  # noqa: S608 - the fixed Sigma schema
            f"WHERE _visible_at < {_DLT} AND (_account IS NULL OR _account = {_ACCOUNT})"
        )


def column_types(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, TrinoType | None]]:
    """The Trino type of every column of the Sigma views, by table and column (lower case)."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND database_name = current_database()"
    ).fetchall()
    schema: dict[str, dict[str, TrinoType | None]] = {}
    for table, column, data_type in rows:
        schema.setdefault(table.lower(), {})[column.lower()] = from_duckdb(data_type)
    return schema
