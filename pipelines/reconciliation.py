"""Comparing two landed reports' totals: which groups (day, currency, payout) disagree, and by how much.

The warehouse computes the totals (``Warehouse.grouped_totals``); this module only compares them, so
the comparison is the same for every pair of reports and every warehouse. What a mismatch carries
is what the check may show: its key (day, currency, payout id) and the amounts on each side — never
a row's other contents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)

# Stripe's own lists (docs.stripe.com/currencies): amounts in these currencies have no minor unit,
# or three decimals. ISO 4217's exponents differ from Stripe's for some (ISK, HUF, TWD, UGX), so
# the list is Stripe's, not a currency library's.
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


def currency_exponent(currency: str) -> int:
    """Digits of Stripe's minor unit in ``currency``'s major unit (JPY 0, USD 2, KWD 3)."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def to_major_units(amount: Decimal, currency: str) -> Decimal:
    """An amount in Stripe's minor units (Sigma's integers) in major units (the reports' decimals)."""
    return amount.scaleb(-currency_exponent(currency))


@dataclass(frozen=True)
class Mismatch:
    """One group whose totals differ: its key (``day``, ``currency``, ``payout_id``...) and amounts."""

    key: dict[str, str]
    amounts: dict[str, Decimal]

    def as_json(self) -> dict[str, str]:
        """Key and amounts as text (exact decimals), for metadata."""
        return {**self.key, **{name: str(value) for name, value in self.amounts.items()}}

    def describe(self) -> str:
        """``2026-11-07 usd: payout 12.00, transactions 11.00``."""
        amounts = ", ".join(f"{name} {value}" for name, value in self.amounts.items())
        return f"{' '.join(self.key.values())}: {amounts}"


def by_lower_currency(
    totals: Mapping[tuple[str, ...], tuple[Decimal, ...]], currency_at: int
) -> dict[tuple[str, ...], tuple[Decimal, ...]]:
    """``totals`` with the currency (at ``currency_at`` in each key) lower-cased, merging groups.

    Currencies are lower case at Stripe; a report may still write them otherwise.
    """
    merged: dict[tuple[str, ...], tuple[Decimal, ...]] = {}
    for key, values in totals.items():
        normal = (*key[:currency_at], key[currency_at].lower(), *key[currency_at + 1 :])
        previous = merged.get(normal)
        merged[normal] = (
            values if previous is None else tuple(a + b for a, b in zip(previous, values, strict=True))
        )
    return merged


def mismatches(
    left: Mapping[tuple[str, ...], Sequence[Decimal]],
    right: Mapping[tuple[str, ...], Sequence[Decimal]],
    *,
    key_names: Sequence[str],
    labels: Sequence[tuple[str, str]],
) -> list[Mismatch]:
    """Groups where any of the paired amounts differ, sorted by key; a group missing on one side is 0.

    ``labels`` names each amount pair (left, right), in the order of the totals' values.
    """
    width = len(labels)
    missing = (ZERO,) * width
    found = []
    for key in sorted(set(left) | set(right)):
        ours, theirs = tuple(left.get(key, missing)), tuple(right.get(key, missing))
        if ours == theirs:
            continue
        amounts: dict[str, Decimal] = {}
        for (left_label, right_label), a, b in zip(labels, ours, theirs, strict=True):
            if a != b:
                amounts[left_label] = a
                amounts[right_label] = b
                amounts[f"{left_label}_minus_{right_label}"] = a - b
        found.append(Mismatch(dict(zip(key_names, key, strict=True)), amounts))
    return found


def difference_by_currency(
    found: Sequence[Mismatch], label: str, currency_key: str = "currency"
) -> dict[str, str]:
    """The summed ``label`` differences of ``found`` per currency, as exact text."""
    totals: dict[str, Decimal] = {}
    for mismatch in found:
        if label in mismatch.amounts:
            currency = mismatch.key[currency_key]
            totals[currency] = totals.get(currency, ZERO) + mismatch.amounts[label]
    return {currency: str(total) for currency, total in sorted(totals.items())}
