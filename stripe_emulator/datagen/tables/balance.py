"""Balance tables: ``balance_transactions``, the ``payouts`` sweeping them and Connect ``transfers``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stripe_emulator.datagen.arrays import Columns
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import (
    CATEGORIES,
    D_ADJUSTMENT,
    D_BILLING_FEE,
    D_CHARGE,
    D_DISPUTE,
    D_DISPUTE_REVERSAL,
    D_PAYOUT,
    D_RADAR_FEE,
    D_REFUND,
    K_APPLICATION,
    K_BANK_ACCOUNT,
    K_CHARGE,
    K_DEST_PAYMENT,
    K_DISPUTE,
    K_INVOICE,
    K_PAYOUT,
    K_SUBSCRIPTION,
    K_TRANSFER,
    SOURCE_PREFIX,
    T_DISPUTE,
    T_DISPUTE_REVERSAL,
    T_PAYOUT,
    T_TRANSFER_OUT,
    TYPES,
)
from stripe_emulator.datagen.currencies import CURRENCIES, SETTLEMENT_CURRENCIES
from stripe_emulator.datagen.customers import Customers
from stripe_emulator.datagen.randomness import U64, key, mix
from stripe_emulator.datagen.reference import DAY
from stripe_emulator.datagen.tables.payments import CHARGE_DESCRIPTION_SQL
from stripe_emulator.datagen.tables.writer import TableWriter, categorical, timestamps

_BALANCE_DESCRIPTION_SQL = (
    f"CASE description WHEN {D_CHARGE} THEN {CHARGE_DESCRIPTION_SQL} "
    f"WHEN {D_REFUND} THEN 'REFUND FOR CHARGE (' || {CHARGE_DESCRIPTION_SQL} || ')' "
    f"WHEN {D_DISPUTE} THEN 'Chargeback withdrawal for ' || sid('ch_', charge_u) "
    f"WHEN {D_DISPUTE_REVERSAL} THEN 'Chargeback reversal for ' || sid('ch_', charge_u) "
    f"WHEN {D_PAYOUT} THEN 'STRIPE PAYOUT' "
    f"WHEN {D_BILLING_FEE} THEN 'Billing - Usage Fee (' || strftime(day, '%Y-%m-%d') || ')' "
    f"WHEN {D_RADAR_FEE} THEN 'Radar (' || strftime(day, '%Y-%m-%d') || ')' "
    f"WHEN {D_ADJUSTMENT} THEN 'Balance adjustment' END"
)


def write_balance(
    out: TableWriter, biz: Business, customers: Customers, b: Columns, payouts: Columns
) -> None:
    """``balance_transactions`` (and their ``balance_transaction_fee_details``), ``payouts`` and
    ``transfers`` from the simulated ledger ``b``."""
    _write_balance_transactions(out, biz, customers, b)
    _write_fee_details(out, biz, b)
    _write_payouts(out, biz, payouts)
    _write_transfers(out, biz, b)


def _write_balance_transactions(out: TableWriter, biz: Business, customers: Customers, b: Columns) -> None:
    draws = biz.draws
    source_u = np.zeros(len(b["kind"]), dtype=np.uint64)
    for kind in SOURCE_PREFIX:
        mine = b["source_kind"] == kind
        source_u[mine] = draws.id(kind, b["source"][mine])
    no_counterparty = len(biz.accounts)
    frame = pd.DataFrame(
        {
            "u": mix(((b["kind"].astype(np.uint64) << U64(56)) | b["payload"]) ^ U64(draws.salt)),
            "account": out.accounts(b["account"]),
            "created": timestamps(b["created"]),
            "available_on": timestamps(b["available_on"]),
            "currency": categorical(b["currency"], SETTLEMENT_CURRENCIES),
            "amount": b["amount"],
            "fee": b["fee"],
            "net": b["net"],
            "type": categorical(b["type"], TYPES),
            "category": categorical(b["category"], CATEGORIES),
            "source_kind": b["source_kind"],
            "source_u": source_u,
            "description": b["description"],
            "flavour": b["flavour"],
            "order_number": b["order_number"],
            "day": timestamps(b["created"] // DAY * DAY),
            "charge_u": np.where(b["charge"] > 0, draws.id(K_CHARGE, b["charge"]), U64(0)),
            "dispute_u": np.where(b["source_kind"] == K_DISPUTE, draws.id(K_DISPUTE, b["source"]), U64(0)),
            "customer_u": customers.id_numbers(biz, b["customer"]),
            "invoice_u": np.where(b["invoice"] > 0, draws.id(K_INVOICE, b["invoice"]), U64(0)),
            "sub_u": np.where(b["subscription"] > 0, draws.id(K_SUBSCRIPTION, b["subscription"]), U64(0)),
            "counterparty": categorical(
                np.where(b["counterparty"] >= 0, b["counterparty"], no_counterparty),
                (*biz.account_ids, None),
            ),
            "py_u": np.where(b["kind"] == T_TRANSFER_OUT, draws.id(K_DEST_PAYMENT, b["source"]), U64(0)),
            "exchange_rate": b["exchange_rate"],
            "facing_amount": b["facing_amount"],
            "facing_currency": categorical(
                np.where(b["facing_currency"] >= 0, b["facing_currency"], len(CURRENCIES)),
                (*CURRENCIES, None),
            ),
            "payout_u": np.where(b["payout"] > 0, draws.id(K_PAYOUT, b["payout"]), U64(0)),
            "payout_created": timestamps(b["payout_created"]),
        }
    )
    source_id = " ".join(
        f"WHEN {kind} THEN sid('{prefix}', source_u)" for kind, prefix in SOURCE_PREFIX.items()
    )
    out.create(
        "balance_transactions",
        frame,
        "sid('txn_', u) AS id, amount, available_on, created, currency, "
        f"{_BALANCE_DESCRIPTION_SQL} AS description, "
        f"fee, net, type, CASE source_kind {source_id} END AS source_id, 'payments' AS balance_type, "
        "CASE WHEN isnan(exchange_rate) THEN NULL ELSE exchange_rate END AS exchange_rate, "
        "category AS reporting_category, sidn('po_', payout_u) AS _automatic_payout_id, "
        "payout_created AS _payout_created, "
        # Links the reports follow, as id numbers; rendered with sid() when a report shows them.
        "charge_u AS _charge_u, dispute_u AS _dispute_u, customer_u AS _customer_u, "
        "invoice_u AS _invoice_u, "
        "sub_u AS _subscription_u, py_u AS _destination_payment_u, "
        "counterparty AS _connected_account_id, "
        "CASE WHEN facing_currency IS NOT NULL THEN facing_amount END AS _customer_facing_amount, "
        "facing_currency AS _customer_facing_currency, account AS _account, created AS _visible_at",
    )


def _write_fee_details(out: TableWriter, biz: Business, b: Columns) -> None:
    """What each fee is made of: Stripe's own fee, and the platform's application fee if any."""
    draws = biz.draws
    txn = mix(((b["kind"].astype(np.uint64) << U64(56)) | b["payload"]) ^ U64(draws.salt))
    stripe_part = b["fee"] - b["app_fee"]
    parts = []
    for mask, amount, kind in ((stripe_part != 0, stripe_part, 0), (b["app_fee"] != 0, b["app_fee"], 1)):
        parts.append(
            pd.DataFrame(
                {
                    "txn_u": txn[mask],
                    "account": out.accounts(b["account"][mask]),
                    "created": timestamps(b["created"][mask]),
                    "amount": amount[mask],
                    "currency": categorical(b["currency"][mask], SETTLEMENT_CURRENCIES),
                    "kind": np.full(mask.sum(), kind),
                    "what": b["kind"][mask],
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    application = draws.id(K_APPLICATION, np.zeros(1, np.uint64))[0]
    out.create(
        "balance_transaction_fee_details",
        frame,
        "sid('txn_', txn_u) AS balance_transaction_id, amount, "
        "CASE WHEN kind = 1 THEN sid('ca_', CAST($application AS UBIGINT)) END AS application, currency, "
        f"CASE WHEN kind = 1 THEN $name || ' application fee' WHEN what = {T_DISPUTE} THEN 'Dispute fee' "
        f"WHEN what = {T_DISPUTE_REVERSAL} THEN 'Dispute fee refund' ELSE 'Stripe processing fees' END AS "
        "description, "
        "CASE WHEN kind = 1 THEN 'application_fee' ELSE 'stripe_fee' END AS type, "
        "account AS _account, created AS _visible_at",
        ("created", "txn_u", "kind"),
        application=int(application),
        name=biz.platform.name,
    )


def _write_payouts(out: TableWriter, biz: Business, po: Columns) -> None:
    draws = biz.draws
    bank = (po["account"].astype(np.uint64) << U64(8)) | po["currency"].astype(np.uint64)
    payouts = pd.DataFrame(
        {
            "u": draws.id(K_PAYOUT, po["payload"]),
            "txn_u": draws.id(T_PAYOUT, po["payload"]),
            "bank_u": draws.id(K_BANK_ACCOUNT, bank),
            "account": out.accounts(po["account"]),
            "created": timestamps(po["created"]),
            "amount": po["amount"],
            "currency": categorical(po["currency"], SETTLEMENT_CURRENCIES),
            "trace": np.floor(draws.uniform(key(K_PAYOUT, po["payload"]), "trace") * 1e15).astype(np.int64),
        }
    )
    usd = "currency = 'usd'"
    out.create(
        "payouts",
        payouts,
        "sid('po_', u) AS id, amount, created AS arrival_date, true AS automatic, "
        "sid('txn_', txn_u) AS balance_transaction_id, created, currency, "
        "'STRIPE PAYOUT' AS description, "
        "sid('ba_', bank_u) AS destination_id, CAST(NULL AS VARCHAR) AS failure_code, "
        "'standard' AS method, "
        "'card' AS source_type, CAST(NULL AS VARCHAR) AS statement_descriptor, 'paid' AS status, "
        f"'bank_account' AS type, CASE WHEN {usd} THEN lpad(CAST(trace AS VARCHAR), 15, "
        "'0') END AS _trace_id, "
        f"CASE WHEN {usd} THEN 'supported' ELSE 'unsupported' END AS _trace_id_status, "
        "account AS _account, created AS _visible_at",
    )


def _write_transfers(out: TableWriter, biz: Business, b: Columns) -> None:
    draws = biz.draws
    sent = b["kind"] == T_TRANSFER_OUT
    transfers = pd.DataFrame(
        {
            "u": draws.id(K_TRANSFER, b["source"][sent]),
            "txn_u": draws.id(T_TRANSFER_OUT, b["payload"][sent]),
            "py_u": draws.id(K_DEST_PAYMENT, b["source"][sent]),
            "destination": out.accounts(b["counterparty"][sent]),
            "created": timestamps(b["created"][sent]),
            "amount": -b["amount"][sent],
            "currency": categorical(b["currency"][sent], SETTLEMENT_CURRENCIES),
        }
    )
    out.create(
        "transfers",
        transfers,
        "sid('tr_', u) AS id, amount, 0 AS amount_reversed, sid('txn_', "
        "txn_u) AS balance_transaction_id, "
        "created, currency, CAST(NULL AS VARCHAR) AS description, destination AS destination_id, "
        "sid('py_', py_u) AS destination_payment_id, false AS reversed, "
        "CAST(NULL AS VARCHAR) AS transfer_group, "
        "$platform AS _account, created AS _visible_at",
        platform=out.platform,
    )
