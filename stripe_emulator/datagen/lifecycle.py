"""What happens to each subscription: trials, payments that fail, plan changes, the end, a comeback.

A subscription may start with a free trial that converts, is canceled, or pauses (no payment
method) until the customer resumes it. Its paid periods start at its billing anchor. A sign-up
payment that fails leaves it ``incomplete`` until the customer pays (or it expires after 23
hours); a renewal that fails makes it ``past_due`` while Smart Retries run, and after the last
failed retry it is canceled or left ``unpaid``. Some change plan at a renewal (one product up or
down), seat subscriptions change quantity, and some customers whose subscription ended come back
later with a new one, a few in another currency.

Every timestamp is computed even when it lies after the generated days; the table writers keep
only what happened before the end of the data. Everything a subscription leads to (its trial,
its periods, a comeback and the comeback's periods) happens within ``HISTORY_DAYS`` of its
sign-up, so generating more history never changes what later days hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stripe_emulator.datagen.arrays import Columns, add_months, whole_months
from stripe_emulator.datagen.billing_reference import (
    CARD_FAILURE,
    COUPONS,
    CUSTOMER_COUPON_MIX,
    DEBIT_FAILURE,
    DUNNING_UNPAID,
    INCOMPLETE_EXPIRES,
    INCOMPLETE_RECOVERS,
    PAUSE_CANCEL_DAYS,
    PAUSE_CANCELS,
    PAUSE_RESUME_DAYS,
    PAUSE_RESUMES,
    PLAN_CHANGE,
    PLAN_SWAP,
    PLAN_UPGRADE,
    REACTIVATE_DAYS,
    REACTIVATE_OTHER_CURRENCY,
    REACTIVATES,
    REACTIVATION_PRODUCTS,
    RETRY_DAYS,
    RETRY_FAILURE,
    TRIAL_CONVERTS,
    TRIAL_DAYS,
    TRIAL_PAUSES,
    TRIAL_SHARE,
    UNPAID_CANCEL_DAYS,
)
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import K_CHARGE, K_CUSTOMER, K_INVOICE, K_SUBSCRIPTION
from stripe_emulator.datagen.currencies import SETTLEMENT_CURRENCIES
from stripe_emulator.datagen.randomness import U64, choice, key
from stripe_emulator.datagen.reference import BANK_DEBIT_FROM, DAY, HISTORY_DAYS, MAX_MONTHS, MONTHLY_CHURN
from stripe_emulator.datagen.subscriptions import item_amount

REACTIVATION_BIT = U64(1) << U64(40)
"""Set in the payload of a customer's second subscription (the first shares the customer's)."""
TRIAL_INVOICE = 0xFF
"""The period number of a trial's zero-amount invoice (paid periods count from 0)."""
RETRY_PAYLOAD = U64(4) << U64(52)
"""Payloads of retried payments: this, the attempt number at bit 49 and the invoice's payload."""

# How a subscription ended (or will): the ``end_kind`` codes.
END_NONE, END_NATURAL, END_DUNNING, END_UNPAID, END_EXPIRED, END_TRIAL, END_PAUSED = range(7)


@dataclass(frozen=True)
class Lifecycle:
    """Every subscription's history: the subscriptions, their invoices and the payment attempts.

    ``invoices["sub"]`` and ``attempts["invoice"]`` are row numbers into ``subs`` and ``invoices``.
    """

    subs: Columns
    invoices: Columns
    attempts: Columns


def first_invoice_payload(payload: np.ndarray) -> np.ndarray:
    """The payload of a subscription's first paid invoice."""
    return payload << U64(8)


def simulate_lifecycle(biz: Business, base: Columns) -> Lifecycle:
    """The lives of the subscriptions ``base`` (as signed up for), then of the comebacks they lead to."""
    first = _frame(biz, base)
    subs, invoices, attempts = _live(biz, first)
    comeback = _reactivations(biz, subs)
    more_subs, more_invoices, more_attempts = _live(biz, comeback)
    offset = len(subs["payload"])
    more_invoices["sub"] = more_invoices["sub"] + offset
    more_attempts["invoice"] = more_attempts["invoice"] + len(invoices["payload"])
    more_subs["trial_invoice"] = np.where(
        more_subs["trial_invoice"] >= 0, more_subs["trial_invoice"] + len(invoices["payload"]), -1
    )
    return Lifecycle(
        subs=_concat(subs, more_subs),
        invoices=_concat(invoices, more_invoices),
        attempts=_concat(attempts, more_attempts),
    )


