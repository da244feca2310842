"""A lifecycle as Sigma records it: MRR change events, status history, items and schedules.

Change events follow Stripe's definitions (docs.stripe.com/stripe-data/query-billing-data): an
item starts or stops contributing to MRR (``ACTIVE_START``, ``ACTIVE_END``), its MRR contribution
rises or falls (``ACTIVE_UPGRADE``, ``ACTIVE_DOWNGRADE``), or its quantity changes without
changing MRR (``ACTIVE_QUANTITY_INCREASE``/``DECREASE``, on the graduated Team plan's flat tier).
A plan change that replaces the item is two events at the same moment: ``ACTIVE_END`` on the old
item and ``ACTIVE_START`` on the new one. MRR counts active and past-due subscriptions; trials,
paused, unpaid and incomplete ones contribute nothing.
"""

from __future__ import annotations

import numpy as np

from stripe_emulator.datagen.arrays import Columns, add_months
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import K_SCHEDULE
from stripe_emulator.datagen.lifecycle import (
    END_DUNNING,
    END_EXPIRED,
    END_NATURAL,
    END_PAUSED,
    END_TRIAL,
    END_UNPAID,
    Lifecycle,
)
from stripe_emulator.datagen.randomness import key
from stripe_emulator.datagen.subscriptions import item_mrr

EVENT_TYPES = (
    "ACTIVE_START",
    "ACTIVE_END",
    "ACTIVE_UPGRADE",
    "ACTIVE_DOWNGRADE",
    "ACTIVE_QUANTITY_INCREASE",
    "ACTIVE_QUANTITY_DECREASE",
)
E_START, E_END, E_UP, E_DOWN, E_QTY_UP, E_QTY_DOWN = range(6)
STATUSES = (
    "active",
    "trialing",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "paused",
)
S_ACTIVE, S_TRIALING, S_PAST_DUE, S_UNPAID, S_CANCELED, S_INCOMPLETE, S_EXPIRED, S_PAUSED = range(8)
KEEP = -2
"""In a history row: this field did not change (the value before carries forward)."""


def _group(n: int, **columns: object) -> Columns:
    return {
        name: np.broadcast_to(np.asarray(value), (n,)).astype(np.int64) for name, value in columns.items()
    }


def _concat(groups: list[Columns]) -> Columns:
    return {name: np.concatenate([g[name] for g in groups]) for name in groups[0]}


def change_events(life: Lifecycle, end: int) -> Columns:
    """Every MRR change event before ``end`` (Unix seconds), unsorted.

    Columns: ``at``, ``type`` (index into EVENT_TYPES), ``mrr``, ``quantity``, ``sub`` (row),
    ``item`` (0: the first item, 1: the one replacing it) and ``product``.
    """
    s = life.subs
    cur, yearly, step, anchor = s["currency"], s["yearly"], s["step"], s["anchor"]
    started = s["mrr_start"] >= 0
    p0, p1, q0, q1 = s["product"], s["new_product"], s["q0"], s["q1"]
    mrr0 = item_mrr(p0, cur, yearly, q0)
    groups: list[Columns] = []
    rows = np.flatnonzero(started)
    groups.append(
        _group(
            len(rows),
            at=s["mrr_start"][rows],
            type=E_START,
            mrr=mrr0[rows],
            quantity=q0[rows],
            sub=rows,
            item=0,
            product=p0[rows],
        )
    )

    # Quantity changes of seat subscriptions, at the start of their period.
    qty = started & (s["change_period"] < s["paid_periods"])
    rows = np.flatnonzero(qty)
    delta = (item_mrr(p0, cur, yearly, q1) - mrr0)[rows]
    dq = (q1 - q0)[rows]
    kind = np.where(delta > 0, E_UP, np.where(delta < 0, E_DOWN, np.where(dq > 0, E_QTY_UP, E_QTY_DOWN)))
    at = add_months(anchor, s["change_period"] * step)[rows]
    groups.append(
        _group(len(rows), at=at, type=kind, mrr=delta, quantity=dq, sub=rows, item=0, product=p0[rows])
    )

    # Plan changes: a new price on the same item, or a new item replacing the old one.
    plan = started & (s["plan_period"] < s["paid_periods"])
    at = add_months(anchor, s["plan_period"] * step)
    mrr1 = item_mrr(p1, cur, yearly, q0)
    rows = np.flatnonzero(plan & ~s["swap"])
    delta = (mrr1 - mrr0)[rows]
    groups.append(
        _group(
            len(rows),
            at=at[rows],
            type=np.where(delta > 0, E_UP, E_DOWN),
            mrr=delta,
            quantity=0,
            sub=rows,
            item=0,
            product=p1[rows],
        )
    )
    rows = np.flatnonzero(plan & s["swap"])
    groups.append(
        _group(
            len(rows),
            at=at[rows],
            type=E_END,
            mrr=-mrr0[rows],
            quantity=-q0[rows],
            sub=rows,
            item=0,
            product=p0[rows],
        )
    )
    groups.append(
        _group(
            len(rows),
            at=at[rows],
            type=E_START,
            mrr=mrr1[rows],
            quantity=q0[rows],
            sub=rows,
            item=1,
            product=p1[rows],
        )
    )

    # The end of the MRR: canceled, or unpaid after the last failed retry.
    rows = np.flatnonzero(started & (s["mrr_end"] >= 0))
    product = np.where(plan, p1, p0)[rows]
    quantity = np.where(qty, q1, q0)[rows]
    item = (plan & s["swap"]).astype(np.int64)[rows]
    final = item_mrr(product, cur[rows], yearly[rows], quantity)
    groups.append(
        _group(
            len(rows),
            at=s["mrr_end"][rows],
            type=E_END,
            mrr=-final,
            quantity=-quantity,
            sub=rows,
            item=item,
            product=product,
        )
    )
    events = _concat(groups)
    keep = events["at"] < end
    return {name: values[keep] for name, values in events.items()}


