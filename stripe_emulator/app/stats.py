"""Request and run counters, shown by ``GET /_emulator/stats``."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Counters shown by ``GET /_emulator/stats``; safe to bump from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to zero (``POST /_emulator/reset``)."""
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.responses: Counter[str] = Counter()
            self.runs_created: Counter[str] = Counter()
            self.idempotent_replays = 0
            self.rate_limited = 0

    def request(self, route: str, status: str) -> None:
        """Count a request to ``route`` (``METHOD template``) and its outcome (status or ``dropped``)."""
        with self._lock:
            self.requests[route] += 1
            self.responses[status] += 1

    def bump(self, name: str) -> None:
        """Add one to the counter ``name`` (``idempotent_replays`` or ``rate_limited``)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def run_created(self, kind: str) -> None:
        """Count a new run of ``kind``."""
        with self._lock:
            self.runs_created[kind] += 1

    def to_json(self, faults_fired: dict[str, int]) -> dict[str, Any]:
        """The stats document, with the fault injector's firing counts."""
        with self._lock:
            return {
                "requests": dict(sorted(self.requests.items())),
                "responses": dict(sorted(self.responses.items())),
                "runs_created": dict(self.runs_created),
                "faults_fired": faults_fired,
                "idempotent_replays": self.idempotent_replays,
                "rate_limited": self.rate_limited,
            }
