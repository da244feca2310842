"""How far Stripe's data is loaded, and which partitions that makes complete.

Stripe publishes it per surface: each report type has ``data_available_end``; Sigma has
``data_load_time``. Each source kind knows its surface; the probe asks it once per surface and
account, and runs, the freshness sensor and the schedule all ask the probe, so they agree on what
"ready" means. A daily partition is complete once its window's end is at or before that time.

Report types also publish ``data_available_start``: Stripe refuses any window before it, so such
partitions can never be loaded and are set aside (skipped, with Stripe's date) rather than failed.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pipelines.partition_windows import PartitionWindow
from pipelines.stripe import StripeSession
from pipelines.timestamps import iso_utc


@dataclass(frozen=True)
class Freshness:
    """How far one Stripe surface is loaded, and which timestamp says so (for messages)."""

    loaded_until: datetime
    label: str
    #: The earliest instant Stripe has data for (a report type's ``data_available_start``), if known.
    available_from: datetime | None = None
    available_from_label: str = ""


class FreshnessSurface(Protocol):
    """What the probe needs from a source kind."""

    def freshness_key(self, account: str | None) -> Hashable:
        """Sources with equal keys share one freshness timestamp (one request per probe)."""
        ...

    def read_freshness(self, session: StripeSession, account: str | None) -> Freshness:
        """Ask Stripe how far this source's data is loaded."""
        ...

    def before_data_start(self, partition: PartitionWindow, freshness: Freshness) -> bool:
        """Whether Stripe has no data for ``partition`` at all (it lies before the data's start)."""
        ...


@dataclass(frozen=True)
class Readiness:
    """The outcome of comparing partitions with how far Stripe's data is loaded.

    ``unavailable`` partitions lie before Stripe's first data (``available_from``): they are skipped,
    never requested, and never fail a run.
    """

    loaded_until: datetime
    source: str
    ready: list[PartitionWindow]
    early: list[PartitionWindow]
    unavailable: list[PartitionWindow] = field(default_factory=list)
    available_from: datetime | None = None
    available_from_label: str = ""

    def unavailable_reason(self) -> str:
        """A sentence naming the skipped partitions and the date Stripe's data starts at."""
        if not self.unavailable or self.available_from is None:
            return "no partition lies before Stripe's first data"
        keys = [p.partition_key for p in self.unavailable]
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        one = len(keys) == 1
        return (
            f"Skipped {shown}: Stripe has data from {iso_utc(self.available_from)} "
            f"({self.available_from_label or 'data_available_start'}), and "
            f"{'this partition begins' if one else 'these partitions begin'} before it, so Stripe "
            f"cannot report on {'it' if one else 'them'}. Nothing was requested or changed for "
            f"{'it' if one else 'them'}; set the entry's start_date on or after that date to hide "
            f"{'it' if one else 'them'}."
        )

    def early_reason(self) -> str:
        """A sentence a user can act on, naming the early partitions and Stripe's timestamp."""
        if not self.early:
            return "every partition is complete at Stripe"
        keys = [p.partition_key for p in self.early]
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        one = len(keys) == 1
        return (
            f"Stripe's data is loaded until {iso_utc(self.loaded_until)} ({self.source}), but "
            f"{shown} end{'s' if one else ''} at {iso_utc(self.early[-1].end)}: nothing was loaded for "
            f"{'it' if one else 'them'}. The freshness sensor requests {'it' if one else 'them'} once "
            "Stripe's data is complete."
        )


class FreshnessProbe:
    """Asks Stripe how far its data is loaded, once per surface and account for the probe's life."""

    def __init__(self, session: StripeSession) -> None:
        self._session = session
        self._cache: dict[Hashable, Freshness] = {}

    def freshness(self, source: FreshnessSurface, account: str | None = None) -> Freshness:
        """Stripe's freshness timestamp for ``source`` (and ``account``), with a label saying which."""
        key = source.freshness_key(account)
        if key not in self._cache:
            self._cache[key] = source.read_freshness(self._session, account)
        return self._cache[key]

    def readiness(self, source: FreshnessSurface, partitions: Sequence[PartitionWindow]) -> Readiness:
        """Split ``partitions`` into those complete at Stripe and those still early.

        Partitions of one run share an account, so one timestamp judges them all.
        """
        account = partitions[0].account if partitions else None
        fresh = self.freshness(source, account)
        unavailable = [p for p in partitions if source.before_data_start(p, fresh)]
        possible = [p for p in partitions if p not in unavailable]
        ready = [p for p in possible if p.end <= fresh.loaded_until]
        early = [p for p in possible if p.end > fresh.loaded_until]
        return Readiness(
            fresh.loaded_until,
            fresh.label,
            ready,
            early,
            unavailable,
            fresh.available_from,
            fresh.available_from_label,
        )
