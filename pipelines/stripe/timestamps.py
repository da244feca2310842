"""Stripe's time representations: unix seconds (v1 JSON and form parameters) and RFC 3339 strings (v2).

v1 objects carry integer unix seconds; ``/v2`` objects carry RFC 3339 strings with anything from
no fraction to nanoseconds (``2026-10-05T21:02:00.919623613Z``). Both are read into tz-aware UTC
datetimes here and nowhere else, so every module compares instants the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# Date, time, an optional fraction of any length, and a mandatory offset (RFC 3339 section 5.6).
_RFC3339 = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<fraction>\d+))?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})$"
)


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
    _require_aware(moment)
    return int(moment.timestamp())


def from_rfc3339(value: Any) -> datetime:
    """A ``/v2`` timestamp (RFC 3339, e.g. ``2026-10-05T21:02:00.919623613Z``) as tz-aware UTC.

    Fractions beyond microseconds are truncated (a datetime holds no more); a missing offset is
    refused, since RFC 3339 requires one and guessing a zone would shift the instant.
    Raises :class:`ValueError` for anything else.
    """
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"expected an RFC 3339 timestamp, got {value!r}")
    # Normalised to six fraction digits so that the parse does not depend on how many digits this
    # Python's fromisoformat accepts.
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    offset = "+00:00" if match["offset"] in ("Z", "z") else match["offset"]
    text = f"{match['base'][:10]}T{match['base'][11:]}.{fraction}{offset}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected an RFC 3339 timestamp, got {value!r}") from None
    return moment.astimezone(UTC)


def optional_from_rfc3339(value: Any) -> datetime | None:
    """Like :func:`from_rfc3339`, but ``None`` stays ``None`` (v2's nullable timestamps)."""
    return None if value is None else from_rfc3339(value)


def to_rfc3339(moment: datetime) -> str:
    """A tz-aware datetime as v2 parameters spell it: UTC, milliseconds, ``Z`` (``2026-11-08T00:00:00.000Z``).

    Sub-millisecond digits are dropped (window bounds are whole days). Naive datetimes are refused,
    as in :func:`to_unix`.
    """
    _require_aware(moment)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} has no time zone; pass a tz-aware datetime")
