"""When runs happen: as soon as Stripe's data is complete (sensors), or on a cron (schedule).

* ``stripe_reports_freshness`` / ``sigma_queries_freshness`` — poll Stripe's freshness timestamps
  and request every partition that has become complete and is not yet materialized. The cursor
  remembers the newest complete day per asset (and account), so a day is requested once, and days
  that completed while the daemon was down are requested on the next tick. Consecutive days go
  out as one ranged run, so catching up costs one Stripe job per chunk.
* ``stripe_daily`` — the cron alternative: each morning, the newest complete day of every asset,
  skipped (with the reason on the tick) for assets whose data Stripe has not finished loading.
* ``stripe_settling`` — each time Stripe's freshness moves, lands again the days still within
  their settling period (``settling_days``), so late changes reach the warehouse by themselves.
* ``stripe_connected_accounts`` — discovers connected accounts and adds them as partitions.
* ``stripe_reconciliation`` — runs the cross-report reconciliation check daily.

Sensors and schedules start stopped: turn them on in the UI (Automation) or in deploy/.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from pipelines.failed_runs import FailedRuns, RetryBackoff
from pipelines.freshness import FreshnessProbe
from pipelines.partitions import (
    CONNECTED_ACCOUNTS,
    RANGE_END_TAG,
    RANGE_START_TAG,
    daily_partitions,
    partition_key,
)
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.settling import days_to_resettle
from pipelines.sources import PayoutReportSource, Source
from pipelines.sources.payout_report import (
    PAYOUT_CATEGORY_COLUMN,
    PAYOUT_ID_COLUMN,
    PAYOUT_STATUS_COLUMN,
    PAYOUTS_SENSOR,
    paid_payouts,
)
from pipelines.timestamps import iso_utc

PAYOUT_COLUMNS = (PAYOUT_ID_COLUMN, PAYOUT_STATUS_COLUMN, PAYOUT_CATEGORY_COLUMN)


@dataclass(frozen=True)
class Target:
    """An asset the automation drives, with the source it was built from."""

    source: Source
    asset: dg.AssetsDefinition

    @property
    def key(self) -> dg.AssetKey:
        return self.asset.key

    @property
    def own_checks(self) -> list[dg.AssetCheckKey]:
        """The checks evaluated inside the asset's materialization.

        A run selecting only the asset would otherwise also select the cross-report checks on it
        (Dagster adds every check of a selected asset), which then skip for want of the other
        report and say so in every run's log; those run in the reconciliation job.
        """
        return sorted(self.asset.check_keys, key=lambda k: k.name)

    @property
    def daily(self) -> dg.TimeWindowPartitionsDefinition:
        return daily_partitions(self.asset.partitions_def)  # type: ignore[arg-type]


def machine_now() -> datetime:
    """This machine's clock (one place, so a test can set it behind Stripe's)."""
    return datetime.now(UTC)


def complete_partitions(target: Target, loaded_until: datetime, now: datetime | None = None) -> list[str]:
    """Day keys of ``target`` whose whole window is loaded at Stripe, oldest first.

    Stripe's clock can run ahead of this machine's (clock skew at midnight, or an emulator moved
    forward): a day that has not ended by ``now`` does not exist in Dagster yet, so it is left for a
    later tick instead of being requested as an unknown partition.
    """
    daily = target.daily
    until = min(loaded_until, now or machine_now())
    keys = daily.get_partition_keys(current_time=until)
    # The partitions definition already stops at the last *closed* day at ``until``; the explicit
    # comparison keeps that promise independent of end_offset settings.
    return [k for k in keys if daily.time_window_for_partition_key(k).end <= until]


def build_freshness_sensor(
    name: str,
    targets: Sequence[Target],
    *,
    minimum_interval_seconds: int = 600,
    initial_lookback_days: int = 7,
    retry_backoff: RetryBackoff | None = None,
) -> dg.SensorDefinition:
    """A sensor requesting each partition of ``targets`` once Stripe's data for it is complete.

    A partition whose run failed is requested again after ``retry_backoff`` if the failure was
    transient, and not before its entry changes if it was permanent (:mod:`pipelines.failed_runs`).

    On its first tick (no cursor) it looks back ``initial_lookback_days``; older history is a
    backfill to launch from the asset page. Each asset is evaluated on its own: one that fails (its
    report type unreachable, say) is named in the tick's log and skip reason, and the others still
    get their runs.
    """

    @dg.sensor(
        name=name,
        asset_selection=[t.key for t in targets],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            "Requests every partition whose day Stripe has finished loading and that is not yet "
            "materialized, as ranged runs of consecutive days."
        ),
    )
    def _sensor(
        context: dg.SensorEvaluationContext, stripe: StripeResource
    ) -> dg.SensorResult | dg.SkipReason:
        cursor: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        requests: list[dg.RunRequest] = []
        notes: list[str] = []
        failed: list[str] = []
        failures = FailedRuns(context.instance, machine_now(), retry_backoff or RetryBackoff())
        with stripe.session() as session:
            probe = FreshnessProbe(session)
            for target in targets:
                for account in _accounts(context.instance, target):
                    who = target.source.name + (f" ({account})" if account else "")
                    try:
                        todo, note = _evaluate(context, probe, target, account, cursor, initial_lookback_days)
                    except Exception as error:
                        failed.append(f"{who}: {type(error).__name__}: {error}")
                        context.log.error(f"freshness of {who} could not be evaluated: {error}")
                        continue
                    requests.extend(_ranged_requests(target, account, todo))
                    notes.append(f"{who}: {note}")
                    if account is None:
                        materialized = context.instance.get_materialized_partitions(target.key)
                        due, held = failures.retries(target, materialized, set(todo))
                        for suffix, days in due.items():
                            requests.extend(_ranged_requests(target, account, days, run_key_suffix=suffix))
                        notes.extend(f"{who}: {note}" for note in held)
        problems = f" Failed: {'; '.join(failed)}." if failed else ""
        if not requests:
            return dg.SkipReason(
                "No partition became complete at Stripe since the last tick. " + "; ".join(notes) + problems
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return _sensor


def _evaluate(
    context: dg.SensorEvaluationContext,
    probe: FreshnessProbe,
    target: Target,
    account: str | None,
    cursor: dict[str, str],
    initial_lookback_days: int,
) -> tuple[list[str], str]:
    """The days of one asset (and account) to request now, and a note for the tick; moves ``cursor``."""
    cursor_key = target.source.name if account is None else f"{target.source.name}|{account}"
    fresh = probe.freshness(target.source, account)
    complete = complete_partitions(target, fresh.loaded_until)
    last = cursor.get(cursor_key)
    candidates = [k for k in complete if k > last] if last is not None else complete[-initial_lookback_days:]
    materialized = context.instance.get_materialized_partitions(target.key)
    todo = [k for k in candidates if partition_key(account, k) not in materialized]
    if complete:
        cursor[cursor_key] = complete[-1]
    note = f"{fresh.label} is {iso_utc(fresh.loaded_until)}, " + (
        f"requested {len(todo)} day(s)" if todo else "nothing new is complete"
    )
    return todo, note


def build_daily_schedules(targets: Sequence[Target], *, hour: int = 6) -> list[dg.ScheduleDefinition]:
    """One schedule per kind of partitions (period, zone, Connect fan-out, first partition): a
    job's assets share partitions.

    The UTC daily one is ``stripe_daily``; others are named after their period, zone and fan-out.
    Entries whose partitions start later than their kind's earliest (a report type whose data
    starts later, an entry's own ``start_date``) get ``_from_<YYYYMMDD>``.
    """
    groups: dict[tuple[str, str, bool, str], list[Target]] = {}
    for target in targets:
        if isinstance(target.source, PayoutReportSource):
            continue  # partitions are payouts, requested by the payouts sensor as they land
        source = target.source
        group_key = (source.period, source.timezone, source.per_account, f"{target.daily.start:%Y%m%d}")
        groups.setdefault(group_key, []).append(target)
    schedules = []
    earliest: dict[tuple[str, str, bool], str] = {}
    for (period, timezone, connect, first), group in sorted(groups.items()):
        # Dagster names allow [A-Za-z0-9_]; zones like Etc/GMT+5 or America/Port-au-Prince do not.
        suffix = "" if timezone == "UTC" else "_" + re.sub(r"[^a-z0-9]+", "_", timezone.lower()).strip("_")
        cadence = "monthly" if period == "month" else "daily"
        name = f"stripe_{cadence}{suffix}{'_per_account' if connect else ''}"
        if earliest.setdefault((period, timezone, connect), first) != first:
            name += f"_from_{first}"
        schedules.append(build_daily_schedule(group, name=name, timezone=timezone, hour=hour, period=period))
    return schedules


def build_daily_schedule(
    targets: Sequence[Target],
    *,
    name: str = "stripe_daily",
    timezone: str = "UTC",
    hour: int = 6,
    period: str = "day",
) -> dg.ScheduleDefinition:
    """Each morning in ``timezone``, the newest complete day of ``targets`` — skipped, with the
    reason on the tick, for assets whose day Stripe has not finished loading.

    Monthly assets (``period="month"``) are asked each morning for their newest complete month
    under a run key of that month alone, so Dagster launches it once: on the first morning Stripe's
    data covers the month's end, however late in the next month that is.
    """

    @dg.schedule(
        name=name,
        cron_schedule=f"0 {hour} * * *",
        execution_timezone=timezone,
        target=[t.key for t in targets],
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"The newest complete {period} ({timezone}) of each asset, once Stripe has loaded it.",
    )
    def _schedule(
        context: dg.ScheduleEvaluationContext, stripe: StripeResource
    ) -> list[dg.RunRequest] | dg.SkipReason:
        tick = context.scheduled_execution_time or datetime.now(UTC)
        requests: list[dg.RunRequest] = []
        skipped: list[str] = []
        with stripe.session() as session:
            probe = FreshnessProbe(session)
            for target in targets:
                days = target.daily.get_partition_keys(current_time=tick)
                if not days:
                    continue
                day = days[-1]
                end = target.daily.time_window_for_partition_key(day).end
                for account in _accounts(context.instance, target):
                    key = partition_key(account, day)
                    try:
                        fresh = probe.freshness(target.source, account)
                    except Exception as error:
                        # One asset's error must not cost every other asset its run.
                        skipped.append(f"{target.source.name} {key}: failed: {type(error).__name__}: {error}")
                        context.log.error(f"freshness of {target.source.name} {key}: {error}")
                        continue
                    loaded_until, label = fresh.loaded_until, fresh.label
                    if end > loaded_until:
                        skipped.append(
                            f"{target.source.name} {key}: {label} is {iso_utc(loaded_until)}, "
                            f"the day ends {iso_utc(end)}"
                        )
                        continue
                    requests.append(
                        dg.RunRequest(
                            run_key=f"{target.source.name}:{key}"
                            + ("" if period == "month" else f":{tick:%Y%m%dT%H%M}"),
                            asset_selection=[target.key],
                            asset_check_keys=target.own_checks,
                            partition_key=key,
                        )
                    )
        if not requests:
            return dg.SkipReason(
                "Stripe has not finished loading any asset's newest day: " + "; ".join(skipped)
            )
        for note in skipped:
            context.log.info(f"skipped {note}")
        return requests

    return _schedule


def build_accounts_sensor(minimum_interval_seconds: int = 3600) -> dg.SensorDefinition:
    """Adds newly connected Stripe accounts as partitions of the per-account assets."""

    @dg.sensor(
        name="stripe_connected_accounts",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Lists the platform's connected accounts and adds new ones as partitions.",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, stripe: StripeResource
    ) -> dg.SensorResult | dg.SkipReason:
        with stripe.session() as session:
            accounts = sorted(str(a["id"]) for a in session.client.list("/v1/accounts", {"limit": 100}))
        known = set(context.instance.get_dynamic_partitions(CONNECTED_ACCOUNTS.name or ""))
        new = [a for a in accounts if a not in known]
        if not new:
            return dg.SkipReason(f"{len(accounts)} connected account(s), none new")
        return dg.SensorResult(dynamic_partitions_requests=[CONNECTED_ACCOUNTS.build_add_request(new)])

    return _sensor


def build_payouts_sensor(
    targets: Sequence[Target], *, minimum_interval_seconds: int = 600
) -> dg.SensorDefinition:
    """Adds each paid payout landed in a payouts table as a partition of the per-payout assets
    reading it, and requests its report once.

    Payouts come from the warehouse, not from Stripe: a payout is offered once its day of
    ``payouts.itemized.3`` has landed, so Stripe's data covers it. The run key is the payout's, so a
    payout is requested once; a failed run is re-run from the asset's page.
    """

    @dg.sensor(
        name=PAYOUTS_SENSOR,
        asset_selection=[t.key for t in targets],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            "Adds paid payouts found in the landed payouts table as partitions of the per-payout "
            "reports, and requests each payout's report once."
        ),
    )
    def _sensor(
        context: dg.SensorEvaluationContext, warehouse: WarehouseResource
    ) -> dg.SensorResult | dg.SkipReason:
        additions: dict[str, list[str]] = {}
        requests: list[dg.RunRequest] = []
        notes: list[str] = []
        with warehouse.open() as wh:
            for target in targets:
                source = target.source
                if not isinstance(source, PayoutReportSource):
                    continue
                try:
                    paid = paid_payouts(wh.rows(source.payouts_from, PAYOUT_COLUMNS))
                except Exception as error:
                    # One unreadable table must not cost the other assets their payouts.
                    notes.append(f"{source.name}: {source.payouts_from} could not be read: {error}")
                    context.log.error(f"payouts of {source.name}: {error}")
                    continue
                name = source.partitions_name
                if name not in additions:
                    known = set(context.instance.get_dynamic_partitions(name))
                    additions[name] = [p for p in paid if p not in known]
                materialized = context.instance.get_materialized_partitions(target.key)
                todo = [p for p in paid if p not in materialized]
                requests.extend(
                    dg.RunRequest(
                        run_key=f"{source.name}:{payout}",
                        asset_selection=[target.key],
                        partition_key=payout,
                    )
                    for payout in todo
                )
                notes.append(f"{source.name}: {len(paid)} paid payout(s) in {source.payouts_from}")
        adds = [
            dg.DynamicPartitionsDefinition(name=name).build_add_request(new)
            for name, new in sorted(additions.items())
            if new
        ]
        if not requests and not adds:
            return dg.SkipReason("No new paid payout. " + "; ".join(notes))
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=adds)

    return _sensor


def build_reconciliation_schedule(
    checks: Sequence[dg.AssetChecksDefinition], cron_schedule: str = "0 8 * * *"
) -> tuple[Any, dg.ScheduleDefinition]:
    """A job running the cross-report checks, and its daily schedule."""
    job = dg.define_asset_job(
        "stripe_reconciliation",
        selection=dg.AssetSelection.checks(*checks),
        description="Cross-report reconciliation checks over every day both reports hold.",
    )
    schedule = dg.ScheduleDefinition(
        name="stripe_reconciliation_daily",
        job=job,
        cron_schedule=cron_schedule,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    return job, schedule


def _accounts(instance: dg.DagsterInstance, target: Target) -> list[str | None]:
    if not target.source.per_account:
        return [None]
    return list(instance.get_dynamic_partitions(CONNECTED_ACCOUNTS.name or ""))


def _ranged_requests(
    target: Target, account: str | None, days: Sequence[str], run_key_suffix: str = ""
) -> list[dg.RunRequest]:
    """Consecutive days as ranged runs (one Stripe job per run for splittable specs); a retry's
    ``run_key_suffix`` tells its run key from the first request's, which Dagster launched once."""
    requests = []
    run: list[str] = []
    daily = target.daily

    def flush() -> None:
        if not run:
            return
        first, last = partition_key(account, run[0]), partition_key(account, run[-1])
        run_key = f"{target.source.name}:{first}..{last}" + (f":{run_key_suffix}" if run_key_suffix else "")
        if first == last:
            requests.append(
                dg.RunRequest(
                    run_key=run_key,
                    asset_selection=[target.key],
                    asset_check_keys=target.own_checks,
                    partition_key=first,
                )
            )
        else:
            requests.append(
                dg.RunRequest(
                    run_key=run_key,
                    asset_selection=[target.key],
                    asset_check_keys=target.own_checks,
                    tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
                )
            )
        run.clear()

    for day in days:
        consecutive = (
            run
            and daily.time_window_for_partition_key(run[-1]).end
            == daily.time_window_for_partition_key(day).start
        )
        if run and (not consecutive or len(run) >= target.source.max_days_per_run):
            flush()
        run.append(day)
    flush()
    return requests


