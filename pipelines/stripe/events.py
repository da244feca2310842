"""Stripe's events that say its data has moved: ``GET /v1/events`` read with a cursor.

Stripe emits ``reporting.report_type.updated`` each time a report type's ``data_available_end``
moves (about twice a day per type) and ``sigma.scheduled_query_run.created`` each time a scheduled
Sigma query runs on newly loaded data. An event only says "the freshness of this surface may have
moved"; the freshness itself is then read once from its own endpoint, as when polling.

Events are listed newest first, so the cursor is the newest ``created`` seen plus the ids seen at
that second: the next listing asks for ``created[gte]`` and drops those ids, so an event created in
the same second as the last one seen, but listed later, is still read, and none is read twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.stripe.client import StripeClient

REPORT_TYPE_UPDATED = "reporting.report_type.updated"
SCHEDULED_QUERY_RUN_CREATED = "sigma.scheduled_query_run.created"
FRESHNESS_EVENT_TYPES = (REPORT_TYPE_UPDATED, SCHEDULED_QUERY_RUN_CREATED)


@dataclass(frozen=True)
class FreshnessEvent:
    """One event: its id, type, unix ``created`` and the id of the object it is about."""

    id: str
    type: str
    created: int
    object_id: str | None


@dataclass(frozen=True)
class EventCursor:
    """Where the last listing stopped: the newest ``created`` seen and the ids seen at that second."""

    created: int
    ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The cursor as a JSON-able dict (for a Dagster sensor's cursor)."""
        return {"created": self.created, "ids": list(self.ids)}

    @classmethod
    def from_json(cls, value: Any) -> EventCursor | None:
        """The cursor stored by :meth:`to_json`, or None when there is none (or it is unreadable)."""
        if not isinstance(value, dict) or not isinstance(value.get("created"), int):
            return None
        return cls(value["created"], tuple(str(i) for i in value.get("ids", [])))


def newest_cursor(client: StripeClient, types: Sequence[str] = FRESHNESS_EVENT_TYPES) -> EventCursor:
    """A cursor at the newest event of ``types`` (one request): later listings start after it.

    With no such event yet, the cursor starts at 0, so the first event ever emitted is read.
    """
    page = client.request("GET", "/v1/events", params={"types": list(types), "limit": 1})
    data = page.get("data") or []
    if not data:
        return EventCursor(0)
    return EventCursor(int(data[0]["created"]), (str(data[0]["id"]),))


def events_after(
    client: StripeClient, cursor: EventCursor, types: Sequence[str] = FRESHNESS_EVENT_TYPES
) -> tuple[list[FreshnessEvent], EventCursor]:
    """The events of ``types`` after ``cursor``, oldest first, and the cursor after them.

    One request while fewer than 100 events are new (Stripe's page size); more pages otherwise.
    Raises the client's :class:`~pipelines.stripe.errors.StripeError` (a restricted key without
    ``rak_event_read`` gets a permission error): the caller falls back to polling.
    """
    listed = client.list(
        "/v1/events", {"types": list(types), "created": {"gte": cursor.created}, "limit": 100}
    )
    seen = set(cursor.ids) if cursor.created else set()
    events = [_event(raw) for raw in listed if str(raw.get("id")) not in seen]
    events.sort(key=lambda e: (e.created, e.id))
    return events, _advanced(cursor, events)


def _advanced(cursor: EventCursor, events: Iterable[FreshnessEvent]) -> EventCursor:
    newest, ids = cursor.created, set(cursor.ids)
    for event in events:
        if event.created > newest:
            newest, ids = event.created, set()
        if event.created == newest:
            ids.add(event.id)
    return EventCursor(newest, tuple(sorted(ids)))


def _event(raw: dict[str, Any]) -> FreshnessEvent:
    data = raw.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    object_id = obj.get("id") if isinstance(obj, dict) else None
    return FreshnessEvent(
        id=str(raw["id"]),
        type=str(raw.get("type", "")),
        created=int(raw.get("created", 0)),
        object_id=str(object_id) if object_id is not None else None,
    )
