"""Source kinds on Stripe's ``/v2/data`` Queries and Reports API (catalogue ``api: v2``).

What differs from v1: jobs are ``/v2/data`` query runs and report runs (JSON, ``Stripe-Context``);
results arrive from a pre-signed link that expires (fetched again by retrieving the run, never by
running it again) with Stripe's own ``row_count``, which the load must match; and freshness is the
dataset's ``refreshed_at``, read from the schemas listing, which costs no query run. A day is
complete once ``refreshed_at`` is at or after its end, and a result computed from data refreshed
before its window ended is refused, as for v1 Sigma.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pipelines.errors import CatalogError, StaleResultError
from pipelines.freshness import Freshness, FreshnessProbe
from pipelines.lineage import FRESHNESS_COLUMN, RUN_ID_COLUMN
from pipelines.sigma_sql import render_for_window
from pipelines.sources.base import JobRequest
from pipelines.sources.report import ReportSource
from pipelines.sources.sigma_query import SigmaSource
from pipelines.stripe import DataQueryRunner, DataReportRunner, DownloadedFile, StripeSession
from pipelines.stripe.data_objects import DataRun
from pipelines.timestamps import iso_utc
from pipelines.warehouse import CsvFile

DATA_API_SENSOR = "stripe_data_api_freshness"
_VERSION_SUFFIX = re.compile(r"\.\d+$")


def read_dataset_freshness(session: StripeSession, stripe_context: str | None) -> Freshness:
    """The analytical dataset's ``refreshed_at``: the oldest of its tables' (one listing, no query)."""
    times = [
        s.refreshed_at for s in session.data_schemas.list(stripe_context=stripe_context) if s.refreshed_at
    ]
    if not times:
        raise StaleResultError(
            "Stripe's /v2/data schemas listing gave no refreshed_at; nothing can be judged complete"
        )
    return Freshness(min(times), "refreshed_at of Stripe's analytical dataset")


def _check_refreshed(run: DataRun, window_end: datetime, fallback: datetime) -> datetime:
    refreshed = run.refreshed_at or fallback
    if refreshed < window_end:
        raise StaleResultError(
            f"{run.kind.replace('_', ' ')} {run.id} ran on data refreshed at {iso_utc(refreshed)}, "
            f"before the window ends at {iso_utc(window_end)}; the result was discarded and "
            "nothing was loaded"
        )
    return refreshed


class _DataApi:
    """What both ``/v2/data`` kinds share: freshness, download, result checks and lineage."""

    freshness_sensor: ClassVar[str] = DATA_API_SENSOR

    def _runs(self, session: StripeSession) -> DataQueryRunner | DataReportRunner:
        raise NotImplementedError

    # ``stripe_account`` comes from the Source this is mixed into (which account a run is for).

    def freshness_key(self, account: str | None) -> Hashable:
        """One ``refreshed_at`` per account for every ``/v2/data`` source."""
        return ("data_api", self.stripe_account(account))  # type: ignore[attr-defined]

    def read_freshness(self, session: StripeSession, account: str | None) -> Freshness:
        """The dataset's ``refreshed_at`` from the schemas listing."""
        return read_dataset_freshness(session, self.stripe_account(account))  # type: ignore[attr-defined]

    def download(self, session: StripeSession, run: Any, dest: Any, account: str | None) -> DownloadedFile:
        """From the run's pre-signed link, fetched again by retrieving the run if it expired."""
        return self._runs(session).download(run, dest)

    def result_freshness(
        self, result: CsvFile, run: Any, freshness: Freshness, window_end: datetime
    ) -> datetime:
        """The run's ``refreshed_at``; refused when older than the window's end."""
        return _check_refreshed(run, window_end, freshness.loaded_until)

    def expected_records(self, run: Any) -> int | None:
        """Stripe's ``row_count`` of the result."""
        return run.row_count

    def lineage(self, run: Any, data_load_time: datetime) -> dict[str, Any]:
        """The run id and the ``refreshed_at`` it ran on."""
        return {RUN_ID_COLUMN: run.id, FRESHNESS_COLUMN: data_load_time}


@dataclass(frozen=True, kw_only=True)
class DataQuerySource(_DataApi, SigmaSource):
    """A ``sql/`` query run through ``/v2/data/query_runs`` (the Queries API)."""

    kind: ClassVar[str] = "sigma_v2"

    def _runs(self, session: StripeSession) -> DataQueryRunner:
        return session.data_queries

    def run_job(self, session: StripeSession, probe: FreshnessProbe, request: JobRequest) -> DataRun:
        """One query run of the file's SQL over the window (v2 has no saved queries)."""
        sql = render_for_window(self.sql, request.start, request.end, self.path, freshness_column=False)
        return session.data_queries.run(
            sql,
            idempotency_key=request.idempotency_key(sql),
            stripe_context=self.stripe_account(request.account),
            on_created=request.on_created,
            deadline=request.deadline_seconds,
        )

    def facts(self) -> dict[str, str]:
        """As for v1 Sigma, plus the API."""
        return {**super().facts(), "api": "v2 (/v2/data query runs)"}


@dataclass(frozen=True, kw_only=True)
class DataReportSource(_DataApi, ReportSource):
    """A report template run through ``/v2/data/report_runs`` by its v2 name (``balance.summary``).

    Its parameters are checked against ``GET /v2/data/reports`` before every run, so an entry Stripe
    would refuse fails once, naming the entry, without a paid run.
    """

    kind: ClassVar[str] = "report_v2"

    @property
    def report_name(self) -> str:
        """The v2 name: the v1 report type without its version (``balance.summary.1`` is
        ``balance.summary``)."""
        return _VERSION_SUFFIX.sub("", self.report_type)

    def parameters_for(self, start: datetime, end: datetime, account: str | None) -> dict[str, Any]:
        """v2 parameters: the interval as instants (sent as RFC 3339), zone and filters; no columns."""
        parameters: dict[str, Any] = {"interval_end": end}
        if self.interval == "range":
            parameters["interval_start"] = start
        if self.timezone != "UTC":
            parameters["timezone"] = self.timezone
        parameters.update(self.parameters)
        if account is not None and self.connected_account_type:
            parameters["connected_account"] = account
        return parameters

    def _runs(self, session: StripeSession) -> DataReportRunner:
        return session.data_reports

    def run_job(self, session: StripeSession, probe: FreshnessProbe, request: JobRequest) -> DataRun:
        """One report run over the window, once Stripe's report catalogue accepts the parameters."""
        parameters = self.parameters_for(request.start, request.end, request.account)
        context = self.stripe_account(request.account)
        report = session.data_report_catalog.retrieve(self.report_name, stripe_context=context)
        problems = report.check_parameters(parameters)
        if problems:
            raise CatalogError(
                f"{self.origin or self.name}: Stripe's report {self.report_name} does not accept this entry: "
                + "; ".join(problems)
            )
        return session.data_reports.run(
            self.report_name,
            parameters,
            idempotency_key=request.idempotency_key(repr(sorted((k, str(v)) for k, v in parameters.items()))),
            stripe_context=context,
            on_created=request.on_created,
            deadline=request.deadline_seconds,
        )

    def facts(self) -> dict[str, str]:
        """As for v1 reports, plus the v2 report name."""
        return {**super().facts(), "api": "v2 (/v2/data report runs)", "report_name": self.report_name}

    @property
    def source_label(self) -> str:
        """The v2 report name."""
        return f"{self.report_name} (v2)"
