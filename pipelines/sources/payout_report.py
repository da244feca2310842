"""A payout-level report template: one report run per automatic payout, named by ``parameters[payout]``.

``payout_reconciliation.by_id.itemized.4`` (and ``.by_id.summary.1``) itemize the balance
transactions one automatic payout settled, so a treasurer can reconcile a single bank deposit. The
asset has one partition per payout, not per day: the partitions are the paid automatic payouts found
in another entry's landed ``payouts.itemized.3`` table (``payouts_from``), and a run replaces exactly
its payout's rows. A payout is only offered once it is landed, so Stripe's data covers it; the report
type's ``data_available_end`` still gates the run, as for any report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from pipelines.errors import CatalogError
from pipelines.freshness import Freshness, FreshnessProbe
from pipelines.partition_windows import PartitionWindow
from pipelines.sources.base import JobRequest
from pipelines.sources.report import ReportSource
from pipelines.stripe import FinishedRun, StripeSession

PAYOUTS_SENSOR = "stripe_payouts"
"""The sensor that adds landed payouts as partitions and requests their reports."""

#: The columns of the landed payouts table that discovery reads.
PAYOUT_ID_COLUMN = "payout_id"
PAYOUT_STATUS_COLUMN = "payout_status"
PAYOUT_CATEGORY_COLUMN = "reporting_category"


@dataclass(frozen=True, kw_only=True)
class PayoutReportSource(ReportSource):
    """A report run per payout; the partition key is the payout id (``po_…``).

    ``payouts_from`` is the table of the ``payouts.itemized.3`` entry whose landed payouts become
    partitions, and ``payouts_asset`` that entry's name.
    """

    kind: ClassVar[str] = "payout_report"
    freshness_sensor: ClassVar[str] = PAYOUTS_SENSOR

    interval: Literal["range", "end", "payout"] = "payout"
    payouts_from: str
    payouts_asset: str

    @property
    def partitions_name(self) -> str:
        """The name of the set of payout partitions (shared by every entry reading the same table)."""
        return f"stripe_payouts__{self.payouts_from}"

    def before_data_start(self, partition: PartitionWindow, freshness: Freshness) -> bool:
        """Never: a payout is offered only once it is landed, inside Stripe's data."""
        return False

    def run_job(self, session: StripeSession, probe: FreshnessProbe, request: JobRequest) -> FinishedRun:
        """One report run for the request's payout."""
        if len(request.window_keys) != 1:
            raise CatalogError(
                f"{self.origin or self.name}: a payout report runs one payout at a time, "
                f"not {len(request.window_keys)}"
            )
        parameters = self.payout_parameters(request.window_keys[0])
        return session.reports.run(
            self.report_type,
            parameters,
            idempotency_key=request.idempotency_key(repr(sorted(parameters.items()))),
            stripe_account=self.stripe_account(request.account),
            on_created=request.on_created,
            deadline=request.deadline_seconds,
        )

    def parameters_for(self, start: datetime, end: datetime, account: str | None) -> dict[str, Any]:
        """Payout reports take no interval: see :meth:`payout_parameters`."""
        raise CatalogError(f"{self.origin or self.name}: a payout report is run by payout, not by interval")

    def payout_parameters(self, payout: str) -> dict[str, Any]:
        """The Reporting API ``parameters`` for one payout: the payout, explicit columns, zone, filters."""
        parameters: dict[str, Any] = {"payout": payout, "columns": [c.name for c in self.columns]}
        if self.timezone != "UTC":
            parameters["timezone"] = self.timezone
        parameters.update(self.parameters)
        return parameters

    def facts(self) -> dict[str, str]:
        """As for reports, plus where the payouts come from."""
        facts = super().facts()
        facts["partitions"] = (
            f"one per paid automatic payout landed in {self.payouts_from} (stripe/{self.payouts_asset})"
        )
        return facts


def paid_payouts(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ids of paid payouts among a landed ``payouts.itemized.3`` table's rows, in landing order.

    The table holds a payout's own balance transaction (``reporting_category`` ``payout``) and, when
    it failed, its reversal (``payout_reversal``); a payout whose status is anything but ``paid``
    (pending, in transit, failed, canceled) has not reached the bank and is left for a later tick.
    """
    paid: dict[str, None] = {}
    reversed_: set[str] = set()
    for row in rows:
        payout = row.get(PAYOUT_ID_COLUMN)
        if not payout:
            continue
        if row.get(PAYOUT_CATEGORY_COLUMN) == "payout_reversal":
            reversed_.add(str(payout))
        elif row.get(PAYOUT_STATUS_COLUMN) == "paid" and row.get(PAYOUT_CATEGORY_COLUMN) == "payout":
            paid[str(payout)] = None
    return [payout for payout in paid if payout not in reversed_]
