"""The Sigma schema: one view per Sigma table over the raw generated tables.

Each view shows a raw table as Sigma would at the run's ``data_load_time`` and for the run's
account: rows created at or after ``data_load_time`` and other accounts' rows are hidden, and
columns whose value changes over time (statuses, refunds, quantities, prices) are computed as of
that moment from hidden columns. Both come from DuckDB session variables that every run sets on
its own cursor, so runs proceed in parallel.

Table and column names follow Stripe's Sigma schema (docs.stripe.com/stripe-data, the Billing,
Payments and Connect sections): amounts in minor units, times as UTC timestamps, references as
``<object>_id``. A Connect platform also sees ``connected_account_<table>`` for the tables that hold
connected accounts' activity, with an ``account`` column naming the connected account.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from stripe_emulator.datagen.macros import RAW_SCHEMA, install_sigma_functions

__all__ = ["CONNECT_TABLES", "SIGMA_TABLES", "TABLE_ALIASES", "TABLE_NAMES", "SigmaTable", "install_views"]

DLT = "getvariable('sigma_data_load_time')"
ACCOUNT = "getvariable('sigma_account')"
_SEEN = f"_visible_at < {DLT}"


def _at(column: str) -> str:
    """A hidden moment, shown once it has happened by ``data_load_time``."""
    return f"CASE WHEN {column} < {DLT} THEN {column} END"


@dataclass(frozen=True)
class SigmaTable:
    """One Sigma table: its columns (SQL over the raw table ``r``) and where its rows come from.

    ``source`` is the raw table; ``joins`` adds SQL after ``FROM source AS r``; ``rows`` replaces
    the usual "this account's rows" condition.
    """

    columns: tuple[str, ...]
    source: str = ""
    joins: str = ""
    rows: str = f"(r._account IS NULL OR r._account = {ACCOUNT})"


# The latest state of each subscription before data_load_time.
_SUBSCRIPTION_STATE = (
    f"JOIN (SELECT * FROM {RAW_SCHEMA}.subscription_history WHERE {_SEEN} "  # noqa: S608 - fixed schema
    "QUALIFY row_number() OVER (PARTITION BY _u ORDER BY _changed_at DESC, _seq DESC) = 1) AS h "
    "ON h._u = r._u"
)
_INVOICE_STATUS = (
    f"CASE WHEN r._voided_at < {DLT} THEN 'void' WHEN r._uncollectible_at < {DLT} THEN 'uncollectible' "
    f"WHEN r._paid_at < {DLT} THEN 'paid' WHEN r._finalized_at < {DLT} THEN 'open' ELSE 'draft' END"
)
_LATEST_ATTEMPT = (
    "coalesce("
    + ", ".join(f"CASE WHEN r._attempt{i}_at < {DLT} THEN r._charge{i}_id END" for i in (3, 2, 1, 0))
    + ")"
)
_ATTEMPT_COUNT = " + ".join(f"CASE WHEN r._attempt{i}_at < {DLT} THEN 1 ELSE 0 END" for i in range(4))
_SESSION_DONE = f"r._completed_at < {DLT}"
_PI_SUCCEEDED = f"r._succeeded_at < {DLT}"
_PI_CANCELED = f"r._canceled_at < {DLT}"


def _redemptions(column: str) -> str:
    return (
        f"(SELECT count(*) FROM {RAW_SCHEMA}.discounts AS d "  # noqa: S608 - fixed schema
        f"WHERE d.{column} = r.id AND d.{_SEEN} "
        f"AND d._account = {ACCOUNT})"
    )


# fmt: off
SIGMA_TABLES: dict[str, SigmaTable] = {
    # -- Payments ------------------------------------------------------------------------------
    "balance_transactions": SigmaTable((
        "id", "amount", "available_on", "created", "currency", "description", "fee", "net",
        f"CASE WHEN available_on <= {DLT} THEN 'available' ELSE 'pending' END AS status", "type",
        "source_id", "balance_type", "exchange_rate", "reporting_category",
        f"CASE WHEN _payout_created < {DLT} THEN _automatic_payout_id END AS automatic_payout_id",
    )),
    "balance_transaction_fee_details": SigmaTable((
        "balance_transaction_id", "amount", "application", "currency", "description", "type",
    )),
    "charges": SigmaTable((
        "id", "amount", "amount_captured",
        f"CASE WHEN _refunded_at < {DLT} THEN _refund_amount ELSE 0 END AS amount_refunded",
        "application_fee_amount", "application_fee_id", "balance_transaction_id", "captured", "created",
        "currency", "customer_id", "description", f"coalesce(_disputed_at < {DLT}, false) AS disputed",
        "failure_code", "failure_message", "invoice_id", "paid", "payment_intent_id", "payment_method_type",
        f"coalesce(_refunded_at < {DLT} AND _refund_amount = amount, false) AS refunded",
        "statement_descriptor", "status", "card_brand", "card_country", "card_funding", "card_last4",
        "card_exp_month", "card_exp_year",
    )),
    "payment_intents": SigmaTable((
        "id", "amount", "0 AS amount_capturable",
        f"CASE WHEN {_PI_SUCCEEDED} THEN amount ELSE 0 END AS amount_received",
        "application_fee_amount", f"{_at('_canceled_at')} AS canceled_at",
        f"CASE WHEN {_PI_CANCELED} AND NOT coalesce({_PI_SUCCEEDED}, false) THEN "
        "CASE WHEN invoice_id IS NULL THEN 'abandoned' ELSE 'void_invoice' END END AS cancellation_reason",
        "capture_method", "confirmation_method", "created", "currency", "customer_id", "description",
        "invoice_id",
        f"CASE WHEN coalesce({_PI_SUCCEEDED}, false) THEN NULL WHEN _failed_at < {DLT} THEN _failure_code "
        "END "
        "AS last_payment_error_code",
        f"CASE WHEN coalesce({_PI_SUCCEEDED}, false) THEN NULL WHEN _failed_at < {DLT} THEN "
        "_failure_message END "
        "AS last_payment_error_message",
        f"CASE WHEN {_PI_SUCCEEDED} THEN _succeeded_charge_id ELSE _first_charge_id END AS latest_charge_id",
        "statement_descriptor",
        f"CASE WHEN {_PI_SUCCEEDED} THEN 'succeeded' WHEN {_PI_CANCELED} THEN 'canceled' "
        "ELSE 'requires_payment_method' END AS status",
    )),
    "checkout_sessions": SigmaTable((
        "id", "amount_subtotal", "amount_total", "cancel_url", "client_reference_id", "created", "currency",
        "customer_id", "expires_at", f"CASE WHEN {_SESSION_DONE} THEN _invoice_id END AS invoice_id",
        "livemode", "mode",
        f"CASE WHEN _attempted_at < {DLT} THEN _payment_intent_id END AS payment_intent_id",
        f"CASE WHEN {_SESSION_DONE} THEN CASE WHEN _paid THEN 'paid' ELSE 'no_payment_required' END "
        "ELSE 'unpaid' END AS payment_status",
        f"CASE WHEN {_SESSION_DONE} THEN 'complete' WHEN expires_at <= {DLT} THEN 'expired' ELSE 'open' END "
        "AS status",
        "submit_type", f"CASE WHEN {_SESSION_DONE} THEN _subscription_id END AS subscription_id",
        "success_url",
    )),
    "customers": SigmaTable((
        "id", "created", "email", "name", "description", "currency", "delinquent", "discount_coupon_id",
        "balance", "tax_exempt", "invoice_prefix", "address_line1", "address_line2", "address_city",
        "address_state", "address_postal_code", "address_country", "deleted",
    )),
    "refunds": SigmaTable((
        "id", "amount", "balance_transaction_id", "charge_id", "created", "currency", "payment_intent_id",
        "reason", "status",
    )),
    "disputes": SigmaTable((
        "id", "amount", "balance_transaction_id", "charge_id", "created", "currency", "evidence_due_by",
        "is_charge_refundable", "payment_intent_id", "reason",
        f"CASE WHEN _closed_at < {DLT} THEN _outcome WHEN created + INTERVAL 5 DAY < {DLT} "
        "THEN 'under_review' ELSE 'needs_response' END AS status",
    )),
    "payouts": SigmaTable((
        "id", "amount", "arrival_date", "automatic", "balance_transaction_id", "created", "currency",
        "description", "destination_id", "failure_code", "method", "source_type", "statement_descriptor",
        "status", "type",
    )),
    "exchange_rates_from_usd": SigmaTable(("date", "buy_currency_exchange_rates")),
    # -- Billing -------------------------------------------------------------------------------
    "products": SigmaTable((
        "id", "name", "active", "created", "description", "statement_descriptor", "type", "unit_label",
    )),
    "prices": SigmaTable((
        "id", "product_id", "active", "currency", "unit_amount", "recurring_interval",
        "recurring_interval_count", "recurring_usage_type", "type", "billing_scheme", "tiers_mode",
        "nickname",
        "created",
    )),
    "plans": SigmaTable((
        "id", "product_id", "active", "amount", "billing_scheme", "created", "currency", "interval",
        "interval_count", "nickname", "tiers_mode", "trial_period_days", "usage_type",
    )),
    "price_tiers": SigmaTable(("price_id", "upto", "flat_amount", "unit_amount")),
    "coupons": SigmaTable((
        "id", "name", "amount_off", "currency", "duration", "duration_in_months", "max_redemptions",
        "percent_off", "redeem_by", f"{_redemptions('coupon_id')} AS times_redeemed", "valid", "created",
    )),
    "promotion_codes": SigmaTable((
        "id", "code", "coupon_id", "active", "created", "customer_id", "expires_at", "max_redemptions",
        f"{_redemptions('promotion_code_id')} AS times_redeemed", "restrictions_first_time_transaction",
    )),
    "discounts": SigmaTable((
        "id", "coupon_id", "customer_id", "subscription_id", "invoice_id", "promotion_code_id", "start",
        '"end"', "checkout_session_id",
    )),
    "subscriptions": SigmaTable((
        "r.id", "r.customer_id", "h.status", "h.price_id", "h.price_id AS plan_id", "h.quantity",
        "r.currency",
        "r.created", "r.start_date", "h.billing_cycle_anchor", "h.current_period_start",
        "h.current_period_end",
        "h.cancel_at", "h.cancel_at_period_end", "h.canceled_at", "h.ended_at", "r.trial_start",
        "r.trial_end",
        "r.collection_method", "CAST(NULL AS BIGINT) AS days_until_due", "h.latest_invoice_id",
        f"CASE WHEN r._schedule_from < {DLT} AND coalesce(r._schedule_until >= {DLT}, true) THEN "
        "r._schedule_id END "
        "AS schedule_id",
        "r.discount_coupon_id", "r.discounts", "r.description",
        "CASE WHEN h.canceled_at IS NOT NULL THEN r._cancellation_reason END AS cancellation_details_reason",
        "r.trial_settings_end_behavior_missing_payment_method",
        "CAST(NULL AS VARCHAR) AS pause_collection_behavior",
    ), joins=_SUBSCRIPTION_STATE),
    "subscription_items": SigmaTable((
        "id", "subscription_id",
        f"CASE WHEN _price_changed_at < {DLT} THEN _price_after ELSE _price_before END AS price_id",
        f"CASE WHEN _price_changed_at < {DLT} THEN _price_after ELSE _price_before END AS plan_id",
        f"CASE WHEN _price_changed_at < {DLT} THEN _product_after ELSE _product_before END AS "
        "price_product_id",
        f"CASE WHEN _quantity_changed_at < {DLT} THEN _quantity_after ELSE _quantity_before END AS quantity",
        "created",
    ), rows=f"r._account = {ACCOUNT} AND coalesce(r._deleted_at >= {DLT}, true)"),
    "subscription_item_change_events": SigmaTable((
        "event_timestamp", "local_event_timestamp", "event_type", "currency", "mrr_change", "quantity_change",
        "product_id", "price_id", "customer_id", "subscription_id", "subscription_item_id",
    )),
    "subscription_schedules": SigmaTable((
        "id", "created", "customer_id",
        f"CASE WHEN coalesce(_released_at < {DLT} OR _canceled_at < {DLT}, false) THEN NULL ELSE "
        "_subscription_id END "
        "AS subscription_id",
        f"CASE WHEN _canceled_at < {DLT} THEN 'canceled' WHEN _released_at < {DLT} THEN 'released' "
        f"WHEN _phase1_start < {DLT} THEN 'active' ELSE 'not_started' END AS status",
        "end_behavior", f"{_at('_canceled_at')} AS canceled_at", "CAST(NULL AS TIMESTAMP) AS completed_at",
        f"{_at('_released_at')} AS released_at",
        f"CASE WHEN _released_at < {DLT} THEN _subscription_id END AS released_subscription_id",
        f"CASE WHEN coalesce(_released_at < {DLT} OR _canceled_at < {DLT}, false) THEN NULL "
        f"WHEN _change < {DLT} THEN _change ELSE _phase1_start END AS current_phase_start_date",
        f"CASE WHEN coalesce(_released_at < {DLT} OR _canceled_at < {DLT}, false) THEN NULL "
        f"WHEN _change < {DLT} THEN _phase2_end ELSE _change END AS current_phase_end_date",
        "default_settings_collection_method",
    )),
    "subscription_schedule_phases": SigmaTable((
        "subscription_schedule_id", "phase_number", "start_date", "end_date", "price_id", "quantity",
        "proration_behavior",
    )),
    "invoices": SigmaTable((
        "id", "customer_id", "subscription_id", f"{_INVOICE_STATUS} AS status", "created", "currency",
        "amount_due", f"CASE WHEN _paid_at < {DLT} THEN total ELSE 0 END AS amount_paid",
        f"CASE WHEN coalesce(_paid_at < {DLT} OR _voided_at < {DLT}, false) THEN 0 ELSE total END "
        "AS amount_remaining",
        "subtotal", "total", "tax", "period_start", "period_end",
        f"CASE WHEN _finalized_at < {DLT} THEN _number END AS number",
        f"coalesce(_paid_at < {DLT}, false) AS paid", f"{_LATEST_ATTEMPT} AS charge_id",
        f"CASE WHEN _attempt0_at < {DLT} THEN _payment_intent_id END AS payment_intent_id",
        "billing_reason", "collection_method", f"{_ATTEMPT_COUNT} AS attempt_count",
        f"coalesce(_attempt0_at < {DLT}, false) AS attempted", "due_date", "days_until_due",
        f"{_at('_finalized_at')} AS status_transitions_finalized_at",
        f"{_at('_paid_at')} AS status_transitions_paid_at",
        f"{_at('_voided_at')} AS status_transitions_voided_at",
        f"{_at('_uncollectible_at')} AS status_transitions_marked_uncollectible_at",
    )),
    "invoice_line_items": SigmaTable((
        "id", "invoice_id", "source_id", "source_type", "subscription", "subscription_item_id", "amount",
        "currency", "quantity", "price_id", "period_start", "period_end", "proration", "description",
    )),
    "invoice_line_item_discount_amounts": SigmaTable((
        "invoice_id", "invoice_line_item_id", "discount_id", "amount",
    )),
    "invoice_items": SigmaTable((
        "id", "amount", "currency", "customer_id", "date", "description", "discountable", "invoice_id",
        "period_start", "period_end", "price_id", "proration", "quantity", "subscription_id", "unit_amount",
    )),
    "credit_notes": SigmaTable((
        "id", "amount", "created", "currency", "customer_id", "invoice_id", "memo", "number", "reason",
        "refund_id", "status", "subtotal", "total", "type", "voided_at",
    )),
    # -- Connect -------------------------------------------------------------------------------
    "accounts": SigmaTable((
        "id", "business_name", "business_type", "business_url", "charges_enabled", "country", "created",
        "default_currency", "details_submitted", "email", "payouts_enabled", "type",
        "payout_schedule_interval",
        "payout_schedule_delay_days", "payout_schedule_weekly_anchor",
    ), rows=f"r.id = {ACCOUNT}"),
    "connected_accounts": SigmaTable((
        "id", "business_name", "business_type", "business_url", "charges_enabled", "country", "created",
        "default_currency", "details_submitted", "email", "payouts_enabled", "type",
        "payout_schedule_interval",
        "payout_schedule_delay_days", "payout_schedule_weekly_anchor", "requirements_currently_due",
        "requirements_past_due", "requirements_disabled_reason",
    ), source="accounts", rows=f"r._connected_to = {ACCOUNT}"),
    "transfers": SigmaTable((
        "id", "amount", "amount_reversed", "balance_transaction_id", "created", "currency", "description",
        "destination_id", "destination_payment_id", "reversed", "transfer_group",
    )),
    "application_fees": SigmaTable((
        "id", "account_id", "amount", "amount_refunded", "balance_transaction_id", "charge_id", "created",
        "currency", "refunded",
    )),
}
# fmt: on

TABLE_ALIASES = {"subscription_item_change_events_v2_beta": "subscription_item_change_events"}
"""Other names Stripe's own query templates use for a table (the MRR templates' ``_v2_beta``)."""
CONNECT_TABLES = (
    "balance_transactions",
    "balance_transaction_fee_details",
    "charges",
    "disputes",
    "payment_intents",
    "payouts",
    "refunds",
)
"""Tables a platform also sees for its connected accounts, as ``connected_account_<table>``."""

_CONNECTED = f"r._account IN (SELECT id FROM {RAW_SCHEMA}.accounts WHERE _connected_to = {ACCOUNT})"  # noqa: S608


def _all_tables() -> dict[str, SigmaTable]:
    tables = dict(SIGMA_TABLES)
    for alias, table in TABLE_ALIASES.items():
        spec = SIGMA_TABLES[table]
        tables[alias] = SigmaTable(spec.columns, spec.source or table, spec.joins, spec.rows)
    for table in CONNECT_TABLES:
        spec = SIGMA_TABLES[table]
        tables[f"connected_account_{table}"] = SigmaTable(
            ("r._account AS account", *spec.columns), spec.source or table, spec.joins, _CONNECTED
        )
    return tables


VIEWS = _all_tables()
TABLE_NAMES = frozenset(VIEWS)
"""Every table name a Sigma query may read."""


def install_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create one view per Sigma table (in the default schema) and Stripe's Sigma functions."""
    install_sigma_functions(con)
    for table, spec in VIEWS.items():
        source = spec.source or table
        columns = ", ".join(
            column if "." in column or " " in column or "(" in column else f"r.{column}"
            for column in spec.columns
        )
        view = (
            f"CREATE OR REPLACE VIEW main.{table} AS SELECT {columns} "  # noqa: S608 - the fixed Sigma schema
            f"FROM {RAW_SCHEMA}.{source} AS r {spec.joins} WHERE r.{_SEEN} AND {spec.rows}"
        )
        con.execute(view)
