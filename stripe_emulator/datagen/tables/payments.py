"""Payment tables: charges, refunds, disputes and the platform's application fees."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stripe_emulator.datagen.arrays import Columns
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import (
    K_APP_FEE,
    K_CHARGE,
    K_DISPUTE,
    K_INVOICE,
    K_PAYMENT_INTENT,
    K_REFUND,
    T_APP_FEE,
    T_CHARGE,
    T_DISPUTE,
    T_REFUND,
)
from stripe_emulator.datagen.currencies import CURRENCIES, SETTLEMENT_CURRENCIES
from stripe_emulator.datagen.customers import Customers
from stripe_emulator.datagen.randomness import U64
from stripe_emulator.datagen.reference import (
    CARD_BRANDS,
    CARD_FUNDING,
    COUNTRIES,
    DAY,
    DISPUTE_REASONS,
    FAILURE_CODES,
    FAILURE_MESSAGES,
    PAYMENT_METHOD_TYPES,
    REFUND_REASONS,
)
from stripe_emulator.datagen.tables.writer import TableWriter, categorical, timestamps

CHARGE_DESCRIPTION_SQL = (
    "CASE flavour WHEN 2 THEN 'Subscription creation' WHEN 3 THEN 'Subscription update' "
    "WHEN 4 THEN 'Payment for Invoice' ELSE 'Order #' || order_number END"
)
"""A charge's description from its ``flavour`` and ``order_number`` columns (see ``C_*`` codes)."""
PAYMENT_METADATA_SQL = (
    "CASE WHEN flavour IN (2, 3, 4) THEN '{}' "
    "ELSE '{\"order_id\": \"' || CAST(order_number AS VARCHAR) || '\"}' END"
)
"""A payment's metadata as JSON text: the shop's order number on orders, nothing on invoice payments
(which Stripe's Billing creates without metadata)."""


def write_payments(out: TableWriter, biz: Business, customers: Customers, c: Columns) -> None:
    """``charges``, ``refunds``, ``disputes`` and ``application_fees`` from the simulated charges ``c``."""
    _write_charges(out, biz, customers, c)
    _write_refunds(out, biz, c)
    _write_disputes(out, biz, c)
    _write_application_fees(out, biz, c)


def _write_charges(out: TableWriter, biz: Business, customers: Customers, c: Columns) -> None:
    draws = biz.draws
    p = c["payload"]
    card = c["card"]
    failed = c["failed"]
    failure = np.where(failed, c["failure"], len(FAILURE_CODES))
    frame = pd.DataFrame(
        {
            "u": draws.id(K_CHARGE, p),
            "intent_u": draws.id(K_PAYMENT_INTENT, c["intent"]),
            "txn_u": draws.id(T_CHARGE, p),
            "customer_u": customers.id_numbers(biz, c["customer"]),
            "invoice_u": np.where(c["invoice"] > 0, draws.id(K_INVOICE, c["invoice"]), U64(0)),
            "fee_u": np.where(c["application_fee"] > 0, draws.id(K_APP_FEE, p), U64(0)),
            "account": out.accounts(c["account"]),
            "created": timestamps(c["created"]),
            "currency": categorical(c["presentment"], CURRENCIES),
            "amount": c["amount"],
            "failed": failed,
            "failure": categorical(failure, (*FAILURE_CODES, None)),
            "failure_message": categorical(failure, (*FAILURE_MESSAGES, None)),
            "flavour": c["flavour"],
            "order_number": c["order_number"],
            "method": categorical(c["method"], PAYMENT_METHOD_TYPES),
            "brand": categorical(np.where(card, c["brand"], len(CARD_BRANDS)), (*CARD_BRANDS, None)),
            "funding": categorical(np.where(card, c["funding"], len(CARD_FUNDING)), (*CARD_FUNDING, None)),
            "card_country": categorical(
                np.where(card, c["card_country"], len(COUNTRIES)), (*COUNTRIES, None)
            ),
            "last4": np.where(card, c["last4"], -1),
            "exp_month": np.where(card, c["exp_month"], -1),
            "exp_year": np.where(card, c["exp_year"], -1),
            "is_link": c["method"] == PAYMENT_METHOD_TYPES.index("link"),
            "descriptor": categorical(c["account"], tuple(a.name.upper()[:22] for a in biz.accounts)),
            "application_fee": c["application_fee"],
            "refunded_at": timestamps(np.where(c["refunded"], c["refund_at"], -1)),
            "refund_amount": np.where(c["refunded"], c["refund_amount"], 0),
            "disputed_at": timestamps(np.where(c["disputed"], c["dispute_at"], -1)),
        }
    )
    out.create(
        "charges",
        frame,
        "sid('ch_', u) AS id, amount, CASE WHEN failed THEN 0 ELSE amount END AS amount_captured, "
        "CASE WHEN application_fee > 0 THEN application_fee END AS application_fee_amount, "
        "sidn('fee_', fee_u) AS application_fee_id, "
        "CASE WHEN NOT failed THEN sid('txn_', txn_u) END AS balance_transaction_id, "
        "NOT failed AS captured, "
        "created, currency, sidn('cus_', customer_u) AS customer_id, "
        f"{CHARGE_DESCRIPTION_SQL} AS description, "
        "failure AS failure_code, failure_message, sidn('in_', invoice_u) AS invoice_id, "
        "NOT failed AS paid, "
        "sid('pi_', intent_u) AS payment_intent_id, method AS payment_method_type, "
        "descriptor AS statement_descriptor, "
        "CASE WHEN failed THEN 'failed' ELSE 'succeeded' END AS status, "
        "brand AS card_brand, card_country, funding AS card_funding, "
        "CASE WHEN last4 >= 0 THEN lpad(CAST(last4 AS VARCHAR), 4, '0') END AS card_last4, "
        "CASE WHEN exp_month > 0 THEN exp_month END AS card_exp_month, "
        "CASE WHEN exp_year > 0 THEN exp_year END AS card_exp_year, is_link AS _is_link, "
        "refunded_at AS _refunded_at, refund_amount AS _refund_amount, disputed_at AS _disputed_at, "
        f"{PAYMENT_METADATA_SQL} AS _metadata, "
        "u AS _u, account AS _account, created AS _visible_at",
    )


