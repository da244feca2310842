"""``GET /v1/events``: the events Stripe emits as its data loads, derived from the clock.

Two kinds of event follow the clock, as Stripe documents them:

* ``reporting.report_type.updated`` — "as soon as a new day's data is available for a given report
  type … two for each report type" a day: one per report type at each 00:00 and 12:00 UTC the clock
  passes, the object being the report type as it stood then.
* ``sigma.scheduled_query_run.created`` — one per scheduled Sigma query run, when it is created.

Events exist from the emulator's initial ``data_load_time`` on (a reset forgets later ones, as it
moves the clock back), so a client listing them with ``created[gt]`` sees each once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from stripe_emulator.app.endpoint import Context, Route, accepts
from stripe_emulator.app.state import EmulatorState
from stripe_emulator.conventions import as_str, as_str_list, created_filter, invalid_request, paginate
from stripe_emulator.engine import ReportType
from stripe_emulator.timestamps import unix

REPORT_TYPE_UPDATED = "reporting.report_type.updated"
SCHEDULED_RUN_CREATED = "sigma.scheduled_query_run.created"
EVENT_TYPES = (REPORT_TYPE_UPDATED, SCHEDULED_RUN_CREATED)
UPDATE_HOURS = 12
"""Report types are updated semi-daily: at each multiple of this many hours (UTC)."""


class EventsApi:
    """``/v1/events``: a list, newest first, filtered by ``type``, ``types[]`` and ``created``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.engine = state.engine

    def routes(self) -> list[Route]:
        """(method, route template, handler, accepted parameters) of each endpoint."""
        return [("GET", "/v1/events", self.list_events, accepts("type", "types", "created", lists=True))]

    async def list_events(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/events``: Stripe refuses ``type`` and ``types`` together."""
        if ctx.params.get("type") and ctx.params.get("types"):
            raise invalid_request("You may only specify one of these parameters: type, types.", param="types")
        wanted: set[str] | None = None
        if ctx.params.get("type"):
            wanted = {as_str(ctx.params["type"], "type")}
        elif ctx.params.get("types"):
            wanted = set(as_str_list(ctx.params["types"], "types"))
        keep = created_filter(ctx.params.get("created"))
        events = await run_in_threadpool(self._events)
        chosen = [e for e in events if (wanted is None or _matches(e["type"], wanted)) and keep(e["created"])]
        return paginate(chosen, ctx.params, url="/v1/events", object_name="event")

    def _events(self) -> list[dict[str, Any]]:
        """Every event between the initial clock and now, newest first."""
        since, now = self.state.initial_data_load_time, self.engine.data_load_time
        types = self.engine.report_types()
        events = [_report_type_event(t, at) for at in _update_times(since, now) for t in types]
        events += [
            _event(SCHEDULED_RUN_CREATED, run["created"], run)
            for run in self.engine.scheduled_query_runs()
            if unix(since) < run["created"] <= unix(now)
        ]
        return sorted(events, key=lambda e: (e["created"], e["id"]), reverse=True)


def _matches(event_type: str, wanted: set[str]) -> bool:
    # Stripe accepts a trailing wildcard, as in ``reporting.*``.
    return any(event_type == w or (w.endswith("*") and event_type.startswith(w[:-1])) for w in wanted)


def _update_times(since: datetime, now: datetime) -> list[datetime]:
    step = timedelta(hours=UPDATE_HOURS)
    first = since.replace(minute=0, second=0, microsecond=0)
    first = first.replace(hour=first.hour - first.hour % UPDATE_HOURS)
    times = []
    at = first + step
    while at <= now:
        times.append(at)
        at += step
    return times


def _report_type_event(report_type: ReportType, at: datetime) -> dict[str, Any]:
    end = unix(at)
    data = {
        "id": report_type.id,
        "object": "reporting.report_type",
        "data_available_end": end,
        "data_available_start": unix(report_type.data_available_start),
        "livemode": False,
        "name": report_type.name,
        "updated": end,
        "version": report_type.version,
    }
    return _event(REPORT_TYPE_UPDATED, end, data)


def _event(event_type: str, created: int, data: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(f"{event_type}|{data['id']}|{created}".encode()).hexdigest()
    return {
        "id": f"evt_{digest[:24]}",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "data": {"object": data},
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
