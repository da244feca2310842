"""A Sigma query (a ``sql/*.sql`` file): one query run per chunk, freshness from ``data_load_time``.

Every rendered query returns Sigma's ``data_load_time`` as an extra column, so a result proves which
snapshot of Stripe's data it saw, and a result older than its window is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pipelines.errors import StaleResultError
from pipelines.freshness import Freshness, FreshnessProbe
from pipelines.lineage import FRESHNESS_COLUMN, RUN_ID_COLUMN
from pipelines.sigma_sql import render_for_window, render_latest_day
from pipelines.sources.base import JobRequest, Source
from pipelines.stripe import FinishedRun, SavedQueries, StripeSession
from pipelines.stripe.sigma import parse_sigma_timestamp
from pipelines.timestamps import iso_utc
from pipelines.warehouse import CsvFile


@dataclass(frozen=True, kw_only=True)
class SigmaSource(Source):
    """One Sigma query landed as one asset and one table; columns are typed from the data.

    ``split_column`` is the file's ``partition_column`` header; ``saved_query`` names a saved query
    that serves the newest day (any other window runs the file's SQL).
    """

    kind: ClassVar[str] = "sigma"
    default_group: ClassVar[str] = "sigma_queries"
    freshness_sensor: ClassVar[str] = "sigma_queries_freshness"

    path: Path
    sql: str
    saved_query: str | None = None

    def read_freshness(self, session: StripeSession, account: str | None) -> Freshness:
        """Sigma's ``data_load_time``."""
        return Freshness(
            session.sigma.data_load_time(stripe_account=self.stripe_account(account)),
            "Sigma data_load_time",
        )

    def run_job(self, session: StripeSession, probe: FreshnessProbe, request: JobRequest) -> FinishedRun:
        """The saved query, when it serves exactly this window; else the file's SQL for the window."""
        stripe_account = self.stripe_account(request.account)
        saved_query_id = self._saved_query_for(session, probe, request)
        if saved_query_id is not None:
            return session.sigma.run(
                saved_query_id=saved_query_id,
                idempotency_key=request.idempotency_key(saved_query_id),
                stripe_account=stripe_account,
                on_created=request.on_created,
                deadline=request.deadline_seconds,
            )
        sql = render_for_window(self.sql, request.start, request.end, self.path)
        return session.sigma.run(
            sql,
            idempotency_key=request.idempotency_key(sql),
            stripe_account=stripe_account,
            on_created=request.on_created,
            deadline=request.deadline_seconds,
        )

    def _saved_query_for(
        self, session: StripeSession, probe: FreshnessProbe, request: JobRequest
    ) -> str | None:
        # A saved query is rendered for "the last complete UTC day before data_load_time", so it
        # serves the newest day only; any other window (a backfill) runs the file's SQL directly.
        if self.saved_query is None or self.timezone != "UTC":
            return None
        loaded_until = probe.freshness(self, request.account).loaded_until
        day_end = loaded_until.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if request.end != day_end or (request.end - request.start).total_seconds() != 86400:
            return None
        for saved in SavedQueries(session.client).list():
            if saved.name == self.saved_query and saved.sql.strip() == render_latest_day(self.sql).strip():
                return saved.id
        request.log.warning(
            f"saved query {self.saved_query!r} is missing or differs from {self.path.name}; "
            "running the file's SQL instead (sync with `stripe-reports saved-queries apply`)"
        )
        return None

    def result_freshness(
        self, result: CsvFile, run: FinishedRun, freshness: Freshness, window_end: datetime
    ) -> datetime:
        """The ``data_load_time`` the result carries; a result computed before the window ended is
        refused (Sigma can answer from an older snapshot than the one it announced)."""
        proven = result.first_value(FRESHNESS_COLUMN)
        data_load_time = parse_sigma_timestamp(proven) if proven else freshness.loaded_until
        if data_load_time < window_end:
            raise StaleResultError(
                f"Sigma query run {run.id} ran on data loaded until {iso_utc(data_load_time)}, before "
                f"the window ends at {iso_utc(window_end)}; the result was discarded and nothing was loaded"
            )
        return data_load_time

    def lineage(self, run: FinishedRun, data_load_time: datetime) -> dict[str, Any]:
        """The run id; ``_data_load_time`` is already a column of the result."""
        return {RUN_ID_COLUMN: run.id}

    def facts(self) -> dict[str, str]:
        """The table, zone, SQL file, partition column and saved query."""
        facts = super().facts()
        facts["sql_file"] = f"sql/{self.path.name}"
        if self.split_column:
            facts["partition_column"] = self.split_column
        if self.saved_query:
            facts["saved_query"] = self.saved_query
        return facts

    @property
    def code(self) -> tuple[str, str]:
        """The file's SQL."""
        return ("sql", self.sql.strip())

    @property
    def expected_columns_description(self) -> str:
        """Sigma results are typed from the data: the table follows the query's columns."""
        return "The table holds every column the query returns, and no column the query dropped."

    @property
    def source_label(self) -> str:
        """The SQL file."""
        return f"sql/{self.path.name}"
