"""The frame every part of the simulation shares: accounts, the generated days, volume and rates."""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np

from stripe_emulator.datagen.accounts import Account, make_accounts
from stripe_emulator.datagen.codes import K_DAY, K_FX
from stripe_emulator.datagen.currencies import CURRENCIES, USD_RATES
from stripe_emulator.datagen.randomness import U64, Draws, choice, key, poisson
from stripe_emulator.datagen.reference import (
    GROWTH_PER_DAY,
    HISTORY_DAYS,
    HOUR_WEIGHTS,
    MAX_MONTHS,
    MAX_YEARS,
    MONTHLY_CHURN,
    WEEKDAY_FACTORS,
    YEARLY_CHURN,
    YEARLY_SHARE,
)

_EPOCH = date(1970, 1, 1)


class Business:
    """One seed's business: its accounts, which days exist, and how busy each day is.

    Days are counted from the Unix epoch. The account's history, every table's, runs from day ``h0``
    (inclusive) to ``d1`` (exclusive); ``d0`` is the first day the Reporting API offers, late enough
    that the oldest subscriptions still renew by then. ``dref`` is the day the volume is calibrated
    to (about ``scale`` platform balance transactions).
    """

    def __init__(
        self,
        seed: int,
        data_start: datetime,
        data_end: datetime,
        reference_day: date,
        scale: int,
        n_connected: int,
    ) -> None:
        self.seed = seed
        self.d0 = (data_start.date() - _EPOCH).days
        self.d1 = (data_end.date() - _EPOCH).days
        self.h0 = self.d0 - HISTORY_DAYS
        self.dref = (reference_day - _EPOCH).days
        self.scale = scale
        self.n_connected = n_connected
        self.draws = Draws(seed)
        self.accounts: list[Account] = make_accounts(self.draws, self.d0, n_connected)
        self.account_ids = tuple(a.id for a in self.accounts)

    @property
    def platform(self) -> Account:
        """The platform account (index 0)."""
        return self.accounts[0]

    @property
    def connected(self) -> list[Account]:
        """The connected accounts, by index."""
        return self.accounts[1:]

    def window(self) -> np.ndarray:
        """The days of the account's history (money moves on every one of them)."""
        return np.arange(self.h0, self.d1, dtype=np.int64)

    def daily_counts(self, days: np.ndarray, rate: float, stream: str) -> np.ndarray:
        """How many events of ``stream`` happen on each day, for ``rate`` a day at the reference day."""
        growth = np.exp(GROWTH_PER_DAY * (days - self.dref))
        weekday = WEEKDAY_FACTORS[(days + 3) % 7] / WEEKDAY_FACTORS.mean()
        return poisson(rate * growth * weekday, self.draws.uniform(key(K_DAY, days), "count." + stream))

    def time_of_day(self, keys: np.ndarray, field: str) -> np.ndarray:
        """Seconds after midnight, busier in the afternoon (UTC)."""
        hour = choice(self.draws.uniform(keys, field + ".hour"), HOUR_WEIGHTS)
        return hour * 3600 + (self.draws.uniform(keys, field + ".second") * 3600).astype(np.int64)

    def fx(self, days: np.ndarray) -> np.ndarray:
        """Units of each of CURRENCIES one US dollar buys on each day (rows: days)."""
        phase = self.draws.uniform(key(K_FX, np.arange(len(CURRENCIES))), "phase") * 2 * np.pi
        d = days.astype(float)[:, None]
        keys = key(
            K_FX, (days.astype(np.uint64)[:, None] << U64(8)) | np.arange(len(CURRENCIES), dtype=np.uint64)
        )
        wobble = 0.04 * np.sin(2 * np.pi * d / 173 + phase) + 0.015 * np.sin(2 * np.pi * d / 29 + 2 * phase)
        rates = np.asarray(USD_RATES) * np.exp(wobble + 0.002 * self.draws.normal(keys, "noise"))
        rates[:, 0] = 1.0
        return np.round(rates, 6)

    def rates(self) -> dict[str, float]:
        """Daily rates at the reference day that give the platform about ``scale`` transactions."""
        s = float(self.scale)
        connected_charges = 0.17 * s if self.n_connected else 0.0
        platform_charges = max(1.0, 0.84 * s - 8 - self.n_connected)
        subscription_charges = 0.3 * platform_charges
        # A subscription started d days ago renews today with the probability it is still active;
        # older cohorts were also smaller, as the business grows.
        monthly = (1 - MONTHLY_CHURN) * math.exp(-30.44 * GROWTH_PER_DAY)
        yearly = (1 - YEARLY_CHURN) * math.exp(-365.25 * GROWTH_PER_DAY)
        invoices_per_daily_start = (1 - YEARLY_SHARE) * (1 - monthly**MAX_MONTHS) / (
            1 - monthly
        ) + YEARLY_SHARE * (1 - yearly**MAX_YEARS) / (1 - yearly)
        return {
            "subscriptions": subscription_charges / invoices_per_daily_start,
            "orders": platform_charges - subscription_charges,
            "new_customers": 0.25 * (platform_charges - subscription_charges),
            "connected_charges": connected_charges,
        }
