"""The constant tables the simulated business is drawn from.

Calendar and volume shape, customer names and places, card and payment-method mixes, Stripe's fees,
the product catalogue, subscription churn and the connected accounts' templates. Arrays indexed by a
settlement currency follow the order of :data:`~stripe_emulator.datagen.currencies.SETTLEMENT_CURRENCIES`.
"""

from __future__ import annotations

import numpy as np

from stripe_emulator.datagen.currencies import SETTLEMENT_CURRENCIES

DAY = 86_400
"""Seconds in a day; every day starts at midnight UTC."""

# -- calendar and volume -------------------------------------------------------------------------

PLATFORM_TIMEZONE = "America/Los_Angeles"
HISTORY_DAYS = 1462  # the longest subscriptions (four years) renew inside the window
CUSTOMER_LOOKBACK_DAYS = 90  # one-off buyers come back within this many days of signing up
GROWTH_PER_DAY = 0.35 / 365
WEEKDAY_FACTORS = np.array([1.06, 1.08, 1.08, 1.06, 1.04, 0.86, 0.82])
HOUR_WEIGHTS = (3, 2, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 11, 11, 11, 10, 9, 8, 7, 5, 4)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# -- customers -----------------------------------------------------------------------------------

# fmt: off
FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Daniel", "Elena", "Farah", "George", "Hana", "Ivan", "Julia", "Kenji",
    "Laura", "Mateo", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Samuel", "Tara", "Uma", "Victor", "Wen",
    "Ximena", "Yusuf", "Zoe", "Amelia", "Bruno", "Camille", "Diego", "Emma", "Felix", "Grace", "Hugo",
    "Isla", "Jonas",
)
LAST_NAMES = (
    "Anderson", "Brown", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Johnson",
    "Kowalski", "Lopez", "Martin", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka",
    "Usman", "Varga", "Williams", "Xu", "Yamamoto", "Zimmermann", "Silva", "Novak", "Murphy", "Kim",
)
# fmt: on
EMAIL_DOMAINS = ("example.com", "mail.example", "inbox.example", "example.org", "corp.example")
STREETS = ("Market St", "High St", "Main St", "Station Rd", "Rue de Rivoli", "King St", "Elm Ave")
# (country, city, state); a customer's country follows its currency.
PLACES = (
    ("US", "San Francisco", "CA"),
    ("US", "New York", "NY"),
    ("US", "Austin", "TX"),
    ("US", "Seattle", "WA"),
    ("DE", "Berlin", None),
    ("DE", "Munich", None),
    ("FR", "Paris", None),
    ("FR", "Lyon", None),
    ("NL", "Amsterdam", None),
    ("IE", "Dublin", None),
    ("ES", "Madrid", None),
    ("IT", "Milan", None),
    ("GB", "London", None),
    ("GB", "Manchester", None),
    ("GB", "Edinburgh", None),
    ("CA", "Toronto", "ON"),
    ("CA", "Vancouver", "BC"),
    ("CA", "Montreal", "QC"),
    ("JP", "Tokyo", None),
    ("JP", "Osaka", None),
    ("JP", "Kyoto", None),
)
PLACES_BY_CURRENCY = (range(0, 4), range(4, 12), range(12, 15), range(15, 18), range(18, 21))
COUNTRIES = ("US", "DE", "FR", "NL", "IE", "ES", "IT", "GB", "CA", "JP", "AU", "BR", "MX", "IN")
COUNTRY_OF_PLACE = np.array([COUNTRIES.index(place[0]) for place in PLACES])

# -- payment methods and their outcomes ----------------------------------------------------------