def _concat(a: Columns, b: Columns) -> Columns:
    return {name: np.concatenate([a[name], b[name]]) for name in a}


def _days(u: np.ndarray, bounds: tuple[int, int]) -> np.ndarray:
    low, high = bounds
    return ((low + u * (high - low)) * DAY).astype(np.int64)


def _frame(biz: Business, base: Columns) -> Columns:
    frame = dict(base)
    n = len(base["payload"])
    frame["reactivation"] = np.zeros(n, bool)
    frame["horizon"] = base["created"] + HISTORY_DAYS * DAY
    # The customer's coupon (the customers table draws the same): it discounts the first invoice.
    customer_keys = key(K_CUSTOMER, base["customer_payload"])
    frame["coupon"] = choice(biz.draws.uniform(customer_keys, "coupon"), CUSTOMER_COUPON_MIX) - 1
    return frame


def _reactivations(biz: Business, subs: Columns) -> Columns:
    """A new subscription for some customers whose subscription ended at their request."""
    u = biz.draws.uniform
    keys = key(K_SUBSCRIPTION, subs["payload"])
    back = (subs["end_kind"] == END_NATURAL) & ~subs["reactivation"]
    back &= u(keys, "reactivate") < REACTIVATES
    created = subs["ended_at"] + _days(u(keys, "reactivate.after"), REACTIVATE_DAYS)
    back &= (created < biz.d1 * DAY) & (created < subs["horizon"] - 31 * DAY)
    payload = subs["customer_payload"][back] | REACTIVATION_BIT
    rkeys = key(K_SUBSCRIPTION, payload)
    currency = subs["currency"][back]
    other = u(rkeys, "currency") < REACTIVATE_OTHER_CURRENCY
    shift = 1 + np.floor(u(rkeys, "currency.to") * (len(SETTLEMENT_CURRENCIES) - 1)).astype(np.int64)
    life = np.log(1 - u(rkeys, "life"))
    periods = np.minimum(1 + np.floor(life / np.log(1 - MONTHLY_CHURN)), MAX_MONTHS).astype(np.int64)
    n = len(payload)
    return {
        "payload": payload,
        "customer_payload": subs["customer_payload"][back],
        "created": created[back],
        "currency": np.where(other, (currency + shift) % len(SETTLEMENT_CURRENCIES), currency),
        "product": choice(u(rkeys, "product"), REACTIVATION_PRODUCTS),
        "yearly": np.zeros(n, np.int64),
        "q0": np.ones(n, np.int64),
        "q1": np.ones(n, np.int64),
        "periods": periods,
        "step": np.ones(n, np.int64),
        "change_period": periods,
        "method": np.zeros(n, np.int64),
        "reactivation": np.ones(n, bool),
        "coupon": np.full(n, -1, np.int64),
        "horizon": subs["horizon"][back],
    }


def _live(biz: Business, f: Columns) -> tuple[Columns, Columns, Columns]:
    f = _plan(biz, f)
    inv = _periods(f)
    attempts = _payments(biz, f, inv)
    inv, attempts = _truncate(f, inv, attempts)
    _ends(biz, f, inv)
    inv = _with_trial_invoices(f, inv)
    return f, inv, attempts


