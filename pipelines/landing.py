"""Landing one chunk of days: ask Stripe for it, wait, download, replace those days in the table.

A chunk is a run of consecutive days of one account that one Stripe job can serve — a whole
backfill month for sources with a split column, a single day for summaries and snapshots. Everything
that can fail (Stripe, the network, the file) fails before the warehouse transaction starts, and the
transaction replaces the chunk's days or nothing. The source kind decides what the job is; this
module is the same for every kind.

A run of many chunks (a month of a report Stripe computes a day at a time) keeps a few Stripe jobs
in flight: the next chunks' jobs are created, awaited and downloaded in threads while the earlier
ones load, so the run waits on Stripe about once, not once per day. Chunks still load one at a
time, in order, each in its own transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
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
from pipelines.stripe.files import DownloadedFile
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
        return self._load(chunk, self._fetch(chunk), freshness)

    def land_all(
        self, chunks: Sequence[Sequence[PartitionWindow]], freshness: Freshness
    ) -> Iterator[LandedChunk]:
        """Land ``chunks`` in order, as :meth:`land` does, with up to the session's
        ``jobs_in_flight`` Stripe jobs at once.

        Each chunk is yielded once its transaction committed; the first failure is raised when its
        chunk's turn comes, after the chunks before it landed, and the jobs fetched ahead of it are
        abandoned (their files deleted). Close the iterator when stopping early.
        """
        in_flight = self._session.settings.jobs_in_flight
        if in_flight == 1 or len(chunks) == 1:
            for chunk in chunks:
                yield self.land(chunk, freshness)
            return
        waiting = iter(chunks)
        ahead: deque[_Prefetch] = deque()

        def fetch_next() -> None:
            chunk = next(waiting, None)
            if chunk is not None:
                ahead.append(_Prefetch.start(chunk, self._fetch))

        for _ in range(in_flight):
            fetch_next()
        try:
            while ahead:
                prefetch = ahead.popleft()
                fetched = prefetch.result()
                fetch_next()
                yield self._load(prefetch.chunk, fetched, freshness)
        finally:
            for prefetch in ahead:
                prefetch.abandon()

    def _fetch(self, chunk: Sequence[PartitionWindow]) -> _Fetched:
        """Create the chunk's Stripe job, wait for it, download its file: everything before the load."""
        source = self._source
        began = time.monotonic()
        request = JobRequest(
            source_name=source.name,
            start=chunk[0].start,
            end=chunk[-1].end,
            account=chunk[0].account,
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
        try:
            downloaded = source.download(self._session, run, path, chunk[0].account)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return _Fetched(run, downloaded, waited, time.monotonic() - began)

    def _load(self, chunk: Sequence[PartitionWindow], fetched: _Fetched, freshness: Freshness) -> LandedChunk:
        """Replace the chunk's days by the fetched file's rows, in one transaction."""
        source = self._source
        start, end = chunk[0].start, chunk[-1].end
        account = chunk[0].account
        run, downloaded = fetched.run, fetched.downloaded
        path, waited, downloading = downloaded.path, fetched.waited, fetched.downloading
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


@dataclass(frozen=True)
class _Fetched:
    """A chunk's finished Stripe job and its downloaded file, waiting for its load."""

    run: Any
    downloaded: DownloadedFile
    waited: float
    downloading: float


class _Prefetch:
    """One chunk fetched in a daemon thread.

    A daemon thread, not an executor's worker: a run that failed (or was terminated) must be able to
    exit without waiting for the jobs it fetched ahead to finish at Stripe.
    """

    def __init__(self, chunk: Sequence[PartitionWindow]) -> None:
        self.chunk = chunk
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._abandoned = False
        self._fetched: _Fetched | None = None
        self._error: BaseException | None = None

    @classmethod
    def start(
        cls, chunk: Sequence[PartitionWindow], fetch: Callable[[Sequence[PartitionWindow]], _Fetched]
    ) -> _Prefetch:
        """Begin fetching ``chunk``."""
        prefetch = cls(chunk)
        name = f"stripe-fetch-{chunk[0].window.key}"
        threading.Thread(target=prefetch._run, args=(fetch,), name=name, daemon=True).start()
        return prefetch

    def _run(self, fetch: Callable[[Sequence[PartitionWindow]], _Fetched]) -> None:
        try:
            fetched = fetch(self.chunk)
        except BaseException as error:  # handed to the main thread, which raises it in order
            self._error = error
        else:
            with self._lock:
                self._fetched = fetched
                if self._abandoned:
                    self._discard()
        self._done.set()

    def result(self) -> _Fetched:
        """The fetched chunk, once it is there; the fetch's error, raised here."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._fetched is not None
        return self._fetched

    def abandon(self) -> None:
        """Nobody will load this chunk: delete its file now, or when its download ends."""
        with self._lock:
            self._abandoned = True
            self._discard()

    def _discard(self) -> None:
        # The file holds customer data: it never outlives the run that will not load it.
        if self._fetched is not None:
            self._fetched.downloaded.path.unlink(missing_ok=True)
