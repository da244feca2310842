"""Beyond one machine: a code server run as the user code image runs it (``dagster api grpc``), the
webserver and one daemon on PostgreSQL storage, configured by deploy/dagster.yaml, run a 60-day
backfill through the run queue.

The assets' backfill policy groups days into ranged runs (at most a month each), and assets sharing
a calendar run together, one step each. Backfilling two months of several assets on several
calendars (UTC and New York days) therefore makes more runs than the queue lets start at once, and more
steps than the ``stripe_api`` pool lets talk to Stripe at once: both limits of deploy/dagster.yaml
are exercised, then read back from the runs' and steps' own start and end times.

The backfill covers the daily assets whose ranged run needs one Stripe job per month (reports with
a split column, Sigma queries with a partition column). Reports Stripe computes a day at a time
queue the same way, with thirty times the Stripe jobs inside each step: slower, not different.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.execution.backfill import BulkActionStatus
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from deployment import LAUNCH_BACKFILL, postgres_env, start_deployment, write_instance_yaml
from pipeline_settings import API_KEY, DATA_LOAD_TIME
from postgres_server import fresh_database
from project_services import Services, dagster_env, wait_until

from pipelines.assets import build_assets
from pipelines.catalog import load_catalog
from pipelines.sources import ReportSource
from pipelines.translator import asset_key
from pipelines.warehouse import Warehouse

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

DAYS = 60
BACKFILL_TAG = "dagster/backfill"
FINISHED = {
    BulkActionStatus.COMPLETED,
    BulkActionStatus.COMPLETED_SUCCESS,
    BulkActionStatus.COMPLETED_FAILED,
    BulkActionStatus.FAILED,
    BulkActionStatus.CANCELED,
}
STEP_BEGINS = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_RESTARTED}
STEP_ENDS = {
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.STEP_UP_FOR_RETRY,
}
# The run queue checks for free slots every few seconds by default; every second keeps the test short.
FAST_QUEUE = {
    "module": "dagster.core.run_coordinator",
    "class": "QueuedRunCoordinator",
    "config": {"dequeue_interval_seconds": 1},
}


def test_a_60_day_backfill_lands_every_day_once_within_the_queue_and_pool_limits(
    tmp_path: Path, postgres_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = load_catalog()
    specs = [spec for spec in catalog.sources if not spec.per_account and spec.splittable]
    assets = {a.key: a for a in build_assets(catalog)}
    days = _last_complete_days([assets[asset_key(spec)] for spec in specs], DAYS)

    with (
        fresh_database(postgres_server) as dagster_db,
        fresh_database(postgres_server) as warehouse_db,
        Services(tmp_path / "logs") as services,
    ):
        home = tmp_path / "dagster_home"
        config = write_instance_yaml(home, {"run_coordinator": FAST_QUEUE})
        pg = postgres_env(dagster_db)
        for name, value in pg.items():
            monkeypatch.setenv(name, value)
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            assert isinstance(instance.run_storage, PostgresRunStorage)
            assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
            assert isinstance(instance.schedule_storage, PostgresScheduleStorage)

            emulator_url = services.start_emulator(
                tmp_path, data_load_time=DATA_LOAD_TIME.isoformat().replace("+00:00", "Z")
            )
            env = dagster_env(
                home, emulator_url=emulator_url, api_key=API_KEY, warehouse_url=warehouse_db, extra=pg
            )
            deployment = start_deployment(services, env)

            launched = deployment.graphql.query(
                LAUNCH_BACKFILL,
                {
                    "params": {
                        "partitionsByAssets": [
                            {
                                "assetKey": {"path": asset_key(spec).path},
                                "partitions": {"range": {"start": days[0], "end": days[-1]}},
                            }
                            for spec in specs
                        ],
                        "title": f"{DAYS} days of every daily asset",
                    }
                },
            )["launchPartitionBackfill"]
            assert launched["__typename"] == "LaunchBackfillSuccess", launched
            backfill_id = launched["backfillId"]
            # Started after the launch, the daemon takes the backfill up on its first iteration
            # instead of up to half a minute later.
            deployment.start_daemon()

            def finished() -> bool:
                deployment.ensure_running()
                backfill = instance.get_backfill(backfill_id)
                return backfill is not None and backfill.status in FINISHED

            wait_until(finished, deployment.daemon, timeout=900, what=f"backfill {backfill_id}", interval=2)
            runs = instance.get_run_records(dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
            backfill = instance.get_backfill(backfill_id)
            assert backfill is not None
            assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS, _describe(runs)
            assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in runs), _describe(runs)

            # The backfill policy made the runs: per calendar, one run per chunk of at most a month.
            # The deployment's calendars are its own: with a key set, report entries start at their
            # report type's data_available_start, so they need not match in-process definitions.
            per_run = {assets[asset_key(spec)].backfill_policy.max_partitions_per_run for spec in specs}  # type: ignore[union-attr]
            by_calendar = Counter(frozenset(r.dagster_run.asset_selection or ()) for r in runs)
            assert set().union(*by_calendar) == {asset_key(spec) for spec in specs}
            assert sum(len(group) for group in by_calendar) == len(specs), "an asset in two calendars"
            assert set(by_calendar.values()) == {math.ceil(DAYS / max(per_run))}  # type: ignore[type-var]

            # Every day of every asset materialized exactly once.
            materializations = {
                asset_key(spec): _materializations(instance, asset_key(spec)) for spec in specs
            }
            for key, by_day in materializations.items():
                assert sorted(by_day) == days, key
                assert [d for d, events in by_day.items() if len(events) != 1] == [], key

            # The warehouse holds each day once: its rows per day are the ones the day's single
            # materialization reported loading, and unique ids stay unique.
            warehouse = Warehouse(warehouse_db)
            try:
                for spec in specs:
                    reported = {
                        day: int(events[0].metadata["dagster/row_count"].value)  # type: ignore[arg-type]
                        for day, events in materializations[asset_key(spec)].items()
                    }
                    stored = warehouse.row_counts(spec.table)
                    assert {d: stored.get(d, 0) for d in days} == reported, spec.name
                    assert set(stored) == set(days), spec.name
                    if isinstance(spec, ReportSource) and spec.unique_column:
                        assert _repeated_within_a_day(warehouse, spec.table, spec.unique_column) == 0
            finally:
                warehouse.engine.dispose()

            # The queue never had more backfill runs in progress than deploy/dagster.yaml allows.
            run_limit = _backfill_run_limit(config)
            run_spans = [(r.start_time, r.end_time) for r in runs]
            assert all(start is not None and end is not None for start, end in run_spans)
            assert len(runs) > run_limit, "the backfill must make more runs than may run at once"
            assert _peak(run_spans) <= run_limit  # type: ignore[arg-type]
            assert all(_was_queued(instance, r.dagster_run.run_id) for r in runs)

            # And never more assets talking to Stripe at once than the `stripe_api` pool allows.
            pool_limit = config["concurrency"]["pools"]["default_limit"]
            step_spans = [span for r in runs for span in _step_spans(instance, r.dagster_run.run_id)]
            assert len(step_spans) > pool_limit, "the backfill must have more steps than pool slots"
            assert _peak(step_spans) <= pool_limit
            print(
                f"\n{len(runs)} runs (peak {_peak(run_spans)} at once, limit {run_limit}), "  # type: ignore[arg-type]
                f"{len(step_spans)} steps (peak {_peak(step_spans)} at once, pool limit {pool_limit})"
            )
        finally:
            instance.dispose()


def _last_complete_days(assets: Iterable[dg.AssetsDefinition], count: int) -> list[str]:
    """The ``count`` newest days Stripe has finished loading, the same keys for every asset."""
    keys = {
        tuple(a.partitions_def.get_partition_keys(current_time=DATA_LOAD_TIME)[-count:])  # type: ignore[union-attr]
        for a in assets
    }
    assert len(keys) == 1, "the daily assets disagree on the newest complete days"
    return list(keys.pop())


def _materializations(
    instance: dg.DagsterInstance, key: dg.AssetKey
) -> dict[str, list[dg.AssetMaterialization]]:
    by_day: dict[str, list[dg.AssetMaterialization]] = defaultdict(list)
    result = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=10_000)
    for record in result.records:
        materialization = record.asset_materialization
        assert materialization is not None and materialization.partition is not None
        by_day[materialization.partition].append(materialization)
    return dict(by_day)


def _repeated_within_a_day(warehouse: Warehouse, table: str, column: str) -> int:
    """Rows whose ``column`` value another row of the same day already has."""
    quote = warehouse.engine.dialect.identifier_preparer.quote
    statement = sa.text(
        f"SELECT coalesce(sum(n - d), 0) FROM (SELECT count(*) AS n, count(DISTINCT {quote(column)}) AS d "
        f"FROM {warehouse.qualified(table)} GROUP BY {quote('_partition')}) AS days"
    )
    with warehouse.engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def _backfill_run_limit(config: dict) -> int:  # type: ignore[type-arg]
    """The most backfill runs the instance lets run at once: the tighter of its two run limits."""
    runs = config["concurrency"]["runs"]
    limits = [runs["max_concurrent_runs"]]
    limits += [
        rule["limit"] for rule in runs.get("tag_concurrency_limits", []) if rule["key"] == BACKFILL_TAG
    ]
    return min(limits)


def _peak(spans: Iterable[tuple[float, float]]) -> int:
    """The most spans open at one instant; a span ending when another starts does not overlap it."""
    changes = sorted([(end, -1) for _, end in spans] + [(start, 1) for start, _ in spans])
    peak = current = 0
    for _, change in changes:
        current += change
        peak = max(peak, current)
    return peak


def _step_spans(instance: dg.DagsterInstance, run_id: str) -> list[tuple[float, float]]:
    """When each step attempt of a run started and ended, from the run's event log."""
    spans = []
    started: dict[str, float] = {}
    for entry in instance.all_logs(run_id, of_type=STEP_BEGINS | STEP_ENDS):
        event = entry.dagster_event
        assert event is not None and event.step_key is not None
        if event.event_type in STEP_BEGINS:
            started[event.step_key] = entry.timestamp
        else:
            spans.append((started.pop(event.step_key), entry.timestamp))
    assert not started, f"steps of run {run_id} never finished: {sorted(started)}"
    return spans


def _was_queued(instance: dg.DagsterInstance, run_id: str) -> bool:
    events = instance.all_logs(run_id, of_type={dg.DagsterEventType.RUN_ENQUEUED})
    return len(events) == 1


def _describe(runs: Iterable[dg.RunRecord]) -> str:
    statuses = Counter(r.dagster_run.status.value for r in runs)
    return f"runs by status: {dict(statuses)}"