def status_history(life: Lifecycle, end: int) -> Columns:
    """Each subscription's state after every change before ``end``, sorted by subscription and time.

    Columns ``sub``, ``at``, ``status`` (index into STATUSES), ``period_start``, ``period_end``,
    ``quantity``, ``product``, ``item``, ``latest_invoice`` (invoice row), ``anchor``,
    ``cancel_at_period_end``, ``canceled_at``, ``cancel_at``, ``ended_at`` (-1: none).
    """
    s, inv = life.subs, life.invoices
    n = len(s["payload"])
    fields = (
        "status",
        "period_start",
        "period_end",
        "quantity",
        "product",
        "item",
        "latest_invoice",
        "anchor",
        "cancel_at_period_end",
        "canceled_at",
        "cancel_at",
        "ended_at",
    )
    groups: list[Columns] = []

    def add(rows: np.ndarray, at: np.ndarray, order: int, **changes: object) -> None:
        values = {name: changes.get(name, KEEP) for name in fields}
        groups.append(_group(len(rows), sub=rows, at=at, order=order, **values))

    first_invoice = np.full(n, -1, np.int64)
    firsts = np.flatnonzero(inv["k"] == 0)
    first_invoice[inv["sub"][firsts]] = firsts
    trial_invoice = s["trial_invoice"]
    all_rows = np.arange(n)
    trial = s["trial"]
    created_status = np.where(trial, S_TRIALING, np.where(s["signup_failed"], S_INCOMPLETE, S_ACTIVE))
    period_end = np.where(trial, s["trial_end"], add_months(s["created"], s["step"]))
    add(
        all_rows,
        s["created"],
        0,
        status=created_status,
        period_start=s["created"],
        period_end=period_end,
        quantity=s["q0"],
        product=s["product"],
        item=0,
        latest_invoice=np.where(trial, trial_invoice, first_invoice),
        anchor=np.where(trial, s["trial_end"], s["created"]),
        cancel_at_period_end=0,
        canceled_at=-1,
        cancel_at=-1,
        ended_at=-1,
    )
    # Each paid period (a trial's first one also ends the trial).
    sub, k = inv["sub"], inv["k"]
    renewal = ~inv["is_trial"] & ((k > 0) | trial[sub])
    rows = np.flatnonzero(renewal)
    add(
        sub[rows],
        inv["start"][rows],
        1,
        period_start=inv["start"][rows],
        period_end=inv["end"][rows],
        quantity=inv["quantity"][rows],
        product=inv["product"][rows],
        item=inv["swapped"][rows].astype(np.int64),
        latest_invoice=rows,
        anchor=np.where(k[rows] == 0, inv["start"][rows], KEEP),
        status=np.where(k[rows] == 0, S_ACTIVE, KEEP),
    )
    # A failed renewal makes the subscription past due until a retry succeeds.
    failed = ~inv["on_session"] & ~inv["is_trial"] & (inv["paid_at"] != inv["charge_at"])
    rows = np.flatnonzero(failed)
    add(sub[rows], inv["charge_at"][rows], 2, status=S_PAST_DUE)
    rows = np.flatnonzero(failed & (inv["paid_at"] >= 0))
    add(sub[rows], inv["paid_at"][rows], 3, status=S_ACTIVE)
    rows = np.flatnonzero(inv["recover_at"] >= 0)
    add(sub[rows], inv["recover_at"][rows], 3, status=S_ACTIVE)

    kind, ended = s["end_kind"], s["ended_at"]
    rows = np.flatnonzero(kind == END_NATURAL)
    requested = s["cancel_requested_at"][rows]
    add(rows, requested, 4, cancel_at_period_end=1, canceled_at=requested, cancel_at=ended[rows])
    add(rows, ended[rows], 5, status=S_CANCELED, ended_at=ended[rows])
    for code, status in ((END_DUNNING, S_CANCELED), (END_EXPIRED, S_EXPIRED), (END_TRIAL, S_CANCELED)):
        rows = np.flatnonzero(kind == code)
        canceled = ended[rows] if status == S_CANCELED else -1
        add(rows, ended[rows], 5, status=status, canceled_at=canceled, ended_at=ended[rows])
    rows = np.flatnonzero(kind == END_UNPAID)
    add(rows, s["lost_at"][rows], 5, status=S_UNPAID)
    add(rows, ended[rows], 6, status=S_CANCELED, canceled_at=ended[rows], ended_at=ended[rows])
    rows = np.flatnonzero(s["paused"])
    add(rows, s["trial_end"][rows], 4, status=S_PAUSED)
    rows = np.flatnonzero((kind == END_PAUSED) & (ended >= 0))
    add(rows, ended[rows], 5, status=S_CANCELED, canceled_at=ended[rows], ended_at=ended[rows])

    history = _concat(groups)
    keep = (history["at"] < end) & (history["at"] >= 0)
    history = {name: values[keep] for name, values in history.items()}
    order = np.lexsort([history["order"], history["at"], history["sub"]])
    history = {name: values[order] for name, values in history.items()}
    # Carry every unchanged field forward (each subscription's first row sets them all).
    positions = np.arange(len(history["sub"]))
    for name in fields:
        values = history[name]
        last = np.maximum.accumulate(np.where(values != KEEP, positions, 0))
        history[name] = values[last]
    del history["order"]
    return history


