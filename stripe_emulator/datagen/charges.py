"""Charges: one-off orders, subscription invoice payments and connected accounts' direct charges.

Each charge gets its presentment and settlement amounts, payment method and card, success or
failure, Stripe's fee and the platform's application fee, then its refund or dispute.
"""

from __future__ import annotations

import numpy as np

from stripe_emulator.datagen.arrays import Columns, expand
from stripe_emulator.datagen.billing_reference import CARD_FAILURE, DEBIT_FAILURE
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import (
    C_INVOICE,
    C_ORDER,
    C_SUB_CREATE,
    C_SUB_CYCLE,
    K_CHARGE,
    K_SUBSCRIPTION,
)
from stripe_emulator.datagen.connect import add_direct_charges
from stripe_emulator.datagen.currencies import CURRENCIES, PLATFORM_CURRENCY_MIX, USD_RATES, currency_exponent
from stripe_emulator.datagen.customers import Customers
from stripe_emulator.datagen.lifecycle import RETRY_PAYLOAD, Lifecycle
from stripe_emulator.datagen.randomness import U64, choice, choice_rows, key
from stripe_emulator.datagen.reference import (
    BANK_DEBIT_FROM,
    CARD_BRAND_MIX,
    CARD_FEE_FIXED,
    CARD_FEE_PERCENT,
    CARD_FUNDING_MIX,
    COUNTRIES,
    COUNTRY_OF_PLACE,
    CUSTOMER_LOOKBACK_DAYS,
    DAY,
    DEBIT_FEE_CAP,
    FAILURE_MIX,
    PAYMENT_METHOD_MIX,
)
from stripe_emulator.datagen.refunds_disputes import simulate_refunds_and_disputes
from stripe_emulator.datagen.rows import ChargeRows


def simulate_charges(biz: Business, customers: Customers, life: Lifecycle, one_off: Columns) -> Columns:
    """Every charge attempt in the account's history, with its outcome.

    Invoice payments (subscriptions' attempts and paid one-off invoices) have the outcome the
    lifecycle gave them; other charges draw theirs.
    """
    rates = biz.rates()
    window = biz.window()
    charges = ChargeRows()
    _add_orders(biz, customers, window, rates["orders"], charges)
    _add_invoice_payments(biz, customers, life, charges)
    _add_one_off_payments(customers, life, one_off, charges)
    add_direct_charges(biz, window, rates["connected_charges"], charges)
    return _outcomes(biz, customers, charges.concat())


def _add_orders(
    biz: Business, customers: Customers, window: np.ndarray, rate: float, charges: ChargeRows
) -> None:
    # One-off orders on the platform, three in four by a customer who signed up recently.
    u = biz.draws.uniform
    day, idx = expand(window, biz.daily_counts(window, rate, "orders"))
    payload = (U64(1) << U64(52)) | (day.astype(np.uint64) << U64(24)) | idx.astype(np.uint64)
    keys = key(K_CHARGE, payload)
    back = np.floor(u(keys, "customer.day") * (CUSTOMER_LOOKBACK_DAYS + 1)).astype(np.int64)
    # In the account's first weeks the customers to come back are the ones it has had so far.
    slot = np.maximum(day - back, customers.first_day) - customers.first_day
    available = customers.per_day[slot]
    pick = np.floor(u(keys, "customer.pick") * np.maximum(available, 1)).astype(np.int64)
    has_customer = (u(keys, "customer") < 0.75) & (available > 0)
    customer = np.where(has_customer, customers.offsets[slot] + pick, -1)
    guest_currency = choice(u(keys, "currency"), PLATFORM_CURRENCY_MIX)
    currency = np.where(has_customer, customers.currency[np.maximum(customer, 0)], guest_currency)
    charges.add(
        payload,
        created=day * DAY + biz.time_of_day(keys, "created"),
        customer=customer,
        currency=currency,
        amount_usd=45.0 * np.exp(0.85 * biz.draws.normal(keys, "amount")),
    )


def _add_invoice_payments(biz: Business, customers: Customers, life: Lifecycle, charges: ChargeRows) -> None:
    # Every attempt to pay a subscription invoice, with the saved payment method; retries of one
    # invoice share its PaymentIntent.
    s, inv, a = life.subs, life.invoices, life.attempts
    a = {name: values[a["at"] < biz.d1 * DAY] for name, values in a.items()}
    row = a["invoice"]
    sub = inv["sub"][row]
    first = (U64(2) << U64(52)) | inv["payload"][row]
    retry = RETRY_PAYLOAD | (a["attempt"].astype(np.uint64) << U64(49)) | inv["payload"][row]
    charges.add(
        np.where(a["attempt"] == 0, first, retry),
        created=a["at"],
        customer=customers.row_of(s["customer_payload"][sub]),
        currency=s["currency"][sub],
        flavour=np.where(inv["on_session"][row], C_SUB_CREATE, C_SUB_CYCLE),
        invoice=inv["payload"][row],
        subscription=s["payload"][sub],
        amount=inv["total"][row],
        method=s["method"][sub],
        method_key=key(K_SUBSCRIPTION, s["payload"][sub]),
        outcome=a["failed"].astype(np.int64),
        intent=first,
    )


