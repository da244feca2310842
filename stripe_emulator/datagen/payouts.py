"""Stripe's balance rules: when funds become available, and the automatic payouts that sweep them."""

from __future__ import annotations

import numpy as np

from stripe_emulator.datagen.arrays import Columns
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import CATEGORY, D_PAYOUT, K_PAYOUT, T_PAYOUT, TYPE
from stripe_emulator.datagen.randomness import U64
from stripe_emulator.datagen.reference import DAY, WEEKDAYS
from stripe_emulator.datagen.rows import BalanceRows


def sweep_payouts(biz: Business, b: Columns) -> tuple[Columns, Columns]:
    """Availability and payout of the balance transactions ``b``, plus each payout's own transaction.

    Funds become available at midnight UTC, the account's payout delay after the day they arrived; a
    weekly account's payout day is the next anchor weekday. One automatic payout per account,
    currency and payout day (created at that day's midnight) sweeps everything available by then.
    Returns ``b`` with the payouts' transactions appended, and the payouts.
    """
    delay = np.array([a.payout_delay_days for a in biz.accounts])[b["account"]]
    available_day = b["created"] // DAY + delay
    b["available_on"] = available_day * DAY
    anchor = np.array(
        [
            WEEKDAYS.index(a.payout_weekly_anchor)
            if a.payout_interval == "weekly" and a.payout_weekly_anchor
            else -1
            for a in biz.accounts
        ]
    )[b["account"]]
    weekday = (available_day + 3) % 7
    payout_day = np.where(anchor >= 0, available_day + (anchor - weekday) % 7, available_day)
    swept = payout_day < biz.d1
    payout_payload = (
        (b["account"].astype(np.uint64) << U64(40))
        | (b["currency"].astype(np.uint64) << U64(32))
        | payout_day.astype(np.uint64)
    )
    b["payout"] = np.where(swept, payout_payload, U64(0))
    b["payout_created"] = np.where(swept, payout_day * DAY, -1)

    unique, inverse = np.unique(payout_payload[swept], return_inverse=True)
    totals = np.zeros(len(unique), dtype=np.int64)
    np.add.at(totals, inverse, b["net"][swept])
    p_account = (unique >> U64(40)).astype(np.int64)
    p_currency = ((unique >> U64(32)) & U64(0xFF)).astype(np.int64)
    p_day = (unique & U64(0xFFFFFFFF)).astype(np.int64)
    payouts = {
        "payload": unique,
        "account": p_account,
        "currency": p_currency,
        "created": p_day * DAY,
        "amount": totals,
    }
    rows = BalanceRows()
    rows.add(
        T_PAYOUT,
        unique,
        created=p_day * DAY,
        account=p_account,
        currency=p_currency,
        amount=-totals,
        type=TYPE["payout"],
        category=CATEGORY["payout"],
        source_kind=K_PAYOUT,
        source=unique,
        description=D_PAYOUT,
    )
    own = rows.concat()
    own["net"] = own["amount"]
    own["available_on"] = own["created"]
    own["payout"] = np.zeros(len(unique), np.uint64)
    own["payout_created"] = np.full(len(unique), -1, np.int64)
    return {name: np.concatenate([b[name], own[name]]) for name in b}, payouts