def _with_trial_invoices(f: Columns, inv: Columns) -> Columns:
    """Add the zero-amount invoice that starts each trial; ``subs["trial_invoice"]`` is its row."""
    inv["is_trial"] = np.zeros(len(inv["payload"]), bool)
    rows = np.flatnonzero(f["trial"])
    n = len(rows)
    created = f["created"][rows]
    none = np.full(n, -1, np.int64)
    trial = {
        "payload": first_invoice_payload(f["payload"][rows]) | U64(TRIAL_INVOICE),
        "sub": rows,
        "k": np.full(n, TRIAL_INVOICE, np.int64),
        "start": created,
        "end": f["trial_end"][rows],
        "on_session": np.zeros(n, bool),
        "charge_at": none,
        "finalized_at": created + 1,
        "paid_at": created + 1,
        "lost": np.zeros(n, bool),
        "lost_at": none,
        "expired": np.zeros(n, bool),
        "recover_at": none,
        "product": f["product"][rows],
        "quantity": f["q0"][rows],
        "swapped": np.zeros(n, bool),
        "subtotal": np.zeros(n, np.int64),
        "discount": np.zeros(n, np.int64),
        "total": np.zeros(n, np.int64),
        "is_trial": np.ones(n, bool),
    }
    trial_invoice = np.full(len(f["payload"]), -1, np.int64)
    trial_invoice[rows] = len(inv["payload"]) + np.arange(n)
    f["trial_invoice"] = trial_invoice
    return _concat(inv, trial)


def _plan(biz: Business, f: Columns) -> Columns:
    """Trials and what follows them, plan changes, and the billing anchor of the paid periods."""
    f = dict(f)
    u = biz.draws.uniform
    keys = key(K_SUBSCRIPTION, f["payload"])
    created = f["created"]
    trial = (u(keys, "trial") < TRIAL_SHARE) & ~f["reactivation"]
    trial_end = np.where(trial, created + TRIAL_DAYS * DAY, -1)
    converts = ~trial | (u(keys, "trial.outcome") < TRIAL_CONVERTS)
    paused = trial & ~converts & (u(keys, "trial.pause") < TRIAL_PAUSES)
    resumes = paused & (u(keys, "pause.resume") < PAUSE_RESUMES)
    resume_at = np.where(resumes, trial_end + _days(u(keys, "pause.resume.after"), PAUSE_RESUME_DAYS), -1)
    pause_cancel = paused & ~resumes & (u(keys, "pause.cancel") < PAUSE_CANCELS)
    f["pause_cancel_at"] = np.where(
        pause_cancel, trial_end + _days(u(keys, "pause.cancel.after"), PAUSE_CANCEL_DAYS), -1
    )
    f["trial"], f["trial_end"], f["trial_converts"] = trial, trial_end, converts
    f["paused"], f["resume_at"] = paused, resume_at
    anchor = np.where(trial, np.where(converts, trial_end, resume_at), created)
    f["anchor"] = anchor
    # No period may end after the subscription's horizon (see the module's docstring).
    fits = whole_months(np.maximum(anchor, 0), f["horizon"]) // f["step"]
    f["periods"] = np.where(anchor >= 0, np.maximum(np.minimum(f["periods"], fits), 1), f["periods"])
    f["change_period"] = np.minimum(f["change_period"], f["periods"])

    # Flat-priced plans (Starter..Enterprise) may move one product up or down at a renewal.
    product, periods = f["product"], f["periods"]
    change = (product <= 3) & (periods >= 2) & (u(keys, "plan") < PLAN_CHANGE)
    up = ((u(keys, "plan.up") < PLAN_UPGRADE) & (product < 3)) | (product == 0)
    f["new_product"] = np.where(change, product + np.where(up, 1, -1), product)
    at = 1 + np.floor(u(keys, "plan.at") * (periods - 1)).astype(np.int64)
    f["plan_period"] = np.where(change, at, periods)
    f["swap"] = change & (u(keys, "plan.swap") < PLAN_SWAP)
    f["card"] = f["method"] < BANK_DEBIT_FROM
    return f


