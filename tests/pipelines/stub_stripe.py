"""A Stripe stand-in inside the test process: an ``httpx.MockTransport`` handler with just enough state.

For unit tests of the core (landing, freshness) below the Dagster layer. Runs finish at once; result
files are whatever the test put in ``files``. End-to-end tests use the emulator instead.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx

API_BASE = "https://api.stripe.test"
FILES_BASE = "https://files.stripe.test"


@dataclass
class StubStripe:
    """Report types, report runs, Sigma query runs and files, kept in dictionaries.

    ``next_file`` is the CSV body the next created run produces; ``requests`` counts requests by
    ``"METHOD /path"`` with ids replaced by ``*``; ``idempotency_keys`` lists the keys of every POST.
    ``extra_routes`` maps ``"METHOD /path"`` to a handler, for a test's own kind of source.
    """

    data_available_end: datetime = datetime(2026, 3, 10, tzinfo=UTC)
    data_load_time: datetime = datetime(2026, 3, 10, 6, tzinfo=UTC)
    next_file: str = ""
    run_status: str = "succeeded"
    files: dict[str, bytes] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    idempotency_keys: list[str] = field(default_factory=list)
    extra_routes: dict[str, Callable[[httpx.Request], httpx.Response]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def transport(self) -> httpx.MockTransport:
        """The transport to hand to ``open_session``."""
        return httpx.MockTransport(self.handle)

    def add_file(self, body: str | bytes) -> str:
        """Store a file and return its id."""
        file_id = f"file_{next(self._ids)}"
        self.files[file_id] = body.encode() if isinstance(body, str) else body
        return file_id

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        path = request.url.path
        route = f"{request.method} {re.sub(r'/(frr|qr|file|toy)_[A-Za-z0-9]+', '/*', path)}"
        self.requests[route] += 1
        if request.method == "POST":
            self.idempotency_keys.append(request.headers.get("Idempotency-Key", ""))
        if route in self.extra_routes:
            return self.extra_routes[route](request)
        if match := re.fullmatch(r"/v1/reporting/report_types/(.+)", path):
            return _json(
                {
                    "id": match[1],
                    "object": "reporting.report_type",
                    "data_available_start": 1735689600,
                    "data_available_end": int(self.data_available_end.timestamp()),
                }
            )
        if route == "POST /v1/reporting/report_runs":
            file_id = self.add_file(self.next_file)
            return self._create(
                "frr", {"result": {"id": file_id, "size": len(self.files[file_id])}, "form": _form(request)}
            )
        if route == "POST /v1/sigma/query_runs":
            form = _form(request)
            if form.get("sql") == "SELECT data_load_time":
                file_id = self.add_file(f"data_load_time\n{self.data_load_time:%Y-%m-%d %H:%M:%S.000}\n")
            else:
                file_id = self.add_file(self.next_file)
            return self._create("qr", {"result": {"file": file_id}, "form": form})
        if match := re.fullmatch(r"/v1/(reporting/report_runs|sigma/query_runs)/(.+)", path):
            return _json(self.runs[match[2]])
        if match := re.fullmatch(r"/v1/files/([^/]+)", path):
            return _json({"id": match[1], "object": "file", "size": len(self.files[match[1]])})
        if match := re.fullmatch(r"/v1/files/([^/]+)/contents", path):
            body = self.files[match[1]]
            return httpx.Response(200, content=body, headers={"Content-Length": str(len(body))})
        return httpx.Response(404, json={"error": {"type": "invalid_request_error", "message": path}})

    def _create(self, prefix: str, fields: dict[str, Any]) -> httpx.Response:
        run = {
            "id": f"{prefix}_{next(self._ids)}",
            "status": self.run_status,
            "created": 1772323200,
            **fields,
        }
        self.runs[run["id"]] = run
        return _json(run)


def _json(body: Any) -> httpx.Response:
    return httpx.Response(
        200,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Request-Id": "req_1"},
    )


def _form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


class StillClock:
    """A clock for the core's waits: sleeping returns at once and is recorded."""

    def __init__(self) -> None:
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.slept

    def sleep(self, seconds: float) -> None:
        self.slept += seconds

    def now(self) -> datetime:
        return datetime(2026, 3, 10, 12, tzinfo=UTC)