SETTLING_SENSOR = "stripe_settling"
SETTLING_TAG = "stripe/settling"
"""Run tag of the re-landings the settling sensor requests (value: the Stripe freshness they follow)."""


def build_settling_sensor(
    targets: Sequence[Target], *, name: str = SETTLING_SENSOR, minimum_interval_seconds: int = 600
) -> dg.SensorDefinition:
    """A sensor landing again, each time Stripe's freshness moves, the days still in their settling
    period (:mod:`pipelines.settling`): Stripe keeps filling and correcting them after they are
    complete (automatic payouts fill ``automatic_payout_id`` when created; late captures, refunds,
    disputes). Consecutive days go out as one ranged run, as backfills do.

    The cursor holds the freshness each asset (and account) was last seen at; a move from it
    re-lands the materialized days that were complete but unsettled at it. The first tick only
    records it. Each run's materializations say what changed and whether the day is now settled.
    """

    @dg.sensor(
        name=name,
        asset_selection=[t.key for t in targets],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            "When Stripe's freshness moves, lands again the days still within their settling period, "
            "as ranged runs; each landing records what changed and marks the day settled after it."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, stripe: StripeResource) -> dg.SensorResult:
        cursor: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        requests: list[dg.RunRequest] = []
        notes: list[str] = []
        failed: list[str] = []
        with stripe.session() as session:
            probe = FreshnessProbe(session)
            for target in targets:
                if target.source.settling_days <= 0 or not _daily(target):
                    continue
                for account in _accounts(context.instance, target):
                    who = target.source.name + (f" ({account})" if account else "")
                    try:
                        days, moved_to, note = _settling_days(context, probe, target, account, cursor)
                    except Exception as error:
                        failed.append(f"{who}: {type(error).__name__}: {error}")
                        context.log.error(f"settling of {who} could not be evaluated: {error}")
                        continue
                    suffix = f"settle@{iso_utc(moved_to)}"
                    requests.extend(
                        request.with_replaced_attrs(tags={**request.tags, SETTLING_TAG: iso_utc(moved_to)})
                        for request in _ranged_requests(target, account, days, run_key_suffix=suffix)
                    )
                    notes.append(f"{who}: {note}")
        problems = f" Failed: {'; '.join(failed)}." if failed else ""
        cursor_text = json.dumps(cursor, sort_keys=True)
        if not requests:
            return dg.SensorResult(
                skip_reason="No day is settling at a new Stripe freshness. " + "; ".join(notes) + problems,
                cursor=cursor_text,
            )
        return dg.SensorResult(run_requests=requests, cursor=cursor_text)

    return _sensor


