"""A run's partitions as the core sees them: an account (or none) and a time window, in chunks.

The Dagster layer (``pipelines.partitions``) turns partition keys into these; everything below it —
freshness, landing, the warehouse — works on windows only. A partition that is not a span of time
(one payout) gets :func:`key_window`: its rows are its key's, whatever their times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipelines.warehouse import Window

KEY_WINDOW_START = datetime(1970, 1, 1, tzinfo=UTC)
"""Where the windows of partitions that are not spans of time sit (see :func:`key_window`)."""


@dataclass(frozen=True)
class PartitionWindow:
    """A partition of a run, resolved to its connected account (if any) and its time window."""

    partition_key: str
    account: str | None
    window: Window

    @property
    def start(self) -> datetime:
        """The window's start, tz-aware."""
        return self.window.start

    @property
    def end(self) -> datetime:
        """The window's end (exclusive), tz-aware."""
        return self.window.end

    @property
    def timed(self) -> bool:
        """Whether the partition is a span of time (a day, a month), not a key (a payout)."""
        return self.window.start != KEY_WINDOW_START


def key_window(key: str) -> Window:
    """The window of a partition named by a key rather than a time span (a payout id).

    Its rows are exactly those landed under ``key``; the span is a fixed microsecond at the epoch,
    so it is complete at any freshness, and no split column is ever applied to it.
    """
    return Window(key, KEY_WINDOW_START, KEY_WINDOW_START + timedelta(microseconds=1))


def _days(partition: PartitionWindow) -> int:
    # A DST day (23 or 25 hours) is one day; a month is its number of days.
    return max(1, round((partition.end - partition.start) / timedelta(days=1)))


def chunks(partitions: Sequence[PartitionWindow], max_days: int) -> list[list[PartitionWindow]]:
    """Split into runs of consecutive partitions of one account, each covering at most ``max_days``
    days (a partition longer than that, a month, is a chunk of its own)."""
    result: list[list[PartitionWindow]] = []
    for partition in partitions:
        current = result[-1] if result else None
        if (
            current is not None
            and sum(_days(p) for p in current) + _days(partition) <= max_days
            and current[-1].account == partition.account
            and current[-1].end == partition.start
        ):
            current.append(partition)
        else:
            result.append([partition])
    return result
