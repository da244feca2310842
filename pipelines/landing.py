"""Landing one chunk of days: ask Stripe for it, wait, download, replace those days in the table.

A chunk is a run of consecutive days of one account that one Stripe job can serve — a whole
backfill month for itemized reports and partition-column Sigma queries, a single day for
summaries and snapshots. Everything that can fail (Stripe, the network, the file) fails before
the warehouse transaction starts, and the transaction replaces the chunk's days or nothing.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.catalog import ReportSpec, SigmaQuerySpec, Spec, spec_columns
from pipelines.partitions import PartitionWindow
from pipelines.resources import StripeSession
from pipelines.sigma_sql import FRESHNESS_COLUMN, render_for_window, render_latest_day
from pipelines.stripe import FinishedRun, SavedQueries
from pipelines.warehouse import LoadResult, LoadSpec, Warehouse

ACCOUNT_COLUMN = "_account"
RUN_ID_COLUMN = "_stripe_run_id"


class StaleResultError(RuntimeError):
    """Stripe answered from data older than the window's end; the result was discarded."""


class MissingColumnsError(RuntimeError):
    """A report's result file lacks columns its run asked for; the file was not loaded."""

    def __init__(self, stripe_run_id: str, missing: Sequence[str]) -> None:
        self.stripe_run_id = stripe_run_id
        self.missing = list(missing)
        names = ", ".join(f"`{name}`" for name in self.missing)
        super().__init__(
            f"Stripe did not return {names} in the result of report run {stripe_run_id}, although the "
            "run asked for it; nothing was loaded"
        )


@dataclass(frozen=True)
class LandedChunk:
    """What one Stripe job and one warehouse transaction did, for metadata and logs."""

    spec: Spec
    partitions: list[PartitionWindow]
    stripe_run_id: str
    interval_start: datetime
    interval_end: datetime
    data_load_time: datetime
    columns: list[str]
    load: LoadResult
    file_bytes: int
    seconds_waiting_on_stripe: float
    seconds_downloading: float
    seconds_loading: float

    def rows(self, partition: PartitionWindow) -> int:
        """Rows now in the table for ``partition``."""
        return self.load.rows_by_window.get(partition.window.key, 0)


