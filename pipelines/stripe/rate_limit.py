"""A token bucket shared by every process on a machine, so parallel runs stay under Stripe's rate limit.

Stripe allows 100 read operations a second in live mode and 25 in test mode per account, and answers
more with 429s; a 12-asset backfill runs a dozen processes, each of which would otherwise pace only
itself. The bucket lives in a small SQLite file (under the Dagster home, or any directory the
processes share): each request takes a token in one ``BEGIN IMMEDIATE`` transaction, which SQLite
serializes across processes. A request finding the bucket empty reserves the next token (the count
goes below zero) and sleeps until it is due, so waiting requests are served in order and none spins.

Buckets are named by key mode (``live``/``test``), never by the key, so the file holds no secret.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pipelines.stripe.clock import Clock, SystemClock

LIVE_RATE = 80.0
"""Requests per second in live mode: below Stripe's documented 100, leaving room for other clients."""
TEST_RATE = 20.0
"""Requests per second in test mode: below Stripe's documented 25."""
FILE_NAME = "stripe-rate-limit.sqlite3"


def mode_of(api_key: str) -> str:
    """``live`` for ``sk_live_``/``rk_live_`` keys, else ``test`` (the bucket's name)."""
    return "live" if "_live_" in api_key[:8] else "test"


def default_rate(mode: str) -> float:
    """The default requests per second for a key mode."""
    return LIVE_RATE if mode == "live" else TEST_RATE


@dataclass
class RateLimiter:
    """A token bucket of ``rate`` tokens a second holding at most ``burst``, stored in ``directory``.

    ``clock`` supplies the time and the sleep (its wall clock, so that every process on the machine
    reads the same time); tests pass a fake one.
    """

    directory: Path
    rate: float
    burst: float | None = None
    bucket: str = "test"
    clock: Clock | None = None

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError(f"the Stripe rate limit must be more than 0 requests a second, got {self.rate}")
        if self.burst is None:
            self.burst = self.rate
        if self.burst < 1:
            raise ValueError(f"the Stripe rate limit's burst must be at least 1 request, got {self.burst}")
        self.directory = Path(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / FILE_NAME
        self._clock: Clock = self.clock or SystemClock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; returns the seconds slept (0 when one was free)."""
        wait = self._reserve()
        if wait > 0:
            self._clock.sleep(wait)
        return wait

    def _reserve(self) -> float:
        burst = float(self.burst or self.rate)
        now = self._clock.now().timestamp()
        # A fresh connection per request: cheap for SQLite, and safe across fork()ed run workers.
        connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, "
                "updated REAL NOT NULL)"
            )
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute(
                "SELECT tokens, updated FROM buckets WHERE name = ?", (self.bucket,)
            ).fetchone()
            tokens, updated = (burst, now) if row is None else (float(row[0]), float(row[1]))
            # A clock stepping back must not mint tokens or stall: elapsed time is never negative.
            tokens = min(burst, tokens + max(0.0, now - updated) * self.rate)
            tokens -= 1.0
            connection.execute(
                "INSERT INTO buckets (name, tokens, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, updated = excluded.updated",
                (self.bucket, tokens, max(now, updated)),
            )
            connection.execute("COMMIT")
        finally:
            connection.close()
        return 0.0 if tokens >= 0 else -tokens / self.rate
