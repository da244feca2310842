"""Payment tables seen from the customer's side: PaymentIntents and Checkout Sessions.

Every charge belongs to a PaymentIntent; an invoice's retries share its PaymentIntent. One-off
orders and most subscription sign-ups go through Checkout; some Checkout Sessions are abandoned
and expire after a day. Statuses depend on the moment, so their moments are hidden columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stripe_emulator.datagen.arrays import Columns, expand
from stripe_emulator.datagen.billing_reference import (
    ABANDONED_CHECKOUTS,
    CHECKOUT_EXPIRES,
    INCOMPLETE_EXPIRES,
)
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import (
    C_ORDER,
    K_ABANDONED,
    K_CHARGE,
    K_CHECKOUT,
    K_CUSTOMER,
    K_INVOICE,
    K_PAYMENT_INTENT,
    K_SUBSCRIPTION,
)
from stripe_emulator.datagen.currencies import (
    CURRENCIES,
    PLATFORM_CURRENCY_MIX,
    SETTLEMENT_CURRENCIES,
    USD_RATES,
    currency_exponent,
)
from stripe_emulator.datagen.customers import Customers
from stripe_emulator.datagen.lifecycle import Lifecycle, first_invoice_payload
from stripe_emulator.datagen.randomness import U64, choice, key
from stripe_emulator.datagen.reference import DAY, FAILURE_CODES, FAILURE_MESSAGES
from stripe_emulator.datagen.tables.payments import CHARGE_DESCRIPTION_SQL, PAYMENT_METADATA_SQL
from stripe_emulator.datagen.tables.writer import TableWriter, categorical, timestamps

_CHECKOUT_SHARE = 0.7  # of subscription sign-ups made through Checkout (the rest through the API)


def write_checkout(
    out: TableWriter, biz: Business, customers: Customers, life: Lifecycle, c: Columns
) -> None:
    """``payment_intents`` (one per PaymentIntent of the charges ``c``) and ``checkout_sessions``."""
    _write_payment_intents(out, biz, customers, life, c)
    _write_sessions(out, biz, customers, life, c)


def _write_payment_intents(
    out: TableWriter, biz: Business, customers: Customers, life: Lifecycle, c: Columns
) -> None:
    draws = biz.draws
    order = np.lexsort([c["created"], c["intent"]])
    intent = c["intent"][order]
    first = np.r_[True, intent[1:] != intent[:-1]]
    group = np.cumsum(first) - 1
    n = int(first.sum())
    rows = order[first]
    created = c["created"][order]
    failed = c["failed"][order]
    succeeded_at = np.full(n, -1, np.int64)
    success_u = np.zeros(n, np.uint64)
    ok = ~failed
    succeeded_at[group[ok]] = created[ok]
    success_u[group[ok]] = draws.id(K_CHARGE, c["payload"][order][ok])
    failed_at = np.full(n, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(failed_at, group[failed], created[failed])
    failure = np.full(n, len(FAILURE_CODES), np.int64)
    first_failure = failed & (created == failed_at[group])
    failure[group[first_failure]] = c["failure"][order][first_failure]
    failed_at = np.where(failed_at == np.iinfo(np.int64).max, -1, failed_at)
    # Unpaid PaymentIntents of orders are canceled when their Checkout Session expires; those of
    # an expired sign-up when its invoice is voided. A failed renewal's stays open for the retries.
    one_off = c["invoice"][rows] == 0
    s, inv = life.subs, life.invoices
    expired = inv["expired"]
    voided = pd.Series(
        s["created"][inv["sub"][expired]] + INCOMPLETE_EXPIRES,
        index=(U64(2) << U64(52)) | inv["payload"][expired],
    )
    canceled = np.where(
        one_off,
        c["created"][rows] + CHECKOUT_EXPIRES,
        voided.reindex(intent[first]).fillna(-1).to_numpy(np.int64),
    )
    canceled = np.where((succeeded_at < 0) & (failed_at >= 0), canceled, -1)
    frame = pd.DataFrame(
        {
            "u": draws.id(K_PAYMENT_INTENT, intent[first]),
            "first_u": draws.id(K_CHARGE, c["payload"][rows]),
            "success_u": success_u,
            "account": out.accounts(c["account"][rows]),
            "created": timestamps(c["created"][rows]),
            "amount": c["amount"][rows],
            "currency": categorical(c["presentment"][rows], CURRENCIES),
            "customer_u": customers.id_numbers(biz, c["customer"][rows]),
            "invoice_u": np.where(c["invoice"][rows] > 0, draws.id(K_INVOICE, c["invoice"][rows]), U64(0)),
            "flavour": c["flavour"][rows],
            "order_number": c["order_number"][rows],
            "succeeded_at": timestamps(succeeded_at),
            "failed_at": timestamps(failed_at),
            "canceled_at": timestamps(np.where(canceled < biz.d1 * DAY, canceled, -1)),
            "failure": categorical(failure, (*FAILURE_CODES, None)),
            "failure_message": categorical(failure, (*FAILURE_MESSAGES, None)),
            "application_fee": c["application_fee"][rows],
            "descriptor": categorical(c["account"][rows], tuple(a.name.upper()[:22] for a in biz.accounts)),
        }
    )
    out.create(
        "payment_intents",
        frame,
        "sid('pi_', u) AS id, amount, CASE WHEN application_fee > 0 THEN application_fee END "
        "AS application_fee_amount, 'automatic' AS capture_method, 'automatic' AS confirmation_method, "
        "created, currency, sidn('cus_', customer_u) AS customer_id, "
        f"{CHARGE_DESCRIPTION_SQL} AS description, sidn('in_', invoice_u) AS invoice_id, "
        "descriptor AS statement_descriptor, sid('ch_', first_u) AS _first_charge_id, "
        "sidn('ch_', success_u) AS _succeeded_charge_id, succeeded_at AS _succeeded_at, "
        "failed_at AS _failed_at, canceled_at AS _canceled_at, failure AS _failure_code, "
        f"failure_message AS _failure_message, {PAYMENT_METADATA_SQL} AS _metadata, "
        "account AS _account, created AS _visible_at",
    )


def _write_sessions(
    out: TableWriter, biz: Business, customers: Customers, life: Lifecycle, c: Columns
) -> None:
    draws = biz.draws
    u = draws.uniform
    end = biz.d1 * DAY
    groups: list[pd.DataFrame] = []

    # One-off orders: a completed session, or one left to expire when the payment failed.
    m = (c["account"] == 0) & (c["flavour"] == C_ORDER)
    keys = key(K_CHECKOUT, c["payload"][m])
    paid_at = c["created"][m]
    created = paid_at - 30 - (u(keys, "lead") * 570).astype(np.int64)
    groups.append(
        _sessions(
            u=draws.id(K_CHECKOUT, c["payload"][m]),
            created=created,
            completed=np.where(c["failed"][m], -1, paid_at),
            attempted=paid_at,
            amount=c["amount"][m],
            currency=c["presentment"][m],
            customer_u=customers.id_numbers(biz, c["customer"][m]),
            intent_u=draws.id(K_PAYMENT_INTENT, c["intent"][m]),
            mode="payment",
        )
    )

    # Subscription sign-ups through Checkout (a failed sign-up payment went through the API).
    s, inv = life.subs, life.invoices
    skeys = key(K_CHECKOUT, s["payload"])
    via = (s["created"] < end) & ~s["signup_failed"] & (u(skeys, "checkout") < _CHECKOUT_SHARE)
    rows = np.flatnonzero(via)
    first = pd.Series(inv["total"], index=inv["payload"])
    invoice_payload = np.where(
        s["trial"][rows],
        first_invoice_payload(s["payload"][rows]) | U64(0xFF),
        first_invoice_payload(s["payload"][rows]),
    )
    amount = first.reindex(invoice_payload).fillna(0).to_numpy(np.int64)
    groups.append(
        _sessions(
            u=draws.id(K_CHECKOUT, s["payload"][rows]),
            created=s["created"][rows] - 20 - (u(skeys[rows], "lead") * 280).astype(np.int64),
            completed=s["created"][rows],
            attempted=s["created"][rows],
            amount=amount,
            currency=np.asarray(
                [CURRENCIES.index(SETTLEMENT_CURRENCIES[i]) for i in s["currency"][rows]], np.int64
            ),
            customer_u=draws.id(K_CUSTOMER, s["customer_payload"][rows]),
            intent_u=np.zeros(len(rows), np.uint64),
            mode="subscription",
            sub_u=draws.id(K_SUBSCRIPTION, s["payload"][rows]),
            invoice_u=draws.id(K_INVOICE, invoice_payload),
            paid=~s["trial"][rows],
        )
    )

    # Abandoned sessions: a guest got as far as Checkout and left.
    window = biz.window()
    day, idx = expand(
        window, biz.daily_counts(window, biz.rates()["orders"] * ABANDONED_CHECKOUTS, "checkout.abandoned")
    )
    payload = (day.astype(np.uint64) << U64(24)) | idx.astype(np.uint64)
    akeys = key(K_ABANDONED, payload)
    currency = choice(u(akeys, "currency"), PLATFORM_CURRENCY_MIX)
    exponent = np.array([currency_exponent(code) for code in SETTLEMENT_CURRENCIES])[currency]
    usd = 45.0 * np.exp(0.85 * draws.normal(akeys, "amount"))
    amount = np.maximum(50, np.rint(usd * np.asarray(USD_RATES)[currency] * 10.0**exponent)).astype(np.int64)
    groups.append(
        _sessions(
            u=draws.id(K_ABANDONED, payload),
            created=day * DAY + biz.time_of_day(akeys, "created"),
            completed=np.full(len(payload), -1, np.int64),
            attempted=np.full(len(payload), -1, np.int64),
            amount=amount,
            currency=currency,
            customer_u=np.zeros(len(payload), np.uint64),
            intent_u=np.zeros(len(payload), np.uint64),
            mode="payment",
        )
    )
    frame = pd.concat(groups, ignore_index=True)
    frame = frame[frame["created_s"] < end].drop(columns="created_s")
    frame["currency"] = categorical(frame["currency"].to_numpy(), CURRENCIES)
    out.create(
        "checkout_sessions",
        frame,
        "sid('cs_test_', u) AS id, amount AS amount_subtotal, amount AS amount_total, created, currency, "
        "sidn('cus_', customer_u) AS customer_id, expires_at, mode, "
        "CASE WHEN mode = 'payment' THEN 'pay' END AS submit_type, "
        "'https://acme-cloud.example/checkout/success' AS success_url, "
        "'https://acme-cloud.example/checkout/cancel' AS cancel_url, CAST(NULL AS VARCHAR) AS "
        "client_reference_id, "
        "false AS livemode, sidn('pi_', intent_u) AS _payment_intent_id, attempted AS _attempted_at, "
        "completed AS _completed_at, paid AS _paid, sidn('sub_', sub_u) AS _subscription_id, "
        "sidn('in_', invoice_u) AS _invoice_id, $platform AS _account, created AS _visible_at",
        platform=out.platform,
    )


def _sessions(
    *,
    u: np.ndarray,
    created: np.ndarray,
    completed: np.ndarray,
    attempted: np.ndarray,
    amount: np.ndarray,
    currency: np.ndarray,
    customer_u: np.ndarray,
    intent_u: np.ndarray,
    mode: str,
    sub_u: np.ndarray | None = None,
    invoice_u: np.ndarray | None = None,
    paid: np.ndarray | None = None,
) -> pd.DataFrame:
    n = len(u)
    return pd.DataFrame(
        {
            "u": u,
            "created": timestamps(created),
            "created_s": created,
            "expires_at": timestamps(created + CHECKOUT_EXPIRES),
            "completed": timestamps(completed),
            "attempted": timestamps(attempted),
            "amount": amount,
            "currency": currency,
            "customer_u": customer_u,
            "intent_u": intent_u,
            "mode": pd.Series([mode] * n, dtype=object),
            "sub_u": sub_u if sub_u is not None else np.zeros(n, np.uint64),
            "invoice_u": invoice_u if invoice_u is not None else np.zeros(n, np.uint64),
            "paid": paid if paid is not None else np.ones(n, bool),
        }
    )
