"""Subscription tables: subscriptions and their state history, items, change events and schedules.

What changes over a subscription's life (status, period, price, quantity, cancellation) is kept
as a hidden history table, ``subscription_history``, one row per change; Sigma's view shows the
latest row before each run's ``data_load_time``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stripe_emulator.datagen.arrays import Columns, add_months
from stripe_emulator.datagen.billing_reference import COUPON_IDS
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import (
    K_CUSTOMER,
    K_DISCOUNT,
    K_INVOICE,
    K_PRICE,
    K_PRODUCT,
    K_SCHEDULE,
    K_SUB_ITEM,
    K_SUBSCRIPTION,
    price_payload,
)
from stripe_emulator.datagen.currencies import SETTLEMENT_CURRENCIES
from stripe_emulator.datagen.lifecycle import END_DUNNING, END_NATURAL, END_UNPAID, Lifecycle
from stripe_emulator.datagen.randomness import U64
from stripe_emulator.datagen.reference import DAY, PLATFORM_TIMEZONE
from stripe_emulator.datagen.subscription_history import (
    EVENT_TYPES,
    STATUSES,
    change_events,
    schedules,
    status_history,
)
from stripe_emulator.datagen.tables.writer import TableWriter, categorical, timestamps

SWAPPED_ITEM = U64(1) << U64(42)
"""Set in the payload of the item that replaces a subscription's first one at a plan change."""


def price_ids(biz: Business, product: np.ndarray, currency: np.ndarray, yearly: np.ndarray) -> np.ndarray:
    """The id numbers of the prices of ``product`` in ``currency``, monthly or yearly."""
    return biz.draws.id(K_PRICE, price_payload(product, currency, yearly))


def write_subscriptions(out: TableWriter, biz: Business, life: Lifecycle) -> None:
    """``subscriptions`` (with their hidden ``subscription_history``), items, events and schedules."""
    s = life.subs
    end = biz.d1 * DAY
    draws = biz.draws
    visible = s["created"] < end
    rows = np.flatnonzero(visible)
    schedule = schedules(biz, life, end)
    schedule_of = np.full(len(s["payload"]), -1, np.int64)
    schedule_of[schedule["sub"]] = np.arange(len(schedule["sub"]))
    has_schedule = schedule_of[rows] >= 0
    sched_row = np.maximum(schedule_of[rows], 0)
    schedule_u = draws.id(K_SCHEDULE, s["payload"][rows])
    kind = s["end_kind"][rows]
    reason = np.where(kind == END_NATURAL, 0, np.where((kind == END_DUNNING) | (kind == END_UNPAID), 1, 2))
    frame = pd.DataFrame(
        {
            "u": draws.id(K_SUBSCRIPTION, s["payload"][rows]),
            "customer_u": draws.id(K_CUSTOMER, s["customer_payload"][rows]),
            "currency": categorical(s["currency"][rows], SETTLEMENT_CURRENCIES),
            "created": timestamps(s["created"][rows]),
            "trial_start": timestamps(np.where(s["trial"][rows], s["created"][rows], -1)),
            "trial_end": timestamps(s["trial_end"][rows]),
            "reason": categorical(reason, ("cancellation_requested", "payment_failed", None)),
            "missing_method": categorical(
                np.where(s["paused"][rows], 0, np.where(s["trial"][rows], 1, 2)), ("pause", "cancel", None)
            ),
            "coupon": categorical(
                np.where(s["reactivation"][rows], -1, s["coupon"][rows]), (*COUPON_IDS[:2], None)
            ),
            "discount_u": np.where(
                ~s["reactivation"][rows] & (s["coupon"][rows] >= 0),
                draws.id(K_DISCOUNT, s["customer_payload"][rows]),
                U64(0),
            ),
            "schedule_u": np.where(has_schedule, schedule_u, U64(0)),
            "schedule_from": timestamps(np.where(has_schedule, schedule["created"][sched_row], -1)),
            "schedule_until": timestamps(
                np.where(
                    has_schedule, np.maximum(schedule["released_at"], schedule["canceled_at"])[sched_row], -1
                )
            ),
        }
    )
    out.create(
        "subscriptions",
        frame,
        "sid('sub_', u) AS id, sid('cus_', customer_u) AS customer_id, currency, created, created AS "
        "start_date, "
        "trial_start, trial_end, 'charge_automatically' AS collection_method, "
        "CAST(NULL AS VARCHAR) AS description, coupon AS discount_coupon_id, sidn('di_', discount_u) AS "
        "discounts, "
        "missing_method AS trial_settings_end_behavior_missing_payment_method, reason AS "
        "_cancellation_reason, "
        "sidn('sub_sched_', schedule_u) AS _schedule_id, schedule_from AS _schedule_from, "
        "schedule_until AS _schedule_until, u AS _u, $platform AS _account, created AS _visible_at",
        platform=out.platform,
    )
    _write_history(out, biz, life, end)
    _write_items(out, biz, life, end)
    _write_events(out, biz, life, end)
    _write_schedules(out, biz, life, schedule)