def schedules(biz: Business, life: Lifecycle, end: int) -> Columns:
    """A subscription schedule for each plan change: the customer booked it during the period before.

    Phase 1 is that period on the old price, phase 2 the next on the new one; the schedule then
    releases the subscription (``end_behavior=release``), or is canceled if the subscription ends first.
    """
    s = life.subs
    started = s["mrr_start"] >= 0
    rows = np.flatnonzero(started & (s["plan_period"] < s["paid_periods"]))
    anchor, step, pp = s["anchor"][rows], s["step"][rows], s["plan_period"][rows]
    before = add_months(anchor, (pp - 1) * step)
    change = add_months(anchor, pp * step)
    after = add_months(anchor, (pp + 1) * step)
    keys = key(K_SCHEDULE, s["payload"][rows])
    created = before + (biz.draws.uniform(keys, "booked") * 0.8 * (change - before)).astype(np.int64)
    lost_here = s["lost_k"][rows] == pp
    canceled = np.where(lost_here, s["lost_at"][rows], -1)
    released = np.where(lost_here, -1, after)
    keep = created < end
    return {
        "sub": rows[keep],
        "created": created[keep],
        "phase1_start": before[keep],
        "change": change[keep],
        "phase2_end": after[keep],
        "canceled_at": canceled[keep],
        "released_at": released[keep],
    }
