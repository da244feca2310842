"""The constants of the subscription lifecycle: trials, dunning, plan changes, coupons, invoices.

Shares are chosen so that, at any moment, the subscriptions' statuses look like a healthy SaaS
business: most live subscriptions active, a few trialing or past due, the odd unpaid, paused or
incomplete one, and (after four years) many canceled ones.
"""

from __future__ import annotations

from stripe_emulator.datagen.reference import DAY

# -- trials --------------------------------------------------------------------------------------

TRIAL_SHARE = 0.3  # of new subscriptions (not reactivations) start with a free trial
TRIAL_DAYS = 14
TRIAL_CONVERTS = 0.7  # the rest end at the trial's end: canceled, or paused (below)
TRIAL_PAUSES = 0.35  # of those that do not convert: paused (no payment method), not canceled
PAUSE_RESUMES = 0.4  # of paused subscriptions resume after PAUSE_RESUME_DAYS days
PAUSE_RESUME_DAYS = (3, 60)
PAUSE_CANCELS = 0.8  # of paused subscriptions that never resume, canceled after PAUSE_CANCEL_DAYS
PAUSE_CANCEL_DAYS = (30, 120)

# -- payment failures ----------------------------------------------------------------------------

CARD_FAILURE = 0.05  # first attempts on cards fail this often (bank debits: DEBIT_FAILURE)
DEBIT_FAILURE = 0.02
INCOMPLETE_RECOVERS = 0.6  # a failed sign-up payment that the customer retries successfully in time
INCOMPLETE_EXPIRES = 23 * 3600  # seconds until an unpaid first invoice expires the subscription
RETRY_DAYS = (4, 11, 21)  # Smart Retries after a failed renewal, days after the first attempt
RETRY_FAILURE = 0.45  # each retry fails this often
DUNNING_UNPAID = 0.4  # after the last failed retry: unpaid (else canceled, invoice uncollectible)
UNPAID_CANCEL_DAYS = (20, 90)  # an unpaid subscription is canceled by the merchant this much later

# -- plan changes, quantities, reactivations -----------------------------------------------------

TIERED_SHARE = 0.06  # new subscriptions on the tiered Team plan instead of the product drawn
PLAN_CHANGE = 0.15  # of flat-priced (Starter..Enterprise) subscriptions change plan at a renewal
PLAN_UPGRADE = 0.7  # of plan changes go up one product (else down one)
PLAN_SWAP = 0.5  # of plan changes replace the item (ACTIVE_END + ACTIVE_START) instead of repricing it
REACTIVATES = 0.12  # of customers whose subscription ended at their request subscribe again
REACTIVATE_DAYS = (20, 180)
REACTIVATE_OTHER_CURRENCY = 0.15  # of reactivations in another settlement currency
REACTIVATION_PRODUCTS = (0.35, 0.35, 0.15, 0.05, 0.0, 0.10, 0.0)  # weights over PRODUCTS

# -- coupons, invoice items, credit notes --------------------------------------------------------

# (id, name, percent_off, duration, duration_in_months, valid, promotion code, code active)
COUPONS = (
    ("WELCOME10", "Welcome 10% off", 10, "once", None, True, "WELCOME", True),
    ("ANNUAL20", "Annual plan 20% off", 20, "once", None, True, "ANNUAL", True),
    ("SUMMER25", "Summer sale", 25, "repeating", 3, False, "SUMMER", False),
    ("PARTNER15", "Partner discount", 15, "forever", None, True, None, False),
)
COUPON_IDS = tuple(coupon[0] for coupon in COUPONS)
CUSTOMER_COUPON_MIX = (0.92, 0.05, 0.03)  # none, WELCOME10, ANNUAL20 (the customers' existing draw)
PROMOTION_CODE_SHARE = 0.6  # of discounts redeemed through a promotion code

SERVICES_SHARE = 0.04  # of new subscribers also buy onboarding, invoiced separately (send_invoice)
SERVICES_USD = (500, 1500, 4000)  # onboarding packages, USD
SERVICES_DAYS_UNTIL_DUE = 30
# What becomes of a one-off invoice: paid, void, uncollectible, still open.
SERVICES_OUTCOMES = (0.72, 0.1, 0.06, 0.12)
CREDIT_NOTE_REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")

# -- Checkout ------------------------------------------------------------------------------------

ABANDONED_CHECKOUTS = 0.35  # abandoned (expired) Checkout Sessions per completed one-off order
CHECKOUT_EXPIRES = DAY  # a Checkout Session expires this long after it was created
