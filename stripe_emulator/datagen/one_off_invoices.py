"""One-off invoices: onboarding packages some new subscribers buy, sent to them to pay by card.

Each is one invoice item on an invoice with ``collection_method=send_invoice``: created as a draft,
finalised a few days later and due 30 days after that. Most are paid, some are voided, some
marked uncollectible and some are still open (past due).
"""

from __future__ import annotations

import numpy as np

from stripe_emulator.datagen.arrays import Columns
from stripe_emulator.datagen.billing_reference import (
    SERVICES_DAYS_UNTIL_DUE,
    SERVICES_OUTCOMES,
    SERVICES_SHARE,
    SERVICES_USD,
)
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import K_INVOICE_ITEM
from stripe_emulator.datagen.lifecycle import Lifecycle
from stripe_emulator.datagen.randomness import U64, choice, key
from stripe_emulator.datagen.reference import DAY, local_prices

ONE_OFF_PAYLOAD = U64(1) << U64(50)
"""Set in the payload of a one-off invoice (and its item): the rest is the customer's payload."""
O_PAID, O_VOID, O_UNCOLLECTIBLE, O_OPEN = range(4)


def simulate_one_off_invoices(biz: Business, life: Lifecycle) -> Columns:
    """The onboarding invoices of first-time subscribers, at most one each.

    ``sub`` is the subscription row (for the customer and currency); ``paid`` says whether the
    invoice was paid before the end of the data (then at ``paid_at``).
    """
    u = biz.draws.uniform
    s = life.subs
    end = biz.d1 * DAY
    keys = key(K_INVOICE_ITEM, s["customer_payload"])
    created = s["created"] + ((2 + 8 * u(keys, "services.at")) * DAY).astype(np.int64)
    buys = ~s["reactivation"] & (s["mrr_start"] >= 0) & (u(keys, "services") < SERVICES_SHARE)
    buys &= created < end
    rows = np.flatnonzero(buys)
    keys, created = keys[rows], created[rows]
    package = choice(u(keys, "services.package"), (0.5, 0.35, 0.15))
    prices = np.array([local_prices(usd) for usd in SERVICES_USD])
    amount = prices[package, s["currency"][rows]]
    finalized = created + ((3 * u(keys, "services.finalize")) * DAY).astype(np.int64)
    due = finalized + SERVICES_DAYS_UNTIL_DUE * DAY
    outcome = choice(u(keys, "services.outcome"), SERVICES_OUTCOMES)
    paid_at = np.where(
        outcome == O_PAID, finalized + ((1 + 27 * u(keys, "services.paid")) * DAY).astype(np.int64), -1
    )
    voided_at = np.where(
        outcome == O_VOID, finalized + ((2 + 18 * u(keys, "services.void")) * DAY).astype(np.int64), -1
    )
    uncollectible_at = np.where(outcome == O_UNCOLLECTIBLE, due + 30 * DAY, -1)
    return {
        "payload": ONE_OFF_PAYLOAD | s["customer_payload"][rows],
        "sub": rows,
        "package": package,
        "created": created,
        "finalized_at": finalized,
        "due": due,
        "paid_at": paid_at,
        "paid": (paid_at >= 0) & (paid_at < end),
        "voided_at": voided_at,
        "uncollectible_at": uncollectible_at,
        "total": amount.astype(np.int64),
    }
