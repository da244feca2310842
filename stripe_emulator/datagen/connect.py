"""Connect's money flows: direct charges on connected accounts, application fees and transfers."""

from __future__ import annotations

import numpy as np

from stripe_emulator.datagen.arrays import Columns, expand
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import (
    CATEGORY,
    K_APP_FEE,
    K_CHARGE,
    K_DEST_PAYMENT,
    K_TRANSFER,
    T_APP_FEE,
    T_TRANSFER_IN,
    T_TRANSFER_OUT,
    TYPE,
)
from stripe_emulator.datagen.currencies import SETTLEMENT_CURRENCIES, USD_RATES, currency_exponent
from stripe_emulator.datagen.randomness import U64, key
from stripe_emulator.datagen.reference import DAY
from stripe_emulator.datagen.rows import BalanceRows, ChargeRows


def add_direct_charges(biz: Business, window: np.ndarray, rate: float, charges: ChargeRows) -> None:
    """Charges on the connected accounts (``rate`` a day in all), mostly in the account's own currency.

    Earlier accounts are busier; each account's charges are a group of their own in ``charges``.
    """
    u = biz.draws.uniform
    weights = np.array([1.0 / a.index**0.7 for a in biz.connected])
    for account, weight in zip(biz.connected, weights / max(weights.sum(), 1e-9), strict=True):
        n = biz.daily_counts(window, rate * weight, f"connected.{account.index}")
        n[window < account.created_day] = 0
        day, idx = expand(window, n)
        payload = (
            (U64(3) << U64(52))
            | (U64(account.index) << U64(40))
            | (day.astype(np.uint64) << U64(24))
            | idx.astype(np.uint64)
        )
        keys = key(K_CHARGE, payload)
        own = SETTLEMENT_CURRENCIES.index(account.default_currency)
        charges.add(
            payload,
            created=day * DAY + biz.time_of_day(keys, "created"),
            account=account.index,
            currency=np.where(u(keys, "currency") < 0.9, own, 0 if own else 1),
            amount_usd=60.0 * np.exp(0.8 * biz.draws.normal(keys, "amount")),
        )


def add_application_fees(c: Columns, rows: BalanceRows) -> None:
    """The platform's application fee on every successful charge of a connected account."""
    m = ~c["failed"] & (c["account"] > 0)
    rows.add(
        T_APP_FEE,
        c["payload"][m],
        created=c["created"][m] + 2,
        account=0,
        currency=c["currency"][m],
        amount=c["application_fee"][m],
        type=TYPE["application_fee"],
        category=CATEGORY["platform_earning"],
        source_kind=K_APP_FEE,
        source=c["payload"][m],
        counterparty=c["account"][m],
        charge=c["payload"][m],
    )


def add_transfers(biz: Business, window: np.ndarray, orders_per_day: float, rows: BalanceRows) -> None:
    """Transfers from the platform to each connected account on most days: both sides of each."""
    u = biz.draws.uniform
    for account in biz.connected:
        payload = (U64(account.index) << U64(40)) | (window.astype(np.uint64) << U64(24))
        keys = key(K_TRANSFER, payload)
        happens = (u(keys, "happens") < 0.85) & (window >= account.created_day)
        payload, keys, day = payload[happens], keys[happens], window[happens]
        own = SETTLEMENT_CURRENCIES.index(account.default_currency)
        usd = 0.02 * orders_per_day * 45 * np.exp(0.5 * biz.draws.normal(keys, "amount"))
        amount = np.maximum(
            100, np.rint(usd * USD_RATES[own] * 10.0 ** currency_exponent(account.default_currency))
        ).astype(np.int64)
        created = day * DAY + 6 * 3600 + (u(keys, "time") * 4 * 3600).astype(np.int64)
        rows.add(
            T_TRANSFER_OUT,
            payload,
            created=created,
            account=0,
            currency=own,
            amount=-amount,
            type=TYPE["transfer"],
            category=CATEGORY["transfer"],
            source_kind=K_TRANSFER,
            source=payload,
            counterparty=account.index,
        )
        rows.add(
            T_TRANSFER_IN,
            payload,
            created=created + 1,
            account=account.index,
            currency=own,
            amount=amount,
            type=TYPE["payment"],
            category=CATEGORY["transfer"],
            source_kind=K_DEST_PAYMENT,
            source=payload,
        )
