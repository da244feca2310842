"""Billing tables: customers, subscriptions with their items and change events, invoices and lines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stripe_emulator.datagen.arrays import Columns
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import (
    K_CHARGE,
    K_CUSTOMER,
    K_INVOICE,
    K_LINE,
    K_PAYMENT_INTENT,
    K_PRICE,
    K_PRODUCT,
    K_SUB_ITEM,
    K_SUBSCRIPTION,
    price_payload,
)
from stripe_emulator.datagen.currencies import SETTLEMENT_CURRENCIES
from stripe_emulator.datagen.customers import Customers
from stripe_emulator.datagen.randomness import choice, key
from stripe_emulator.datagen.reference import (
    DAY,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    PLACES,
    PLATFORM_TIMEZONE,
    PRODUCT_NAMES,
    STREETS,
)
from stripe_emulator.datagen.tables.writer import TableWriter, categorical, timestamps


def write_customers(out: TableWriter, biz: Business, customers: Customers) -> None:
    """``customers``, with names, emails and addresses drawn per customer."""
    u = biz.draws.uniform
    keys = key(K_CUSTOMER, customers.payload)
    place = customers.place

    def pick(field: str, values: tuple[Any, ...]) -> pd.Categorical:
        return categorical(np.floor(u(keys, field) * len(values)).astype(np.int64), values)

    frame = pd.DataFrame(
        {
            "u": biz.draws.id(K_CUSTOMER, customers.payload),
            "created": timestamps(customers.created),
            "first": pick("first", FIRST_NAMES),
            "last": pick("last", LAST_NAMES),
            "n": np.floor(u(keys, "n") * 100).astype(np.int64),
            "domain": pick("domain", EMAIL_DOMAINS),
            "currency": categorical(customers.currency, SETTLEMENT_CURRENCIES),
            "street_no": 1 + np.floor(u(keys, "street_no") * 240).astype(np.int64),
            "street": pick("street", STREETS),
            "city": categorical(place, tuple(p[1] for p in PLACES)),
            "state": categorical(place, tuple(p[2] for p in PLACES)),
            "country": categorical(place, tuple(p[0] for p in PLACES)),
            "postal": np.floor(u(keys, "postal") * 100000).astype(np.int64),
            "coupon": categorical(
                choice(u(keys, "coupon"), (0.92, 0.05, 0.03)), (None, "WELCOME10", "ANNUAL20")
            ),
            "described": u(keys, "described") < 0.1,
        }
    )
    out.create(
        "customers",
        frame,
        "sid('cus_', u) AS id, created, "
        "lower(first) || '.' || lower(last) || n || '@' || domain AS email, "
        "first || ' ' || last AS name, "
        "CASE WHEN described THEN 'Imported from the previous billing system' END AS description, "
        "currency, "
        "false AS delinquent, coupon AS discount_coupon_id, 0 AS balance, 'none' AS tax_exempt, "
        "upper(substr(sid('', u), 2, 8)) AS invoice_prefix, street_no || ' ' || street AS address_line1, "
        "CAST(NULL AS VARCHAR) AS address_line2, city AS address_city, state AS address_state, "
        "lpad(CAST(postal AS VARCHAR), 5, '0') AS address_postal_code, country AS address_country, "
        "false AS deleted, u AS _u, $platform AS _account, created AS _visible_at",
        platform=out.platform,
    )


def write_subscriptions(out: TableWriter, biz: Business, subs: Columns) -> None:
    """``subscriptions``, ``subscription_items`` (one each) and ``subscription_item_change_events``."""
    draws = biz.draws
    end_of_data = biz.d1 * DAY
    has_change = (subs["changed_at"] >= 0) & (subs["changed_at"] < end_of_data)
    has_end = subs["ended"] < end_of_data
    price = draws.id(K_PRICE, price_payload(subs["product"], subs["currency"], subs["yearly"]))
    frame = pd.DataFrame(
        {
            "u": draws.id(K_SUBSCRIPTION, subs["payload"]),
            "item_u": draws.id(K_SUB_ITEM, subs["payload"]),
            "customer_u": draws.id(K_CUSTOMER, subs["payload"]),
            "price_u": price,
            "currency": categorical(subs["currency"], SETTLEMENT_CURRENCIES),
            "created": timestamps(subs["created"]),
            "ended": timestamps(np.where(has_end, subs["ended"], -1)),
            "step": subs["step"],
            "q0": subs["q0"],
            "q1": subs["q1"],
            "changed_at": timestamps(np.where(has_change, subs["changed_at"], -1)),
        }
    )
    # Hidden columns let Sigma's views show the state as of each run's data_load_time.
    hidden = (
        "ended AS _ended_at, changed_at AS _quantity_changed_at, q0 AS _quantity_before, "
        "q1 AS _quantity_after, "
        "$platform AS _account, created AS _visible_at"
    )
    out.create(
        "subscriptions",
        frame,
        "sid('sub_', u) AS id, sid('cus_', customer_u) AS customer_id, sid('price_', "
        "price_u) AS price_id, "
        "currency, created, created AS start_date, created AS billing_cycle_anchor, "
        f"'charge_automatically' AS collection_method, step AS _interval_months, {hidden}",
        platform=out.platform,
    )
    out.create(
        "subscription_items",
        frame,
        "sid('si_', item_u) AS id, sid('sub_', u) AS subscription_id, sid('price_', "
        "price_u) AS price_id, "
        f"created, {hidden}",
        platform=out.platform,
    )

    # Change events: the start, a quantity change, the end; MRR changes in minor units.
    n = len(subs["payload"])
    rows = np.concatenate([np.arange(n), np.flatnonzero(has_change), np.flatnonzero(has_end)])
    final_mrr = np.where(has_change, subs["mrr1"], subs["mrr0"])
    final_quantity = np.where(has_change, subs["q1"], subs["q0"])
    kind = np.concatenate(
        [
            np.zeros(n, np.int64),
            np.where(subs["q1"] > subs["q0"], 1, 2)[has_change],
            np.full(has_end.sum(), 3),
        ]
    )
    events = pd.DataFrame(
        {
            "event_at": timestamps(
                np.concatenate([subs["created"], subs["changed_at"][has_change], subs["ended"][has_end]])
            ),
            "type": categorical(
                kind, ("ACTIVE_START", "QUANTITY_INCREASE", "QUANTITY_DECREASE", "ACTIVE_END")
            ),
            "mrr": np.concatenate(
                [subs["mrr0"], (subs["mrr1"] - subs["mrr0"])[has_change], -final_mrr[has_end]]
            ),
            "quantity": np.concatenate(
                [subs["q0"], (subs["q1"] - subs["q0"])[has_change], -final_quantity[has_end]]
            ),
            "u": frame["u"].to_numpy()[rows],
            "item_u": frame["item_u"].to_numpy()[rows],
            "customer_u": frame["customer_u"].to_numpy()[rows],
            "price_u": price[rows],
            "product_u": draws.id(K_PRODUCT, subs["product"][rows]),
            "currency": categorical(subs["currency"][rows], SETTLEMENT_CURRENCIES),
        }
    )
    out.create(
        "subscription_item_change_events",
        events,
        "event_at AS event_timestamp, timezone($tz, "
        "CAST(event_at AS TIMESTAMPTZ)) AS local_event_timestamp, "
        "type AS event_type, currency, mrr AS mrr_change, quantity AS quantity_change, "
        "sid('prod_', product_u) AS product_id, sid('price_', price_u) AS price_id, "
        "sid('cus_', customer_u) AS customer_id, sid('sub_', u) AS subscription_id, "
        "sid('si_', item_u) AS subscription_item_id, $platform AS _account, event_at AS _visible_at",
        ("event_at", "u"),
        platform=out.platform,
        tz=PLATFORM_TIMEZONE,
    )


def write_invoices(out: TableWriter, biz: Business, subs: Columns, inv: Columns, c: Columns) -> None:
    """``invoices`` and ``invoice_line_items`` (one line each), paid by the charges ``c`` point at."""
    draws = biz.draws
    first, last = c["invoice_rows"]
    sub = inv["sub"]
    charge = c["payload"][first:last]
    frame = pd.DataFrame(
        {
            "u": draws.id(K_INVOICE, inv["payload"]),
            "line_u": draws.id(K_LINE, inv["payload"]),
            "charge_u": draws.id(K_CHARGE, charge),
            "intent_u": draws.id(K_PAYMENT_INTENT, charge),
            "sub_u": draws.id(K_SUBSCRIPTION, subs["payload"][sub]),
            "item_u": draws.id(K_SUB_ITEM, subs["payload"][sub]),
            "customer_u": draws.id(K_CUSTOMER, subs["payload"][sub]),
            "price_u": draws.id(
                K_PRICE, price_payload(subs["product"][sub], subs["currency"][sub], subs["yearly"][sub])
            ),
            "product": categorical(subs["product"][sub], PRODUCT_NAMES),
            "yearly": subs["yearly"][sub].astype(bool),
            "unit_amount": subs["unit_amount"][sub],
            "currency": categorical(subs["currency"][sub], SETTLEMENT_CURRENCIES),
            "created": timestamps(inv["start"]),
            "period_end": timestamps(inv["end"]),
            "k": inv["k"],
            "quantity": inv["quantity"],
            "amount": inv["amount"],
            "paid": ~c["failed"][first:last],
        }
    )
    out.create(
        "invoices",
        frame,
        "sid('in_', u) AS id, sid('cus_', customer_u) AS customer_id, sid('sub_', "
        "sub_u) AS subscription_id, "
        "CASE WHEN paid THEN 'paid' ELSE 'open' END AS status, created, currency, amount AS amount_due, "
        "CASE WHEN paid THEN amount ELSE 0 END AS amount_paid, "
        "CASE WHEN paid THEN 0 ELSE amount END AS amount_remaining, amount AS subtotal, amount AS total, "
        "0 AS tax, created AS period_start, period_end, "
        "upper(substr(sid('', customer_u), 2, 8)) || '-' || lpad(CAST(k + 1 AS VARCHAR), 4, "
        "'0') AS number, "
        "paid, sid('ch_', charge_u) AS charge_id, sid('pi_', intent_u) AS payment_intent_id, "
        "CASE WHEN k = 0 THEN 'subscription_create' ELSE 'subscription_cycle' END AS billing_reason, "
        "'charge_automatically' AS collection_method, 1 AS attempt_count, "
        "u AS _u, $platform AS _account, created AS _visible_at",
        platform=out.platform,
    )
    interval = "CASE WHEN yearly THEN 'year' ELSE 'month' END"
    out.create(
        "invoice_line_items",
        frame,
        "sid('il_', line_u) AS id, sid('in_', u) AS invoice_id, sid('sub_', sub_u) AS source_id, "
        "'subscription' AS source_type, CAST(NULL AS VARCHAR) AS subscription, "
        "sid('si_', item_u) AS subscription_item_id, amount, currency, quantity, sid('price_', "
        "price_u) AS price_id, "
        "created AS period_start, period_end, false AS proration, "
        "quantity || ' x ' || product || ' (at ' || upper(currency) || ' ' || major(unit_amount, "
        "currency) "
        f"|| ' / ' || {interval} || ')' AS description, "
        "$platform AS _account, created AS _visible_at",
        ("created", "line_u"),
        platform=out.platform,
    )
