"""Stripe's time representation: integer unix seconds in JSON and in form parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def from_unix(value: Any) -> datetime:
    """A Stripe timestamp (unix seconds) as a tz-aware UTC datetime.

    Raises :class:`ValueError` for anything that is not a number, so a malformed response fails
    where it is read instead of as a confusing comparison later.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected unix seconds, got {value!r}")
    return datetime.fromtimestamp(value, tz=UTC)


def optional_from_unix(value: Any) -> datetime | None:
    """Like :func:`from_unix`, but ``None`` stays ``None`` (Stripe's nullable timestamps)."""
    return None if value is None else from_unix(value)


def to_unix(moment: datetime) -> int:
    """A tz-aware datetime as whole unix seconds (Stripe's parameters have no sub-second part).

    Naive datetimes are refused: Stripe intervals are absolute instants and guessing a zone for
    them shifts a report window by hours without any error.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} has no time zone; pass a tz-aware datetime")
    return int(moment.timestamp())
