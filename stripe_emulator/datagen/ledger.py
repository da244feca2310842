"""Balance transactions: every movement of money on every account, and the payouts sweeping them."""

from __future__ import annotations

import numpy as np

from stripe_emulator.datagen.arrays import Columns
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import (
    CATEGORY,
    D_ADJUSTMENT,
    D_BILLING_FEE,
    D_CHARGE,
    D_DISPUTE,
    D_DISPUTE_REVERSAL,
    D_RADAR_FEE,
    D_REFUND,
    K_ADJUSTMENT,
    K_CHARGE,
    K_DISPUTE,
    K_REFUND,
    K_STRIPE_FEE,
    T_ADJUSTMENT,
    T_CHARGE,
    T_DISPUTE,
    T_DISPUTE_REVERSAL,
    T_REFUND,
    T_STRIPE_FEE,
    TYPE,
)
from stripe_emulator.datagen.connect import add_application_fees, add_transfers
from stripe_emulator.datagen.currencies import PLATFORM_CURRENCY_MIX, USD_RATES
from stripe_emulator.datagen.payouts import sweep_payouts
from stripe_emulator.datagen.randomness import U64, key
from stripe_emulator.datagen.reference import DAY, DISPUTE_FEE
from stripe_emulator.datagen.rows import BalanceRows


def simulate_balance(biz: Business, c: Columns) -> tuple[Columns, Columns]:
    """The balance transactions of the charges ``c`` and of everything else, then the payouts.

    Returns the balance transactions (payouts' own included, last) and the payouts.
    """
    rows = BalanceRows()
    _add_payment_rows(c, rows)
    add_application_fees(c, rows)
    window = biz.window()
    rates = biz.rates()
    add_transfers(biz, window, rates["orders"], rows)
    _add_stripe_fees(biz, window, rates["orders"], rows)
    _add_adjustments(biz, window, rows)
    b = rows.concat()
    b["net"] = b["amount"] - b["fee"]
    return sweep_payouts(biz, b)


def _charge_links(c: Columns, mask: np.ndarray) -> Columns:
    return {
        "charge": c["payload"][mask],
        "flavour": c["flavour"][mask],
        "order_number": c["order_number"][mask],
        "customer": c["customer"][mask],
        "invoice": c["invoice"][mask],
        "subscription": c["subscription"][mask],
        "account": c["account"][mask],
        "currency": c["currency"][mask],
        "exchange_rate": c["exchange_rate"][mask],
        "facing_currency": c["presentment"][mask],
    }


def _add_payment_rows(c: Columns, rows: BalanceRows) -> None:
    # Successful charges, refunds, disputes and won disputes' reversals, linked to their charge.
    ok = ~c["failed"]
    rows.add(
        T_CHARGE,
        c["payload"][ok],
        created=c["created"][ok],
        amount=c["settled"][ok],
        fee=(c["stripe_fee"] + c["application_fee"])[ok],
        app_fee=c["application_fee"][ok],
        type=np.where(c["card"], TYPE["charge"], TYPE["payment"])[ok],
        category=CATEGORY["charge"],
        source_kind=K_CHARGE,
        source=c["payload"][ok],
        description=D_CHARGE,
        facing_amount=c["amount"][ok],
        **_charge_links(c, ok),
    )
    m = c["refunded"]
    rows.add(
        T_REFUND,
        c["payload"][m],
        created=c["refund_at"][m],
        amount=-c["refund_settled"][m],
        type=np.where(c["card"], TYPE["refund"], TYPE["payment_refund"])[m],
        category=CATEGORY["refund"],
        source_kind=K_REFUND,
        source=c["payload"][m],
        description=D_REFUND,
        facing_amount=-c["refund_amount"][m],
        **_charge_links(c, m),
    )
    m = c["disputed"]
    dispute_fee = DISPUTE_FEE[c["currency"]]
    rows.add(
        T_DISPUTE,
        c["payload"][m],
        created=c["dispute_at"][m],
        amount=-c["settled"][m],
        fee=dispute_fee[m],
        type=TYPE["adjustment"],
        category=CATEGORY["dispute"],
        source_kind=K_DISPUTE,
        source=c["payload"][m],
        description=D_DISPUTE,
        facing_amount=-c["amount"][m],
        **_charge_links(c, m),
    )
    m = c["dispute_reversed"]
    rows.add(
        T_DISPUTE_REVERSAL,
        c["payload"][m],
        created=c["dispute_closed_at"][m],
        amount=c["settled"][m],
        fee=-dispute_fee[m],
        type=TYPE["adjustment"],
        category=CATEGORY["dispute_reversal"],
        source_kind=K_DISPUTE,
        source=c["payload"][m],
        description=D_DISPUTE_REVERSAL,
        facing_amount=c["amount"][m],
        **_charge_links(c, m),
    )


def _add_stripe_fees(biz: Business, window: np.ndarray, orders_per_day: float, rows: BalanceRows) -> None:
    # Stripe's own fees, billed daily on the platform: Billing in USD and EUR, Radar in USD.
    for idx, (description, currency, share) in enumerate(
        ((D_BILLING_FEE, 0, 0.004), (D_BILLING_FEE, 1, 0.004), (D_RADAR_FEE, 0, 0.002))
    ):
        payload = (window.astype(np.uint64) << U64(24)) | U64(idx)
        keys = key(K_STRIPE_FEE, payload)
        volume = orders_per_day * 45 * PLATFORM_CURRENCY_MIX[currency] * USD_RATES[currency] * 100
        amount = np.maximum(1, np.rint(share * volume * np.exp(0.3 * biz.draws.normal(keys, "amount"))))
        rows.add(
            T_STRIPE_FEE,
            payload,
            created=window * DAY + 3600 + 600 * idx,
            account=0,
            currency=currency,
            amount=-amount.astype(np.int64),
            type=TYPE["stripe_fee"],
            category=CATEGORY["fee"],
            description=description,
        )


def _add_adjustments(biz: Business, window: np.ndarray, rows: BalanceRows) -> None:
    # The odd manual balance adjustment on the platform, either way.
    keys = key(K_ADJUSTMENT, window.astype(np.uint64))
    happens = biz.draws.uniform(keys, "happens") < 0.04
    amount = np.rint(2000 * biz.draws.normal(keys, "amount")).astype(np.int64)
    happens &= amount != 0
    rows.add(
        T_ADJUSTMENT,
        window[happens].astype(np.uint64),
        created=window[happens] * DAY + 15 * 3600,
        account=0,
        currency=0,
        amount=amount[happens],
        type=TYPE["adjustment"],
        category=CATEGORY["other_adjustment"],
        description=D_ADJUSTMENT,
    )
