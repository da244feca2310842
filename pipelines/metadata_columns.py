"""Stripe's metadata columns of itemized reports, and the warehouse names they land under.

An itemized report can show one metadata key of the related payment, refund or transfer per column,
asked for as ``payment_metadata[order_id]``, ``refund_metadata[reason]`` or
``transfer_metadata[key]``. Those names are not warehouse identifiers, so the column lands as
``payment_metadata__order_id``: the key lower-cased, anything but letters, digits and ``_`` made
``_``. Two columns landing under one name are a catalogue mistake, found before any run.
"""

from __future__ import annotations

import re

METADATA_COLUMN = re.compile(r"^(?P<kind>payment|refund|transfer)_metadata\[(?P<key>.*)\]$", re.DOTALL)
"""A metadata column as Stripe names it; the key is checked by :func:`warehouse_name`."""
MAX_KEY_LENGTH = 40
"""Stripe's limit on a metadata key."""

_NOT_IDENTIFIER = re.compile(r"[^a-z0-9_]+")


def is_metadata_column(name: str) -> bool:
    """Whether ``name`` asks for a metadata key (``payment_metadata[...]`` and its siblings)."""
    return bool(METADATA_COLUMN.match(name))


def warehouse_name(name: str) -> str:
    """The warehouse column of Stripe's metadata column ``name``: ``payment_metadata[Order-ID]`` lands
    as ``payment_metadata__order_id``.

    Raises ValueError, saying what a valid column looks like, for a key that is empty, longer than
    Stripe allows, holds brackets or has no letter or digit to name the column by.
    """
    match = METADATA_COLUMN.match(name)
    if match is None:
        raise ValueError(
            f"{name!r} is not a metadata column: write payment_metadata[key], refund_metadata[key] "
            "or transfer_metadata[key]"
        )
    kind, key = match["kind"], match["key"]
    if not key or len(key) > MAX_KEY_LENGTH or any(c in key for c in "[]\r\n"):
        raise ValueError(
            f"{name!r}: a metadata key is 1 to {MAX_KEY_LENGTH} characters without square brackets "
            "or line breaks, e.g. payment_metadata[order_id]"
        )
    slug = _NOT_IDENTIFIER.sub("_", key.lower()).strip("_")
    if not slug:
        raise ValueError(f"{name!r}: the key needs a letter or digit to name its warehouse column by")
    return f"{kind}_metadata__{slug}"
