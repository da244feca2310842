"""Tables describing the platform rather than its activity: accounts, products, prices, FX rates."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd

from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.codes import K_PRICE, K_PRODUCT, price_payload
from stripe_emulator.datagen.currencies import CURRENCIES, SETTLEMENT_CURRENCIES
from stripe_emulator.datagen.reference import (
    DAY,
    PRODUCT_NAMES,
    PRODUCTS,
    TEAM_PLAN,
    TEAM_PLAN_SEATS,
    team_plan_flat,
    unit_amounts,
)
from stripe_emulator.datagen.tables.writer import TableWriter, categorical, timestamps
from stripe_emulator.timestamps import unix


def write_accounts(out: TableWriter, biz: Business) -> None:
    """``accounts``: the platform and its connected accounts.

    Sigma shows the account a query runs as in ``accounts`` and the platform's connected accounts
    in ``connected_accounts``; ``_connected_to`` is the platform for a connected account.
    """
    connected = biz.accounts
    frame = pd.DataFrame(
        {
            "id": pd.Series([a.id for a in connected], dtype=object),
            "business_name": pd.Series([a.name for a in connected], dtype=object),
            "country": pd.Series([a.country for a in connected], dtype=object),
            "created": timestamps(np.array([unix(a.created) for a in connected], dtype=np.int64)),
            "default_currency": pd.Series([a.default_currency for a in connected], dtype=object),
            "email": pd.Series([a.email for a in connected], dtype=object),
            "type": pd.Series([a.type for a in connected], dtype=object),
            "payout_interval": pd.Series([a.payout_interval for a in connected], dtype=object),
            "payout_delay": np.array([a.payout_delay_days for a in connected], dtype=np.int64),
            "anchor": pd.Series([a.payout_weekly_anchor for a in connected], dtype=object),
            "url": pd.Series([f"https://{a.email.split('@')[1]}" for a in connected], dtype=object),
            "connected_to": pd.Series([None] + [biz.platform.id] * (len(connected) - 1), dtype=object),
        }
    )
    out.create(
        "accounts",
        frame,
        "id, business_name, 'company' AS business_type, true AS charges_enabled, country, created, "
        "default_currency, true AS details_submitted, email, true AS payouts_enabled, type, "
        "payout_interval AS payout_schedule_interval, payout_delay AS payout_schedule_delay_days, "
        "anchor AS payout_schedule_weekly_anchor, url AS business_url, "
        "CAST(NULL AS VARCHAR) AS requirements_currently_due, CAST(NULL AS VARCHAR) AS "
        "requirements_past_due, "
        "CAST(NULL AS VARCHAR) AS requirements_disabled_reason, connected_to AS _connected_to, "
        "$platform AS _account, created AS _visible_at",
        ("created", "id"),
        platform=out.platform,
    )


def write_catalog(out: TableWriter, biz: Business) -> None:
    """``products``, ``prices`` (every product monthly and yearly in every settlement currency), the
    same recurring prices as legacy ``plans``, and the Team plan's ``price_tiers``."""
    draws = biz.draws
    created = unix(biz.platform.created + timedelta(days=1))
    n = len(PRODUCTS)
    products = pd.DataFrame(
        {
            "u": draws.id(K_PRODUCT, np.arange(n)),
            "name": categorical(np.arange(n), PRODUCT_NAMES),
            "seats": np.array([p[3] for p in PRODUCTS]),
            "created": timestamps(np.full(n, created)),
        }
    )
    out.create(
        "products",
        products,
        "sid('prod_', u) AS id, name, true AS active, created, 'Acme Cloud ' || name AS description, "
        "'ACME CLOUD' AS statement_descriptor, 'service' AS type, "
        "CASE WHEN seats THEN 'seat' END AS unit_label, "
        "$platform AS _account, created AS _visible_at",
        platform=out.platform,
    )
    grid = np.meshgrid(np.arange(n), np.arange(len(SETTLEMENT_CURRENCIES)), [0, 1], indexing="ij")
    product, currency, yearly = (axis.ravel() for axis in grid)
    prices = pd.DataFrame(
        {
            "u": draws.id(K_PRICE, price_payload(product, currency, yearly)),
            "product_u": draws.id(K_PRODUCT, product),
            "product": categorical(product, PRODUCT_NAMES),
            "currency": categorical(currency, SETTLEMENT_CURRENCIES),
            "unit_amount": unit_amounts()[product, currency, yearly],
            "flat": team_plan_flat()[currency, yearly],
            "tiered": product == TEAM_PLAN,
            "yearly": yearly.astype(bool),
            "created": timestamps(np.full(len(product), created)),
        }
    )
    interval = "CASE WHEN yearly THEN 'year' ELSE 'month' END"
    nickname = "product || CASE WHEN yearly THEN ' yearly' ELSE ' monthly' END"
    # A tiered price has no unit amount of its own: its tiers say what each quantity costs.
    unit = "CASE WHEN tiered THEN NULL ELSE unit_amount END"
    scheme = "CASE WHEN tiered THEN 'tiered' ELSE 'per_unit' END"
    tiers_mode = "CASE WHEN tiered THEN 'graduated' END"
    out.create(
        "prices",
        prices,
        "sid('price_', u) AS id, sid('prod_', product_u) AS product_id, true AS active, currency, "
        f"{unit} AS unit_amount, {interval} AS recurring_interval, 1 AS recurring_interval_count, "
        f"'licensed' AS recurring_usage_type, 'recurring' AS type, {scheme} AS billing_scheme, "
        f"{tiers_mode} AS tiers_mode, {nickname} AS nickname, created, "
        "$platform AS _account, created AS _visible_at",
        platform=out.platform,
    )
    out.create(
        "plans",
        prices,
        "sid('price_', u) AS id, sid('prod_', product_u) AS product_id, true AS active, "
        f"{unit} AS amount, {scheme} AS billing_scheme, created, currency, {interval} AS interval, "
        f"1 AS interval_count, {nickname} AS nickname, {tiers_mode} AS tiers_mode, "
        "CAST(NULL AS BIGINT) AS trial_period_days, 'licensed' AS usage_type, "
        "$platform AS _account, created AS _visible_at",
        platform=out.platform,
    )
    tiered = prices[prices["tiered"]]
    tiers = pd.concat([tiered.assign(tier=1), tiered.assign(tier=2)], ignore_index=True)
    out.create(
        "price_tiers",
        tiers,
        "sid('price_', u) AS price_id, CASE WHEN tier = 1 THEN $seats END AS upto, "
        "CASE WHEN tier = 1 THEN flat ELSE 0 END AS flat_amount, "
        "CASE WHEN tier = 1 THEN 0 ELSE unit_amount END AS unit_amount, "
        "$platform AS _account, created AS _visible_at",
        ("created", "u", "tier"),
        platform=out.platform,
        seats=TEAM_PLAN_SEATS,
    )


def write_exchange_rates(out: TableWriter, biz: Business) -> None:
    """``exchange_rates_from_usd``: every day's rates as Sigma's JSON map, seen by every account.

    One row per day of the account's history, with a rate for every currency the data uses.
    """
    days = biz.window()
    rates = [dict(zip(CURRENCIES, map(float, row), strict=True)) for row in biz.fx(days)]
    frame = pd.DataFrame(
        {
            "day": timestamps(days * DAY),
            "rates": pd.Series([json.dumps(row, sort_keys=True) for row in rates], dtype=object),
        }
    )
    out.create(
        "exchange_rates_from_usd",
        frame,
        "CAST(day AS DATE) AS date, rates AS buy_currency_exchange_rates, "
        "CAST(NULL AS VARCHAR) AS _account, "
        "day AS _visible_at",
        ("day",),
    )
