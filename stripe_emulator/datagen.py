"""Deterministic generation of a Stripe account's history into DuckDB tables.

The platform sells subscriptions and one-off orders in several currencies and runs a Connect
platform: its connected accounts take direct charges (paying the platform an application fee) and
receive transfers. Every movement of money lands in ``balance_transactions`` with Stripe's balance
semantics: funds become available at midnight UTC a few days after ``created``, and one automatic
payout per account, currency and payout day (created at that day's midnight, arriving the same day)
sweeps everything that has become available and was not paid out yet.

Generation is vectorised. NumPy draws every random value from a counter-based hash of
``(seed, entity, field)``, so a given day's rows do not depend on how many days are generated, and
DuckDB turns the numbers into Stripe-shaped rows (ids, names, descriptions) in the ``stripe_raw``
schema. Every raw table carries two hidden columns Sigma never shows: ``_account`` (the account the
row belongs to; NULL for data every account sees) and ``_visible_at`` (the row does not exist for
Sigma or reports while ``_visible_at >= data_load_time``).
"""

from __future__ import annotations

import json
import math
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import NormalDist
from typing import Any

import duckdb
import numpy as np
import pandas as pd

RAW_SCHEMA = "stripe_raw"

SETTLEMENT_CURRENCIES = ("usd", "eur", "gbp", "cad", "jpy")
CURRENCIES = (*SETTLEMENT_CURRENCIES, "aud", "chf", "sek", "nzd")
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

# Units of each currency one US dollar buys; the daily rates move around these.
_USD_RATES = (1.0, 0.92, 0.79, 1.36, 151.0, 1.52, 0.88, 10.6, 1.66)
_PLATFORM_CURRENCY_MIX = (0.58, 0.17, 0.11, 0.07, 0.07)
_CARD_FEE_PERCENT = np.array([0.029, 0.015, 0.015, 0.029, 0.036])
_CARD_FEE_FIXED = np.array([30, 25, 20, 30, 0])
_DEBIT_FEE_CAP = np.array([500, 500, 200, 500, 500])
_DISPUTE_FEE = np.array([1500, 2000, 2000, 1500, 2000])
_PLATFORM_TIMEZONE = "America/Los_Angeles"

_DAY = 86_400
_HISTORY_DAYS = 1462  # the longest subscriptions (four years) renew inside the window
_CUSTOMER_LOOKBACK_DAYS = 90  # one-off buyers come back within this many days of signing up
_GROWTH_PER_DAY = 0.35 / 365
_WEEKDAY_FACTORS = np.array([1.06, 1.08, 1.08, 1.06, 1.04, 0.86, 0.82])
_HOUR_WEIGHTS = (3, 2, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 11, 11, 11, 10, 9, 8, 7, 5, 4)

