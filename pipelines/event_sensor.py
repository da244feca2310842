"""``stripe_events``: the freshness sensors' work, triggered by Stripe's events instead of polling.

Polling asks Stripe for every asset's freshness on every tick. This sensor lists Stripe's events
instead (:mod:`pipelines.stripe.events`), at most every ``events_every_seconds``, and reads the
freshness of an asset only when an event says it may have moved — a report type's
``reporting.report_type.updated`` for report entries, ``sigma.scheduled_query_run.created`` for
Sigma entries. What it then requests is decided exactly as by the freshness sensors
(:func:`pipelines.automation._evaluate`), so both agree on which days are complete.

Polling stays the fallback: every asset is read on the first tick, every ``poll_every_seconds``
(``/v2/data`` entries, which have no such v1 event, are read then), and on every listing tick at
which the events cannot be listed (a restricted key without ``rak_event_read``, say).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from pipelines import automation
from pipelines.automation import Target, _accounts, _evaluate, _ranged_requests
from pipelines.failed_runs import FailedRuns, RetryBackoff
from pipelines.freshness import FreshnessProbe
from pipelines.resources import StripeResource
from pipelines.sources import PayoutReportSource, ReportSource, SigmaSource
from pipelines.stripe.events import (
    REPORT_TYPE_UPDATED,
    SCHEDULED_QUERY_RUN_CREATED,
    EventCursor,
    FreshnessEvent,
    events_after,
    newest_cursor,
)
from pipelines.timestamps import iso_utc

EVENT_SENSOR = "stripe_events"


def machine_now() -> datetime:
    """This machine's clock, which paces the listings and the fallback polls."""
    return automation.machine_now()


def build_event_sensor(
    targets: Sequence[Target],
    *,
    name: str = EVENT_SENSOR,
    minimum_interval_seconds: int = 30,
    events_every_seconds: int = 1800,
    poll_every_seconds: int = 86400,
    initial_lookback_days: int = 7,
    retry_backoff: RetryBackoff | None = None,
) -> dg.SensorDefinition:
    """A sensor requesting each complete partition of ``targets`` once, reading freshness on events.

    Ticks between listings cost no request at all. Failed runs are retried (after
    ``retry_backoff``) on listing ticks, as by the freshness sensors.
    """
    driven = [t for t in targets if not isinstance(t.source, PayoutReportSource)]

    @dg.sensor(
        name=name,
        asset_selection=[t.key for t in driven],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            "Lists Stripe's events and, when one says an asset's data moved, requests the partitions "
            "that became complete (as the freshness sensors do); polls every asset as a fallback."
        ),
    )
    def _sensor(
        context: dg.SensorEvaluationContext, stripe: StripeResource
    ) -> dg.SensorResult | dg.SkipReason:
        state: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
        now = machine_now()
        listed_at = _time(state.get("listed_at"))
        if listed_at is not None and now - listed_at < timedelta(seconds=events_every_seconds):
            return dg.SkipReason(
                f"Stripe's events were listed at {iso_utc(listed_at)}; next listing is due later."
            )
        days: dict[str, str] = state.get("days", {})
        polled_at = _time(state.get("polled_at"))
        poll = polled_at is None or now - polled_at >= timedelta(seconds=poll_every_seconds)
        requests: list[dg.RunRequest] = []
        notes: list[str] = []
        failed: list[str] = []
        failures = FailedRuns(context.instance, now, retry_backoff or RetryBackoff())
        with stripe.session() as session:
            events: list[FreshnessEvent] = []
            cursor = EventCursor.from_json(state.get("events"))
            try:
                if cursor is None:
                    cursor = newest_cursor(session.client)
                    poll = True
                else:
                    events, cursor = events_after(session.client, cursor)
            except Exception as error:
                # Events denied or unreachable: the freshness timestamps still say everything.
                notes.append(f"events could not be listed ({type(error).__name__}: {error}); polled instead")
                context.log.warning(f"Stripe's events could not be listed, polling instead: {error}")
                poll = True
            probe = FreshnessProbe(session)
            requested: dict[dg.AssetKey, set[str]] = {}
            for target in driven:
                if not poll and not _moved(target, events):
                    continue
                for account in _accounts(context.instance, target):
                    who = target.source.name + (f" ({account})" if account else "")
                    try:
                        todo, note = _evaluate(context, probe, target, account, days, initial_lookback_days)
                    except Exception as error:
                        failed.append(f"{who}: {type(error).__name__}: {error}")
                        context.log.error(f"freshness of {who} could not be evaluated: {error}")
                        continue
                    requests.extend(_ranged_requests(target, account, todo))
                    notes.append(f"{who}: {note}")
                    if account is None:
                        requested[target.key] = set(todo)
            for target in driven:
                if target.source.per_account:
                    continue  # as in the freshness sensors: per-account days are left to a backfill
                asked = requested.get(target.key, set())
                due, held = failures.retries(target, set(), asked)
                if not due and not held:
                    continue  # no failed run: spare the materializations lookup, the tick's costliest
                materialized = context.instance.get_materialized_partitions(target.key)
                due, held = failures.retries(target, materialized, asked)
                for suffix, retry_days in due.items():
                    requests.extend(_ranged_requests(target, None, retry_days, run_key_suffix=suffix))
                notes.extend(f"{target.source.name}: {note}" for note in held)
        state = {
            "days": days,
            "events": cursor.to_json() if cursor is not None else state.get("events"),
            "listed_at": iso_utc(now),
            "polled_at": iso_utc(now) if poll else state.get("polled_at"),
        }
        reason = f"{len(events)} new event(s)" + ("; polled every asset" if poll else "")
        if failed:
            notes.append(f"Failed: {'; '.join(failed)}")
        text = json.dumps(state, sort_keys=True)
        if not requests:
            return dg.SensorResult(
                skip_reason=f"Nothing new is complete ({reason}). " + "; ".join(notes), cursor=text
            )
        return dg.SensorResult(run_requests=requests, cursor=text)

    return _sensor


def _moved(target: Target, events: Sequence[FreshnessEvent]) -> bool:
    """Whether an event says the freshness ``target`` reads may have moved."""
    source = target.source
    # The /v2/data kinds subclass these but read another surface (refreshed_at), which no v1 event
    # announces: they are read when polling.
    if source.kind == "report" and isinstance(source, ReportSource):
        return any(e.type == REPORT_TYPE_UPDATED and e.object_id == source.report_type for e in events)
    if source.kind == "sigma" and isinstance(source, SigmaSource):
        return any(e.type == SCHEDULED_QUERY_RUN_CREATED for e in events)
    return False


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