def _daily(target: Target) -> bool:
    try:
        target.daily  # noqa: B018 - partitions other than days (payouts) do not settle by day
    except TypeError:
        return False
    return True


def _settling_days(
    context: dg.SensorEvaluationContext,
    probe: FreshnessProbe,
    target: Target,
    account: str | None,
    cursor: dict[str, str],
) -> tuple[list[str], datetime, str]:
    """The materialized days of one asset (and account) to land again now, the freshness they follow,
    and a note for the tick; moves ``cursor`` to the freshness seen."""
    source = target.source
    cursor_key = source.name if account is None else f"{source.name}|{account}"
    fresh = probe.freshness(source, account)
    seen = cursor.get(cursor_key)
    previous = datetime.fromisoformat(seen) if seen else None
    current = fresh.loaded_until
    if previous is None or current > previous:
        cursor[cursor_key] = iso_utc(current)
    label = f"{fresh.label} is {iso_utc(current)}"
    if previous is None:
        return [], current, f"{label}; recorded, the next move re-lands the days still settling"
    daily = target.daily
    keys = daily.get_partition_keys(current_time=min(previous, machine_now()))
    recent = [(k, daily.time_window_for_partition_key(k).end) for k in keys[-(source.settling_days + 2) :]]
    due = days_to_resettle(recent, source.settling_days, previous, current)
    materialized = context.instance.get_materialized_partitions(target.key)
    todo = [k for k in due if partition_key(account, k) in materialized]
    if current <= previous:
        return [], current, f"{label}, unchanged"
    done = f"re-landing {len(todo)} settling day(s)" if todo else "no landed day is still settling"
    return todo, current, f"{label} (was {iso_utc(previous)}): {done}"
