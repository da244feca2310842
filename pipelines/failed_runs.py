"""Which failed partitions the freshness sensor asks for again, and when.

A partition whose run failed for a transient reason (Stripe's 5xx outlasting the step retries, a
report run Stripe failed, a worker that died) is requested again after a backoff that doubles with
each failure: ``base * 2^(n-1)``, capped. One that failed permanently (a bad key, SQL Sigma refuses,
a missing permission: the asset raised a failure with ``retryable`` False) is not requested again
until its catalogue entry changes, which the failure's definition hash tells.

Everything is read from Dagster's run history at each tick (failed runs, their step failures), so
the sensor's cursor stays what it was and a restarted daemon knows as much as a running one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import dagster as dg

from pipelines.assets import DEFINITION_METADATA, RETRYABLE_METADATA
from pipelines.partitions import RANGE_END_TAG, RANGE_START_TAG
from pipelines.sources import Source
from pipelines.timestamps import iso_utc

PARTITION_TAG = "dagster/partition"
FAILED_RUNS_LIMIT = 500
"""The most failed runs one tick reads; older ones are beyond any backoff worth waiting for."""


class Target(Protocol):
    """An asset the freshness sensor drives (:class:`pipelines.automation.Target`)."""

    @property
    def source(self) -> Source: ...

    @property
    def asset(self) -> dg.AssetsDefinition: ...

    @property
    def key(self) -> dg.AssetKey: ...

    @property
    def daily(self) -> dg.TimeWindowPartitionsDefinition: ...


@dataclass(frozen=True)
class RetryBackoff:
    """How long after its ``n``-th transient failure a partition is requested again."""

    base: timedelta = timedelta(minutes=15)
    cap: timedelta = timedelta(hours=6)
    #: Failed runs older than this are not looked at (a week: the sensor's first-tick lookback).
    horizon: timedelta = timedelta(days=7)

    def delay(self, failures: int) -> timedelta:
        """``base * 2^(failures-1)``, at most ``cap``."""
        return min(self.base * 2 ** max(failures - 1, 0), self.cap)


@dataclass(frozen=True)
class FailedAttempt:
    """One failed attempt at one asset's partitions."""

    run_id: str
    ended_at: datetime
    partitions: tuple[str, ...]
    permanent: bool
    definition: str | None
    error_type: str | None


@dataclass
class FailedRuns:
    """The failed runs of the backoff's horizon, read once per tick and shared by every asset."""

    instance: dg.DagsterInstance
    now: datetime
    backoff: RetryBackoff = field(default_factory=RetryBackoff)
    _records: list[dg.RunRecord] | None = None
    _step_failures: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)

    def retries(
        self, target: Target, materialized: set[str], requested: set[str]
    ) -> tuple[dict[str, list[str]], list[str]]:
        """Days of ``target`` to request again, by run-key suffix, and a note for each day held back.

        ``materialized`` and ``requested`` days are left out: they need nothing or are on their way.
        """
        by_day: dict[str, list[FailedAttempt]] = {}
        for failure in self._failures(target):
            for day in failure.partitions:
                if day not in materialized and day not in requested:
                    by_day.setdefault(day, []).append(failure)
        due: dict[str, list[str]] = {}
        notes: list[str] = []
        for day, failures in sorted(by_day.items()):
            failures.sort(key=lambda f: f.ended_at)
            last = failures[-1]
            if last.permanent:
                if last.definition == target.source.definition_hash:
                    notes.append(
                        f"{day} failed permanently ({last.error_type}, run {last.run_id[:8]}): "
                        "not requested again until its catalogue entry changes"
                    )
                    continue
                due.setdefault(f"changed-{target.source.definition_hash}", []).append(day)
                continue
            # Transient failures since the last permanent one (an entry fixed, then a Stripe outage).
            streak = 0
            for failure in reversed(failures):
                if failure.permanent:
                    break
                streak += 1
            retry_at = last.ended_at + self.backoff.delay(streak)
            if retry_at > self.now:
                notes.append(
                    f"{day} failed {streak} time(s), last in run {last.run_id[:8]}: "
                    f"requested again at {iso_utc(retry_at)}"
                )
                continue
            due.setdefault(f"retry-{streak}", []).append(day)
        return due, notes

    def _failures(self, target: Target) -> Iterator[FailedAttempt]:
        if target.source.per_account:
            # Per-account partitions fail per account; their days are re-requested by a backfill.
            return
        step = target.asset.node_def.name
        for record in self._failed_records():
            run = record.dagster_run
            if run.asset_selection and target.key not in run.asset_selection:
                continue
            steps = self._steps(run.run_id)
            # A run that selected the asset but has no failed step for it died before the step ran.
            if step not in steps and not run.asset_selection:
                continue
            partitions = _run_partitions(target, run.tags)
            if not partitions:
                continue
            metadata = steps.get(step, {})
            ended = record.end_time or record.update_timestamp.timestamp()
            yield FailedAttempt(
                run_id=run.run_id,
                ended_at=datetime.fromtimestamp(ended, tz=self.now.tzinfo),
                partitions=tuple(partitions),
                permanent=metadata.get(RETRYABLE_METADATA) is False,
                definition=_text(metadata.get(DEFINITION_METADATA)),
                error_type=_text(metadata.get("error_type")),
            )

    def _failed_records(self) -> list[dg.RunRecord]:
        if self._records is None:
            self._records = list(
                self.instance.get_run_records(
                    dg.RunsFilter(
                        statuses=[dg.DagsterRunStatus.FAILURE],
                        created_after=self.now - self.backoff.horizon,
                    ),
                    limit=FAILED_RUNS_LIMIT,
                )
            )
        return self._records

    def _steps(self, run_id: str) -> dict[str, dict[str, object]]:
        """Each failed step of the run with its failure's metadata values."""
        if run_id not in self._step_failures:
            steps: dict[str, dict[str, object]] = {}
            for entry in self.instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
                event = entry.dagster_event
                if event is None or event.step_key is None:
                    continue
                user = event.step_failure_data.user_failure_data
                metadata = user.metadata if user is not None else {}
                steps[event.step_key] = {name: value.value for name, value in metadata.items()}
            self._step_failures[run_id] = steps
        return self._step_failures[run_id]


def _run_partitions(target: Target, tags: dict[str, str]) -> list[str]:
    """The day keys a run covered: its partition, or its range."""
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start is None or end is None:
        return []
    try:
        return list(target.daily.get_partition_keys_in_range(dg.PartitionKeyRange(start, end)))
    except Exception:
        # A range over partitions that no longer exist (the entry's start_date moved): nothing to redo.
        return []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