def _write_refunds(out: TableWriter, biz: Business, c: Columns) -> None:
    draws = biz.draws
    m = c["refunded"]
    p = c["payload"][m]
    refunds = pd.DataFrame(
        {
            "u": draws.id(K_REFUND, p),
            "charge_u": draws.id(K_CHARGE, p),
            "intent_u": draws.id(K_PAYMENT_INTENT, c["intent"][m]),
            "txn_u": draws.id(T_REFUND, p),
            "account": out.accounts(c["account"][m]),
            "created": timestamps(c["refund_at"][m]),
            "amount": c["refund_amount"][m],
            "currency": categorical(c["presentment"][m], CURRENCIES),
            "reason": categorical(c["refund_reason"][m], REFUND_REASONS),
        }
    )
    out.create(
        "refunds",
        refunds,
        "sid('re_', u) AS id, amount, sid('txn_', txn_u) AS balance_transaction_id, sid('ch_', "
        "charge_u) AS charge_id, "
        "created, currency, sid('pi_', intent_u) AS payment_intent_id, reason, 'succeeded' AS status, "
        "account AS _account, created AS _visible_at",
    )


def _write_disputes(out: TableWriter, biz: Business, c: Columns) -> None:
    draws = biz.draws
    m = c["disputed"]
    p = c["payload"][m]
    closed = c["dispute_closed_at"][m]
    disputes = pd.DataFrame(
        {
            "u": draws.id(K_DISPUTE, p),
            "charge_u": draws.id(K_CHARGE, p),
            "intent_u": draws.id(K_PAYMENT_INTENT, c["intent"][m]),
            "txn_u": draws.id(T_DISPUTE, p),
            "account": out.accounts(c["account"][m]),
            "created": timestamps(c["dispute_at"][m]),
            "amount": c["amount"][m],
            "currency": categorical(c["presentment"][m], CURRENCIES),
            "reason": categorical(c["dispute_reason"][m], DISPUTE_REASONS),
            "due_by": timestamps(c["dispute_due_by"][m]),
            "closed_at": timestamps(np.where(closed < biz.d1 * DAY, closed, -1)),
            "won": c["dispute_won"][m],
        }
    )
    out.create(
        "disputes",
        disputes,
        "sid('dp_', u) AS id, amount, sid('txn_', txn_u) AS balance_transaction_id, sid('ch_', "
        "charge_u) AS charge_id, "
        "created, currency, due_by AS evidence_due_by, false AS is_charge_refundable, "
        "sid('pi_', intent_u) AS payment_intent_id, reason, closed_at AS _closed_at, "
        "CASE WHEN won THEN 'won' ELSE 'lost' END AS _outcome, "
        "u AS _u, account AS _account, created AS _visible_at",
    )


def _write_application_fees(out: TableWriter, biz: Business, c: Columns) -> None:
    draws = biz.draws
    m = ~c["failed"] & (c["account"] > 0)
    p = c["payload"][m]
    fees = pd.DataFrame(
        {
            "u": draws.id(K_APP_FEE, p),
            "charge_u": draws.id(K_CHARGE, p),
            "txn_u": draws.id(T_APP_FEE, p),
            "payer": out.accounts(c["account"][m]),
            "created": timestamps(c["created"][m] + 2),
            "amount": c["application_fee"][m],
            "currency": categorical(c["currency"][m], SETTLEMENT_CURRENCIES),
        }
    )
    out.create(
        "application_fees",
        fees,
        "sid('fee_', u) AS id, payer AS account_id, amount, 0 AS amount_refunded, "
        "sid('txn_', txn_u) AS balance_transaction_id, sid('ch_', charge_u) AS charge_id, created, "
        "currency, "
        "false AS refunded, $platform AS _account, created AS _visible_at",
        platform=out.platform,
    )
