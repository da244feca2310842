"""A Reporting API report template: one report run per chunk, freshness from ``data_available_end``.

The report type's ``data_available_start`` is read with it: a window before it is one Stripe refuses,
so its partitions are skipped (with that date) instead of failing the run.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pipelines.freshness import Freshness, FreshnessProbe
from pipelines.partition_windows import PartitionWindow
from pipelines.sources.base import JobRequest, Source
from pipelines.stripe import DownloadedFile, FinishedRun, StripeSession
from pipelines.warehouse import Column
from pipelines.warehouse.csv_file import rename_header


@dataclass(frozen=True, kw_only=True)
class ReportSource(Source):
    """One Reporting API report template landed as one asset and one table.

    Columns are always requested explicitly, so the file's shape is the catalogue's. ``interval``
    ``end`` marks a snapshot report (an ending balance), which takes only ``interval_end``.
    ``connected_account_type``: a ``connected_account_*`` type, which names its account by the
    ``connected_account`` parameter instead of the ``Stripe-Account`` header.
    """

    kind: ClassVar[str] = "report"
    default_group: ClassVar[str] = "stripe_reports"
    freshness_sensor: ClassVar[str] = "stripe_reports_freshness"

    columns: tuple[Column, ...]
    report_type: str
    interval: Literal["range", "end"] = "range"
    parameters: Mapping[str, str] = field(default_factory=dict)
    connected_account_type: bool = False
    #: Warehouse name -> the name Stripe knows a column by, for metadata columns
    #: (``payment_metadata__order_id`` -> ``payment_metadata[order_id]``).
    stripe_columns: Mapping[str, str] = field(default_factory=dict)

    def stripe_account(self, account: str | None) -> str | None:
        """``connected_account_*`` types run on the platform and name the account as a parameter."""
        return None if self.connected_account_type else account

    def freshness_key(self, account: str | None) -> Hashable:
        """One ``data_available_end`` per report type (and account)."""
        return (self.kind, self.report_type, self.stripe_account(account))

    def read_freshness(self, session: StripeSession, account: str | None) -> Freshness:
        """The report type's ``data_available_end``, and its ``data_available_start``."""
        report_type = session.reports.report_type(
            self.report_type, stripe_account=self.stripe_account(account)
        )
        return Freshness(
            report_type.data_available_end,
            f"data_available_end of {self.report_type}",
            available_from=report_type.data_available_start,
            available_from_label=f"data_available_start of {self.report_type}",
        )

    def before_data_start(self, partition: PartitionWindow, freshness: Freshness) -> bool:
        """A snapshot (``interval: end``) needs its end after Stripe's first data; a range its start
        at or after it."""
        start = freshness.available_from
        if start is None:
            return False
        return partition.end <= start if self.interval == "end" else partition.start < start

    def run_job(self, session: StripeSession, probe: FreshnessProbe, request: JobRequest) -> FinishedRun:
        """One report run over the request's window."""
        parameters = self.parameters_for(request.start, request.end, request.account)
        return session.reports.run(
            self.report_type,
            parameters,
            idempotency_key=request.idempotency_key(repr(sorted(parameters.items()))),
            stripe_account=self.stripe_account(request.account),
            on_created=request.on_created,
            deadline=request.deadline_seconds,
        )

    def parameters_for(self, start: datetime, end: datetime, account: str | None) -> dict[str, Any]:
        """The Reporting API ``parameters`` for one run: explicit columns, interval, zone and filters."""
        parameters: dict[str, Any] = {"interval_end": int(end.timestamp())}
        if self.interval == "range":
            parameters["interval_start"] = int(start.timestamp())
        parameters["columns"] = [self.stripe_columns.get(c.name, c.name) for c in self.columns]
        if self.timezone != "UTC":
            parameters["timezone"] = self.timezone
        parameters.update(self.parameters)
        if account is not None and self.connected_account_type:
            parameters["connected_account"] = account
        return parameters

    def download(self, session: StripeSession, run: Any, dest: Path, account: str | None) -> DownloadedFile:
        """The run's file, with metadata columns renamed to their warehouse names in its header."""
        downloaded = super().download(session, run, dest, account)
        if not self.stripe_columns:
            return downloaded
        rename_header(downloaded.path, {stripe: name for name, stripe in self.stripe_columns.items()})
        return DownloadedFile(downloaded.path, downloaded.path.stat().st_size)

    def facts(self) -> dict[str, str]:
        """The table, zone and report type, and the column that splits a file into days."""
        facts = super().facts()
        facts["report_type"] = self.report_type
        if self.split_column:
            facts["split_column"] = self.split_column
        return facts

    @property
    def expected_columns_description(self) -> str:
        """Reports promise their requested columns, in the catalogue's types."""
        return "Stripe returned every requested column and the table keeps the catalogue's types."

    @property
    def source_label(self) -> str:
        """The report type."""
        return self.report_type
