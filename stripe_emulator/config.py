"""The emulator's configuration: which data it generates and how its API behaves."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

MAX_CONNECTED_ACCOUNTS = 10_000
"""A platform-scale Connect platform; the connected accounts share the ``scale`` charges."""


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes one emulator instance.

    The same ``seed`` and generation fields (``days``, ``future_days``, ``data_load_time``, ``scale``,
    ``connected_accounts``) always produce the same data. ``run_delay``, ``rate_limit``, ``files_dir``,
    ``download_url_ttl`` and ``api_keys`` only affect the HTTP API.
    """

    seed: int = 42
    days: int = 120
    """Days of history before the day of ``data_load_time``."""
    future_days: int = 3
    """Days generated after the day of ``data_load_time``: they exist but are not loaded yet."""
    data_load_time: datetime | None = None
    """Timezone-aware; ``None`` means the current hour (UTC, floored) minus three hours."""
    scale: int = 200
    """About how many balance transactions the platform records per day (connected accounts add ~20%)."""
    connected_accounts: int = 3
    run_delay: float = 0.3
    """Seconds a query or report run stays pending/running."""
    rate_limit: float = 100.0
    """Requests per second per live-mode API key (token bucket; the burst equals the rate): Stripe's
    documented live-mode limit."""
    test_rate_limit: float = 25.0
    """Requests per second per test-mode API key: Stripe's documented test-mode limit."""
    files_dir: Path | None = None
    """Where result files are written; ``None`` means a temporary directory."""
    api_keys: tuple[str, ...] | None = None
    """The secret keys that exist (``sk_test_…``, ``sk_live_…``); ``None``: any ``sk_test_…`` key works."""
    download_url_ttl: float = 300.0
    """Seconds a Data API v2 result's pre-signed ``download_url`` works after it is issued."""
    report_history_days: int | None = None
    """Days before the day of ``data_load_time`` from which the Reporting API offers data: every
    report type's ``data_available_start`` is that midnight UTC. ``None``: all ``days`` of history.
    Fewer days than ``days`` leave generated history that Sigma shows and reports refuse, as for an
    account whose Reporting API data starts later than its first activity."""

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if self.future_days < 0:
            raise ValueError(f"future_days must not be negative, got {self.future_days}")
        if self.scale < 1:
            raise ValueError(f"scale must be at least 1, got {self.scale}")
        if not 0 <= self.connected_accounts <= MAX_CONNECTED_ACCOUNTS:
            raise ValueError(
                f"connected_accounts must be between 0 and {MAX_CONNECTED_ACCOUNTS}, "
                f"got {self.connected_accounts}"
            )
        if self.data_load_time is not None and self.data_load_time.tzinfo is None:
            raise ValueError("data_load_time must be timezone-aware")
        if self.run_delay < 0:
            raise ValueError(f"run_delay must not be negative, got {self.run_delay}")
        if self.rate_limit <= 0:
            raise ValueError(f"rate_limit must be positive, got {self.rate_limit}")
        if self.test_rate_limit <= 0:
            raise ValueError(f"test_rate_limit must be positive, got {self.test_rate_limit}")
        if self.api_keys is not None:
            if not isinstance(self.api_keys, tuple):
                raise ValueError("api_keys must be a tuple of keys (or None for any test key)")
            malformed = [
                key[:8] for key in self.api_keys if not re.fullmatch(r"sk_(test|live)_[A-Za-z0-9]+", key)
            ]
            if malformed:
                raise ValueError(
                    f"api_keys must be sk_test_… or sk_live_… keys; got keys starting {malformed}"
                )
        if self.report_history_days is not None and not 1 <= self.report_history_days <= self.days:
            raise ValueError(
                f"report_history_days must be between 1 and days ({self.days}), "
                f"got {self.report_history_days}"
            )
        if self.download_url_ttl < 0:
            raise ValueError(f"download_url_ttl must not be negative, got {self.download_url_ttl}")

    def initial_data_load_time(self, now: datetime | None = None) -> datetime:
        """The configured ``data_load_time`` in UTC, or Stripe's usual lag behind ``now``."""
        if self.data_load_time is not None:
            return self.data_load_time.astimezone(UTC)
        current = (now or datetime.now(UTC)).astimezone(UTC)
        return current.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
