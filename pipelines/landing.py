"""Landing one chunk of days: ask Stripe for it, wait, download, replace those days in the table.

A chunk is a run of consecutive days of one account that one Stripe job can serve — a whole
backfill month for sources with a split column, a single day for summaries and snapshots. Everything
that can fail (Stripe, the network, the file) fails before the warehouse transaction starts, and the
transaction replaces the chunk's days or nothing. The source kind decides what the job is; this
module is the same for every kind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.freshness import Freshness, FreshnessProbe
from pipelines.lineage import ACCOUNT_COLUMN, FRESHNESS_COLUMN
from pipelines.partition_windows import PartitionWindow
from pipelines.settling import is_settled
from pipelines.sources import JobRequest, Source
from pipelines.stripe import StripeSession
from pipelines.warehouse import ChangeSpec, CsvFile, LoadResult, LoadSpec, Warehouse, WindowChanges


@dataclass(frozen=True)
class LandedChunk:
    """What one Stripe job and one warehouse transaction did, for metadata and logs."""

    source: Source
    partitions: list[PartitionWindow]
    stripe_run_id: str
    interval_start: datetime
    interval_end: datetime
    data_load_time: datetime
    load: LoadResult
    file_bytes: int
    seconds_waiting_on_stripe: float
    seconds_downloading: float
    seconds_loading: float

    def rows(self, partition: PartitionWindow) -> int:
        """Rows now in the table for ``partition``."""
        return self.load.rows_by_window.get(partition.window.key, 0)

    def changes(self, partition: PartitionWindow) -> WindowChanges | None:
        """What this landing changed in ``partition`` (against what the table held before it)."""
        if self.load.changes is None:
            return None
        return self.load.changes.windows.get(partition.window.key)

    def settled(self, partition: PartitionWindow) -> bool:
        """Whether Stripe's data was past ``partition``'s settling period: its rows are final."""
        return is_settled(partition.end, self.source.settling_days, self.data_load_time)


class Landing:
    """Lands chunks of one source's partitions; one instance per run (or Dagster step)."""

    def __init__(
        self,
        source: Source,
        session: StripeSession,
        warehouse: Warehouse,
        *,
        probe: FreshnessProbe,
        idempotency_scope: str,
        workdir: Path,
        log: logging.Logger | Any,
    ) -> None:
        """``idempotency_scope`` identifies the attempt (run id and retry number): a retried
        HTTP request reuses its Stripe job, a new attempt starts a new one."""
        self._source = source
        self._session = session
        self._warehouse = warehouse
        self._probe = probe
        self._scope = idempotency_scope
        self._workdir = workdir
        self._log = log

    def land(self, chunk: Sequence[PartitionWindow], freshness: Freshness) -> LandedChunk:
        """Run one Stripe job over ``chunk`` and replace its days in the warehouse.

        ``freshness`` is what Stripe published before the run; the chunk's days must be complete
        at that time (the caller sorted them with :meth:`FreshnessProbe.readiness`).
        """
        source = self._source
        start, end = chunk[0].start, chunk[-1].end
        account = chunk[0].account
        began = time.monotonic()
        request = JobRequest(
            source_name=source.name,
            start=start,
            end=end,
            account=account,
            idempotency_scope=self._scope,
            on_created=self._announce,
            log=self._log,
            deadline_seconds=self._session.settings.run_deadline(len(chunk)),
            window_keys=tuple(p.window.key for p in chunk),
        )
        run = source.run_job(self._session, self._probe, request)
        waited = time.monotonic() - began

        began = time.monotonic()
        path = self._workdir / f"{run.id}.csv"
        downloaded = source.download(self._session, run, path, account)
        downloading = time.monotonic() - began

        try:
            data_load_time = source.result_freshness(CsvFile(path), run, freshness, end)
            began = time.monotonic()
            result = self._warehouse.replace_windows(
                path,
                LoadSpec(
                    table=source.table,
                    columns=source.columns,
                    windows=[p.window for p in chunk],
                    split_column=source.split_column,
                    scope={ACCOUNT_COLUMN: account} if account is not None else {},
                    lineage=source.lineage(run, data_load_time),
                    unique_column=source.unique_column,
                    # Rows computed from older Stripe data never replace rows computed from newer.
                    freshness_column=FRESHNESS_COLUMN,
                    freshness=data_load_time,
                    expected_records=source.expected_records(run),
                    # What the re-landing changed; closed months keep their rows.
                    changes=ChangeSpec(account=account, loaded_by=run.id),
                ),
                # Scanned while it was downloaded: the records counted, the quoting checked.
                scan=downloaded.scan,
            )
            loading = time.monotonic() - began
        finally:
            # The file holds customer data: it never outlives its load, loaded or refused.
            path.unlink(missing_ok=True)
        self._log.info(
            f"{source.table}: {result.rows} rows for {chunk[0].window.key}..{chunk[-1].window.key}"
            f"{f' ({account})' if account else ''} from Stripe run {run.id} "
            f"(waited {waited:.1f}s, downloaded {downloaded.size} bytes in {downloading:.1f}s, "
            f"loaded in {loading:.1f}s)"
        )
        kept = sorted(k for k, w in (result.changes.windows if result.changes else {}).items() if w.closed_by)
        if kept:
            self._log.warning(
                f"{source.table}: {', '.join(kept)} belong to a closed month: their rows were kept as "
                "closed; what Stripe's data now says differently is in _stripe_close_variances "
                "(reopen the month to replace them)"
            )
        return LandedChunk(
            source=source,
            partitions=list(chunk),
            stripe_run_id=run.id,
            interval_start=start,
            interval_end=end,
            data_load_time=data_load_time,
            load=result,
            file_bytes=downloaded.size,
            seconds_waiting_on_stripe=waited,
            seconds_downloading=downloading,
            seconds_loading=loading,
        )

    def _announce(self, run_id: str) -> None:
        self._log.info(f"{self._source.name}: Stripe run {run_id} created; waiting for it to finish")
