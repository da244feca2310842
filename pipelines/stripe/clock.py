"""Time as the client sees it: a monotonic clock for waiting, a wall clock for timestamps, and sleep.

Retries and polling wait through a ``Clock`` rather than calling :func:`time.sleep` directly, so a
test can pass a fake one and run a whole backoff schedule or poll deadline in milliseconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What the client needs from time."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going backwards; used to measure waits."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        ...

    def now(self) -> datetime:
        """The current wall-clock time, tz-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """:func:`time.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """:func:`time.sleep`."""
        time.sleep(seconds)

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"
