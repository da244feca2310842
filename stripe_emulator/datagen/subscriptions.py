"""Subscriptions as customers sign up for them: product, billing interval, seats and planned life.

What then happens to each (trials, failed payments, plan changes, the end) is
:mod:`~stripe_emulator.datagen.lifecycle`'s.
"""

from __future__ import annotations

import math

import numpy as np

from stripe_emulator.datagen.arrays import Columns
from stripe_emulator.datagen.billing_reference import TIERED_SHARE
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import K_SUBSCRIPTION
from stripe_emulator.datagen.customers import Customers
from stripe_emulator.datagen.randomness import choice, key
from stripe_emulator.datagen.reference import (
    MAX_MONTHS,
    MAX_YEARS,
    MONTHLY_CHURN,
    PRODUCTS,
    SUBSCRIPTION_DEBIT_METHOD,
    TEAM_PLAN,
    TEAM_PLAN_SEATS,
    YEARLY_CHURN,
    YEARLY_SHARE,
    team_plan_flat,
    unit_amounts,
)


def simulate_subscriptions(biz: Business, customers: Customers) -> Columns:
    """One subscription per subscribing customer, sharing the customer's payload.

    The plan at sign-up: ``periods`` paid billing periods of ``step`` months each; seat
    subscriptions may change quantity from ``q0`` to ``q1`` at the start of paid period
    ``change_period`` (``periods`` when they never do).
    """
    draws = biz.draws
    subscriber = customers.subscriber
    s_payload = customers.payload[subscriber]
    s_keys = key(K_SUBSCRIPTION, s_payload)
    s_created = customers.created[subscriber] + 30 + (draws.uniform(s_keys, "lag") * 600).astype(np.int64)
    s_currency = customers.currency[subscriber]
    product = choice(draws.uniform(s_keys, "product"), [p[2] for p in PRODUCTS])
    product = np.where(draws.uniform(s_keys, "tiered") < TIERED_SHARE, TEAM_PLAN, product)
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
    debit = draws.uniform(s_keys, "debit") < 0.08
    return {
        "payload": s_payload,
        "customer_payload": s_payload,
        "created": s_created,
        "currency": s_currency,
        "product": product,
        "yearly": yearly,
        "q0": q0,
        "q1": q1,
        "periods": periods,
        "step": step,
        "change_period": change_period,
        "method": np.where(debit, SUBSCRIPTION_DEBIT_METHOD[s_currency], 0),
    }


def item_amount(
    product: np.ndarray, currency: np.ndarray, yearly: np.ndarray, quantity: np.ndarray
) -> np.ndarray:
    """What an item of ``quantity`` of a product's price costs per billing period (minor units).

    Per-unit prices multiply; the Team plan is graduated: a flat fee covers its first seats.
    """
    unit = unit_amounts()[product, currency, yearly]
    tiered = product == TEAM_PLAN
    flat = team_plan_flat()[currency, yearly]
    extra = np.maximum(quantity - TEAM_PLAN_SEATS, 0)
    return np.where(tiered, flat + unit * extra, unit * quantity).astype(np.int64)


def item_mrr(
    product: np.ndarray, currency: np.ndarray, yearly: np.ndarray, quantity: np.ndarray
) -> np.ndarray:
    """An item's monthly recurring revenue (minor units): a yearly price counts a twelfth a month."""
    amount = item_amount(product, currency, yearly, quantity)
    return np.rint(amount / np.where(yearly == 1, 12, 1)).astype(np.int64)