def _write_history(out: TableWriter, biz: Business, life: Lifecycle, end: int) -> None:
    s, inv = life.subs, life.invoices
    h = status_history(life, end)
    sub = h["sub"]
    invoice = h["latest_invoice"]
    frame = pd.DataFrame(
        {
            "u": biz.draws.id(K_SUBSCRIPTION, s["payload"][sub]),
            "changed_at": timestamps(h["at"]),
            "seq": np.arange(len(sub)),
            "status": categorical(h["status"], STATUSES),
            "price_u": price_ids(biz, h["product"], s["currency"][sub], s["yearly"][sub]),
            "quantity": h["quantity"],
            "period_start": timestamps(h["period_start"]),
            "period_end": timestamps(h["period_end"]),
            "anchor": timestamps(h["anchor"]),
            "cancel_at_period_end": h["cancel_at_period_end"] == 1,
            "canceled_at": timestamps(h["canceled_at"]),
            "cancel_at": timestamps(h["cancel_at"]),
            "ended_at": timestamps(h["ended_at"]),
            "invoice_u": np.where(
                invoice >= 0, biz.draws.id(K_INVOICE, inv["payload"][np.maximum(invoice, 0)]), U64(0)
            ),
        }
    )
    out.create(
        "subscription_history",
        frame,
        "u AS _u, changed_at AS _changed_at, seq AS _seq, status, sid('price_', price_u) AS price_id, "
        "quantity, "
        "period_start AS current_period_start, period_end AS current_period_end, "
        "anchor AS billing_cycle_anchor, cancel_at_period_end, canceled_at, cancel_at, ended_at, "
        "sidn('in_', invoice_u) AS latest_invoice_id, $platform AS _account, changed_at AS _visible_at",
        ("seq",),
        platform=out.platform,
    )


def _write_items(out: TableWriter, biz: Business, life: Lifecycle, end: int) -> None:
    """One item per subscription, plus the item that replaces it when a plan change swaps items."""
    s = life.subs
    draws = biz.draws
    plan_at = add_months(s["anchor"], s["plan_period"] * s["step"])
    qty_at = add_months(s["anchor"], s["change_period"] * s["step"])
    changes_plan = (s["mrr_start"] >= 0) & (s["plan_period"] < s["paid_periods"]) & (plan_at < end)
    changes_qty = (s["mrr_start"] >= 0) & (s["change_period"] < s["paid_periods"]) & (qty_at < end)
    swap = changes_plan & s["swap"]
    reprice = changes_plan & ~s["swap"]
    first = np.flatnonzero(s["created"] < end)
    second = np.flatnonzero(swap)
    rows = np.concatenate([first, second])
    is_second = np.concatenate([np.zeros(len(first), bool), np.ones(len(second), bool)])
    payload = np.where(is_second, s["payload"][rows] | SWAPPED_ITEM, s["payload"][rows])
    product0 = np.where(is_second, s["new_product"][rows], s["product"][rows])
    product1 = np.where(reprice[rows] & ~is_second, s["new_product"][rows], product0)
    currency, yearly = s["currency"][rows], s["yearly"][rows]
    frame = pd.DataFrame(
        {
            "u": draws.id(K_SUB_ITEM, payload),
            "sub_u": draws.id(K_SUBSCRIPTION, s["payload"][rows]),
            "created": timestamps(np.where(is_second, plan_at[rows], s["created"][rows])),
            "price0_u": price_ids(biz, product0, currency, yearly),
            "price1_u": price_ids(biz, product1, currency, yearly),
            "product0_u": draws.id(K_PRODUCT, product0),
            "product1_u": draws.id(K_PRODUCT, product1),
            "price_changed_at": timestamps(np.where(reprice[rows] & ~is_second, plan_at[rows], -1)),
            "q0": s["q0"][rows],
            "q1": s["q1"][rows],
            "quantity_changed_at": timestamps(np.where(changes_qty[rows], qty_at[rows], -1)),
            "deleted_at": timestamps(np.where(swap[rows] & ~is_second, plan_at[rows], -1)),
        }
    )
    out.create(
        "subscription_items",
        frame,
        "sid('si_', u) AS id, sid('sub_', sub_u) AS subscription_id, created, "
        "sid('price_', price0_u) AS _price_before, sid('price_', price1_u) AS _price_after, "
        "sid('prod_', product0_u) AS _product_before, sid('prod_', product1_u) AS _product_after, "
        "price_changed_at AS _price_changed_at, q0 AS _quantity_before, q1 AS _quantity_after, "
        "quantity_changed_at AS _quantity_changed_at, deleted_at AS _deleted_at, "
        "$platform AS _account, created AS _visible_at",
        platform=out.platform,
    )


