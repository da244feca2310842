"""Subscriptions (product, billing interval, seats, lifetime) and the invoices their periods produce."""

from __future__ import annotations

import math

import numpy as np

from stripe_emulator.datagen.arrays import Columns, add_months
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import K_INVOICE, K_SUBSCRIPTION
from stripe_emulator.datagen.customers import Customers
from stripe_emulator.datagen.randomness import U64, choice, key
from stripe_emulator.datagen.reference import (
    DAY,
    MAX_MONTHS,
    MAX_YEARS,
    MONTHLY_CHURN,
    PRODUCTS,
    SUBSCRIPTION_DEBIT_METHOD,
    YEARLY_CHURN,
    YEARLY_SHARE,
    unit_amounts,
)


def simulate_subscriptions(biz: Business, customers: Customers) -> Columns:
    """One subscription per subscribing customer, sharing the customer's payload.

    ``periods`` billing periods of ``step`` months each; seat subscriptions may change quantity from
    ``q0`` to ``q1`` at the start of period ``change_period`` (``changed_at``). MRR is in minor units.
    """
    draws = biz.draws
    subscriber = customers.subscriber
    s_payload = customers.payload[subscriber]
    s_keys = key(K_SUBSCRIPTION, s_payload)
    s_created = customers.created[subscriber] + 30 + (draws.uniform(s_keys, "lag") * 600).astype(np.int64)
    s_currency = customers.currency[subscriber]
    product = choice(draws.uniform(s_keys, "product"), [p[2] for p in PRODUCTS])
    yearly = (draws.uniform(s_keys, "yearly") < YEARLY_SHARE).astype(np.int64)
    seats = np.array([p[3] for p in PRODUCTS])[product]
    q0 = np.where(seats, np.minimum(1 + np.floor(-np.log(1 - draws.uniform(s_keys, "quantity")) * 5), 40), 1)
    q0 = q0.astype(np.int64)
    life = np.log(1 - draws.uniform(s_keys, "life"))
    periods = np.where(
        yearly == 1,
        np.minimum(1 + np.floor(life / math.log(1 - YEARLY_CHURN)), MAX_YEARS),
        np.minimum(1 + np.floor(life / math.log(1 - MONTHLY_CHURN)), MAX_MONTHS),
    ).astype(np.int64)
    step = np.where(yearly == 1, 12, 1)
    ended = add_months(s_created, periods * step)
    # Some seat subscriptions change their quantity at the start of a later period.
    change = seats & (periods >= 2) & (draws.uniform(s_keys, "change") < 0.35)
    change_period = 1 + np.floor(draws.uniform(s_keys, "change.at") * (periods - 1)).astype(np.int64)
    size = draws.uniform(s_keys, "change.size")
    delta = np.where(
        draws.uniform(s_keys, "change.up") < 0.65, 1 + np.floor(size * 6), -(1 + np.floor(size * 3))
    ).astype(np.int64)
    q1 = np.maximum(1, q0 + delta)
    change &= q1 != q0
    q1 = np.where(change, q1, q0)
    change_period = np.where(change, change_period, periods)
    changed_at = np.where(change, add_months(s_created, change_period * step), -1)
    unit_amount = unit_amounts()[product, s_currency, yearly]
    divisor = np.where(yearly == 1, 12, 1)
    debit = draws.uniform(s_keys, "debit") < 0.08
    return {
        "payload": s_payload,
        "created": s_created,
        "currency": s_currency,
        "product": product,
        "yearly": yearly,
        "unit_amount": unit_amount,
        "q0": q0,
        "q1": q1,
        "periods": periods,
        "step": step,
        "ended": ended,
        "change_period": change_period,
        "changed_at": changed_at,
        "mrr0": np.rint(unit_amount * q0 / divisor).astype(np.int64),
        "mrr1": np.rint(unit_amount * q1 / divisor).astype(np.int64),
        "method": np.where(debit, SUBSCRIPTION_DEBIT_METHOD[s_currency], 0),
    }


def simulate_invoices(biz: Business, subs: Columns) -> Columns:
    """The invoice of every billing period that starts, and is charged, inside the generated days.

    ``sub`` is the subscription's row and ``k`` the period's number (0: the sign-up invoice).
    """
    periods = subs["periods"]
    sub = np.repeat(np.arange(len(periods)), periods)
    k = np.arange(len(sub), dtype=np.int64) - np.repeat(np.cumsum(periods) - periods, periods)
    start = add_months(subs["created"][sub], k * subs["step"][sub])
    keep = (start >= biz.d0 * DAY) & (start < biz.d1 * DAY)
    sub, k, start = sub[keep], k[keep], start[keep]
    payload = (subs["payload"][sub] << U64(8)) | k.astype(np.uint64)
    keys = key(K_INVOICE, payload)
    pay_lag = biz.draws.uniform(keys, "pay")
    # The first invoice is paid at sign-up; renewals are finalised about an hour after the period starts.
    charge_at = np.where(
        k == 0,
        start + 5 + (pay_lag * 60).astype(np.int64),
        start + 3600 + (pay_lag * 1800).astype(np.int64),
    )
    # An invoice whose payment is only attempted after the generated range does not exist yet.
    keep = charge_at < biz.d1 * DAY
    sub, k, start, payload, charge_at = sub[keep], k[keep], start[keep], payload[keep], charge_at[keep]
    quantity = np.where(k >= subs["change_period"][sub], subs["q1"][sub], subs["q0"][sub])
    return {
        "payload": payload,
        "sub": sub,
        "k": k,
        "start": start,
        "end": add_months(subs["created"][sub], (k + 1) * subs["step"][sub]),
        "quantity": quantity,
        "amount": subs["unit_amount"][sub] * quantity,
        "charge_at": charge_at,
    }
