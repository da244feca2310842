"""What the API stores between requests: result files, report and query runs, saved queries."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from stripe_emulator.conventions import list_object
from stripe_emulator.faults import FaultRule


@dataclass
class StoredFile:
    """A result file on disk, served as a Stripe ``file`` object."""

    id: str
    created: int
    purpose: str
    path: Path
    size: int
    filename: str
    account: str | None
    title: str | None = None
    expires_at: int | None = None
    livemode: bool | None = False
    """The mode of the key whose run made it; None for scheduled query results, seen in both modes."""

    def visible_in(self, livemode: bool) -> bool:
        """Whether a key of this mode (live or test) may see the file."""
        return self.livemode is None or self.livemode == livemode

    def to_json(self, base_url: str) -> dict[str, Any]:
        """The ``file`` object, its download URL under ``base_url``."""
        return {
            "id": self.id,
            "object": "file",
            "created": self.created,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "links": list_object([], url=f"/v1/file_links?file={self.id}"),
            "purpose": self.purpose,
            "size": self.size,
            "title": self.title,
            "type": "csv",
            "url": f"{base_url}/v1/files/{self.id}/contents",
        }


@dataclass
class Run:
    """A report run (``kind="report_run"``) or Sigma query run (``kind="query_run"``)."""

    id: str
    kind: str
    created: int
    account: str | None
    generation: int
    ready_at: float
    report_type: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    sql: str = ""
    data_load_time: datetime | None = None
    faults: tuple[FaultRule, ...] = ()
    livemode: bool = False
    outcome: str | None = None
    error: str | None = None
    file_id: str | None = None
    finished_at: int | None = None

    def status(self) -> str:
        """The outcome once it is known and ``ready_at`` has passed, else the kind's in-progress status."""
        if self.outcome is not None and time.monotonic() >= self.ready_at:
            return self.outcome
        return "pending" if self.kind == "report_run" else "running"


@dataclass
class SavedQuery:
    """A Sigma saved query (``sigma.sigma_api_query``)."""

    id: str
    created: int
    name: str
    sql: str
    livemode: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``sigma.sigma_api_query`` object."""
        return {
            "id": self.id,
            "object": "sigma.sigma_api_query",
            "created": self.created,
            "livemode": self.livemode,
            "name": self.name,
            "sql": self.sql,
        }


def visible_to(owner: str | None, requester: str | None) -> bool:
    """Objects of a connected account are visible to that account and to the platform (no header)."""
    return requester is None or owner == requester
