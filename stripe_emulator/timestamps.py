"""Timestamp conversions the emulator's modules share: Unix seconds, ISO 8601 text, naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def unix(moment: datetime) -> int:
    """Whole Unix seconds of a timezone-aware moment, as Stripe's ``created``-style fields carry it."""
    return int(moment.timestamp())


def from_unix(seconds: int) -> datetime:
    """The UTC moment ``seconds`` after the Unix epoch."""
    return datetime.fromtimestamp(seconds, UTC)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 text in UTC with a ``Z`` suffix, e.g. ``2026-03-20T09:00:00Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` accepted); without an offset it is taken as UTC.

    Raises ValueError for text that is not a timestamp.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def naive_utc(moment: datetime, name: str = "data_load_time") -> datetime:
    """``moment`` in UTC without a timezone, as DuckDB's TIMESTAMP expects; ``name`` is for the error.

    Raises ValueError for a naive ``moment``: its time zone would be a guess.
    """
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None)
