"""The emulator's state and clock: the generated data, ``data_load_time``, and runs written to files.

The HTTP layer calls an :class:`Engine` from several worker threads at once. All data lives in one
in-memory DuckDB database; every call works on a cursor of its own (a separate DuckDB connection to
the same database), so runs proceed in parallel and a run's session settings never leak into
another. The clock is guarded by a lock.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from stripe_emulator import datagen, reports, sigma
from stripe_emulator.config import EmulatorConfig
from stripe_emulator.datagen.scheduled_runs import scheduled_query_runs
from stripe_emulator.reports import ReportParameterError, ReportType, UnknownReportType
from stripe_emulator.sigma import SigmaSqlError

__all__ = [
    "Engine",
    "ReportParameterError",
    "ReportResult",
    "ReportType",
    "SigmaResult",
    "SigmaSqlError",
    "UnknownAccount",
    "UnknownReportType",
]


@dataclass(frozen=True)
class SigmaResult:
    """A finished Sigma query: the CSV's row count and columns, and the snapshot it read."""

    rows: int
    columns: list[str]
    data_load_time: datetime


@dataclass(frozen=True)
class ReportResult:
    """A finished report run: the CSV's row count and columns."""

    rows: int
    columns: list[str]


class UnknownAccount(LookupError):
    """A Stripe-Account that is neither the platform nor one of its connected accounts."""

    def __init__(self, account: str) -> None:
        super().__init__(f"No such account: '{account}'")
        self.account = account


