"""The ``stripe_raw`` schema, the SQL macros its tables and the report queries share, and Stripe's
own Sigma functions."""

from __future__ import annotations

import duckdb

from stripe_emulator.datagen.currencies import THREE_DECIMAL_CURRENCIES, ZERO_DECIMAL_CURRENCIES

RAW_SCHEMA = "stripe_raw"
"""Where the generated tables live, with the hidden columns Sigma never shows."""


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


SIGMA_FUNCTIONS: dict[str, str] = {
    "decimalize_amount": "double",
    "decimalize_amount_no_display": "double",
    "stringify_amount": "varchar",
}
"""Stripe's Sigma helper functions the emulator has, with the Trino type each returns."""


def install_sigma_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Stripe's Sigma helpers, as macros in ``main`` so a Sigma query calls them unqualified.

    Stripe's query templates use them to show minor-unit amounts in major units:
    ``decimalize_amount(currency, amount[, digits])`` and its ``_no_display`` twin give a number
    (``decimalize_amount_no_display('usd', 123456, 2)`` is 1234.56; JPY has no minor unit, KWD three),
    rounded to ``digits`` decimals when given. ``stringify_amount(currency, amount[, separator])``
    gives the exact text with the currency's decimals (``'12.50'``; ``'12,50'`` with ``','``), as
    in the price tier example of docs.stripe.com/stripe-data/query-billing-data.
    """
    install_macros(con)
    scale = f"power(10, {RAW_SCHEMA}.currency_exponent(currency))"
    number = f"CAST(amount AS DOUBLE) / {scale}"
    text = f"{RAW_SCHEMA}.major(CAST(round(amount) AS BIGINT), currency)"
    for name in ("decimalize_amount", "decimalize_amount_no_display"):
        con.execute(
            f"CREATE OR REPLACE MACRO main.{name}(currency, amount) AS {number}, "
            f"(currency, amount, digits) AS round({number}, digits)"
        )
    con.execute(
        f"CREATE OR REPLACE MACRO main.stringify_amount(currency, amount) AS {text}, "
        f"(currency, amount, separator) AS replace({text}, '.', separator)"
    )