CARD_BRANDS = ("visa", "mastercard", "amex", "discover", "jcb")
CARD_BRAND_MIX = (0.53, 0.31, 0.11, 0.03, 0.02)
CARD_FUNDING = ("credit", "debit", "prepaid")
CARD_FUNDING_MIX = (0.62, 0.35, 0.03)
FAILURE_CODES = ("card_declined", "insufficient_funds", "expired_card", "incorrect_cvc")
FAILURE_MESSAGES = (
    "Your card was declined.",
    "Your card has insufficient funds.",
    "Your card has expired.",
    "Your card's security code is incorrect.",
)
FAILURE_MIX = (0.6, 0.2, 0.1, 0.1)
REFUND_REASONS = ("requested_by_customer", "duplicate", "fraudulent", None)
REFUND_REASON_MIX = (0.6, 0.15, 0.1, 0.15)
# fmt: off
DISPUTE_REASONS = (
    "fraudulent", "product_not_received", "subscription_canceled", "unrecognized", "duplicate", "general",
)
# fmt: on
DISPUTE_REASON_MIX = (0.45, 0.2, 0.1, 0.15, 0.05, 0.05)
# fmt: off
PAYMENT_METHOD_TYPES = (
    "card", "link", "cashapp", "konbini", "us_bank_account", "sepa_debit", "bacs_debit", "ideal",
    "bancontact",
)
# fmt: on
BANK_DEBIT_FROM = 4  # payment method types from this index on are bank debits (no card details)
# Per settlement currency: weights over PAYMENT_METHOD_TYPES for one-off payments.
PAYMENT_METHOD_MIX = np.array(
    [
        [0.86, 0.06, 0.03, 0.0, 0.05, 0.0, 0.0, 0.0, 0.0],
        [0.78, 0.04, 0.0, 0.0, 0.0, 0.10, 0.0, 0.05, 0.03],
        [0.85, 0.05, 0.0, 0.0, 0.0, 0.0, 0.10, 0.0, 0.0],
        [0.95, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.90, 0.0, 0.0, 0.10, 0.0, 0.0, 0.0, 0.0, 0.0],
    ]
)
# The payment method a subscription paying by bank debit uses, per currency (card where none exists).
SUBSCRIPTION_DEBIT_METHOD = np.array([4, 5, 6, 0, 0])

# -- Stripe's fees, per settlement currency ------------------------------------------------------

CARD_FEE_PERCENT = np.array([0.029, 0.015, 0.015, 0.029, 0.036])
CARD_FEE_FIXED = np.array([30, 25, 20, 30, 0])
DEBIT_FEE_CAP = np.array([500, 500, 200, 500, 500])
DISPUTE_FEE = np.array([1500, 2000, 2000, 1500, 2000])

# -- products and subscriptions ------------------------------------------------------------------

# (name, monthly price in USD, share of new subscriptions, priced per seat)
PRODUCTS = (
    ("Starter", 19, 0.30, False),
    ("Growth", 49, 0.30, False),
    ("Scale", 149, 0.12, False),
    ("Enterprise", 499, 0.03, False),
    ("Team seats", 12, 0.18, True),
    ("Premium support", 99, 0.07, False),
    # Tiered (graduated): the price is a flat fee for the first seats, then per seat. Its share is
    # zero so the other products' draws stay as they were; subscriptions reach it by an override.
    ("Team plan", 9, 0.0, True),
)
TEAM_PLAN = 6
TEAM_PLAN_FLAT = 49  # USD a month for the first TEAM_PLAN_SEATS seats
TEAM_PLAN_SEATS = 5
PRODUCT_NAMES = tuple(product[0] for product in PRODUCTS)
YEARLY_SHARE = 0.2
MONTHLY_CHURN = 0.08  # chance a monthly subscription ends after any given month
YEARLY_CHURN = 0.45
MAX_MONTHS = 48
MAX_YEARS = 4


def unit_amounts() -> np.ndarray:
    """Unit amounts (minor units) indexed by [product, settlement currency, yearly]."""
    out = np.zeros((len(PRODUCTS), len(SETTLEMENT_CURRENCIES), 2), dtype=np.int64)
    for p, product in enumerate(PRODUCTS):
        for yearly in (0, 1):
            out[p, :, yearly] = local_prices(product[1] * (10 if yearly else 1))
    return out


def local_prices(usd: int) -> tuple[int, ...]:
    """Minor-unit prices in each settlement currency for a price of ``usd`` dollars.

    Round local prices (usd, eur, gbp, cad, jpy), not converted ones.
    """
    return (usd * 100, usd * 100, round(usd * 0.8) * 100, round(usd * 1.35) * 100, round(usd * 150, -2))


def team_plan_flat() -> np.ndarray:
    """The Team plan's flat first-tier amount (minor units) by [settlement currency, yearly]."""
    return np.array([local_prices(TEAM_PLAN_FLAT), local_prices(TEAM_PLAN_FLAT * 10)]).T


# -- Connect -------------------------------------------------------------------------------------

# (name, country, currency, timezone, payout interval, weekly anchor, delay days, type, application fee)
CONNECTED_TEMPLATES = (
    ("Northwind Outfitters Ltd", "GB", "gbp", "Europe/London", "daily", None, 3, "express", 0.10),
    ("Bluebird Coffee Co.", "US", "usd", "America/New_York", "weekly", "monday", 2, "standard", 0.08),
    ("Sakura Ceramics K.K.", "JP", "jpy", "Asia/Tokyo", "daily", None, 4, "custom", 0.12),
    ("Rheinblick Studio GmbH", "DE", "eur", "Europe/Berlin", "daily", None, 2, "express", 0.09),
    ("Maple Leaf Bikes Inc.", "CA", "cad", "America/Toronto", "weekly", "friday", 2, "standard", 0.07),
)
