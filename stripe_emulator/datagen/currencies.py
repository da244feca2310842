"""Currencies: which ones exist in the data, how many minor units they have, what a dollar buys."""

from __future__ import annotations

SETTLEMENT_CURRENCIES = ("usd", "eur", "gbp", "cad", "jpy")
"""Currencies balances are kept in; their position is the currency code in the simulation's arrays."""
CURRENCIES = (*SETTLEMENT_CURRENCIES, "aud", "chf", "sek", "nzd")
"""Every currency a customer may pay in: the settlement currencies, then presentment-only ones."""
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

# Units of each of CURRENCIES one US dollar buys; the daily rates move around these.
USD_RATES = (1.0, 0.92, 0.79, 1.36, 151.0, 1.52, 0.88, 10.6, 1.66)
# Share of the platform's customers settling in each of SETTLEMENT_CURRENCIES.
PLATFORM_CURRENCY_MIX = (0.58, 0.17, 0.11, 0.07, 0.07)


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of the currency's major unit (JPY 0, USD 2, KWD 3)."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2
