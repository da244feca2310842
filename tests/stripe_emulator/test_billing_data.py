"""Billing data as Sigma shows it: subscription lifecycles, invoices, MRR change events, payments.

Each test states a rule of Stripe's Billing (docs.stripe.com/billing, the subscription and invoice
object references, docs.stripe.com/stripe-data/query-billing-data) and checks the generated
history keeps it, as Sigma shows it at the engine's ``data_load_time``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from emulator_settings import LOAD_TIME, Rows

Sigma = Callable[..., Rows]


def _one(sigma: Sigma, sql: str, **options: object) -> dict[str, str]:
    rows = sigma(sql, **options)
    assert len(rows) == 1, rows
    return rows[0]


def _time(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


# -- subscription statuses ------------------------------------------------------------------


def test_subscriptions_have_every_status_in_plausible_shares(sigma: Sigma) -> None:
    shares = {
        row["status"]: int(row["n"])
        for row in sigma("select status, count(*) as n from subscriptions group by 1")
    }
    assert set(shares) >= {
        "active",
        "trialing",
        "past_due",
        "unpaid",
        "canceled",
        "incomplete_expired",
        "paused",
    }
    live = sum(n for status, n in shares.items() if status != "canceled")
    # Four years in, most subscriptions ever started have ended; of the rest nearly all are active.
    assert shares["canceled"] > shares["active"] > 0.8 * live
    for status in ("trialing", "past_due", "unpaid", "paused", "incomplete_expired"):
        assert 0 < shares[status] < 0.05 * live, status


def test_an_incomplete_subscription_expires_after_23_hours(sigma: Sigma) -> None:
    expired = _one(
        sigma,
        "select id, created, ended_at from subscriptions where status = 'incomplete_expired' "
        "order by created desc limit 1",
    )
    created = _time(expired["created"])
    assert _time(expired["ended_at"]) == created + timedelta(hours=23)
    query = f"select status, latest_invoice_id from subscriptions where id = '{expired['id']}'"
    early = _one(sigma, query, data_load_time=created + timedelta(hours=1))
    assert early["status"] == "incomplete"
    invoice = f"select status, attempt_count from invoices where id = '{early['latest_invoice_id']}'"
    assert _one(sigma, invoice, data_load_time=created + timedelta(hours=1)) == {
        "status": "open",
        "attempt_count": "1",
    }
    assert _one(sigma, invoice)["status"] == "void"


def test_a_trial_starts_with_a_zero_invoice_and_bills_when_it_ends(sigma: Sigma) -> None:
    trial = _one(
        sigma,
        "select s.id, s.trial_start, s.trial_end, s.current_period_end, i.total, i.status as invoice_status "
        "from subscriptions s join invoices i on i.id = s.latest_invoice_id "
        "where s.status = 'trialing' order by s.created limit 1",
    )
    assert trial["total"] == "0" and trial["invoice_status"] == "paid"
    assert _time(trial["trial_end"]) - _time(trial["trial_start"]) == timedelta(days=14)
    assert trial["current_period_end"] == trial["trial_end"]
    assert _time(trial["trial_end"]) > LOAD_TIME
    # A converted trial: its first paid invoice is created when the trial ends.
    converted = _one(
        sigma,
        "select s.trial_end, min(i.created) as first_paid from subscriptions s "
        "join invoices i on i.subscription_id = s.id and i.total > 0 "
        "where s.trial_end is not null group by s.id, s.trial_end order by s.trial_end limit 1",
    )
    assert converted["first_paid"] == converted["trial_end"]


def test_a_past_due_subscriptions_latest_invoice_is_open_with_failed_attempts(sigma: Sigma) -> None:
    rows = sigma(
        "select s.id, i.status as invoice_status, i.attempt_count, i.amount_remaining, i.total, c.status as "
        "charge "
        "from subscriptions s join invoices i on i.id = s.latest_invoice_id join charges c on c.id = "
        "i.charge_id "
        "where s.status = 'past_due'"
    )
    assert rows
    for row in rows:
        assert row["invoice_status"] == "open" and int(row["attempt_count"]) >= 1
        assert row["amount_remaining"] == row["total"] and row["charge"] == "failed"


def test_after_the_last_failed_retry_a_subscription_is_canceled_or_left_unpaid(sigma: Sigma) -> None:
    canceled = sigma(
        "select i.status, i.attempt_count from subscriptions s join invoices i on i.id = s.latest_invoice_id "
        "where s.status = 'canceled' and s.cancellation_details_reason = 'payment_failed' "
        "and s.ended_at = i.status_transitions_marked_uncollectible_at"
    )
    assert canceled and {row["status"] for row in canceled} == {"uncollectible"}
    assert {row["attempt_count"] for row in canceled} == {"4"}  # the first attempt and three retries
    unpaid = sigma(
        "select i.status from subscriptions s join invoices i on i.id = s.latest_invoice_id where s.status "
        "= 'unpaid'"
    )
    assert unpaid and {row["status"] for row in unpaid} == {"open"}


def test_a_customer_cancels_at_the_end_of_the_period(sigma: Sigma) -> None:
    asked = sigma(
        "select canceled_at, cancel_at, current_period_end, ended_at from subscriptions "
        "where cancel_at_period_end and status = 'active'"
    )
    assert asked
    for row in asked:
        assert row["cancel_at"] == row["current_period_end"] and row["ended_at"] == ""
        assert _time(row["canceled_at"]) < LOAD_TIME < _time(row["cancel_at"])
    ended = _one(
        sigma,
        "select count(*) as n, count_if(ended_at = cancel_at and canceled_at < ended_at) as kept "
        "from subscriptions where cancellation_details_reason = 'cancellation_requested' and status = "
        "'canceled'",
    )
    assert int(ended["n"]) > 0 and ended["kept"] == ended["n"]


# -- invoices -------------------------------------------------------------------------------


def test_invoices_have_every_status_and_their_amounts_follow_it(sigma: Sigma) -> None:
    rows = sigma(
        "select status, count(*) as n, count_if(amount_paid = total) as paid_in_full, "
        "count_if(amount_remaining = 0) as nothing_left, count_if(number is null) as unnumbered "
        "from invoices group by 1"
    )
    by_status = {row.pop("status"): {k: int(v) for k, v in row.items()} for row in rows}
    assert set(by_status) == {"draft", "open", "paid", "void", "uncollectible"}
    paid, draft = by_status["paid"], by_status["draft"]
    assert paid["paid_in_full"] == paid["nothing_left"] == paid["n"]
    assert by_status["void"]["nothing_left"] == by_status["void"]["n"]
    for status in ("open", "uncollectible"):
        assert by_status[status]["nothing_left"] == 0, status
    # A draft has no number yet: Stripe numbers an invoice when it finalises it.
    assert draft["unnumbered"] == draft["n"] and paid["unnumbered"] == 0


def test_a_renewal_invoice_is_a_draft_for_about_an_hour_then_paid(sigma: Sigma) -> None:
    invoice = _one(
        sigma,
        "select id, created, status_transitions_finalized_at as finalized, status_transitions_paid_at as "
        "paid "
        "from invoices where billing_reason = 'subscription_cycle' and status = 'paid' "
        "order by created desc limit 1",
    )
    finalized = _time(invoice["finalized"])
    assert timedelta(hours=1) <= finalized - _time(invoice["created"]) <= timedelta(hours=1, minutes=31)
    query = f"select status, number from invoices where id = '{invoice['id']}'"
    assert _one(sigma, query, data_load_time=finalized - timedelta(seconds=1)) == {
        "status": "draft",
        "number": "",
    }
    assert _one(sigma, query, data_load_time=_time(invoice["paid"]))["status"] == "open"
    assert _one(sigma, query)["status"] == "paid"


def test_a_paid_invoice_was_paid_by_its_charge(sigma: Sigma) -> None:
    mismatched = _one(
        sigma,
        "select count(*) as n, count_if(c.status <> 'succeeded' or c.amount <> i.amount_paid "
        "or c.invoice_id <> i.id or c.customer_id <> i.customer_id) as wrong "
        "from invoices i join charges c on c.id = i.charge_id where i.status = 'paid'",
    )
    assert int(mismatched["n"]) > 1000 and mismatched["wrong"] == "0"


def test_line_items_point_at_their_subscription_or_invoice_item(sigma: Sigma) -> None:
    lines = _one(
        sigma,
        "select count_if(l.source_type = 'subscription' and l.source_id = i.subscription_id) as "
        "subscription_lines, "
        "count_if(l.source_type = 'invoiceitem' and l.source_id = ii.id and ii.invoice_id = i.id) as "
        "item_lines, "
        "count(*) as n, count_if(l.subscription is not null) as with_subscription "
        "from invoice_line_items l join invoices i on i.id = l.invoice_id "
        "left join invoice_items ii on ii.id = l.source_id",
    )
    assert int(lines["item_lines"]) > 0
    assert int(lines["subscription_lines"]) + int(lines["item_lines"]) == int(lines["n"])
    # Docs: the subscription column is blank on subscription lines; the id is in source_id.
    assert lines["with_subscription"] == "0"


def test_an_invoice_total_is_its_subtotal_less_its_discounts(sigma: Sigma) -> None:
    rows = _one(
        sigma,
        "with discounts as (select invoice_id, sum(amount) as discount from "
        "invoice_line_item_discount_amounts "
        "group by 1) select count(*) as n, count_if(i.total = i.subtotal - coalesce(d.discount, 0) + i.tax) "
        "as kept, "
        "count(d.discount) as discounted from invoices i left join discounts d on d.invoice_id = i.id",
    )
    assert rows["kept"] == rows["n"] and int(rows["discounted"]) > 0
    redeemed = sigma(
        "select c.id, c.times_redeemed, count(d.id) as discounts from coupons c "
        "left join discounts d on d.coupon_id = c.id group by 1, 2"
    )
    assert all(row["times_redeemed"] == row["discounts"] for row in redeemed)
    assert {row["id"] for row in redeemed if row["discounts"] != "0"} == {"WELCOME10", "ANNUAL20"}


def test_a_refunded_invoice_payment_has_a_credit_note(sigma: Sigma) -> None:
    notes = _one(
        sigma,
        "select count(*) as n, count_if(r.amount = cn.amount and r.charge_id = i.charge_id) as matching "
        "from credit_notes cn join refunds r on r.id = cn.refund_id join invoices i on i.id = cn.invoice_id",
    )
    refunds = _one(
        sigma,
        "select count(*) as n from refunds r join charges c on c.id = r.charge_id where c.invoice_id is not "
        "null",
    )
    assert int(notes["n"]) > 0 and notes["matching"] == notes["n"] == refunds["n"]


# -- MRR change events ----------------------------------------------------------------------


def test_change_events_use_stripes_six_event_types_with_consistent_signs(sigma: Sigma) -> None:
    rows = sigma(
        "select event_type, count(*) as n, min(mrr_change) as low, max(mrr_change) as high, "
        "min(quantity_change) as qlow, max(quantity_change) as qhigh from subscription_item_change_events "
        "group by 1"
    )
    kinds = {row.pop("event_type"): {k: int(v) for k, v in row.items()} for row in rows}
    assert set(kinds) == {
        "ACTIVE_START",
        "ACTIVE_END",
        "ACTIVE_UPGRADE",
        "ACTIVE_DOWNGRADE",
        "ACTIVE_QUANTITY_INCREASE",
        "ACTIVE_QUANTITY_DECREASE",
    }
    assert kinds["ACTIVE_START"]["low"] > 0 and kinds["ACTIVE_START"]["qlow"] > 0
    assert kinds["ACTIVE_END"]["high"] < 0 and kinds["ACTIVE_END"]["qhigh"] < 0
    assert kinds["ACTIVE_UPGRADE"]["low"] > 0 and kinds["ACTIVE_DOWNGRADE"]["high"] < 0
    # Quantity changes inside a graduated price's flat tier leave MRR as it was.
    for kind, sign in (("ACTIVE_QUANTITY_INCREASE", 1), ("ACTIVE_QUANTITY_DECREASE", -1)):
        assert kinds[kind]["low"] == kinds[kind]["high"] == 0
        assert min(sign * kinds[kind]["qlow"], sign * kinds[kind]["qhigh"]) > 0


def test_local_event_timestamp_is_the_accounts_time_zone(sigma: Sigma) -> None:
    rows = sigma(
        "select event_timestamp, local_event_timestamp from subscription_item_change_events "
        "where event_timestamp between timestamp '2026-03-07' and timestamp '2026-03-09' order by 1"
    )
    offsets = {_time(row["event_timestamp"]) - _time(row["local_event_timestamp"]) for row in rows}
    # America/Los_Angeles: UTC-8, then UTC-7 after the change of 2026-03-08.
    assert offsets == {timedelta(hours=8), timedelta(hours=7)}


def test_replacing_an_item_is_two_events_at_the_same_moment(sigma: Sigma) -> None:
    pairs = sigma(
        "select subscription_id, event_timestamp, count(distinct subscription_item_id) as items, "
        "array_join(array_agg(event_type order by event_type), ',') as types, sum(quantity_change) as "
        "quantity "
        "from subscription_item_change_events group by 1, 2 having count(*) > 1"
    )
    assert pairs
    for pair in pairs:
        assert pair["items"] == "2" and pair["types"] == "ACTIVE_END,ACTIVE_START" and pair["quantity"] == "0"


def test_events_sum_to_mrr_only_for_active_and_past_due_subscriptions(sigma: Sigma) -> None:
    rows = sigma(
        "select s.status, count_if(coalesce(e.mrr, 0) > 0) as earning, count(*) as n from subscriptions s "
        "left join (select subscription_id, sum(mrr_change) as mrr from subscription_item_change_events "
        "group by 1) e "
        "on e.subscription_id = s.id group by 1"
    )
    for row in rows:
        expected = row["n"] if row["status"] in ("active", "past_due") else "0"
        assert row["earning"] == expected, row


def test_plan_changes_upgrade_downgrade_and_follow_their_schedule(sigma: Sigma) -> None:
    changed = sigma(
        "select e.event_type, e.price_id, e.event_timestamp, p.start_date, p.price_id as phase_price "
        "from subscription_item_change_events e join subscription_schedules ss on "
        "coalesce(ss.subscription_id, ss.released_subscription_id) = e.subscription_id "
        "join subscription_schedule_phases p on p.subscription_schedule_id = ss.id and p.phase_number = 2 "
        "where e.event_type in ('ACTIVE_UPGRADE', 'ACTIVE_DOWNGRADE') and e.quantity_change = 0"
    )
    assert {row["event_type"] for row in changed} == {"ACTIVE_UPGRADE", "ACTIVE_DOWNGRADE"}
    for row in changed:
        assert row["event_timestamp"] == row["start_date"] and row["price_id"] == row["phase_price"]
    statuses = {row["status"] for row in sigma("select distinct status from subscription_schedules")}
    assert statuses >= {"active", "released"}


def test_customers_come_back_some_in_another_currency(sigma: Sigma) -> None:
    back = _one(
        sigma,
        "with lives as (select customer_id, currency, created, ended_at, "
        "lag(ended_at) over (partition by customer_id order by created) as previous_end, "
        "lag(currency) over (partition by customer_id order by created) as previous_currency from "
        "subscriptions) "
        "select count(*) as n, count_if(created > previous_end) as after_the_end, "
        "count_if(currency <> previous_currency) as other_currency from lives where previous_end is not null",
    )
    assert int(back["n"]) > 50 and back["after_the_end"] == back["n"]
    assert 0 < int(back["other_currency"]) < int(back["n"])


# -- payments -------------------------------------------------------------------------------


def test_every_charge_has_its_payment_intent_and_retries_share_one(sigma: Sigma) -> None:
    intents = _one(
        sigma,
        "select count(*) as charges, count(pi.id) as with_intent, count(distinct c.payment_intent_id) as "
        "intents "
        "from charges c left join payment_intents pi on pi.id = c.payment_intent_id",
    )
    assert intents["with_intent"] == intents["charges"]
    assert int(intents["intents"]) < int(intents["charges"])
    states = _one(
        sigma,
        "select count_if(pi.status = 'succeeded') as succeeded, count_if(c.id is not null) as "
        "paid_by_a_charge, "
        "count_if(pi.status = 'succeeded' and pi.amount_received <> pi.amount) as short "
        "from payment_intents pi left join charges c on c.payment_intent_id = pi.id and c.status = "
        "'succeeded'",
    )
    assert states["succeeded"] == states["paid_by_a_charge"] and states["short"] == "0"


def test_checkout_sessions_complete_expire_or_are_still_open(sigma: Sigma) -> None:
    rows = sigma(
        "select cs.status, cs.mode, count(*) as n, count(cs.payment_intent_id) as with_intent, "
        "sum(case when pi.status = 'succeeded' then 1 else 0 end) as intent_succeeded, "
        "count(cs.subscription_id) as with_subscription "
        "from checkout_sessions cs left join payment_intents pi on pi.id = cs.payment_intent_id group by 1, 2"
    )
    sessions = {(row.pop("status"), row.pop("mode")): {k: int(v) for k, v in row.items()} for row in rows}
    assert set(sessions) == {
        ("complete", "payment"),
        ("expired", "payment"),
        ("open", "payment"),
        ("complete", "subscription"),
    }
    paid = sessions[("complete", "payment")]
    assert paid["intent_succeeded"] == paid["n"]
    assert (
        sessions[("complete", "subscription")]["with_subscription"]
        == sessions[("complete", "subscription")]["n"]
    )
    assert sessions[("expired", "payment")]["intent_succeeded"] == 0
