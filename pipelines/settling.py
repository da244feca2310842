"""Settling: Stripe keeps changing a day's rows after the day is complete.

A day is *complete* once Stripe's freshness timestamp (``data_available_end``, ``data_load_time``,
``refreshed_at``) reaches its end; it is *settled* once that timestamp reaches its end plus the
entry's settling period. In between, Stripe still fills and corrects it: a charge captured late, an
automatic payout created days later fills ``automatic_payout_id`` on every transaction it pays,
refunds and disputes arrive. Each time the freshness moves, the days that were still unsettled at
the previous freshness are landed again; the landing that happens at or after a day's settling
instant is its last, and is marked settled.

Only arithmetic on instants lives here, so runs, sensors and the command line agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

DEFAULT_SETTLING_DAYS = 3
"""Settling period of entries whose type, ``defaults`` and entry set none."""

MAX_SETTLING_DAYS = 60
"""The longest settling period an entry may declare (re-landing more is a backfill's job)."""


def settles_at(day_end: datetime, settling_days: int) -> datetime:
    """The freshness instant from which a day ending at ``day_end`` no longer changes."""
    return day_end + timedelta(days=settling_days)


def is_settled(day_end: datetime, settling_days: int, data_load_time: datetime) -> bool:
    """Whether rows computed at ``data_load_time`` are the day's final ones."""
    return data_load_time >= settles_at(day_end, settling_days)


def days_to_resettle(
    days: Iterable[tuple[str, datetime]],
    settling_days: int,
    previous: datetime | None,
    current: datetime,
) -> list[str]:
    """Keys of ``days`` (key, end) to land again now that Stripe's freshness moved from ``previous``
    to ``current``: those complete at ``previous`` (landed then, or before) but not settled at it.

    Nothing when the freshness has not moved, or when there is no previous freshness to compare
    with (the first look only records it). Days that became complete between ``previous`` and
    ``current`` are new days, the freshness sensor's, not re-landings.
    """
    if previous is None or current <= previous or settling_days <= 0:
        return []
    return [key for key, end in days if end <= previous and not is_settled(end, settling_days, previous)]
