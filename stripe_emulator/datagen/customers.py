"""The platform's customers: who signs up on which day, in which currency and where they live."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stripe_emulator.datagen.arrays import expand
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import K_CUSTOMER
from stripe_emulator.datagen.currencies import PLATFORM_CURRENCY_MIX
from stripe_emulator.datagen.randomness import U64, choice, key
from stripe_emulator.datagen.reference import DAY, PLACES_BY_CURRENCY


@dataclass(frozen=True)
class Customers:
    """Every customer, in sign-up order (a customer's position is its row number).

    A customer's payload is ``day << 24 | index within the day``; each day's first customers are the
    ones who sign up with a subscription (``subscriber``), the others buy one-off orders.
    """

    payload: np.ndarray
    created: np.ndarray
    currency: np.ndarray
    place: np.ndarray
    subscriber: np.ndarray
    first_day: int
    """The day of the first customer row."""
    per_day: np.ndarray
    """Customers signing up on each day from ``first_day`` on."""
    offsets: np.ndarray
    """Row number of each day's first customer."""

    def row_of(self, payload: np.ndarray) -> np.ndarray:
        """Row numbers of customers (or of subscriptions, which share their customer's payload)."""
        rows = self.offsets[(payload >> U64(24)).astype(np.int64) - self.first_day]
        return rows + (payload & U64(0xFFFFFF)).astype(np.int64)

    def id_numbers(self, biz: Business, rows: np.ndarray) -> np.ndarray:
        """Id numbers of customers by row number (-1, no customer, gives 0)."""
        found = biz.draws.id(K_CUSTOMER, self.payload[np.maximum(rows, 0)])
        return np.where(rows >= 0, found, U64(0))


def simulate_customers(biz: Business) -> Customers:
    """Sign-ups on every day of the account's history: subscribers first, then one-off buyers."""
    rates = biz.rates()
    days = biz.window()
    n_sub = biz.daily_counts(days, rates["subscriptions"], "subscriptions")
    n_other = biz.daily_counts(days, rates["new_customers"], "customers")
    per_day = n_sub + n_other
    c_day, c_idx = expand(days, per_day)
    payload = (c_day.astype(np.uint64) << U64(24)) | c_idx.astype(np.uint64)
    keys = key(K_CUSTOMER, payload)
    created = c_day * DAY + np.minimum(biz.time_of_day(keys, "created"), DAY - 1200)
    currency = choice(biz.draws.uniform(keys, "currency"), PLATFORM_CURRENCY_MIX)
    place = np.zeros(len(payload), dtype=np.int64)
    u_place = biz.draws.uniform(keys, "place")
    for c, places in enumerate(PLACES_BY_CURRENCY):
        mine = currency == c
        place[mine] = places.start + np.floor(u_place[mine] * len(places)).astype(np.int64)
    return Customers(
        payload=payload,
        created=created,
        currency=currency,
        place=place,
        subscriber=c_idx < np.repeat(n_sub, per_day),
        first_day=int(days[0]),
        per_day=per_day,
        offsets=np.cumsum(per_day) - per_day,
    )