def _write_events(out: TableWriter, biz: Business, life: Lifecycle, end: int) -> None:
    s = life.subs
    draws = biz.draws
    e = change_events(life, end)
    sub = e["sub"]
    item_payload = np.where(e["item"] == 1, s["payload"][sub] | SWAPPED_ITEM, s["payload"][sub])
    events = pd.DataFrame(
        {
            "event_at": timestamps(e["at"]),
            "type": categorical(e["type"], EVENT_TYPES),
            "mrr": e["mrr"],
            "quantity": e["quantity"],
            "u": draws.id(K_SUBSCRIPTION, s["payload"][sub]),
            "item_u": draws.id(K_SUB_ITEM, item_payload),
            "customer_u": draws.id(K_CUSTOMER, s["customer_payload"][sub]),
            "price_u": price_ids(biz, e["product"], s["currency"][sub], s["yearly"][sub]),
            "product_u": draws.id(K_PRODUCT, e["product"]),
            "currency": categorical(s["currency"][sub], SETTLEMENT_CURRENCIES),
            # An item's end sorts before the start of the item replacing it at the same moment.
            "order": np.where(e["type"] == 1, 0, 1),
        }
    )
    out.create(
        "subscription_item_change_events",
        events,
        "event_at AS event_timestamp, timezone($tz, CAST(event_at AS TIMESTAMPTZ)) AS local_event_timestamp, "
        "type AS event_type, currency, mrr AS mrr_change, quantity AS quantity_change, "
        "sid('prod_', product_u) AS product_id, sid('price_', price_u) AS price_id, "
        "sid('cus_', customer_u) AS customer_id, sid('sub_', u) AS subscription_id, "
        "sid('si_', item_u) AS subscription_item_id, $platform AS _account, event_at AS _visible_at",
        ("event_at", "u", "order"),
        platform=out.platform,
        tz=PLATFORM_TIMEZONE,
    )


def _write_schedules(out: TableWriter, biz: Business, life: Lifecycle, sc: Columns) -> None:
    s = life.subs
    draws = biz.draws
    sub = sc["sub"]
    currency, yearly = s["currency"][sub], s["yearly"][sub]
    frame = pd.DataFrame(
        {
            "u": draws.id(K_SCHEDULE, s["payload"][sub]),
            "sub_u": draws.id(K_SUBSCRIPTION, s["payload"][sub]),
            "customer_u": draws.id(K_CUSTOMER, s["customer_payload"][sub]),
            "created": timestamps(sc["created"]),
            "phase1_start": timestamps(sc["phase1_start"]),
            "change": timestamps(sc["change"]),
            "phase2_end": timestamps(sc["phase2_end"]),
            "canceled_at": timestamps(sc["canceled_at"]),
            "released_at": timestamps(sc["released_at"]),
            "old_u": price_ids(biz, s["product"][sub], currency, yearly),
            "new_u": price_ids(biz, s["new_product"][sub], currency, yearly),
            "quantity": s["q0"][sub],
        }
    )
    out.create(
        "subscription_schedules",
        frame,
        "sid('sub_sched_', u) AS id, created, sid('cus_', customer_u) AS customer_id, "
        "sid('sub_', sub_u) AS _subscription_id, 'release' AS end_behavior, "
        "'charge_automatically' AS default_settings_collection_method, canceled_at AS _canceled_at, "
        "released_at AS _released_at, phase1_start AS _phase1_start, change AS _change, "
        "phase2_end AS _phase2_end, $platform AS _account, created AS _visible_at",
        platform=out.platform,
    )
    phases = pd.concat(
        [
            frame.assign(starts=frame["phase1_start"], ends=frame["change"], price=frame["old_u"], n=1),
            frame.assign(starts=frame["change"], ends=frame["phase2_end"], price=frame["new_u"], n=2),
        ],
        ignore_index=True,
    )
    out.create(
        "subscription_schedule_phases",
        phases,
        "sid('sub_sched_', u) AS subscription_schedule_id, n AS phase_number, starts AS start_date, "
        "ends AS end_date, sid('price_', price) AS price_id, quantity, 'none' AS proration_behavior, "
        "$platform AS _account, created AS _visible_at",
        ("created", "u", "n"),
        platform=out.platform,
    )