def _periods(f: Columns) -> Columns:
    """One invoice per planned paid period, with when its first payment attempt happens."""
    billed = f["anchor"] >= 0
    counts = np.where(billed, f["periods"], 0)
    sub = np.repeat(np.arange(len(counts)), counts)
    k = np.arange(len(sub), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    step = f["step"][sub]
    start = add_months(f["anchor"][sub], k * step)
    payload = first_invoice_payload(f["payload"][sub]) | k.astype(np.uint64)
    # A sign-up is paid at once, on-session; a renewal (or a trial's end) about an hour after the
    # period starts, when the invoice is finalised.
    on_session = (k == 0) & ~f["trial"][sub]
    return {
        "payload": payload,
        "sub": sub,
        "k": k,
        "start": start,
        "end": add_months(f["anchor"][sub], (k + 1) * step),
        "on_session": on_session,
    }


def _payments(biz: Business, f: Columns, inv: Columns) -> Columns:
    """Every payment attempt of the invoices; sets each invoice's outcome.

    The first attempt fails as its charge's own draw says (the same draw the charges use), a failed
    sign-up may be paid once more by the customer, and a failed renewal is retried up to three times.
    """
    u = biz.draws.uniform
    sub, start = inv["sub"], inv["start"]
    ikeys = key(K_INVOICE, inv["payload"])
    lag = u(ikeys, "pay")
    on_session = inv["on_session"]
    charge_at = np.where(
        on_session, start + 5 + (lag * 60).astype(np.int64), start + 3600 + (lag * 1800).astype(np.int64)
    )
    first = (U64(2) << U64(52)) | inv["payload"]
    rate = np.where(f["card"][sub], CARD_FAILURE, DEBIT_FAILURE)
    failed = u(key(K_CHARGE, first), "failed") < rate

    incomplete = on_session & failed
    recovers = incomplete & (u(ikeys, "incomplete.recover") < INCOMPLETE_RECOVERS)
    recover_at = charge_at + 120 + (u(ikeys, "incomplete.recover.at") * 6 * 3600).astype(np.int64)
    rows = [(np.flatnonzero(np.ones(len(sub), bool)), np.zeros(len(sub), np.int64), charge_at, failed)]
    rows.append(
        (
            np.flatnonzero(recovers),
            np.ones(recovers.sum(), np.int64),
            recover_at[recovers],
            np.zeros(recovers.sum(), bool),
        )
    )
    paid_at = np.where(~failed, charge_at, np.where(recovers, recover_at, -1))

    still_failing = failed & ~on_session
    retry_at = charge_at.copy()
    for attempt, days in enumerate(RETRY_DAYS, start=1):
        at = charge_at + days * DAY + (u(ikeys, f"retry.{attempt}.at") * 3 * 3600).astype(np.int64)
        fails = u(ikeys, f"retry.{attempt}") < RETRY_FAILURE
        rows.append(
            (
                np.flatnonzero(still_failing),
                np.full(still_failing.sum(), attempt),
                at[still_failing],
                fails[still_failing],
            )
        )
        paid_at = np.where(still_failing & ~fails, at, paid_at)
        retry_at = np.where(still_failing, at, retry_at)
        still_failing &= fails
    inv["charge_at"] = charge_at
    inv["finalized_at"] = np.where(on_session, start + 1, charge_at - 1)
    inv["paid_at"] = paid_at
    inv["lost"] = still_failing
    inv["lost_at"] = np.where(still_failing, retry_at, -1)
    inv["expired"] = incomplete & ~recovers
    inv["recover_at"] = np.where(recovers, recover_at, -1)
    invoice = np.concatenate([r[0] for r in rows])
    return {
        "invoice": invoice,
        "attempt": np.concatenate([r[1] for r in rows]),
        "at": np.concatenate([r[2] for r in rows]),
        "failed": np.concatenate([r[3] for r in rows]),
    }


def _truncate(f: Columns, inv: Columns, attempts: Columns) -> tuple[Columns, Columns]:
    """No periods after a lost renewal or an expired sign-up: cut the invoices and their attempts."""
    n = len(f["payload"])
    lost_k = np.full(n, 1 << 30)
    np.minimum.at(lost_k, inv["sub"][inv["lost"]], inv["k"][inv["lost"]])
    expired = np.zeros(n, bool)
    expired[inv["sub"][inv["expired"]]] = True
    f["expired"] = expired
    f["lost_k"] = lost_k
    paid = np.where(expired, 1, np.minimum(f["periods"], lost_k + 1))
    f["paid_periods"] = np.where(f["anchor"] >= 0, paid, 0)
    keep = inv["k"] < f["paid_periods"][inv["sub"]]
    new_row = np.cumsum(keep) - 1
    attempts_kept = keep[attempts["invoice"]]
    attempts = {name: values[attempts_kept] for name, values in attempts.items()}
    attempts["invoice"] = new_row[attempts["invoice"]]
    inv = {name: values[keep] for name, values in inv.items()}
    _amounts(f, inv)
    return inv, attempts


def _amounts(f: Columns, inv: Columns) -> None:
    """Each invoice's product, quantity and amounts (a coupon takes its share off the first)."""
    sub, k = inv["sub"], inv["k"]
    inv["product"] = np.where(k >= f["plan_period"][sub], f["new_product"][sub], f["product"][sub])
    inv["quantity"] = np.where(k >= f["change_period"][sub], f["q1"][sub], f["q0"][sub])
    inv["swapped"] = f["swap"][sub] & (k >= f["plan_period"][sub])
    subtotal = item_amount(inv["product"], f["currency"][sub], f["yearly"][sub], inv["quantity"])
    percent = np.array([coupon[2] for coupon in COUPONS[:2]] + [0])[f["coupon"][sub]]
    discount = np.where((k == 0) & (f["coupon"][sub] >= 0), np.rint(subtotal * percent / 100), 0)
    inv["subtotal"] = subtotal
    inv["discount"] = discount.astype(np.int64)
    inv["total"] = subtotal - inv["discount"]


def _ends(biz: Business, f: Columns, inv: Columns) -> None:
    """How and when each subscription ended (or will), and when its MRR started and stopped."""
    u = biz.draws.uniform
    keys = key(K_SUBSCRIPTION, f["payload"])
    n = len(f["payload"])
    lost_at = np.full(n, -1, np.int64)
    lost_at[inv["sub"][inv["lost"]]] = inv["lost_at"][inv["lost"]]
    recover_at = np.full(n, -1, np.int64)
    first = inv["k"] == 0
    recover_at[inv["sub"][first]] = inv["recover_at"][first]
    signup_failed = np.zeros(n, bool)
    failed_first = first & inv["on_session"] & (inv["paid_at"] != inv["charge_at"])
    signup_failed[inv["sub"][failed_first]] = True
    f["signup_failed"] = signup_failed
    lost = lost_at >= 0
    unpaid = lost & (u(keys, "dunning.unpaid") < DUNNING_UNPAID)
    billed = f["anchor"] >= 0
    natural = billed & ~lost & ~f["expired"]
    last_start = add_months(f["anchor"], (f["paid_periods"] - 1) * f["step"])
    natural_end = add_months(f["anchor"], f["paid_periods"] * f["step"])
    kind = np.select(
        [
            f["expired"],
            natural,
            lost & ~unpaid,
            unpaid,
            f["trial"] & ~f["trial_converts"] & ~f["paused"],
            f["paused"] & ~billed,
        ],
        [END_EXPIRED, END_NATURAL, END_DUNNING, END_UNPAID, END_TRIAL, END_PAUSED],
        END_NONE,
    )
    unpaid_end = np.minimum(lost_at + _days(u(keys, "unpaid.cancel"), UNPAID_CANCEL_DAYS), f["horizon"])
    ended = np.select(
        [
            kind == END_EXPIRED,
            kind == END_NATURAL,
            kind == END_DUNNING,
            kind == END_UNPAID,
            kind == END_TRIAL,
            kind == END_PAUSED,
        ],
        [
            f["created"] + INCOMPLETE_EXPIRES,
            natural_end,
            lost_at,
            unpaid_end,
            f["trial_end"],
            f["pause_cancel_at"],
        ],
        -1,
    )
    # Customers ending a subscription themselves ask to cancel at the end of the period, a few
    # days to weeks before it ends.
    ask = natural_end - ((1 + u(keys, "cancel.ask") * 20) * DAY).astype(np.int64)
    f["cancel_requested_at"] = np.where(natural, np.maximum(ask, last_start + 3600), -1)
    f["end_kind"] = kind
    f["ended_at"] = ended
    f["lost_at"] = lost_at
    f["unpaid"] = unpaid
    started = billed & ~f["expired"]
    f["mrr_start"] = np.where(
        started, np.where(f["trial"], f["anchor"], np.where(recover_at >= 0, recover_at, f["created"])), -1
    )
    f["mrr_end"] = np.where(natural, natural_end, np.where(lost, lost_at, -1))
