"""How far Stripe's data is loaded, and which partitions that makes complete.

Stripe publishes it per surface: each report type has ``data_available_end``; Sigma has
``data_load_time``. A daily partition is complete once its window's end is at or before that
time. Runs, the freshness sensor and the schedule all ask here, so they agree on what "ready" means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pipelines.catalog import ReportSpec, Spec
from pipelines.partitions import PartitionWindow
from pipelines.stripe import ReportRunner, SigmaRunner


@dataclass(frozen=True)
class Readiness:
    """The outcome of comparing partitions with how far Stripe's data is loaded."""

    loaded_until: datetime
    source: str
    ready: list[PartitionWindow]
    early: list[PartitionWindow]

    def early_reason(self) -> str:
        """A sentence a user can act on, naming the early partitions and Stripe's timestamp."""
        if not self.early:
            return "every partition is complete at Stripe"
        keys = [p.partition_key for p in self.early]
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        return (
            f"Stripe's data is loaded until {_iso(self.loaded_until)} ({self.source}), but "
            f"{shown} end{'s' if len(keys) == 1 else ''} at {_iso(self.early[-1].end)}: "
            "nothing was loaded for "
            f"{'it' if len(keys) == 1 else 'them'}. The freshness sensor requests "
            f"{'it' if len(keys) == 1 else 'them'} once Stripe's data is complete."
        )


class FreshnessProbe:
    """Asks Stripe how far its data is loaded, once per surface and account for the probe's life."""

    def __init__(self, sigma: SigmaRunner, reports: ReportRunner) -> None:
        self._sigma = sigma
        self._reports = reports
        self._cache: dict[tuple[str, str | None], datetime] = {}

    def loaded_until(self, spec: Spec, account: str | None = None) -> tuple[datetime, str]:
        """Stripe's freshness timestamp for ``spec`` (and ``account``), with a label saying which."""
        stripe_account = account if spec.connect_via == "header" else None
        if isinstance(spec, ReportSpec):
            cache_key = (f"report:{spec.report_type}", stripe_account)
            label = f"data_available_end of {spec.report_type}"
            if cache_key not in self._cache:
                report_type = self._reports.report_type(spec.report_type, stripe_account=stripe_account)
                self._cache[cache_key] = report_type.data_available_end
        else:
            cache_key = ("sigma", stripe_account)
            label = "Sigma data_load_time"
            if cache_key not in self._cache:
                self._cache[cache_key] = self._sigma.data_load_time(stripe_account=stripe_account)
        return self._cache[cache_key], label

    def readiness(self, spec: Spec, partitions: Sequence[PartitionWindow]) -> Readiness:
        """Split ``partitions`` into those complete at Stripe and those still early.

        Partitions of one run share an account, so one timestamp judges them all.
        """
        account = partitions[0].account if partitions else None
        loaded_until, label = self.loaded_until(spec, account)
        ready = [p for p in partitions if p.end <= loaded_until]
        early = [p for p in partitions if p.end > loaded_until]
        return Readiness(loaded_until, label, ready, early)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
