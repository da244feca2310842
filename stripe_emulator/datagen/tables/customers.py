"""Customer tables: customers, and the coupons, promotion codes and discounts they redeem."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stripe_emulator.datagen.billing_reference import (
    COUPON_IDS,
    COUPONS,
    CUSTOMER_COUPON_MIX,
    PROMOTION_CODE_SHARE,
)
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import K_CUSTOMER, K_DISCOUNT, K_PROMOTION_CODE, K_SUBSCRIPTION
from stripe_emulator.datagen.currencies import SETTLEMENT_CURRENCIES
from stripe_emulator.datagen.customers import Customers
from stripe_emulator.datagen.randomness import U64, choice, key
from stripe_emulator.datagen.reference import EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, PLACES, STREETS
from stripe_emulator.datagen.tables.writer import TableWriter, categorical, timestamps
from stripe_emulator.timestamps import unix


def write_customers(out: TableWriter, biz: Business, customers: Customers) -> None:
    """``customers``, with names, emails and addresses drawn per customer."""
    u = biz.draws.uniform
    keys = key(K_CUSTOMER, customers.payload)
    place = customers.place

    def pick(field: str, values: tuple[Any, ...]) -> pd.Categorical:
        return categorical(np.floor(u(keys, field) * len(values)).astype(np.int64), values)

    frame = pd.DataFrame(
        {
            "u": biz.draws.id(K_CUSTOMER, customers.payload),
            "created": timestamps(customers.created),
            "first": pick("first", FIRST_NAMES),
            "last": pick("last", LAST_NAMES),
            "n": np.floor(u(keys, "n") * 100).astype(np.int64),
            "domain": pick("domain", EMAIL_DOMAINS),
            "currency": categorical(customers.currency, SETTLEMENT_CURRENCIES),
            "street_no": 1 + np.floor(u(keys, "street_no") * 240).astype(np.int64),
            "street": pick("street", STREETS),
            "city": categorical(place, tuple(p[1] for p in PLACES)),
            "state": categorical(place, tuple(p[2] for p in PLACES)),
            "country": categorical(place, tuple(p[0] for p in PLACES)),
            "postal": np.floor(u(keys, "postal") * 100000).astype(np.int64),
            "coupon": categorical(choice(u(keys, "coupon"), CUSTOMER_COUPON_MIX), (None, *COUPON_IDS[:2])),
            "described": u(keys, "described") < 0.1,
        }
    )
    out.create(
        "customers",
        frame,
        "sid('cus_', u) AS id, created, "
        "lower(first) || '.' || lower(last) || n || '@' || domain AS email, "
        "first || ' ' || last AS name, "
        "CASE WHEN described THEN 'Imported from the previous billing system' END AS description, "
        "currency, "
        "false AS delinquent, coupon AS discount_coupon_id, 0 AS balance, 'none' AS tax_exempt, "
        "upper(substr(sid('', u), 2, 8)) AS invoice_prefix, street_no || ' ' || street AS address_line1, "
        "CAST(NULL AS VARCHAR) AS address_line2, city AS address_city, state AS address_state, "
        "lpad(CAST(postal AS VARCHAR), 5, '0') AS address_postal_code, country AS address_country, "
        "false AS deleted, u AS _u, $platform AS _account, created AS _visible_at",
        platform=out.platform,
    )


def write_coupons(
    out: TableWriter, biz: Business, customers: Customers, first_subscription: np.ndarray
) -> None:
    """``coupons``, ``promotion_codes`` and ``discounts`` (one per customer with a coupon).

    A customer's discount applies to its first subscription (``first_subscription``: its payload
    per customer row, 0 for none); most were redeemed through the coupon's promotion code.
    """
    draws = biz.draws
    created = unix(biz.platform.created) + 2 * 86_400
    n = len(COUPONS)
    coupons = pd.DataFrame(
        {
            "id": pd.Series(COUPON_IDS, dtype=object),
            "name": pd.Series([c[1] for c in COUPONS], dtype=object),
            "percent_off": np.array([c[2] for c in COUPONS], dtype=float),
            "duration": pd.Series([c[3] for c in COUPONS], dtype=object),
            "months": pd.array([c[4] for c in COUPONS], dtype="Int64"),
            "valid": np.array([c[5] for c in COUPONS]),
            "created": timestamps(np.full(n, created) + np.arange(n) * 86_400),
        }
    )
    out.create(
        "coupons",
        coupons,
        "id, name, CAST(NULL AS BIGINT) AS amount_off, CAST(NULL AS VARCHAR) AS currency, duration, "
        "months AS duration_in_months, CAST(NULL AS BIGINT) AS max_redemptions, percent_off, "
        "CAST(NULL AS TIMESTAMP) AS redeem_by, valid, created, $platform AS _account, created AS _visible_at",
        ("created", "id"),
        platform=out.platform,
    )
    with_code = [i for i, c in enumerate(COUPONS) if c[6]]
    codes = pd.DataFrame(
        {
            "u": draws.id(K_PROMOTION_CODE, np.array(with_code)),
            "code": pd.Series([COUPONS[i][6] for i in with_code], dtype=object),
            "coupon": pd.Series([COUPONS[i][0] for i in with_code], dtype=object),
            "active": np.array([COUPONS[i][7] for i in with_code]),
            "created": timestamps(np.full(len(with_code), created) + np.array(with_code) * 86_400 + 600),
        }
    )
    out.create(
        "promotion_codes",
        codes,
        "sid('promo_', u) AS id, code, coupon AS coupon_id, active, created, "
        "CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS expires_at, "
        "CAST(NULL AS BIGINT) AS max_redemptions, true AS restrictions_first_time_transaction, "
        "$platform AS _account, created AS _visible_at",
        platform=out.platform,
    )

    keys = key(K_CUSTOMER, customers.payload)
    coupon = choice(draws.uniform(keys, "coupon"), CUSTOMER_COUPON_MIX) - 1
    rows = np.flatnonzero(coupon >= 0)
    dkeys = key(K_DISCOUNT, customers.payload[rows])
    via_code = draws.uniform(dkeys, "code") < PROMOTION_CODE_SHARE
    code_u = draws.id(K_PROMOTION_CODE, coupon[rows].astype(np.uint64))
    sub = first_subscription[rows]
    discounts = pd.DataFrame(
        {
            "u": draws.id(K_DISCOUNT, customers.payload[rows]),
            "coupon": categorical(coupon[rows], COUPON_IDS),
            "customer_u": draws.id(K_CUSTOMER, customers.payload[rows]),
            "sub_u": np.where(sub > 0, draws.id(K_SUBSCRIPTION, sub), U64(0)),
            "code_u": np.where(via_code, code_u, U64(0)),
            "created": timestamps(customers.created[rows]),
        }
    )
    out.create(
        "discounts",
        discounts,
        "sid('di_', u) AS id, coupon AS coupon_id, sid('cus_', customer_u) AS customer_id, "
        "sidn('sub_', sub_u) AS subscription_id, CAST(NULL AS VARCHAR) AS invoice_id, "
        "sidn('promo_', code_u) AS promotion_code_id, created AS start, CAST(NULL AS TIMESTAMP) AS \"end\", "
        "CAST(NULL AS VARCHAR) AS checkout_session_id, $platform AS _account, created AS _visible_at",
        platform=out.platform,
    )
