"""A run's partitions as the core sees them: an account (or none) and a time window, in chunks.

The Dagster layer (``pipelines.partitions``) turns partition keys into these; everything below it —
freshness, landing, the warehouse — works on windows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pipelines.warehouse import Window


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


def chunks(partitions: Sequence[PartitionWindow], max_days: int) -> list[list[PartitionWindow]]:
    """Split into runs of consecutive days of one account, each at most ``max_days`` long."""
    result: list[list[PartitionWindow]] = []
    for partition in partitions:
        current = result[-1] if result else None
        if (
            current is not None
            and len(current) < max_days
            and current[-1].account == partition.account
            and current[-1].end == partition.start
        ):
            current.append(partition)
        else:
            result.append([partition])
    return result