def _add_one_off_payments(
    customers: Customers, life: Lifecycle, one_off: Columns, charges: ChargeRows
) -> None:
    # One-off invoices the customer paid, by card.
    paid = one_off["paid"]
    sub = one_off["sub"][paid]
    charges.add(
        (U64(2) << U64(52)) | one_off["payload"][paid],
        created=one_off["paid_at"][paid],
        customer=customers.row_of(life.subs["customer_payload"][sub]),
        currency=life.subs["currency"][sub],
        flavour=C_INVOICE,
        invoice=one_off["payload"][paid],
        amount=one_off["total"][paid],
        method=0,
        method_key=key(K_SUBSCRIPTION, life.subs["payload"][sub]),
        outcome=0,
    )


def _outcomes(biz: Business, customers: Customers, c: Columns) -> Columns:
    u = biz.draws.uniform
    keys = key(K_CHARGE, c["payload"])
    day = c["created"] // DAY
    settle = c["currency"]
    # A few guest orders in USD are presented in another currency and converted at the day's rate.
    converted = (
        (c["account"] == 0)
        & (c["customer"] < 0)
        & (settle == 0)
        & (c["flavour"] == C_ORDER)
        & (u(keys, "convert") < 0.04)
    )
    presentment = np.where(converted, 5 + np.floor(u(keys, "convert.to") * 4).astype(np.int64), settle)
    exponent = np.array([currency_exponent(code) for code in CURRENCIES])[presentment]
    fixed = c["amount"] >= 0
    amount = np.where(
        fixed,
        c["amount"],
        np.maximum(50, np.rint(c["amount_usd"] * np.asarray(USD_RATES)[presentment] * 10.0**exponent)),
    ).astype(np.int64)
    fx = biz.fx(biz.window())
    rate_of_day = fx[np.clip(day - biz.h0, 0, len(fx) - 1), presentment]
    exchange_rate = np.where(converted, np.round(1.0 / rate_of_day, 6), np.nan)
    settled = np.where(converted, np.rint(amount * np.nan_to_num(exchange_rate, nan=1.0)), amount).astype(
        np.int64
    )

    # Payment method: one-off orders draw one per currency; subscriptions keep theirs.
    method = np.where(
        c["method"] >= 0, c["method"], choice_rows(u(keys, "method"), PAYMENT_METHOD_MIX[settle])
    )
    card = method < BANK_DEBIT_FROM
    mkeys = c["method_key"]
    brand = choice(u(mkeys, "brand"), CARD_BRAND_MIX)
    funding = choice(u(mkeys, "funding"), CARD_FUNDING_MIX)
    home = np.array([COUNTRIES.index(a.country) for a in biz.accounts])[c["account"]]
    customer_country = np.where(
        c["customer"] >= 0, COUNTRY_OF_PLACE[customers.place[np.maximum(c["customer"], 0)]], home
    )
    abroad = u(mkeys, "abroad") < 0.12
    card_country = np.where(
        abroad, np.floor(u(mkeys, "country") * len(COUNTRIES)).astype(np.int64), customer_country
    )
    last4 = np.floor(u(mkeys, "last4") * 10000).astype(np.int64)
    exp_month = 1 + np.floor(u(mkeys, "exp_month") * 12).astype(np.int64)
    exp_year = 2026 + np.floor(u(mkeys, "exp_year") * 6).astype(np.int64)
    drawn = u(keys, "failed") < np.where(card, CARD_FAILURE, DEBIT_FAILURE)
    failed = np.where(c["outcome"] >= 0, c["outcome"] == 1, drawn)
    failure = choice(u(keys, "failure"), FAILURE_MIX)

    # Fees: Stripe's processing fee, plus the platform's application fee on connected accounts.
    international = card & (card_country != home)
    percent = CARD_FEE_PERCENT[settle] + 0.015 * international + 0.01 * converted
    stripe_fee = np.where(
        card,
        np.rint(settled * percent) + CARD_FEE_FIXED[settle],
        np.minimum(np.rint(settled * 0.008), DEBIT_FEE_CAP[settle]),
    ).astype(np.int64)
    fee_rate = np.array([a.application_fee_rate for a in biz.accounts])[c["account"]]
    application_fee = np.rint(settled * fee_rate).astype(np.int64)

    c.update(
        presentment=presentment,
        amount=amount,
        settled=settled,
        exchange_rate=exchange_rate,
        converted=converted,
        method=method,
        card=card,
        brand=brand,
        funding=funding,
        card_country=card_country,
        last4=last4,
        exp_month=exp_month,
        exp_year=exp_year,
        failed=failed,
        failure=failure,
        stripe_fee=stripe_fee,
        application_fee=np.where(c["account"] > 0, application_fee, 0),
    )
    c.update(simulate_refunds_and_disputes(biz, c, keys))
    c["order_number"] = (100000 + np.floor(u(keys, "order") * 900000)).astype(np.int64)
    return c