class Engine:
    """Generates the data for a config and answers Sigma queries and report runs over it."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._initial = config.initial_data_load_time()
        today = self._initial.replace(hour=0, minute=0, second=0, microsecond=0)
        self.data_start: datetime = today - timedelta(days=config.days)
        self.data_end: datetime = today + timedelta(days=1 + config.future_days)
        self._db = duckdb.connect(":memory:")
        self._db.execute("SET TimeZone = 'UTC'")
        self._db.execute("SET enable_progress_bar = false")
        self._generated = datagen.generate(
            self._db,
            seed=config.seed,
            data_start=self.data_start,
            data_end=self.data_end,
            reference_day=today.date(),
            scale=config.scale,
            connected_accounts=config.connected_accounts,
        )
        sigma.install_views(self._db)
        reports.install(self._db)
        self._connected_ids = frozenset(account.id for account in self._generated.connected)
        self._clock = threading.Lock()
        self._cursors = threading.Lock()
        self._data_load_time = self._initial

    # -- clock ---------------------------------------------------------------------------------

    @property
    def data_load_time(self) -> datetime:
        """How far Stripe has loaded the data (tz-aware UTC): later rows are invisible."""
        return self._data_load_time

    @property
    def platform_account_id(self) -> str:
        """The platform's account id (the account API keys belong to)."""
        return self._generated.platform.id

    @property
    def row_counts(self) -> dict[str, int]:
        """Rows generated per table (all accounts, loaded or not)."""
        return dict(self._generated.row_counts)

    def advance(self, *, to: datetime | None = None, by: timedelta | None = None) -> datetime:
        """Move ``data_load_time`` forward to ``to`` or by ``by``; returns the new value.

        Raises ValueError when it would move backwards or past ``data_end`` (data never generated).
        """
        if (to is None) == (by is None):
            raise ValueError("advance() takes exactly one of 'to' and 'by'")
        with self._clock:
            if to is not None:
                if to.tzinfo is None:
                    raise ValueError("advance(to=...) needs a timezone-aware datetime")
                target = to.astimezone(UTC)
            else:
                assert by is not None
                target = self._data_load_time + by
            if target < self._data_load_time:
                raise ValueError(
                    f"data_load_time only moves forward: it is {self._data_load_time.isoformat()}, "
                    f"{target.isoformat()} is earlier"
                )
            if target > self.data_end:
                raise ValueError(
                    f"cannot advance data_load_time to {target.isoformat()}: data is only generated until "
                    f"{self.data_end.isoformat()} (raise future_days to go further)"
                )
            self._data_load_time = target
            return target

    def reset_clock(self) -> None:
        """Put ``data_load_time`` back where the configuration started it."""
        with self._clock:
            self._data_load_time = self._initial

    # -- Sigma ---------------------------------------------------------------------------------

    def run_sigma(
        self,
        sql: str,
        out_path: Path,
        *,
        account: str | None = None,
        data_load_time: datetime | None = None,
    ) -> SigmaResult:
        """Run a Sigma (Trino) query as ``account`` at ``data_load_time`` and write the CSV to ``out_path``.

        Raises SigmaSqlError with a message for the user when the query cannot run.
        """
        snapshot = (data_load_time or self._data_load_time).astimezone(UTC)
        owner = self._account(account)
        with self._cursor() as cursor:
            rows, columns = sigma.run_query(
                cursor, sql, Path(out_path), data_load_time=snapshot, account=owner
            )
        return SigmaResult(rows=rows, columns=columns, data_load_time=snapshot)

    def sigma_columns(self) -> dict[str, list[tuple[str, str]]]:
        """Each Sigma table's columns in order with their DuckDB types (the v2 schemas listing's source)."""
        with self._cursor() as cursor:
            rows = cursor.execute(
                "SELECT table_name, column_name, data_type FROM duckdb_columns() "
                "WHERE schema_name = 'main' AND database_name = current_database() "
                "ORDER BY table_name, column_index"
            ).fetchall()
        tables: dict[str, list[tuple[str, str]]] = {}
        for table, column, data_type in rows:
            if table in sigma.TABLE_NAMES:
                tables.setdefault(str(table), []).append((str(column), str(data_type)))
        return tables

    def scheduled_query_runs(self) -> list[dict[str, Any]]:
        """Every daily scheduled Sigma query run that has happened by now, newest first (no ``file``).

        Each snapshot is a midnight UTC; some runs did not complete (``failed``, ``timed_out``,
        ``canceled``, with ``error.message``). Produce a completed run's file with
        ``run_sigma(run["sql"], path, data_load_time=timestamps.from_unix(run["data_load_time"]))``.
        """
        return scheduled_query_runs(self.config.seed, self.data_start, self._data_load_time)

    # -- Reporting -----------------------------------------------------------------------------

    def report_types(self) -> list[ReportType]:
        """Every report type, with the data available for it now."""
        start, end = self._availability()
        return [
            ReportType(
                id=spec.id,
                name=spec.name,
                version=spec.version,
                data_available_start=start,
                data_available_end=end,
                default_columns=list(spec.default_columns),
                parameters=spec.parameters,
                required=spec.required,
            )
            for spec in reports.REPORT_TYPES.values()
        ]

    def validate_report_parameters(
        self, report_type: str, parameters: dict[str, Any], *, account: str | None
    ) -> None:
        """Raise ReportParameterError (400) or UnknownReportType (404) if a run could not be created."""
        self._request(report_type, parameters, account)

    def run_report(
        self, report_type: str, parameters: dict[str, Any], out_path: Path, *, account: str | None = None
    ) -> ReportResult:
        """Compute a report run into ``out_path`` (CSV with a header row)."""
        request = self._request(report_type, parameters, account)
        with self._cursor() as cursor:
            rows, columns = reports.run_report(
                cursor, request, Path(out_path), data_load_time=self._data_load_time
            )
        return ReportResult(rows=rows, columns=columns)

    # -- Connect -------------------------------------------------------------------------------

    def connected_accounts(self) -> list[dict[str, Any]]:
        """The platform's connected accounts as Stripe ``account`` objects."""
        return [account.to_stripe() for account in self._generated.connected]

    # -- internals -----------------------------------------------------------------------------

    def _availability(self) -> tuple[datetime, datetime]:
        end = self._data_load_time.replace(microsecond=0)
        return self.report_data_start, end

    @property
    def report_data_start(self) -> datetime:
        """The Reporting API's ``data_available_start``: the first instant report runs may cover."""
        history = self.config.report_history_days
        if history is None:
            return self.data_start
        return self.data_start + timedelta(days=self.config.days - history)

    def _account(self, account: str | None) -> str:
        if account is None or account == self.platform_account_id:
            return self.platform_account_id
        if account not in self._connected_ids:
            raise UnknownAccount(account)
        return account

    def _request(
        self, report_type: str, parameters: dict[str, Any], account: str | None
    ) -> reports.ReportRequest:
        owner = self._account(account)
        start, end = self._availability()
        return reports.validate(
            report_type,
            parameters,
            account=None if owner == self.platform_account_id else owner,
            platform=self.platform_account_id,
            connected_accounts=self._connected_ids,
            data_available_start=start,
            data_available_end=end,
            payouts=self._payout_created,
        )

    def _payout_created(self, payout: str, account: str) -> datetime | None:
        """When ``account``'s automatic payout ``payout`` was created, None if it has no such payout."""
        with self._cursor() as cursor:
            found = cursor.execute(
                f"SELECT created FROM {datagen.RAW_SCHEMA}.payouts WHERE id = $id AND _account = $account",  # noqa: S608
                {"id": payout, "account": account},
            ).fetchone()
        return found[0].replace(tzinfo=UTC) if found else None

    def _cursor(self) -> contextlib.closing[duckdb.DuckDBPyConnection]:
        # Opening cursors is serialised; running on them is not.
        with self._cursors:
            return contextlib.closing(self._db.cursor())
