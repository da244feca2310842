"""Invoice tables: invoices, their line items and discounts, one-off invoice items, credit notes.

An invoice's status moves on as Stripe's does: ``draft`` until finalised, then ``open`` until it
is paid, voided or marked uncollectible. The moments are hidden columns; Sigma's view shows the
status at each run's ``data_load_time``, and an invoice has a number once finalised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stripe_emulator.datagen.arrays import Columns
from stripe_emulator.datagen.billing_reference import CREDIT_NOTE_REASONS, SERVICES_USD
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import (
    K_CHARGE,
    K_CREDIT_NOTE,
    K_CUSTOMER,
    K_DISCOUNT,
    K_INVOICE,
    K_INVOICE_ITEM,
    K_LINE,
    K_PAYMENT_INTENT,
    K_REFUND,
    K_SUB_ITEM,
    K_SUBSCRIPTION,
)
from stripe_emulator.datagen.currencies import CURRENCIES, SETTLEMENT_CURRENCIES
from stripe_emulator.datagen.lifecycle import END_DUNNING, RETRY_PAYLOAD, Lifecycle
from stripe_emulator.datagen.randomness import U64
from stripe_emulator.datagen.reference import DAY, PRODUCT_NAMES, TEAM_PLAN
from stripe_emulator.datagen.tables.subscriptions import SWAPPED_ITEM, price_ids
from stripe_emulator.datagen.tables.writer import TableWriter, categorical, timestamps

_ATTEMPTS = 4  # the first attempt and up to three retries


def write_invoices(out: TableWriter, biz: Business, life: Lifecycle, one_off: Columns, c: Columns) -> None:
    """``invoices``, ``invoice_line_items``, ``invoice_line_item_discount_amounts``, ``invoice_items``
    and ``credit_notes`` (one per refund of an invoice's payment)."""
    frame = _invoice_frame(biz, life, one_off)
    out.create(
        "invoices",
        frame,
        "sid('in_', u) AS id, sid('cus_', customer_u) AS customer_id, sidn('sub_', sub_u) AS "
        "subscription_id, "
        "created, currency, total AS amount_due, subtotal, total, 0 AS tax, created AS period_start, "
        "period_end, reason AS billing_reason, collection_method, "
        "CASE WHEN collection_method = 'send_invoice' THEN 30 END AS days_until_due, due AS due_date, "
        "upper(substr(sid('', customer_u), 2, 8)) || '-' || lpad(CAST(seq AS VARCHAR), 4, '0') AS _number, "
        "sidn('pi_', intent_u) AS _payment_intent_id, finalized_at AS _finalized_at, paid_at AS _paid_at, "
        "voided_at AS _voided_at, uncollectible_at AS _uncollectible_at, "
        + ", ".join(
            f"attempt{i}_at AS _attempt{i}_at, sidn('ch_', charge{i}_u) AS _charge{i}_id"
            for i in range(_ATTEMPTS)
        )
        + ", u AS _u, $platform AS _account, created AS _visible_at",
        platform=out.platform,
    )
    lines = frame[frame["line"]]
    out.create(
        "invoice_line_items",
        lines,
        "sid('il_', line_u) AS id, sid('in_', u) AS invoice_id, "
        "CASE WHEN one_off THEN sid('ii_', item_u) ELSE sid('sub_', sub_u) END AS source_id, "
        "CASE WHEN one_off THEN 'invoiceitem' ELSE 'subscription' END AS source_type, "
        "CAST(NULL AS VARCHAR) AS subscription, sidn('si_', si_u) AS subscription_item_id, subtotal AS "
        "amount, "
        "currency, quantity, sidn('price_', price_u) AS price_id, created AS period_start, period_end, "
        "false AS proration, description, $platform AS _account, created AS _visible_at",
        ("created", "line_u"),
        platform=out.platform,
    )
    discounted = frame[frame["discount"] > 0]
    out.create(
        "invoice_line_item_discount_amounts",
        discounted,
        "sid('in_', u) AS invoice_id, sid('il_', line_u) AS invoice_line_item_id, "
        "sid('di_', discount_u) AS discount_id, discount AS amount, $platform AS _account, created AS "
        "_visible_at",
        platform=out.platform,
    )
    items = frame[frame["one_off"]]
    out.create(
        "invoice_items",
        items,
        "sid('ii_', item_u) AS id, total AS amount, currency, sid('cus_', customer_u) AS customer_id, "
        "created AS date, description, true AS discountable, sid('in_', u) AS invoice_id, created AS "
        "period_start, "
        "created AS period_end, CAST(NULL AS VARCHAR) AS price_id, false AS proration, 1 AS quantity, "
        "CAST(NULL AS VARCHAR) AS subscription_id, total AS unit_amount, $platform AS _account, "
        "created AS _visible_at",
        platform=out.platform,
    )
    _write_credit_notes(out, biz, frame, c)


def _invoice_frame(biz: Business, life: Lifecycle, one_off: Columns) -> pd.DataFrame:
    """Subscription invoices then one-off invoices, one row each, with what their tables show."""
    draws = biz.draws
    s, inv, a = life.subs, life.invoices, life.attempts
    end = biz.d1 * DAY
    sub = inv["sub"]
    keep = inv["start"] < end
    n_sub = len(sub)

    # Attempt times and charges, by attempt number.
    attempt_at = np.full((_ATTEMPTS, n_sub), -1, np.int64)
    attempt_at[a["attempt"], a["invoice"]] = a["at"]
    attempt_at[attempt_at >= end] = -1
    first_charge = (U64(2) << U64(52)) | inv["payload"]
    charge_u = np.zeros((_ATTEMPTS, n_sub), np.uint64)
    for i in range(_ATTEMPTS):
        payload = first_charge if i == 0 else RETRY_PAYLOAD | (U64(i) << U64(49)) | inv["payload"]
        charge_u[i] = np.where(attempt_at[i] >= 0, draws.id(K_CHARGE, payload), U64(0))
    attempted = attempt_at[0] >= 0
    lost_for_good = inv["lost"] & (s["end_kind"][sub] == END_DUNNING)
    currency, yearly = s["currency"][sub], s["yearly"][sub]
    item_payload = np.where(inv["swapped"], s["payload"][sub] | SWAPPED_ITEM, s["payload"][sub])
    unit = _describe(inv["product"], inv["quantity"], inv["is_trial"])
    reason = np.where(
        inv["is_trial"] | (inv["on_session"] & (inv["k"] == 0)), "subscription_create", "subscription_cycle"
    )
    subscription = {
        "u": draws.id(K_INVOICE, inv["payload"]),
        "line_u": draws.id(K_LINE, inv["payload"]),
        "item_u": np.zeros(n_sub, np.uint64),
        "customer_payload": s["customer_payload"][sub],
        "sub_u": draws.id(K_SUBSCRIPTION, s["payload"][sub]),
        "si_u": draws.id(K_SUB_ITEM, item_payload),
        "price_u": price_ids(biz, inv["product"], currency, yearly),
        "intent_u": np.where(attempted, draws.id(K_PAYMENT_INTENT, first_charge), U64(0)),
        "discount_u": np.where(inv["discount"] > 0, draws.id(K_DISCOUNT, s["customer_payload"][sub]), U64(0)),
        "currency": currency,
        "created": inv["start"],
        "period_end": inv["end"],
        "due": np.full(n_sub, -1, np.int64),
        "reason": reason,
        "collection_method": np.full(n_sub, "charge_automatically", object),
        "quantity": inv["quantity"],
        "subtotal": inv["subtotal"],
        "discount": inv["discount"],
        "total": inv["total"],
        "finalized_at": inv["finalized_at"],
        "paid_at": inv["paid_at"],
        "voided_at": np.where(inv["expired"], s["created"][sub] + 23 * 3600, -1),
        "uncollectible_at": np.where(lost_for_good, inv["lost_at"], -1),
        "description": unit,
        "one_off": np.zeros(n_sub, bool),
        "attempts": attempt_at,
        "charges": charge_u,
    }
    subscription = {
        name: (v[:, keep] if name in ("attempts", "charges") else v[keep]) for name, v in subscription.items()
    }

    o = one_off
    n = len(o["payload"])
    osub = o["sub"]
    paid_charge = (U64(2) << U64(52)) | o["payload"]
    attempts = np.full((_ATTEMPTS, n), -1, np.int64)
    attempts[0] = np.where(o["paid"], o["paid_at"], -1)
    charges = np.zeros((_ATTEMPTS, n), np.uint64)
    charges[0] = np.where(o["paid"], draws.id(K_CHARGE, paid_charge), U64(0))
    names = np.array(
        [f"Onboarding package ({name})" for name in ("Essentials", "Standard", "Premium")], dtype=object
    )
    assert len(names) == len(SERVICES_USD)
    single = {
        "u": draws.id(K_INVOICE, o["payload"]),
        "line_u": draws.id(K_LINE, o["payload"]),
        "item_u": draws.id(K_INVOICE_ITEM, o["payload"]),
        "customer_payload": s["customer_payload"][osub],
        "sub_u": np.zeros(n, np.uint64),
        "si_u": np.zeros(n, np.uint64),
        "price_u": np.zeros(n, np.uint64),
        "intent_u": np.where(o["paid"], draws.id(K_PAYMENT_INTENT, paid_charge), U64(0)),
        "discount_u": np.zeros(n, np.uint64),
        "currency": s["currency"][osub],
        "created": o["created"],
        "period_end": o["created"],
        "due": o["due"],
        "reason": np.full(n, "manual", object),
        "collection_method": np.full(n, "send_invoice", object),
        "quantity": np.ones(n, np.int64),
        "subtotal": o["total"],
        "discount": np.zeros(n, np.int64),
        "total": o["total"],
        "finalized_at": o["finalized_at"],
        "paid_at": o["paid_at"],
        "voided_at": o["voided_at"],
        "uncollectible_at": o["uncollectible_at"],
        "description": names[o["package"]],
        "one_off": np.ones(n, bool),
        "attempts": attempts,
        "charges": charges,
    }
    columns: dict[str, object] = {}
    for name in subscription:
        if name in ("attempts", "charges"):
            both = np.concatenate([subscription[name], single[name]], axis=1)
            for i in range(_ATTEMPTS):
                if name == "attempts":
                    columns[f"attempt{i}_at"] = timestamps(both[i])
                else:
                    columns[f"charge{i}_u"] = both[i]
            continue
        columns[name] = np.concatenate([subscription[name], single[name]])
    customer_payload = columns.pop("customer_payload")
    columns["customer_u"] = draws.id(K_CUSTOMER, customer_payload)
    # Numbers count each customer's invoices in order: PREFIX-0001, PREFIX-0002…
    order = np.lexsort([columns["u"], columns["created"], customer_payload])
    seq = np.empty(len(order), np.int64)
    group_start = np.r_[True, customer_payload[order][1:] != customer_payload[order][:-1]]
    position = np.arange(len(order))
    seq[order] = position - np.maximum.accumulate(np.where(group_start, position, 0)) + 1
    columns["seq"] = seq
    columns["line"] = np.ones(len(seq), bool)
    for name in ("created", "period_end", "due", "finalized_at", "paid_at", "voided_at", "uncollectible_at"):
        values = np.asarray(columns[name])
        columns[name] = timestamps(
            np.where(values < end, values, -1) if name not in ("created", "period_end", "due") else values
        )
    columns["currency"] = categorical(np.asarray(columns["currency"]), SETTLEMENT_CURRENCIES)
    for name in ("reason", "collection_method", "description"):
        columns[name] = pd.Series(columns[name], dtype=object)
    return pd.DataFrame(columns)


def _describe(product: np.ndarray, quantity: np.ndarray, trial: np.ndarray) -> np.ndarray:
    """Line descriptions as Stripe writes them: ``3 \u00d7 Growth (at $49.00 / month)`` is shortened here."""
    names = np.array(PRODUCT_NAMES, dtype=object)[product]
    text = np.where(
        trial,
        "Trial period for " + names,
        np.where(
            product == TEAM_PLAN,
            quantity.astype(str).astype(object) + " \u00d7 " + names + " (tiered)",
            quantity.astype(str).astype(object) + " \u00d7 " + names,
        ),
    )
    return text.astype(object)


def _write_credit_notes(out: TableWriter, biz: Business, invoices: pd.DataFrame, c: Columns) -> None:
    """A credit note for every refund of an invoice payment, issued when the refund was made."""
    draws = biz.draws
    m = c["refunded"] & (c["invoice"] > 0)
    p = c["payload"][m]
    invoice_u = draws.id(K_INVOICE, c["invoice"][m])
    # Refund reasons (requested_by_customer, duplicate, fraudulent, none) as credit note reasons.
    reason = np.array([3, 0, 1, 2])[c["refund_reason"][m]]
    numbers = invoices.set_index("u")["seq"]
    notes = pd.DataFrame(
        {
            "u": draws.id(K_CREDIT_NOTE, p),
            "invoice_u": invoice_u,
            "customer_u": invoices.set_index("u")["customer_u"].reindex(invoice_u).to_numpy(np.uint64),
            "seq": numbers.reindex(invoice_u).to_numpy(np.int64),
            "refund_u": draws.id(K_REFUND, p),
            "created": timestamps(c["refund_at"][m]),
            "amount": c["refund_amount"][m],
            "currency": categorical(c["presentment"][m], CURRENCIES),
            "reason": categorical(reason, CREDIT_NOTE_REASONS),
        }
    )
    out.create(
        "credit_notes",
        notes,
        "sid('cn_', u) AS id, amount, created, currency, sid('cus_', customer_u) AS customer_id, "
        "sid('in_', invoice_u) AS invoice_id, upper(substr(sid('', customer_u), 2, 8)) || '-' || "
        "lpad(CAST(seq AS VARCHAR), 4, '0') || '-CN-01' AS number, reason, sid('re_', refund_u) AS "
        "refund_id, "
        "'issued' AS status, amount AS subtotal, amount AS total, 'post_payment' AS type, "
        "CAST(NULL AS VARCHAR) AS memo, CAST(NULL AS TIMESTAMP) AS voided_at, $platform AS _account, "
        "created AS _visible_at",
        platform=out.platform,
    )