class Landing:
    """Lands chunks of one spec's partitions; one instance per Dagster step."""

    def __init__(
        self,
        spec: Spec,
        session: StripeSession,
        warehouse: Warehouse,
        *,
        idempotency_scope: str,
        workdir: Path,
        log: logging.Logger | Any,
    ) -> None:
        """``idempotency_scope`` identifies the attempt (run id and retry number): a retried
        HTTP request reuses its Stripe job, a new attempt starts a new one."""
        self._spec = spec
        self._session = session
        self._warehouse = warehouse
        self._scope = idempotency_scope
        self._workdir = workdir
        self._log = log

    def land(self, chunk: Sequence[PartitionWindow], loaded_until: datetime) -> LandedChunk:
        """Run one Stripe job over ``chunk`` and replace its days in the warehouse."""
        spec = self._spec
        start, end = chunk[0].start, chunk[-1].end
        account = chunk[0].account
        began = time.monotonic()
        run = self._run_stripe_job(start, end, account)
        waited = time.monotonic() - began

        began = time.monotonic()
        path = self._workdir / f"{run.id}.csv"
        downloaded = self._session.files.download(
            run.file_id, path, stripe_account=account if spec.connect_via == "header" else None
        )
        downloading = time.monotonic() - began

        columns = _header(path)
        if isinstance(spec, ReportSpec):
            # Columns are requested explicitly, so a file without one of them is not the report
            # asked for; loading it would leave that column empty for these days.
            missing = [c.name for c in spec.columns if c.name not in columns]
            if missing:
                raise MissingColumnsError(run.id, missing)
        data_load_time = loaded_until
        lineage: dict[str, Any] = {RUN_ID_COLUMN: run.id}
        if isinstance(spec, SigmaQuerySpec):
            proven = _first_value(path, FRESHNESS_COLUMN)
            if proven is not None:
                data_load_time = _parse_timestamp(proven)
            if data_load_time < end:
                raise StaleResultError(
                    f"Sigma query run {run.id} ran on data loaded until {_iso(data_load_time)}, before "
                    f"the window ends at {_iso(end)}; the result was discarded and nothing was loaded"
                )
        else:
            lineage[FRESHNESS_COLUMN] = data_load_time

        began = time.monotonic()
        result = self._warehouse.replace_windows(
            path,
            LoadSpec(
                table=spec.table,
                columns=spec_columns(spec),
                windows=[p.window for p in chunk],
                split_column=_split_column(spec),
                scope={ACCOUNT_COLUMN: account} if account is not None else {},
                lineage=lineage,
                unique_column=spec.unique_column if isinstance(spec, ReportSpec) else None,
            ),
        )
        loading = time.monotonic() - began
        path.unlink(missing_ok=True)
        self._log.info(
            f"{spec.table}: {result.rows} rows for {chunk[0].window.key}..{chunk[-1].window.key}"
            f"{f' ({account})' if account else ''} from Stripe run {run.id} "
            f"(waited {waited:.1f}s, downloaded {downloaded.size} bytes in {downloading:.1f}s, "
            f"loaded in {loading:.1f}s)"
        )
        return LandedChunk(
            spec=spec,
            partitions=list(chunk),
            stripe_run_id=run.id,
            interval_start=start,
            interval_end=end,
            data_load_time=data_load_time,
            columns=columns,
            load=result,
            file_bytes=downloaded.size,
            seconds_waiting_on_stripe=waited,
            seconds_downloading=downloading,
            seconds_loading=loading,
        )

    def _run_stripe_job(self, start: datetime, end: datetime, account: str | None) -> FinishedRun:
        spec = self._spec
        on_created = self._announce
        if isinstance(spec, ReportSpec):
            parameters = report_parameters(spec, start, end, account)
            return self._session.reports.run(
                spec.report_type,
                parameters,
                idempotency_key=self._idempotency_key(start, end, account, repr(sorted(parameters.items()))),
                stripe_account=account if spec.connect_via == "header" else None,
                on_created=on_created,
            )
        stripe_account = account if spec.connect_via == "header" else None
        saved_query_id = self._saved_query_for(start, end, stripe_account)
        if saved_query_id is not None:
            return self._session.sigma.run(
                saved_query_id=saved_query_id,
                idempotency_key=self._idempotency_key(start, end, account, saved_query_id),
                stripe_account=stripe_account,
                on_created=on_created,
            )
        sql = render_for_window(spec.sql, start, end, spec.path)
        return self._session.sigma.run(
            sql,
            idempotency_key=self._idempotency_key(start, end, account, sql),
            stripe_account=stripe_account,
            on_created=on_created,
        )

    def _saved_query_for(self, start: datetime, end: datetime, stripe_account: str | None) -> str | None:
        """The saved query to run, when the spec has one and it covers exactly this window.

        A saved query is rendered for "the last complete UTC day before data_load_time", so it serves
        the newest day only; any other window (a backfill) runs the file's SQL directly.
        """
        spec = self._spec
        if not isinstance(spec, SigmaQuerySpec) or spec.saved_query is None or spec.timezone != "UTC":
            return None
        loaded_until = self._session.freshness.loaded_until(spec, stripe_account)[0]
        day_end = loaded_until.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if end != day_end or (end - start).total_seconds() != 86400:
            return None
        for saved in SavedQueries(self._session.client).list():
            if saved.name == spec.saved_query and saved.sql.strip() == render_latest_day(spec.sql).strip():
                return saved.id
        self._log.warning(
            f"saved query {spec.saved_query!r} is missing or differs from {spec.path.name}; "
            "running the file's SQL instead (sync with `stripe-reports saved-queries apply`)"
        )
        return None

    def _announce(self, run_id: str) -> None:
        self._log.info(f"{self._spec.name}: Stripe run {run_id} created; waiting for it to finish")

    def _idempotency_key(self, start: datetime, end: datetime, account: str | None, request: str) -> str:
        material = "\x1f".join(
            [self._scope, self._spec.name, account or "", start.isoformat(), end.isoformat(), request]
        )
        return f"srp-{hashlib.sha256(material.encode()).hexdigest()[:48]}"


def report_parameters(
    spec: ReportSpec, start: datetime, end: datetime, account: str | None
) -> dict[str, Any]:
    """The Reporting API ``parameters`` for one run: explicit columns, interval, zone and filters."""
    parameters: dict[str, Any] = {"interval_end": int(end.timestamp())}
    if spec.interval == "range":
        parameters["interval_start"] = int(start.timestamp())
    parameters["columns"] = [c.name for c in spec.columns]
    if spec.timezone != "UTC":
        parameters["timezone"] = spec.timezone
    parameters.update(spec.parameters)
    if account is not None and spec.connect_via == "parameter":
        parameters["connected_account"] = account
    return parameters


def _split_column(spec: Spec) -> str | None:
    return spec.split_column if isinstance(spec, ReportSpec) else spec.partition_column


def _header(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return next(csv.reader(handle), [])


def _first_value(path: Path, column: str) -> str | None:
    """``column`` of the first data row — every row of a Sigma result carries the same value."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or column not in header:
            return None
        row = next(reader, None)
        return row[header.index(column)] if row else None


def _parse_timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace(" UTC", ""))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