# fmt: off
_FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Daniel", "Elena", "Farah", "George", "Hana", "Ivan", "Julia", "Kenji",
    "Laura", "Mateo", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Samuel", "Tara", "Uma", "Victor", "Wen",
    "Ximena", "Yusuf", "Zoe", "Amelia", "Bruno", "Camille", "Diego", "Emma", "Felix", "Grace", "Hugo",
    "Isla", "Jonas",
)
_LAST_NAMES = (
    "Anderson", "Brown", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Johnson",
    "Kowalski", "Lopez", "Martin", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka",
    "Usman", "Varga", "Williams", "Xu", "Yamamoto", "Zimmermann", "Silva", "Novak", "Murphy", "Kim",
)
# fmt: on
_EMAIL_DOMAINS = ("example.com", "mail.example", "inbox.example", "example.org", "corp.example")
_STREETS = ("Market St", "High St", "Main St", "Station Rd", "Rue de Rivoli", "King St", "Elm Ave")
# (country, city, state); a customer's country follows its currency.
_PLACES = (
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
_PLACES_BY_CURRENCY = (range(0, 4), range(4, 12), range(12, 15), range(15, 18), range(18, 21))
_COUNTRIES = ("US", "DE", "FR", "NL", "IE", "ES", "IT", "GB", "CA", "JP", "AU", "BR", "MX", "IN")
_COUNTRY_OF_PLACE = np.array([_COUNTRIES.index(place[0]) for place in _PLACES])
_CARD_BRANDS = ("visa", "mastercard", "amex", "discover", "jcb")
_CARD_BRAND_MIX = (0.53, 0.31, 0.11, 0.03, 0.02)
_CARD_FUNDING = ("credit", "debit", "prepaid")
_CARD_FUNDING_MIX = (0.62, 0.35, 0.03)
_FAILURE_CODES = ("card_declined", "insufficient_funds", "expired_card", "incorrect_cvc")
_FAILURE_MESSAGES = (
    "Your card was declined.",
    "Your card has insufficient funds.",
    "Your card has expired.",
    "Your card's security code is incorrect.",
)
_FAILURE_MIX = (0.6, 0.2, 0.1, 0.1)
_REFUND_REASONS = ("requested_by_customer", "duplicate", "fraudulent", None)
_REFUND_REASON_MIX = (0.6, 0.15, 0.1, 0.15)
# fmt: off
_DISPUTE_REASONS = (
    "fraudulent", "product_not_received", "subscription_canceled", "unrecognized", "duplicate", "general",
)
# fmt: on
_DISPUTE_REASON_MIX = (0.45, 0.2, 0.1, 0.15, 0.05, 0.05)
# fmt: off
_PAYMENT_METHOD_TYPES = (
    "card", "link", "cashapp", "konbini", "us_bank_account", "sepa_debit", "bacs_debit", "ideal",
    "bancontact",
)
# fmt: on
_BANK_DEBIT_FROM = 4  # payment method types from this index on are bank debits (no card details)
# Per settlement currency: weights over _PAYMENT_METHOD_TYPES for one-off payments.
_PAYMENT_METHOD_MIX = np.array(
    [
        [0.86, 0.06, 0.03, 0.0, 0.05, 0.0, 0.0, 0.0, 0.0],
        [0.78, 0.04, 0.0, 0.0, 0.0, 0.10, 0.0, 0.05, 0.03],
        [0.85, 0.05, 0.0, 0.0, 0.0, 0.0, 0.10, 0.0, 0.0],
        [0.95, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.90, 0.0, 0.0, 0.10, 0.0, 0.0, 0.0, 0.0, 0.0],
    ]
)
# The payment method a subscription paying by bank debit uses, per currency (card where none exists).
_SUBSCRIPTION_DEBIT_METHOD = np.array([4, 5, 6, 0, 0])

# (name, monthly price in USD, share of new subscriptions, priced per seat)
_PRODUCTS = (
    ("Starter", 19, 0.30, False),
    ("Growth", 49, 0.30, False),
    ("Scale", 149, 0.12, False),
    ("Enterprise", 499, 0.03, False),
    ("Team seats", 12, 0.18, True),
    ("Premium support", 99, 0.07, False),
)
_YEARLY_SHARE = 0.2
_MONTHLY_CHURN = 0.08  # chance a monthly subscription ends after any given month
_YEARLY_CHURN = 0.45
_MAX_MONTHS = 48
_MAX_YEARS = 4

# (name, country, currency, timezone, payout interval, weekly anchor, delay days, type, application fee)
_CONNECTED_TEMPLATES = (
    ("Northwind Outfitters Ltd", "GB", "gbp", "Europe/London", "daily", None, 3, "express", 0.10),
    ("Bluebird Coffee Co.", "US", "usd", "America/New_York", "weekly", "monday", 2, "standard", 0.08),
    ("Sakura Ceramics K.K.", "JP", "jpy", "Asia/Tokyo", "daily", None, 4, "custom", 0.12),
    ("Rheinblick Studio GmbH", "DE", "eur", "Europe/Berlin", "daily", None, 2, "express", 0.09),
    ("Maple Leaf Bikes Inc.", "CA", "cad", "America/Toronto", "weekly", "friday", 2, "standard", 0.07),
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Entity kinds: the top byte of every entity key, so ids of different kinds never collide.
_K_CUSTOMER, _K_SUBSCRIPTION, _K_SUB_ITEM, _K_INVOICE, _K_LINE = 1, 2, 3, 4, 5
_K_CHARGE, _K_PAYMENT_INTENT, _K_REFUND, _K_DISPUTE, _K_APP_FEE = 6, 7, 8, 9, 10
_K_TRANSFER, _K_DEST_PAYMENT, _K_PAYOUT, _K_PRODUCT, _K_PRICE = 11, 12, 13, 14, 15
_K_ACCOUNT, _K_BANK_ACCOUNT, KIND_SCHEDULED_RUN, _K_STRIPE_FEE, _K_ADJUSTMENT = 16, 17, 18, 19, 20
_K_DAY, _K_FX = 21, 22
# Balance transaction kinds: each a key prefix of its own, for txn ids.
_T_CHARGE, _T_REFUND, _T_DISPUTE, _T_DISPUTE_REVERSAL, _T_APP_FEE = 32, 33, 34, 35, 36
_T_TRANSFER_OUT, _T_TRANSFER_IN, _T_PAYOUT, _T_STRIPE_FEE, _T_ADJUSTMENT = 37, 38, 39, 40, 41

# fmt: off
_TYPES = (
    "charge", "payment", "refund", "payment_refund", "adjustment", "application_fee", "transfer",
    "payout", "stripe_fee",
)
_CATEGORIES = (
    "charge", "refund", "dispute", "dispute_reversal", "platform_earning", "transfer", "payout", "fee",
    "other_adjustment",
)
# fmt: on
_TYPE = {name: code for code, name in enumerate(_TYPES)}
_CATEGORY = {name: code for code, name in enumerate(_CATEGORIES)}
# Description templates, rendered in SQL (see _BALANCE_DESCRIPTION_SQL).
_D_NONE, _D_CHARGE, _D_REFUND, _D_DISPUTE, _D_DISPUTE_REVERSAL = 0, 1, 2, 3, 4
_D_PAYOUT, _D_BILLING_FEE, _D_RADAR_FEE, _D_ADJUSTMENT = 5, 6, 7, 8
# Charge flavours, which decide a charge's description.
_C_ORDER, _C_SUB_CREATE, _C_SUB_CYCLE = 1, 2, 3
# Source object kinds of balance transactions (which id prefix source_id gets).
_SOURCE_PREFIX = {
    _K_CHARGE: "ch_",
    _K_REFUND: "re_",
    _K_DISPUTE: "dp_",
    _K_APP_FEE: "fee_",
    _K_TRANSFER: "tr_",
    _K_DEST_PAYMENT: "py_",
    _K_PAYOUT: "po_",
}

_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_U64 = np.uint64
_MASK = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True)
class Account:
    """A Stripe account in the generated data: the platform (index 0) or one of its connected accounts."""

    id: str
    index: int
    name: str
    country: str
    default_currency: str
    timezone: str
    email: str
    type: str
    created: datetime
    payout_interval: str
    payout_weekly_anchor: str | None
    payout_delay_days: int
    application_fee_rate: float

    def to_stripe(self) -> dict[str, Any]:
        """The account as Stripe's ``account`` API object."""
        schedule: dict[str, Any] = {"delay_days": self.payout_delay_days, "interval": self.payout_interval}
        if self.payout_weekly_anchor:
            schedule["weekly_anchor"] = self.payout_weekly_anchor
        return {
            "id": self.id,
            "object": "account",
            "business_profile": {"mcc": "5734", "name": self.name, "support_email": self.email, "url": None},
            "business_type": "company",
            "capabilities": {"card_payments": "active", "transfers": "active"},
            "charges_enabled": True,
            "country": self.country,
            "created": int(self.created.timestamp()),
            "default_currency": self.default_currency,
            "details_submitted": True,
            "email": self.email,
            "metadata": {},
            "payouts_enabled": True,
            "settings": {
                "dashboard": {"display_name": self.name, "timezone": self.timezone},
                "payouts": {"debit_negative_balances": True, "schedule": schedule},
            },
            "type": self.type,
        }


@dataclass(frozen=True)
class GeneratedData:
    """What :func:`generate` produced."""

    platform: Account
    connected: tuple[Account, ...]
    data_start: datetime
    data_end: datetime
    row_counts: dict[str, int]
    seconds: float


def stripe_id(prefix: str, number: int) -> str:
    """A Stripe-looking id for a 64-bit number; the SQL macro ``stripe_raw.sid`` gives the same text."""
    return f"{prefix}1{_base36(number >> 32)}{_base36(number & 0xFFFFFFFF).lower()}"


def _base36(value: int) -> str:
    digits = ""
    while value:
        value, digit = divmod(value, 36)
        digits = _B36[digit] + digits
    return digits.rjust(7, "0")


def entity_number(seed: int, kind: int, payload: int) -> int:
    """The number behind the id of entity ``payload`` of ``kind`` for ``seed`` (see :func:`stripe_id`)."""
    salt = _seed_salt(seed)
    return int(_mix(np.array([(kind << 56) | payload], dtype=np.uint64) ^ _U64(salt))[0])


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of the currency's major unit (JPY 0, USD 2, KWD 3)."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """SQL helpers shared by the generated tables and the report queries."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    zero = ", ".join(f"'{code}'" for code in sorted(ZERO_DECIMAL_CURRENCIES))
    three = ", ".join(f"'{code}'" for code in sorted(THREE_DECIMAL_CURRENCIES))
    macros = {
        # Two base-36 halves (upper, then lower case) of the 64-bit number, via DuckDB's fast to_base.
        "sid(prefix, u)": (
            "concat(prefix, '1', to_base(CAST(u >> 32 AS BIGINT), 36, 7), "
            "lower(to_base(CAST(u & 4294967295::UBIGINT AS BIGINT), 36, 7)))"
        ),
        "sidn(prefix, u)": f"CASE WHEN u = 0 THEN NULL ELSE {RAW_SCHEMA}.sid(prefix, u) END",
        "currency_exponent(c)": (
            f"CASE WHEN lower(c) IN ({zero}) THEN 0 WHEN lower(c) IN ({three}) THEN 3 ELSE 2 END"
        ),
        # Exact decimal text of a minor-unit amount in major units: 1234 usd -> 12.34, 1234 jpy -> 1234.
        "major(amount, c)": (
            f"CASE {RAW_SCHEMA}.currency_exponent(c) WHEN 0 THEN CAST(amount AS VARCHAR) "
            "WHEN 3 THEN CAST(CAST(amount AS DECIMAL(38, 0)) * 0.001 AS VARCHAR) "
            "ELSE CAST(CAST(amount AS DECIMAL(38, 0)) * 0.01 AS VARCHAR) END"
        ),
    }
    for signature, body in macros.items():
        con.execute(f"CREATE OR REPLACE MACRO {RAW_SCHEMA}.{signature} AS {body}")


def generate(
    con: duckdb.DuckDBPyConnection,
    *,
    seed: int,
    data_start: datetime,
    data_end: datetime,
    reference_day: date,
    scale: int,
    connected_accounts: int,
) -> GeneratedData:
    """Generate every table into ``con`` (schema ``stripe_raw``), deterministically.

    ``data_start`` and ``data_end`` are midnights UTC bounding the money movement; subscriptions,
    their customers and their change events reach further back. ``reference_day`` is the day the
    volume is calibrated to (about ``scale`` platform balance transactions); the business grows, so
    earlier days have a little less.
    """
    started = time.perf_counter()
    builder = _Builder(con, seed, data_start, data_end, reference_day, scale, connected_accounts)
    counts = builder.run()
    return GeneratedData(
        platform=builder.accounts[0],
        connected=tuple(builder.accounts[1:]),
        data_start=data_start,
        data_end=data_end,
        row_counts=counts,
        seconds=time.perf_counter() - started,
    )


def measure_generation(
    balance_transactions: int = 1_000_000, *, days: int = 120, seed: int = 42
) -> dict[str, Any]:
    """Generate about ``balance_transactions`` rows into a fresh in-memory database and time it.

    A benchmark, not a test: it returns the figures (rows, seconds, rows per second) for printing,
    e.g. ``python -c "from stripe_emulator.datagen import measure_generation as m; print(m())"``.
    """
    total_days = days + 4
    # Connected accounts add about a fifth on top of the platform's own volume.
    scale = max(1, round(balance_transactions / total_days / 1.1))
    reference = date(2026, 1, 15)
    start = datetime.combine(reference - timedelta(days=days), datetime.min.time(), UTC)
    end = datetime.combine(reference + timedelta(days=4), datetime.min.time(), UTC)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        result = generate(
            con,
            seed=seed,
            data_start=start,
            data_end=end,
            reference_day=reference,
            scale=scale,
            connected_accounts=3,
        )
    finally:
        con.close()
    rows = result.row_counts["balance_transactions"]
    return {
        "scale": scale,
        "days": total_days,
        "balance_transactions": rows,
        "rows_all_tables": sum(result.row_counts.values()),
        "seconds": round(result.seconds, 2),
        "balance_transactions_per_second": round(rows / result.seconds),
    }


# ----------------------------------------------------------------------------------------------
# Counter-based randomness: every value is a hash of (seed, entity, field), never a stream position.


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection on 64-bit integers whose output looks random."""
    with np.errstate(over="ignore"):
        x = x + _U64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> _U64(27))) * _U64(0x94D049BB133111EB)
        return x ^ (x >> _U64(31))


def _seed_salt(seed: int) -> int:
    return int(_mix(np.array([seed & _MASK], dtype=np.uint64))[0])


def _key(kind: int, payload: np.ndarray) -> np.ndarray:
    return (_U64(kind) << _U64(56)) | payload.astype(np.uint64)


def _choice(u: np.ndarray, weights: Any) -> np.ndarray:
    cumulative = np.cumsum(np.asarray(weights, dtype=float))
    cumulative /= cumulative[-1]
    return np.minimum(np.searchsorted(cumulative, u, side="right"), len(cumulative) - 1)


def _choice_rows(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Like :func:`_choice` with a different weight vector per row (rows of ``weights``)."""
    cumulative = np.cumsum(weights, axis=1)
    cumulative /= cumulative[:, -1:]
    return np.minimum((u[:, None] >= cumulative).sum(axis=1), weights.shape[1] - 1)


def _poisson(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Poisson counts by inverting the CDF at ``u`` (exact below 200, normal approximation above)."""
    out = np.zeros(len(lam), dtype=np.int64)
    small = lam < 200
    if small.any():
        rate, target = lam[small], u[small]
        count = np.zeros(len(rate), dtype=np.int64)
        term = np.exp(-rate)
        cdf = term.copy()
        for k in range(1, int(rate.max() + 12 * math.sqrt(rate.max()) + 30)):
            above = target > cdf
            if not above.any():
                break
            count += above
            term = term * rate / k
            cdf = cdf + term
        out[small] = count
    if (~small).any():
        normal = NormalDist()
        z = np.array([normal.inv_cdf(min(max(float(x), 1e-12), 1 - 1e-12)) for x in u[~small]])
        out[~small] = np.maximum(0, np.rint(lam[~small] + np.sqrt(lam[~small]) * z)).astype(np.int64)
    return out


def _expand(days: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per (day, index < count): the day of each row and its index within the day."""
    day = np.repeat(days, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return day, np.arange(len(day), dtype=np.int64) - starts


def _add_months(seconds: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Unix ``seconds`` plus whole months, keeping the day of month (clamped at month end, "
    "as billing does)."""
    moment = seconds.astype("datetime64[s]")
    day = moment.astype("datetime64[D]")
    month = moment.astype("datetime64[M]")
    day_of_month = (day - month.astype("datetime64[D]")).astype(np.int64)
    time_of_day = (moment - day.astype("datetime64[s]")).astype(np.int64)
    target = month + months.astype(np.int64)
    first = target.astype("datetime64[D]")
    length = ((target + 1).astype("datetime64[D]") - first).astype(np.int64)
    landed = first + np.minimum(day_of_month, length - 1)
    return landed.astype("datetime64[s]").astype(np.int64) + time_of_day


def _categorical(codes: np.ndarray, categories: tuple[Any, ...]) -> pd.Categorical:
    """Strings travel to DuckDB as categoricals: small integer codes plus one copy of each value."""
    values = list(dict.fromkeys(c for c in categories if c is not None))
    mapping = np.array([values.index(c) if c is not None else -1 for c in categories], dtype=np.int64)
    return pd.Categorical.from_codes(
        mapping[np.asarray(codes, dtype=np.int64)], categories=pd.Index(values, dtype=object)
    )


# ----------------------------------------------------------------------------------------------
# The generator


class _Builder:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        seed: int,
        data_start: datetime,
        data_end: datetime,
        reference_day: date,
        scale: int,
        n_connected: int,
    ) -> None:
        epoch = date(1970, 1, 1)
        self.con = con
        self.seed = seed
        self.d0 = (data_start.date() - epoch).days
        self.d1 = (data_end.date() - epoch).days
        self.dref = (reference_day - epoch).days
        self.scale = scale
        self.n_connected = n_connected
        self.salt = _seed_salt(seed)
        self.accounts = self._make_accounts()
        self.account_ids = tuple(a.id for a in self.accounts)
        self.counts: dict[str, int] = {}

    # -- randomness ----------------------------------------------------------------------------

    def _u(self, keys: np.ndarray, field: str) -> np.ndarray:
        """A uniform number in [0, 1) per key, stable for a seed, key and field."""
        salt = _mix(
            np.array([(zlib.crc32(field.encode()) * 0x9E3779B1 + self.salt) & _MASK], dtype=np.uint64)
        )[0]
        return (_mix(keys ^ salt) >> _U64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def _normal(self, keys: np.ndarray, field: str) -> np.ndarray:
        u1 = 1.0 - self._u(keys, field + ".1")
        u2 = self._u(keys, field + ".2")
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)

    def _id(self, kind: int, payload: np.ndarray) -> np.ndarray:
        """The number behind an entity's id: distinct for every (kind, payload)."""
        return _mix(_key(kind, payload) ^ _U64(self.salt))

    def _daily_counts(self, days: np.ndarray, rate: float, stream: str) -> np.ndarray:
        growth = np.exp(_GROWTH_PER_DAY * (days - self.dref))
        weekday = _WEEKDAY_FACTORS[(days + 3) % 7] / _WEEKDAY_FACTORS.mean()
        return _poisson(rate * growth * weekday, self._u(_key(_K_DAY, days), "count." + stream))

    def _time_of_day(self, keys: np.ndarray, field: str) -> np.ndarray:
        hour = _choice(self._u(keys, field + ".hour"), _HOUR_WEIGHTS)
        return hour * 3600 + (self._u(keys, field + ".second") * 3600).astype(np.int64)

    def _fx(self, days: np.ndarray) -> np.ndarray:
        """Units of each of CURRENCIES one US dollar buys on each day (rows: days)."""
        phase = self._u(_key(_K_FX, np.arange(len(CURRENCIES))), "phase") * 2 * np.pi
        d = days.astype(float)[:, None]
        keys = _key(
            _K_FX, (days.astype(np.uint64)[:, None] << _U64(8)) | np.arange(len(CURRENCIES), dtype=np.uint64)
        )
        wobble = 0.04 * np.sin(2 * np.pi * d / 173 + phase) + 0.015 * np.sin(2 * np.pi * d / 29 + 2 * phase)
        rates = np.asarray(_USD_RATES) * np.exp(wobble + 0.002 * self._normal(keys, "noise"))
        rates[:, 0] = 1.0
        return np.round(rates, 6)

    # -- accounts ------------------------------------------------------------------------------

    def _make_accounts(self) -> list[Account]:
        numbers = self._id(_K_ACCOUNT, np.arange(self.n_connected + 1))
        base = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=self.d0)
        accounts = [
            Account(
                id=stripe_id("acct_", int(numbers[0])),
                index=0,
                name="Acme Cloud Inc.",
                country="US",
                default_currency="usd",
                timezone=_PLATFORM_TIMEZONE,
                email="finance@acme-cloud.example",
                type="standard",
                created=base - timedelta(days=_HISTORY_DAYS + 30),
                payout_interval="daily",
                payout_weekly_anchor=None,
                payout_delay_days=2,
                application_fee_rate=0.0,
            )
        ]
        for i in range(self.n_connected):
            name, country, currency, tz, interval, anchor, delay, kind, fee = _CONNECTED_TEMPLATES[
                i % len(_CONNECTED_TEMPLATES)
            ]
            if i >= len(_CONNECTED_TEMPLATES):
                name = f"{name} #{i // len(_CONNECTED_TEMPLATES) + 1}"
            slug = "".join(ch for ch in name.lower() if ch.isalnum())[:18]
            accounts.append(
                Account(
                    id=stripe_id("acct_", int(numbers[i + 1])),
                    index=i + 1,
                    name=name,
                    country=country,
                    default_currency=currency,
                    timezone=tz,
                    email=f"payments@{slug}.example",
                    type=kind,
                    created=base - timedelta(days=60 + 37 * i),
                    payout_interval=interval,
                    payout_weekly_anchor=anchor,
                    payout_delay_days=delay,
                    application_fee_rate=fee,
                )
            )
        return accounts

    # -- pipeline ------------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        install_macros(self.con)
        # The generated SQL calls the helper macros unqualified.
        self.con.execute(f"SET search_path = 'main,{RAW_SCHEMA}'")
        try:
            self._write_all()
        finally:
            self.con.execute("RESET search_path")
        return self.counts

    def _write_all(self) -> None:
        self._write_accounts()
        self._write_catalog()
        subs = self._subscriptions()
        invoices = self._invoices(subs)
        charges = self._charges(subs, invoices)
        balance = self._balance(charges)
        self._write_customers()
        self._write_subscriptions(subs)
        self._write_invoices(subs, invoices, charges)
        self._write_charges(charges)
        self._write_balance(balance)
        self._write_exchange_rates()

    def _create(
        self,
        table: str,
        frame: pd.DataFrame,
        select: str,
        order: tuple[str, ...] = ("created", "u"),
        **params: Any,
    ) -> None:
        """``CREATE TABLE stripe_raw.<table> AS SELECT <select> FROM frame``, rows sorted by ``order``.

        In ``select`` the frame's categorical columns are already VARCHAR and its datetime64 columns
        TIMESTAMP. Sorting the frame before DuckDB copies it (DuckDB keeps insertion order) is far
        cheaper than an ORDER BY over the finished, wide rows.
        """
        frame = frame.take(np.lexsort([frame[column].to_numpy() for column in reversed(order)]))
        casts = [
            f"CAST({name} AS VARCHAR) AS {name}"
            for name, dtype in frame.dtypes.items()
            if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype)
        ] + [
            f"CAST({name} AS TIMESTAMP) AS {name}"
            for name, dtype in frame.dtypes.items()
            if pd.api.types.is_datetime64_dtype(dtype)
        ]
        view = f"_generated_{table}"
        source = f"(SELECT * REPLACE ({', '.join(casts)}) FROM {view})" if casts else view  # noqa: S608 - generated names only
        self.con.register(view, frame)
        try:
            self.con.execute(
                f"CREATE OR REPLACE TABLE {RAW_SCHEMA}.{table} AS SELECT {select} FROM {source}",  # noqa: S608 - generated names only
                params or None,
            )
        finally:
            self.con.unregister(view)
        self.counts[table] = len(frame)

    def _accounts_column(self, index: np.ndarray) -> pd.Categorical:
        return _categorical(index, self.account_ids)

    def _rates(self) -> dict[str, float]:
        """Daily rates at the reference day that give the platform about ``scale`` transactions."""
        s = float(self.scale)
        connected_charges = 0.17 * s if self.n_connected else 0.0
        platform_charges = max(1.0, 0.84 * s - 8 - self.n_connected)
        subscription_charges = 0.3 * platform_charges
        # A subscription started d days ago renews today with the probability it is still active;
        # older cohorts were also smaller, as the business grows.
        monthly = (1 - _MONTHLY_CHURN) * math.exp(-30.44 * _GROWTH_PER_DAY)
        yearly = (1 - _YEARLY_CHURN) * math.exp(-365.25 * _GROWTH_PER_DAY)
        invoices_per_daily_start = (1 - _YEARLY_SHARE) * (1 - monthly**_MAX_MONTHS) / (
            1 - monthly
        ) + _YEARLY_SHARE * (1 - yearly**_MAX_YEARS) / (1 - yearly)
        return {
            "subscriptions": subscription_charges / invoices_per_daily_start,
            "orders": platform_charges - subscription_charges,
            "new_customers": 0.25 * (platform_charges - subscription_charges),
            "connected_charges": connected_charges,
        }

    # -- accounts, products, prices ------------------------------------------------------------

    def _write_accounts(self) -> None:
        connected = self.accounts[1:]
        frame = pd.DataFrame(
            {
                "id": pd.Series([a.id for a in connected], dtype=object),
                "business_name": pd.Series([a.name for a in connected], dtype=object),
                "country": pd.Series([a.country for a in connected], dtype=object),
                "created": _timestamps(
                    np.array([int(a.created.timestamp()) for a in connected], dtype=np.int64)
                ),
                "default_currency": pd.Series([a.default_currency for a in connected], dtype=object),
                "email": pd.Series([a.email for a in connected], dtype=object),
                "type": pd.Series([a.type for a in connected], dtype=object),
                "payout_interval": pd.Series([a.payout_interval for a in connected], dtype=object),
                "payout_delay": np.array([a.payout_delay_days for a in connected], dtype=np.int64),
            }
        )
        self._create(
            "accounts",
            frame,
            "id, business_name, 'company' AS business_type, true AS charges_enabled, country, created, "
            "default_currency, true AS details_submitted, email, true AS payouts_enabled, type, "
            "payout_interval AS payout_schedule_interval, payout_delay AS payout_schedule_delay_days, "
            "$platform AS _account, created AS _visible_at",
            ("created", "id"),
            platform=self.accounts[0].id,
        )

    def _unit_amounts(self) -> np.ndarray:
        """Unit amounts (minor units) indexed by [product, settlement currency, yearly]."""
        out = np.zeros((len(_PRODUCTS), len(SETTLEMENT_CURRENCIES), 2), dtype=np.int64)
        for p, product in enumerate(_PRODUCTS):
            for yearly in (0, 1):
                usd = product[1] * (10 if yearly else 1)
                # usd, eur, gbp, cad, jpy: round local prices, not converted ones
                prices = (
                    usd * 100,
                    usd * 100,
                    round(usd * 0.8) * 100,
                    round(usd * 1.35) * 100,
                    round(usd * 150, -2),
                )
                out[p, :, yearly] = prices
        return out

    def _write_catalog(self) -> None:
        created = int((self.accounts[0].created + timedelta(days=1)).timestamp())
        n = len(_PRODUCTS)
        products = pd.DataFrame(
            {
                "u": self._id(_K_PRODUCT, np.arange(n)),
                "name": _categorical(np.arange(n), tuple(p[0] for p in _PRODUCTS)),
                "seats": np.array([p[3] for p in _PRODUCTS]),
                "created": _timestamps(np.full(n, created)),
            }
        )
        self._create(
            "products",
            products,
            "sid('prod_', u) AS id, name, true AS active, created, 'Acme Cloud ' || name AS description, "
            "'ACME CLOUD' AS statement_descriptor, 'service' AS type, "
            "CASE WHEN seats THEN 'seat' END AS unit_label, "
            "$platform AS _account, created AS _visible_at",
            platform=self.accounts[0].id,
        )
        grid = np.meshgrid(np.arange(n), np.arange(len(SETTLEMENT_CURRENCIES)), [0, 1], indexing="ij")
        product, currency, yearly = (axis.ravel() for axis in grid)
        prices = pd.DataFrame(
            {
                "u": self._id(_K_PRICE, _price_payload(product, currency, yearly)),
                "product_u": self._id(_K_PRODUCT, product),
                "product": _categorical(product, tuple(p[0] for p in _PRODUCTS)),
                "currency": _categorical(currency, SETTLEMENT_CURRENCIES),
                "unit_amount": self._unit_amounts()[product, currency, yearly],
                "yearly": yearly.astype(bool),
                "created": _timestamps(np.full(len(product), created)),
            }
        )
        self._create(
            "prices",
            prices,
            "sid('price_', u) AS id, sid('prod_', product_u) AS product_id, true AS active, currency, "
            "unit_amount, "
            "CASE WHEN yearly THEN 'year' ELSE 'month' END AS recurring_interval, "
            "1 AS recurring_interval_count, "
            "'licensed' AS recurring_usage_type, 'recurring' AS type, 'per_unit' AS billing_scheme, "
            "product || CASE WHEN yearly THEN ' yearly' ELSE ' monthly' END AS nickname, created, "
            "$platform AS _account, created AS _visible_at",
            platform=self.accounts[0].id,
        )

    # -- customers and subscriptions -----------------------------------------------------------

    def _subscriptions(self) -> dict[str, np.ndarray]:
        rates = self._rates()
        days = np.arange(self.d0 - _HISTORY_DAYS, self.d1, dtype=np.int64)
        n_sub = self._daily_counts(days, rates["subscriptions"], "subscriptions")
        n_other = self._daily_counts(days, rates["new_customers"], "customers")
        n_other[days < self.d0 - _CUSTOMER_LOOKBACK_DAYS] = 0
        per_day = n_sub + n_other
        self.customer_first_day = int(days[0])
        self.customers_per_day = per_day
        self.customer_offsets = np.cumsum(per_day) - per_day
        # Each day's first n_sub customers sign up with a subscription; the others buy one-off orders.
        c_day, c_idx = _expand(days, per_day)
        payload = (c_day.astype(np.uint64) << _U64(24)) | c_idx.astype(np.uint64)
        keys = _key(_K_CUSTOMER, payload)
        created = c_day * _DAY + np.minimum(self._time_of_day(keys, "created"), _DAY - 1200)
        currency = _choice(self._u(keys, "currency"), _PLATFORM_CURRENCY_MIX)
        place = np.zeros(len(payload), dtype=np.int64)
        u_place = self._u(keys, "place")
        for c, places in enumerate(_PLACES_BY_CURRENCY):
            mine = currency == c
            place[mine] = places.start + np.floor(u_place[mine] * len(places)).astype(np.int64)
        self.customers = {"payload": payload, "created": created, "currency": currency, "place": place}

        subscriber = c_idx < np.repeat(n_sub, per_day)
        s_payload = payload[subscriber]
        s_keys = _key(_K_SUBSCRIPTION, s_payload)
        s_created = created[subscriber] + 30 + (self._u(s_keys, "lag") * 600).astype(np.int64)
        s_currency = currency[subscriber]
        product = _choice(self._u(s_keys, "product"), [p[2] for p in _PRODUCTS])
        yearly = (self._u(s_keys, "yearly") < _YEARLY_SHARE).astype(np.int64)
        seats = np.array([p[3] for p in _PRODUCTS])[product]
        q0 = np.where(seats, np.minimum(1 + np.floor(-np.log(1 - self._u(s_keys, "quantity")) * 5), 40), 1)
        q0 = q0.astype(np.int64)
        life = np.log(1 - self._u(s_keys, "life"))
        periods = np.where(
            yearly == 1,
            np.minimum(1 + np.floor(life / math.log(1 - _YEARLY_CHURN)), _MAX_YEARS),
            np.minimum(1 + np.floor(life / math.log(1 - _MONTHLY_CHURN)), _MAX_MONTHS),
        ).astype(np.int64)
        step = np.where(yearly == 1, 12, 1)
        ended = _add_months(s_created, periods * step)
        # Some seat subscriptions change their quantity at the start of a later period.
        change = seats & (periods >= 2) & (self._u(s_keys, "change") < 0.35)
        change_period = 1 + np.floor(self._u(s_keys, "change.at") * (periods - 1)).astype(np.int64)
        size = self._u(s_keys, "change.size")
        delta = np.where(
            self._u(s_keys, "change.up") < 0.65, 1 + np.floor(size * 6), -(1 + np.floor(size * 3))
        ).astype(np.int64)
        q1 = np.maximum(1, q0 + delta)
        change &= q1 != q0
        q1 = np.where(change, q1, q0)
        change_period = np.where(change, change_period, periods)
        changed_at = np.where(change, _add_months(s_created, change_period * step), -1)
        unit_amount = self._unit_amounts()[product, s_currency, yearly]
        divisor = np.where(yearly == 1, 12, 1)
        debit = self._u(s_keys, "debit") < 0.08
        return {
            "payload": s_payload,
            "created": s_created,
            "currency": s_currency,
            "product": product,
            "yearly": yearly,
            "unit_amount": unit_amount,
            "q0": q0,
            "q1": q1,
            "periods": periods,
            "step": step,
            "ended": ended,
            "change_period": change_period,
            "changed_at": changed_at,
            "mrr0": np.rint(unit_amount * q0 / divisor).astype(np.int64),
            "mrr1": np.rint(unit_amount * q1 / divisor).astype(np.int64),
            "method": np.where(debit, _SUBSCRIPTION_DEBIT_METHOD[s_currency], 0),
        }

    def _invoices(self, subs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        periods = subs["periods"]
        sub = np.repeat(np.arange(len(periods)), periods)
        k = np.arange(len(sub), dtype=np.int64) - np.repeat(np.cumsum(periods) - periods, periods)
        start = _add_months(subs["created"][sub], k * subs["step"][sub])
        keep = (start >= self.d0 * _DAY) & (start < self.d1 * _DAY)
        sub, k, start = sub[keep], k[keep], start[keep]
        payload = (subs["payload"][sub] << _U64(8)) | k.astype(np.uint64)
        keys = _key(_K_INVOICE, payload)
        pay_lag = self._u(keys, "pay")
        # The first invoice is paid at sign-up; renewals are finalised about an hour after the period starts.
        charge_at = np.where(
            k == 0,
            start + 5 + (pay_lag * 60).astype(np.int64),
            start + 3600 + (pay_lag * 1800).astype(np.int64),
        )
        # An invoice whose payment is only attempted after the generated range does not exist yet.
        keep = charge_at < self.d1 * _DAY
        sub, k, start, payload, charge_at = sub[keep], k[keep], start[keep], payload[keep], charge_at[keep]
        quantity = np.where(k >= subs["change_period"][sub], subs["q1"][sub], subs["q0"][sub])
        return {
            "payload": payload,
            "sub": sub,
            "k": k,
            "start": start,
            "end": _add_months(subs["created"][sub], (k + 1) * subs["step"][sub]),
            "quantity": quantity,
            "amount": subs["unit_amount"][sub] * quantity,
            "charge_at": charge_at,
        }

    # -- charges, refunds, disputes ------------------------------------------------------------

    def _charges(self, subs: dict[str, np.ndarray], invoices: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rates = self._rates()
        window = np.arange(self.d0, self.d1, dtype=np.int64)
        parts: list[dict[str, np.ndarray]] = []

        def part(payload: np.ndarray, **columns: Any) -> None:
            n = len(payload)
            row: dict[str, np.ndarray] = {
                "payload": payload,
                "account": np.zeros(n, np.int64),
                "customer": np.full(n, -1, np.int64),
                "flavour": np.full(n, _C_ORDER, np.int64),
                "invoice": np.zeros(n, np.uint64),
                "subscription": np.zeros(n, np.uint64),
                "amount": np.full(n, -1, np.int64),
                "amount_usd": np.zeros(n),
                "method": np.full(n, -1, np.int64),
                "method_key": _key(_K_CHARGE, payload),
            }
            row.update({name: np.broadcast_to(value, (n,)).copy() for name, value in columns.items()})
            parts.append(row)

        # One-off orders on the platform, three in four by a customer who signed up recently.
        day, idx = _expand(window, self._daily_counts(window, rates["orders"], "orders"))
        payload = (_U64(1) << _U64(52)) | (day.astype(np.uint64) << _U64(24)) | idx.astype(np.uint64)
        keys = _key(_K_CHARGE, payload)
        back = np.floor(self._u(keys, "customer.day") * (_CUSTOMER_LOOKBACK_DAYS + 1)).astype(np.int64)
        slot = day - back - self.customer_first_day
        available = self.customers_per_day[slot]
        pick = np.floor(self._u(keys, "customer.pick") * np.maximum(available, 1)).astype(np.int64)
        has_customer = (self._u(keys, "customer") < 0.75) & (available > 0)
        customer = np.where(has_customer, self.customer_offsets[slot] + pick, -1)
        guest_currency = _choice(self._u(keys, "currency"), _PLATFORM_CURRENCY_MIX)
        currency = np.where(has_customer, self.customers["currency"][np.maximum(customer, 0)], guest_currency)
        part(
            payload,
            created=day * _DAY + self._time_of_day(keys, "created"),
            customer=customer,
            currency=currency,
            amount_usd=45.0 * np.exp(0.85 * self._normal(keys, "amount")),
        )

        # Subscription invoices, paid with the subscription's saved payment method.
        sub = invoices["sub"]
        payload = (_U64(2) << _U64(52)) | invoices["payload"]
        customer_row = self.customer_offsets[
            (subs["payload"][sub] >> _U64(24)).astype(np.int64) - self.customer_first_day
        ]
        customer_row = customer_row + (subs["payload"][sub] & _U64(0xFFFFFF)).astype(np.int64)
        part(
            payload,
            created=invoices["charge_at"],
            customer=customer_row,
            currency=subs["currency"][sub],
            flavour=np.where(invoices["k"] == 0, _C_SUB_CREATE, _C_SUB_CYCLE),
            invoice=invoices["payload"],
            subscription=subs["payload"][sub],
            amount=invoices["amount"],
            method=subs["method"][sub],
            method_key=_key(_K_SUBSCRIPTION, subs["payload"][sub]),
        )

        # Direct charges on connected accounts, mostly in the account's own currency.
        weights = np.array([1.0 / a.index**0.7 for a in self.accounts[1:]])
        for account, weight in zip(self.accounts[1:], weights / max(weights.sum(), 1e-9), strict=True):
            n = self._daily_counts(window, rates["connected_charges"] * weight, f"connected.{account.index}")
            day, idx = _expand(window, n)
            payload = (
                (_U64(3) << _U64(52))
                | (_U64(account.index) << _U64(40))
                | (day.astype(np.uint64) << _U64(24))
                | idx.astype(np.uint64)
            )
            keys = _key(_K_CHARGE, payload)
            own = SETTLEMENT_CURRENCIES.index(account.default_currency)
            part(
                payload,
                created=day * _DAY + self._time_of_day(keys, "created"),
                account=account.index,
                currency=np.where(self._u(keys, "currency") < 0.9, own, 0 if own else 1),
                amount_usd=60.0 * np.exp(0.8 * self._normal(keys, "amount")),
            )

        c = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        c["invoice_rows"] = np.array(
            [len(parts[0]["payload"]), len(parts[0]["payload"]) + len(invoices["payload"])]
        )
        return self._charge_details(c)

    def _charge_details(self, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        payload = c["payload"]
        keys = _key(_K_CHARGE, payload)
        day = c["created"] // _DAY
        settle = c["currency"]
        # A few guest orders in USD are presented in another currency and converted at the day's rate.
        converted = (
            (c["account"] == 0)
            & (c["customer"] < 0)
            & (settle == 0)
            & (c["flavour"] == _C_ORDER)
            & (self._u(keys, "convert") < 0.04)
        )
        presentment = np.where(
            converted, 5 + np.floor(self._u(keys, "convert.to") * 4).astype(np.int64), settle
        )
        exponent = np.array([currency_exponent(code) for code in CURRENCIES])[presentment]
        fixed = c["amount"] >= 0
        amount = np.where(
            fixed,
            c["amount"],
            np.maximum(50, np.rint(c["amount_usd"] * np.asarray(_USD_RATES)[presentment] * 10.0**exponent)),
        ).astype(np.int64)
        fx = self._fx(np.arange(self.d0, self.d1))
        rate_of_day = fx[np.clip(day - self.d0, 0, len(fx) - 1), presentment]
        exchange_rate = np.where(converted, np.round(1.0 / rate_of_day, 6), np.nan)
        settled = np.where(converted, np.rint(amount * np.nan_to_num(exchange_rate, nan=1.0)), amount).astype(
            np.int64
        )

        # Payment method: one-off orders draw one per currency; subscriptions keep theirs.
        method = np.where(
            c["method"] >= 0, c["method"], _choice_rows(self._u(keys, "method"), _PAYMENT_METHOD_MIX[settle])
        )
        card = method < _BANK_DEBIT_FROM
        mkeys = c["method_key"]
        brand = _choice(self._u(mkeys, "brand"), _CARD_BRAND_MIX)
        funding = _choice(self._u(mkeys, "funding"), _CARD_FUNDING_MIX)
        home = np.array([_COUNTRIES.index(a.country) for a in self.accounts])[c["account"]]
        customer_country = np.where(
            c["customer"] >= 0, _COUNTRY_OF_PLACE[self.customers["place"][np.maximum(c["customer"], 0)]], home
        )
        abroad = self._u(mkeys, "abroad") < 0.12
        card_country = np.where(
            abroad, np.floor(self._u(mkeys, "country") * len(_COUNTRIES)).astype(np.int64), customer_country
        )
        last4 = np.floor(self._u(mkeys, "last4") * 10000).astype(np.int64)
        exp_month = 1 + np.floor(self._u(mkeys, "exp_month") * 12).astype(np.int64)
        exp_year = 2026 + np.floor(self._u(mkeys, "exp_year") * 6).astype(np.int64)
        failed = self._u(keys, "failed") < np.where(card, 0.05, 0.02)
        failure = _choice(self._u(keys, "failure"), _FAILURE_MIX)

        # Fees: Stripe's processing fee, plus the platform's application fee on connected accounts.
        international = card & (card_country != home)
        percent = _CARD_FEE_PERCENT[settle] + 0.015 * international + 0.01 * converted
        stripe_fee = np.where(
            card,
            np.rint(settled * percent) + _CARD_FEE_FIXED[settle],
            np.minimum(np.rint(settled * 0.008), _DEBIT_FEE_CAP[settle]),
        ).astype(np.int64)
        fee_rate = np.array([a.application_fee_rate for a in self.accounts])[c["account"]]
        application_fee = np.rint(settled * fee_rate).astype(np.int64)

        # Refunds: at most one per charge, sometimes partial.
        ok = ~failed
        refund_chance = np.where(c["account"] > 0, 0.05, np.where(c["flavour"] == _C_ORDER, 0.04, 0.015))
        refund_at = (
            c["created"]
            + 3600
            + np.minimum(-np.log(1 - self._u(keys, "refund.lag")) * 6 * _DAY, 90 * _DAY).astype(np.int64)
        )
        refunded = ok & (self._u(keys, "refund") < refund_chance) & (refund_at < self.d1 * _DAY)
        partial = self._u(keys, "refund.partial") < 0.25
        refund_amount = np.where(
            partial, np.rint(amount * (0.2 + 0.6 * self._u(keys, "refund.share"))), amount
        )
        refund_amount = refund_amount.astype(np.int64)
        refund_settled = np.where(
            converted, np.rint(refund_amount * np.nan_to_num(exchange_rate, nan=1.0)), refund_amount
        ).astype(np.int64)

        # Disputes on card payments that were not refunded; some are won and reversed later.
        dispute_at = c["created"] + ((7 + 53 * self._u(keys, "dispute.lag")) * _DAY).astype(np.int64)
        disputed = ok & card & ~refunded & (self._u(keys, "dispute") < 0.005) & (dispute_at < self.d1 * _DAY)
        won = self._u(keys, "dispute.won") < 0.4
        due_by = (dispute_at // _DAY + 22) * _DAY - 1
        closed_at = np.where(
            won,
            dispute_at + ((25 + 50 * self._u(keys, "dispute.close")) * _DAY).astype(np.int64),
            due_by + ((2 + 8 * self._u(keys, "dispute.close")) * _DAY).astype(np.int64),
        )
        reversed_ = disputed & won & (closed_at < self.d1 * _DAY)
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
            refunded=refunded,
            refund_at=refund_at,
            refund_amount=refund_amount,
            refund_settled=refund_settled,
            refund_reason=_choice(self._u(keys, "refund.reason"), _REFUND_REASON_MIX),
            disputed=disputed,
            dispute_at=dispute_at,
            dispute_won=won,
            dispute_due_by=due_by,
            dispute_closed_at=closed_at,
            dispute_reversed=reversed_,
            dispute_reason=_choice(self._u(keys, "dispute.reason"), _DISPUTE_REASON_MIX),
            order_number=(100000 + np.floor(self._u(keys, "order") * 900000)).astype(np.int64),
        )
        return c

    # -- balance transactions and payouts ------------------------------------------------------

    def _balance(self, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows: list[dict[str, np.ndarray]] = []

        def add(kind: int, payload: np.ndarray, **columns: Any) -> None:
            n = len(payload)
            row: dict[str, np.ndarray] = {
                "kind": np.full(n, kind, np.int64),
                "payload": payload.astype(np.uint64),
                "fee": np.zeros(n, np.int64),
                "source_kind": np.zeros(n, np.int64),
                "source": np.zeros(n, np.uint64),
                "description": np.full(n, _D_NONE, np.int64),
                "charge": np.zeros(n, np.uint64),
                "flavour": np.zeros(n, np.int64),
                "order_number": np.zeros(n, np.int64),
                "customer": np.full(n, -1, np.int64),
                "invoice": np.zeros(n, np.uint64),
                "subscription": np.zeros(n, np.uint64),
                "counterparty": np.full(n, -1, np.int64),
                "exchange_rate": np.full(n, np.nan),
                "facing_amount": np.zeros(n, np.int64),
                "facing_currency": np.full(n, -1, np.int64),
            }
            row.update({name: np.broadcast_to(value, (n,)).copy() for name, value in columns.items()})
            rows.append(row)

        ok = ~c["failed"]

        def charge_linked(mask: np.ndarray) -> dict[str, np.ndarray]:
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

        add(
            _T_CHARGE,
            c["payload"][ok],
            created=c["created"][ok],
            amount=c["settled"][ok],
            fee=(c["stripe_fee"] + c["application_fee"])[ok],
            type=np.where(c["card"], _TYPE["charge"], _TYPE["payment"])[ok],
            category=_CATEGORY["charge"],
            source_kind=_K_CHARGE,
            source=c["payload"][ok],
            description=_D_CHARGE,
            facing_amount=c["amount"][ok],
            **charge_linked(ok),
        )
        m = c["refunded"]
        add(
            _T_REFUND,
            c["payload"][m],
            created=c["refund_at"][m],
            amount=-c["refund_settled"][m],
            type=np.where(c["card"], _TYPE["refund"], _TYPE["payment_refund"])[m],
            category=_CATEGORY["refund"],
            source_kind=_K_REFUND,
            source=c["payload"][m],
            description=_D_REFUND,
            facing_amount=-c["refund_amount"][m],
            **charge_linked(m),
        )
        m = c["disputed"]
        dispute_fee = _DISPUTE_FEE[c["currency"]]
        add(
            _T_DISPUTE,
            c["payload"][m],
            created=c["dispute_at"][m],
            amount=-c["settled"][m],
            fee=dispute_fee[m],
            type=_TYPE["adjustment"],
            category=_CATEGORY["dispute"],
            source_kind=_K_DISPUTE,
            source=c["payload"][m],
            description=_D_DISPUTE,
            facing_amount=-c["amount"][m],
            **charge_linked(m),
        )
        m = c["dispute_reversed"]
        add(
            _T_DISPUTE_REVERSAL,
            c["payload"][m],
            created=c["dispute_closed_at"][m],
            amount=c["settled"][m],
            fee=-dispute_fee[m],
            type=_TYPE["adjustment"],
            category=_CATEGORY["dispute_reversal"],
            source_kind=_K_DISPUTE,
            source=c["payload"][m],
            description=_D_DISPUTE_REVERSAL,
            facing_amount=c["amount"][m],
            **charge_linked(m),
        )
        m = ok & (c["account"] > 0)
        add(
            _T_APP_FEE,
            c["payload"][m],
            created=c["created"][m] + 2,
            account=0,
            currency=c["currency"][m],
            amount=c["application_fee"][m],
            type=_TYPE["application_fee"],
            category=_CATEGORY["platform_earning"],
            source_kind=_K_APP_FEE,
            source=c["payload"][m],
            counterparty=c["account"][m],
            charge=c["payload"][m],
        )

        window = np.arange(self.d0, self.d1, dtype=np.int64)
        rates = self._rates()
        # Transfers from the platform to each connected account on most days.
        for account in self.accounts[1:]:
            payload = (_U64(account.index) << _U64(40)) | (window.astype(np.uint64) << _U64(24))
            keys = _key(_K_TRANSFER, payload)
            happens = self._u(keys, "happens") < 0.85
            payload, keys, day = payload[happens], keys[happens], window[happens]
            own = SETTLEMENT_CURRENCIES.index(account.default_currency)
            usd = 0.02 * rates["orders"] * 45 * np.exp(0.5 * self._normal(keys, "amount"))
            amount = np.maximum(
                100, np.rint(usd * _USD_RATES[own] * 10.0 ** currency_exponent(account.default_currency))
            ).astype(np.int64)
            created = day * _DAY + 6 * 3600 + (self._u(keys, "time") * 4 * 3600).astype(np.int64)
            add(
                _T_TRANSFER_OUT,
                payload,
                created=created,
                account=0,
                currency=own,
                amount=-amount,
                type=_TYPE["transfer"],
                category=_CATEGORY["transfer"],
                source_kind=_K_TRANSFER,
                source=payload,
                counterparty=account.index,
            )
            add(
                _T_TRANSFER_IN,
                payload,
                created=created + 1,
                account=account.index,
                currency=own,
                amount=amount,
                type=_TYPE["payment"],
                category=_CATEGORY["transfer"],
                source_kind=_K_DEST_PAYMENT,
                source=payload,
            )

        # Stripe's own fees, billed daily, and the odd manual balance adjustment.
        for idx, (description, currency, share) in enumerate(
            ((_D_BILLING_FEE, 0, 0.004), (_D_BILLING_FEE, 1, 0.004), (_D_RADAR_FEE, 0, 0.002))
        ):
            payload = (window.astype(np.uint64) << _U64(24)) | _U64(idx)
            keys = _key(_K_STRIPE_FEE, payload)
            volume = rates["orders"] * 45 * _PLATFORM_CURRENCY_MIX[currency] * _USD_RATES[currency] * 100
            amount = np.maximum(1, np.rint(share * volume * np.exp(0.3 * self._normal(keys, "amount"))))
            add(
                _T_STRIPE_FEE,
                payload,
                created=window * _DAY + 3600 + 600 * idx,
                account=0,
                currency=currency,
                amount=-amount.astype(np.int64),
                type=_TYPE["stripe_fee"],
                category=_CATEGORY["fee"],
                description=description,
            )
        keys = _key(_K_ADJUSTMENT, window.astype(np.uint64))
        happens = self._u(keys, "happens") < 0.04
        amount = np.rint(2000 * self._normal(keys, "amount")).astype(np.int64)
        happens &= amount != 0
        add(
            _T_ADJUSTMENT,
            window[happens].astype(np.uint64),
            created=window[happens] * _DAY + 15 * 3600,
            account=0,
            currency=0,
            amount=amount[happens],
            type=_TYPE["adjustment"],
            category=_CATEGORY["other_adjustment"],
            description=_D_ADJUSTMENT,
        )

        b = {name: np.concatenate([r[name] for r in rows]) for name in rows[0]}
        b["net"] = b["amount"] - b["fee"]

        # Funds become available at midnight UTC, the account's delay after the day they arrived.
        delay = np.array([a.payout_delay_days for a in self.accounts])[b["account"]]
        available_day = b["created"] // _DAY + delay
        b["available_on"] = available_day * _DAY
        anchor = np.array(
            [
                _WEEKDAYS.index(a.payout_weekly_anchor)
                if a.payout_interval == "weekly" and a.payout_weekly_anchor
                else -1
                for a in self.accounts
            ]
        )[b["account"]]
        weekday = (available_day + 3) % 7
        payout_day = np.where(anchor >= 0, available_day + (anchor - weekday) % 7, available_day)
        swept = payout_day < self.d1
        payout_payload = (
            (b["account"].astype(np.uint64) << _U64(40))
            | (b["currency"].astype(np.uint64) << _U64(32))
            | payout_day.astype(np.uint64)
        )
        b["payout"] = np.where(swept, payout_payload, _U64(0))
        b["payout_created"] = np.where(swept, payout_day * _DAY, -1)

        # One automatic payout per account, currency and payout day, for everything it sweeps.
        unique, inverse = np.unique(payout_payload[swept], return_inverse=True)
        totals = np.zeros(len(unique), dtype=np.int64)
        np.add.at(totals, inverse, b["net"][swept])
        p_account = (unique >> _U64(40)).astype(np.int64)
        p_currency = ((unique >> _U64(32)) & _U64(0xFF)).astype(np.int64)
        p_day = (unique & _U64(0xFFFFFFFF)).astype(np.int64)
        self.payouts = {
            "payload": unique,
            "account": p_account,
            "currency": p_currency,
            "created": p_day * _DAY,
            "amount": totals,
        }
        rows.clear()
        add(
            _T_PAYOUT,
            unique,
            created=p_day * _DAY,
            account=p_account,
            currency=p_currency,
            amount=-totals,
            type=_TYPE["payout"],
            category=_CATEGORY["payout"],
            source_kind=_K_PAYOUT,
            source=unique,
            description=_D_PAYOUT,
        )
        payouts = {name: np.concatenate([r[name] for r in rows]) for name in rows[0]}
        payouts["net"] = payouts["amount"]
        payouts["available_on"] = payouts["created"]
        payouts["payout"] = np.zeros(len(unique), np.uint64)
        payouts["payout_created"] = np.full(len(unique), -1, np.int64)
        return {name: np.concatenate([b[name], payouts[name]]) for name in b}

    # -- writing tables ------------------------------------------------------------------------

    def _customer_ids(self, rows: np.ndarray) -> np.ndarray:
        """Id numbers of customers by row number (-1, no customer, gives 0)."""
        found = self._id(_K_CUSTOMER, self.customers["payload"][np.maximum(rows, 0)])
        return np.where(rows >= 0, found, _U64(0))

    def _pick(self, keys: np.ndarray, field: str, values: tuple[Any, ...]) -> pd.Categorical:
        return _categorical(np.floor(self._u(keys, field) * len(values)).astype(np.int64), values)

    def _write_customers(self) -> None:
        cu = self.customers
        keys = _key(_K_CUSTOMER, cu["payload"])
        place = cu["place"]
        frame = pd.DataFrame(
            {
                "u": self._id(_K_CUSTOMER, cu["payload"]),
                "created": _timestamps(cu["created"]),
                "first": self._pick(keys, "first", _FIRST_NAMES),
                "last": self._pick(keys, "last", _LAST_NAMES),
                "n": np.floor(self._u(keys, "n") * 100).astype(np.int64),
                "domain": self._pick(keys, "domain", _EMAIL_DOMAINS),
                "currency": _categorical(cu["currency"], SETTLEMENT_CURRENCIES),
                "street_no": 1 + np.floor(self._u(keys, "street_no") * 240).astype(np.int64),
                "street": self._pick(keys, "street", _STREETS),
                "city": _categorical(place, tuple(p[1] for p in _PLACES)),
                "state": _categorical(place, tuple(p[2] for p in _PLACES)),
                "country": _categorical(place, tuple(p[0] for p in _PLACES)),
                "postal": np.floor(self._u(keys, "postal") * 100000).astype(np.int64),
                "coupon": _categorical(
                    _choice(self._u(keys, "coupon"), (0.92, 0.05, 0.03)), (None, "WELCOME10", "ANNUAL20")
                ),
                "described": self._u(keys, "described") < 0.1,
            }
        )
        self._create(
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
            platform=self.accounts[0].id,
        )

    def _write_subscriptions(self, subs: dict[str, np.ndarray]) -> None:
        end_of_data = self.d1 * _DAY
        has_change = (subs["changed_at"] >= 0) & (subs["changed_at"] < end_of_data)
        has_end = subs["ended"] < end_of_data
        price = self._id(_K_PRICE, _price_payload(subs["product"], subs["currency"], subs["yearly"]))
        frame = pd.DataFrame(
            {
                "u": self._id(_K_SUBSCRIPTION, subs["payload"]),
                "item_u": self._id(_K_SUB_ITEM, subs["payload"]),
                "customer_u": self._id(_K_CUSTOMER, subs["payload"]),
                "price_u": price,
                "currency": _categorical(subs["currency"], SETTLEMENT_CURRENCIES),
                "created": _timestamps(subs["created"]),
                "ended": _timestamps(np.where(has_end, subs["ended"], -1)),
                "step": subs["step"],
                "q0": subs["q0"],
                "q1": subs["q1"],
                "changed_at": _timestamps(np.where(has_change, subs["changed_at"], -1)),
            }
        )
        # Hidden columns let Sigma's views show the state as of each run's data_load_time.
        hidden = (
            "ended AS _ended_at, changed_at AS _quantity_changed_at, q0 AS _quantity_before, "
            "q1 AS _quantity_after, "
            "$platform AS _account, created AS _visible_at"
        )
        self._create(
            "subscriptions",
            frame,
            "sid('sub_', u) AS id, sid('cus_', customer_u) AS customer_id, sid('price_', "
            "price_u) AS price_id, "
            "currency, created, created AS start_date, created AS billing_cycle_anchor, "
            f"'charge_automatically' AS collection_method, step AS _interval_months, {hidden}",
            platform=self.accounts[0].id,
        )
        self._create(
            "subscription_items",
            frame,
            "sid('si_', item_u) AS id, sid('sub_', u) AS subscription_id, sid('price_', "
            "price_u) AS price_id, "
            f"created, {hidden}",
            platform=self.accounts[0].id,
        )

        # Change events: the start, a quantity change, the end; MRR changes in minor units.
        n = len(subs["payload"])
        rows = np.concatenate([np.arange(n), np.flatnonzero(has_change), np.flatnonzero(has_end)])
        final_mrr = np.where(has_change, subs["mrr1"], subs["mrr0"])
        final_quantity = np.where(has_change, subs["q1"], subs["q0"])
        kind = np.concatenate(
            [
                np.zeros(n, np.int64),
                np.where(subs["q1"] > subs["q0"], 1, 2)[has_change],
                np.full(has_end.sum(), 3),
            ]
        )
        events = pd.DataFrame(
            {
                "event_at": _timestamps(
                    np.concatenate([subs["created"], subs["changed_at"][has_change], subs["ended"][has_end]])
                ),
                "type": _categorical(
                    kind, ("ACTIVE_START", "QUANTITY_INCREASE", "QUANTITY_DECREASE", "ACTIVE_END")
                ),
                "mrr": np.concatenate(
                    [subs["mrr0"], (subs["mrr1"] - subs["mrr0"])[has_change], -final_mrr[has_end]]
                ),
                "quantity": np.concatenate(
                    [subs["q0"], (subs["q1"] - subs["q0"])[has_change], -final_quantity[has_end]]
                ),
                "u": frame["u"].to_numpy()[rows],
                "item_u": frame["item_u"].to_numpy()[rows],
                "customer_u": frame["customer_u"].to_numpy()[rows],
                "price_u": price[rows],
                "product_u": self._id(_K_PRODUCT, subs["product"][rows]),
                "currency": _categorical(subs["currency"][rows], SETTLEMENT_CURRENCIES),
            }
        )
        self._create(
            "subscription_item_change_events",
            events,
            "event_at AS event_timestamp, timezone($tz, "
            "CAST(event_at AS TIMESTAMPTZ)) AS local_event_timestamp, "
            "type AS event_type, currency, mrr AS mrr_change, quantity AS quantity_change, "
            "sid('prod_', product_u) AS product_id, sid('price_', price_u) AS price_id, "
            "sid('cus_', customer_u) AS customer_id, sid('sub_', u) AS subscription_id, "
            "sid('si_', item_u) AS subscription_item_id, $platform AS _account, event_at AS _visible_at",
            ("event_at", "u"),
            platform=self.accounts[0].id,
            tz=_PLATFORM_TIMEZONE,
        )

    def _write_invoices(
        self, subs: dict[str, np.ndarray], inv: dict[str, np.ndarray], c: dict[str, np.ndarray]
    ) -> None:
        first, last = c["invoice_rows"]
        sub = inv["sub"]
        charge = c["payload"][first:last]
        frame = pd.DataFrame(
            {
                "u": self._id(_K_INVOICE, inv["payload"]),
                "line_u": self._id(_K_LINE, inv["payload"]),
                "charge_u": self._id(_K_CHARGE, charge),
                "intent_u": self._id(_K_PAYMENT_INTENT, charge),
                "sub_u": self._id(_K_SUBSCRIPTION, subs["payload"][sub]),
                "item_u": self._id(_K_SUB_ITEM, subs["payload"][sub]),
                "customer_u": self._id(_K_CUSTOMER, subs["payload"][sub]),
                "price_u": self._id(
                    _K_PRICE, _price_payload(subs["product"][sub], subs["currency"][sub], subs["yearly"][sub])
                ),
                "product": _categorical(subs["product"][sub], tuple(p[0] for p in _PRODUCTS)),
                "yearly": subs["yearly"][sub].astype(bool),
                "unit_amount": subs["unit_amount"][sub],
                "currency": _categorical(subs["currency"][sub], SETTLEMENT_CURRENCIES),
                "created": _timestamps(inv["start"]),
                "period_end": _timestamps(inv["end"]),
                "k": inv["k"],
                "quantity": inv["quantity"],
                "amount": inv["amount"],
                "paid": ~c["failed"][first:last],
            }
        )
        self._create(
            "invoices",
            frame,
            "sid('in_', u) AS id, sid('cus_', customer_u) AS customer_id, sid('sub_', "
            "sub_u) AS subscription_id, "
            "CASE WHEN paid THEN 'paid' ELSE 'open' END AS status, created, currency, amount AS amount_due, "
            "CASE WHEN paid THEN amount ELSE 0 END AS amount_paid, "
            "CASE WHEN paid THEN 0 ELSE amount END AS amount_remaining, amount AS subtotal, amount AS total, "
            "0 AS tax, created AS period_start, period_end, "
            "upper(substr(sid('', customer_u), 2, 8)) || '-' || lpad(CAST(k + 1 AS VARCHAR), 4, "
            "'0') AS number, "
            "paid, sid('ch_', charge_u) AS charge_id, sid('pi_', intent_u) AS payment_intent_id, "
            "CASE WHEN k = 0 THEN 'subscription_create' ELSE 'subscription_cycle' END AS billing_reason, "
            "'charge_automatically' AS collection_method, 1 AS attempt_count, "
            "u AS _u, $platform AS _account, created AS _visible_at",
            platform=self.accounts[0].id,
        )
        interval = "CASE WHEN yearly THEN 'year' ELSE 'month' END"
        self._create(
            "invoice_line_items",
            frame,
            "sid('il_', line_u) AS id, sid('in_', u) AS invoice_id, sid('sub_', sub_u) AS source_id, "
            "'subscription' AS source_type, CAST(NULL AS VARCHAR) AS subscription, "
            "sid('si_', item_u) AS subscription_item_id, amount, currency, quantity, sid('price_', "
            "price_u) AS price_id, "
            "created AS period_start, period_end, false AS proration, "
            "quantity || ' x ' || product || ' (at ' || upper(currency) || ' ' || major(unit_amount, "
            "currency) "
            f"|| ' / ' || {interval} || ')' AS description, "
            "$platform AS _account, created AS _visible_at",
            ("created", "line_u"),
            platform=self.accounts[0].id,
        )

    def _write_charges(self, c: dict[str, np.ndarray]) -> None:
        p = c["payload"]
        card = c["card"]
        failed = c["failed"]
        failure = np.where(failed, c["failure"], len(_FAILURE_CODES))
        frame = pd.DataFrame(
            {
                "u": self._id(_K_CHARGE, p),
                "intent_u": self._id(_K_PAYMENT_INTENT, p),
                "txn_u": self._id(_T_CHARGE, p),
                "customer_u": self._customer_ids(c["customer"]),
                "invoice_u": np.where(c["invoice"] > 0, self._id(_K_INVOICE, c["invoice"]), _U64(0)),
                "fee_u": np.where(c["application_fee"] > 0, self._id(_K_APP_FEE, p), _U64(0)),
                "account": self._accounts_column(c["account"]),
                "created": _timestamps(c["created"]),
                "currency": _categorical(c["presentment"], CURRENCIES),
                "amount": c["amount"],
                "failed": failed,
                "failure": _categorical(failure, (*_FAILURE_CODES, None)),
                "failure_message": _categorical(failure, (*_FAILURE_MESSAGES, None)),
                "flavour": c["flavour"],
                "order_number": c["order_number"],
                "method": _categorical(c["method"], _PAYMENT_METHOD_TYPES),
                "brand": _categorical(np.where(card, c["brand"], len(_CARD_BRANDS)), (*_CARD_BRANDS, None)),
                "funding": _categorical(
                    np.where(card, c["funding"], len(_CARD_FUNDING)), (*_CARD_FUNDING, None)
                ),
                "card_country": _categorical(
                    np.where(card, c["card_country"], len(_COUNTRIES)), (*_COUNTRIES, None)
                ),
                "last4": np.where(card, c["last4"], -1),
                "exp_month": np.where(card, c["exp_month"], -1),
                "exp_year": np.where(card, c["exp_year"], -1),
                "is_link": c["method"] == _PAYMENT_METHOD_TYPES.index("link"),
                "descriptor": _categorical(c["account"], tuple(a.name.upper()[:22] for a in self.accounts)),
                "application_fee": c["application_fee"],
                "refunded_at": _timestamps(np.where(c["refunded"], c["refund_at"], -1)),
                "refund_amount": np.where(c["refunded"], c["refund_amount"], 0),
                "disputed_at": _timestamps(np.where(c["disputed"], c["dispute_at"], -1)),
            }
        )
        self._create(
            "charges",
            frame,
            "sid('ch_', u) AS id, amount, CASE WHEN failed THEN 0 ELSE amount END AS amount_captured, "
            "CASE WHEN application_fee > 0 THEN application_fee END AS application_fee_amount, "
            "sidn('fee_', fee_u) AS application_fee_id, "
            "CASE WHEN NOT failed THEN sid('txn_', txn_u) END AS balance_transaction_id, "
            "NOT failed AS captured, "
            "created, currency, sidn('cus_', customer_u) AS customer_id, "
            f"{_CHARGE_DESCRIPTION_SQL} AS description, "
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
            "u AS _u, account AS _account, created AS _visible_at",
        )

        m = c["refunded"]
        refunds = pd.DataFrame(
            {
                "u": self._id(_K_REFUND, p[m]),
                "charge_u": self._id(_K_CHARGE, p[m]),
                "intent_u": self._id(_K_PAYMENT_INTENT, p[m]),
                "txn_u": self._id(_T_REFUND, p[m]),
                "account": self._accounts_column(c["account"][m]),
                "created": _timestamps(c["refund_at"][m]),
                "amount": c["refund_amount"][m],
                "currency": _categorical(c["presentment"][m], CURRENCIES),
                "reason": _categorical(c["refund_reason"][m], _REFUND_REASONS),
            }
        )
        self._create(
            "refunds",
            refunds,
            "sid('re_', u) AS id, amount, sid('txn_', txn_u) AS balance_transaction_id, sid('ch_', "
            "charge_u) AS charge_id, "
            "created, currency, sid('pi_', intent_u) AS payment_intent_id, reason, 'succeeded' AS status, "
            "account AS _account, created AS _visible_at",
        )

        m = c["disputed"]
        closed = c["dispute_closed_at"][m]
        disputes = pd.DataFrame(
            {
                "u": self._id(_K_DISPUTE, p[m]),
                "charge_u": self._id(_K_CHARGE, p[m]),
                "intent_u": self._id(_K_PAYMENT_INTENT, p[m]),
                "txn_u": self._id(_T_DISPUTE, p[m]),
                "account": self._accounts_column(c["account"][m]),
                "created": _timestamps(c["dispute_at"][m]),
                "amount": c["amount"][m],
                "currency": _categorical(c["presentment"][m], CURRENCIES),
                "reason": _categorical(c["dispute_reason"][m], _DISPUTE_REASONS),
                "due_by": _timestamps(c["dispute_due_by"][m]),
                "closed_at": _timestamps(np.where(closed < self.d1 * _DAY, closed, -1)),
                "won": c["dispute_won"][m],
            }
        )
        self._create(
            "disputes",
            disputes,
            "sid('dp_', u) AS id, amount, sid('txn_', txn_u) AS balance_transaction_id, sid('ch_', "
            "charge_u) AS charge_id, "
            "created, currency, due_by AS evidence_due_by, false AS is_charge_refundable, "
            "sid('pi_', intent_u) AS payment_intent_id, reason, closed_at AS _closed_at, "
            "CASE WHEN won THEN 'won' ELSE 'lost' END AS _outcome, "
            "u AS _u, account AS _account, created AS _visible_at",
        )

        m = ~failed & (c["account"] > 0)
        fees = pd.DataFrame(
            {
                "u": self._id(_K_APP_FEE, p[m]),
                "charge_u": self._id(_K_CHARGE, p[m]),
                "txn_u": self._id(_T_APP_FEE, p[m]),
                "payer": self._accounts_column(c["account"][m]),
                "created": _timestamps(c["created"][m] + 2),
                "amount": c["application_fee"][m],
                "currency": _categorical(c["currency"][m], SETTLEMENT_CURRENCIES),
            }
        )
        self._create(
            "application_fees",
            fees,
            "sid('fee_', u) AS id, payer AS account_id, amount, 0 AS amount_refunded, "
            "sid('txn_', txn_u) AS balance_transaction_id, sid('ch_', charge_u) AS charge_id, created, "
            "currency, "
            "false AS refunded, $platform AS _account, created AS _visible_at",
            platform=self.accounts[0].id,
        )

    def _write_balance(self, b: dict[str, np.ndarray]) -> None:
        source_u = np.zeros(len(b["kind"]), dtype=np.uint64)
        for kind in _SOURCE_PREFIX:
            mine = b["source_kind"] == kind
            source_u[mine] = self._id(kind, b["source"][mine])
        no_counterparty = len(self.accounts)
        frame = pd.DataFrame(
            {
                "u": _mix(((b["kind"].astype(np.uint64) << _U64(56)) | b["payload"]) ^ _U64(self.salt)),
                "account": self._accounts_column(b["account"]),
                "created": _timestamps(b["created"]),
                "available_on": _timestamps(b["available_on"]),
                "currency": _categorical(b["currency"], SETTLEMENT_CURRENCIES),
                "amount": b["amount"],
                "fee": b["fee"],
                "net": b["net"],
                "type": _categorical(b["type"], _TYPES),
                "category": _categorical(b["category"], _CATEGORIES),
                "source_kind": b["source_kind"],
                "source_u": source_u,
                "description": b["description"],
                "flavour": b["flavour"],
                "order_number": b["order_number"],
                "day": _timestamps(b["created"] // _DAY * _DAY),
                "charge_u": np.where(b["charge"] > 0, self._id(_K_CHARGE, b["charge"]), _U64(0)),
                "dispute_u": np.where(
                    b["source_kind"] == _K_DISPUTE, self._id(_K_DISPUTE, b["source"]), _U64(0)
                ),
                "customer_u": self._customer_ids(b["customer"]),
                "invoice_u": np.where(b["invoice"] > 0, self._id(_K_INVOICE, b["invoice"]), _U64(0)),
                "sub_u": np.where(
                    b["subscription"] > 0, self._id(_K_SUBSCRIPTION, b["subscription"]), _U64(0)
                ),
                "counterparty": _categorical(
                    np.where(b["counterparty"] >= 0, b["counterparty"], no_counterparty),
                    (*self.account_ids, None),
                ),
                "py_u": np.where(
                    b["kind"] == _T_TRANSFER_OUT, self._id(_K_DEST_PAYMENT, b["source"]), _U64(0)
                ),
                "exchange_rate": b["exchange_rate"],
                "facing_amount": b["facing_amount"],
                "facing_currency": _categorical(
                    np.where(b["facing_currency"] >= 0, b["facing_currency"], len(CURRENCIES)),
                    (*CURRENCIES, None),
                ),
                "payout_u": np.where(b["payout"] > 0, self._id(_K_PAYOUT, b["payout"]), _U64(0)),
                "payout_created": _timestamps(b["payout_created"]),
            }
        )
        source_id = " ".join(
            f"WHEN {kind} THEN sid('{prefix}', source_u)" for kind, prefix in _SOURCE_PREFIX.items()
        )
        self._create(
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

        po = self.payouts
        bank = (po["account"].astype(np.uint64) << _U64(8)) | po["currency"].astype(np.uint64)
        payouts = pd.DataFrame(
            {
                "u": self._id(_K_PAYOUT, po["payload"]),
                "txn_u": self._id(_T_PAYOUT, po["payload"]),
                "bank_u": self._id(_K_BANK_ACCOUNT, bank),
                "account": self._accounts_column(po["account"]),
                "created": _timestamps(po["created"]),
                "amount": po["amount"],
                "currency": _categorical(po["currency"], SETTLEMENT_CURRENCIES),
                "trace": np.floor(self._u(_key(_K_PAYOUT, po["payload"]), "trace") * 1e15).astype(np.int64),
            }
        )
        usd = "currency = 'usd'"
        self._create(
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

        out = b["kind"] == _T_TRANSFER_OUT
        transfers = pd.DataFrame(
            {
                "u": self._id(_K_TRANSFER, b["source"][out]),
                "txn_u": self._id(_T_TRANSFER_OUT, b["payload"][out]),
                "py_u": self._id(_K_DEST_PAYMENT, b["source"][out]),
                "destination": self._accounts_column(b["counterparty"][out]),
                "created": _timestamps(b["created"][out]),
                "amount": -b["amount"][out],
                "currency": _categorical(b["currency"][out], SETTLEMENT_CURRENCIES),
            }
        )
        self._create(
            "transfers",
            transfers,
            "sid('tr_', u) AS id, amount, 0 AS amount_reversed, sid('txn_', "
            "txn_u) AS balance_transaction_id, "
            "created, currency, CAST(NULL AS VARCHAR) AS description, destination AS destination_id, "
            "sid('py_', py_u) AS destination_payment_id, false AS reversed, "
            "CAST(NULL AS VARCHAR) AS transfer_group, "
            "$platform AS _account, created AS _visible_at",
            platform=self.accounts[0].id,
        )

    def _write_exchange_rates(self) -> None:
        days = np.arange(self.d0, self.d1, dtype=np.int64)
        rates = [dict(zip(CURRENCIES, map(float, row), strict=True)) for row in self._fx(days)]
        frame = pd.DataFrame(
            {
                "day": _timestamps(days * _DAY),
                "rates": pd.Series([json.dumps(row, sort_keys=True) for row in rates], dtype=object),
            }
        )
        self._create(
            "exchange_rates_from_usd",
            frame,
            "CAST(day AS DATE) AS date, rates AS buy_currency_exchange_rates, "
            "CAST(NULL AS VARCHAR) AS _account, "
            "day AS _visible_at",
            ("day",),
        )


def _price_payload(product: Any, currency: Any, yearly: Any) -> Any:
    return np.asarray(product) * 100 + np.asarray(currency) * 2 + np.asarray(yearly)


def _timestamps(seconds: np.ndarray) -> np.ndarray:
    """Unix seconds (negative: none) as datetime64 values (NaT: none), which DuckDB reads as TIMESTAMP."""
    out = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]")
    out[np.asarray(seconds) < 0] = np.datetime64("NaT")
    return out


_CHARGE_DESCRIPTION_SQL = (
    "CASE flavour WHEN 2 THEN 'Subscription creation' WHEN 3 THEN 'Subscription update' "
    "ELSE 'Order #' || order_number END"
)
_BALANCE_DESCRIPTION_SQL = (
    f"CASE description WHEN {_D_CHARGE} THEN {_CHARGE_DESCRIPTION_SQL} "
    f"WHEN {_D_REFUND} THEN 'REFUND FOR CHARGE (' || {_CHARGE_DESCRIPTION_SQL} || ')' "
    f"WHEN {_D_DISPUTE} THEN 'Chargeback withdrawal for ' || sid('ch_', charge_u) "
    f"WHEN {_D_DISPUTE_REVERSAL} THEN 'Chargeback reversal for ' || sid('ch_', charge_u) "
    f"WHEN {_D_PAYOUT} THEN 'STRIPE PAYOUT' "
    f"WHEN {_D_BILLING_FEE} THEN 'Billing - Usage Fee (' || strftime(day, '%Y-%m-%d') || ')' "
    f"WHEN {_D_RADAR_FEE} THEN 'Radar (' || strftime(day, '%Y-%m-%d') || ')' "
    f"WHEN {_D_ADJUSTMENT} THEN 'Balance adjustment' END"
)
