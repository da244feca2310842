"""What happens to a payment afterwards: a refund (at most one, sometimes partial) or a dispute."""

from __future__ import annotations

import numpy as np

from stripe_emulator.datagen.arrays import Columns
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import C_ORDER
from stripe_emulator.datagen.randomness import choice
from stripe_emulator.datagen.reference import DAY, DISPUTE_REASON_MIX, REFUND_REASON_MIX


def simulate_refunds_and_disputes(biz: Business, c: Columns, keys: np.ndarray) -> Columns:
    """Refund and dispute columns for the charges ``c`` (keyed ``keys``), with their settled amounts.

    ``c`` needs the charges' ``created``, ``account``, ``flavour``, ``failed``, ``card``, ``amount``,
    ``converted`` and ``exchange_rate``. Only what happened before the end of the generated days exists.
    """
    u = biz.draws.uniform
    end = biz.d1 * DAY
    ok = ~c["failed"]
    amount = c["amount"]
    refund_chance = np.where(c["account"] > 0, 0.05, np.where(c["flavour"] == C_ORDER, 0.04, 0.015))
    refund_at = (
        c["created"]
        + 3600
        + np.minimum(-np.log(1 - u(keys, "refund.lag")) * 6 * DAY, 90 * DAY).astype(np.int64)
    )
    refunded = ok & (u(keys, "refund") < refund_chance) & (refund_at < end)
    partial = u(keys, "refund.partial") < 0.25
    refund_amount = np.where(partial, np.rint(amount * (0.2 + 0.6 * u(keys, "refund.share"))), amount)
    refund_amount = refund_amount.astype(np.int64)
    refund_settled = np.where(
        c["converted"], np.rint(refund_amount * np.nan_to_num(c["exchange_rate"], nan=1.0)), refund_amount
    ).astype(np.int64)

    # Disputes on card payments that were not refunded; some are won and reversed later.
    dispute_at = c["created"] + ((7 + 53 * u(keys, "dispute.lag")) * DAY).astype(np.int64)
    disputed = ok & c["card"] & ~refunded & (u(keys, "dispute") < 0.005) & (dispute_at < end)
    won = u(keys, "dispute.won") < 0.4
    due_by = (dispute_at // DAY + 22) * DAY - 1
    closed_at = np.where(
        won,
        dispute_at + ((25 + 50 * u(keys, "dispute.close")) * DAY).astype(np.int64),
        due_by + ((2 + 8 * u(keys, "dispute.close")) * DAY).astype(np.int64),
    )
    reversed_ = disputed & won & (closed_at < end)
    return {
        "refunded": refunded,
        "refund_at": refund_at,
        "refund_amount": refund_amount,
        "refund_settled": refund_settled,
        "refund_reason": choice(u(keys, "refund.reason"), REFUND_REASON_MIX),
        "disputed": disputed,
        "dispute_at": dispute_at,
        "dispute_won": won,
        "dispute_due_by": due_by,
        "dispute_closed_at": closed_at,
        "dispute_reversed": reversed_,
        "dispute_reason": choice(u(keys, "dispute.reason"), DISPUTE_REASON_MIX),
    }
