"""The integer codes the simulation computes with, rendered to Stripe's strings only when written.

Entity kinds are the top byte of every entity key, so ids of different kinds never collide; each
kind of balance transaction has a key prefix of its own, for ``txn_`` ids. Balance transaction types
and reporting categories, description templates and charge flavours are indexes the table writers
turn into text.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Entity kinds.
K_CUSTOMER, K_SUBSCRIPTION, K_SUB_ITEM, K_INVOICE, K_LINE = 1, 2, 3, 4, 5
K_CHARGE, K_PAYMENT_INTENT, K_REFUND, K_DISPUTE, K_APP_FEE = 6, 7, 8, 9, 10
K_TRANSFER, K_DEST_PAYMENT, K_PAYOUT, K_PRODUCT, K_PRICE = 11, 12, 13, 14, 15
K_ACCOUNT, K_BANK_ACCOUNT, KIND_SCHEDULED_RUN, K_STRIPE_FEE, K_ADJUSTMENT = 16, 17, 18, 19, 20
K_DAY, K_FX, K_SCHEDULE, K_CHECKOUT, K_INVOICE_ITEM = 21, 22, 23, 24, 25
K_CREDIT_NOTE, K_DISCOUNT, K_PROMOTION_CODE, K_APPLICATION, K_FEE_DETAIL = 26, 27, 28, 29, 30
K_ABANDONED = 31
# Balance transaction kinds.
T_CHARGE, T_REFUND, T_DISPUTE, T_DISPUTE_REVERSAL, T_APP_FEE = 32, 33, 34, 35, 36
T_TRANSFER_OUT, T_TRANSFER_IN, T_PAYOUT, T_STRIPE_FEE, T_ADJUSTMENT = 37, 38, 39, 40, 41

# fmt: off
TYPES = (
    "charge", "payment", "refund", "payment_refund", "adjustment", "application_fee", "transfer",
    "payout", "stripe_fee",
)
CATEGORIES = (
    "charge", "refund", "dispute", "dispute_reversal", "platform_earning", "transfer", "payout", "fee",
    "other_adjustment",
)
# fmt: on
TYPE = {name: code for code, name in enumerate(TYPES)}
CATEGORY = {name: code for code, name in enumerate(CATEGORIES)}
# Description templates of balance transactions, rendered in SQL by the balance table's writer.
D_NONE, D_CHARGE, D_REFUND, D_DISPUTE, D_DISPUTE_REVERSAL = 0, 1, 2, 3, 4
D_PAYOUT, D_BILLING_FEE, D_RADAR_FEE, D_ADJUSTMENT = 5, 6, 7, 8
# Charge flavours, which decide a charge's description.
C_ORDER, C_SUB_CREATE, C_SUB_CYCLE, C_INVOICE = 1, 2, 3, 4
# Source object kinds of balance transactions (which id prefix source_id gets).
SOURCE_PREFIX = {
    K_CHARGE: "ch_",
    K_REFUND: "re_",
    K_DISPUTE: "dp_",
    K_APP_FEE: "fee_",
    K_TRANSFER: "tr_",
    K_DEST_PAYMENT: "py_",
    K_PAYOUT: "po_",
}


def price_payload(product: Any, currency: Any, yearly: Any) -> Any:
    """The entity payload of the price of ``product`` in ``currency``, monthly (0) or yearly (1)."""
    return np.asarray(product) * 100 + np.asarray(currency) * 2 + np.asarray(yearly)
