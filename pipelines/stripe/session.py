"""One open connection to Stripe and the runners built on it, for the length of a run or a tick."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from pipelines.stripe.client import DEFAULT_API_BASE, DEFAULT_FILES_BASE, StripeClient
from pipelines.stripe.clock import Clock
from pipelines.stripe.files import FileDownloader
from pipelines.stripe.polling import PollPolicy
from pipelines.stripe.reporting import ReportRunner
from pipelines.stripe.sigma import SigmaRunner


@dataclass(frozen=True)
class StripeSettings:
    """Where Stripe is, which key to use and how patiently to wait: everything a session needs."""

    api_key: str
    api_base: str = DEFAULT_API_BASE
    files_base: str = DEFAULT_FILES_BASE
    stripe_version: str | None = None
    request_timeout_seconds: float = 30.0
    max_network_retries: int = 4
    poll: PollPolicy = field(default_factory=PollPolicy)
    download_attempts: int = 3
    run_deadline_base_seconds: float = 600.0
    run_deadline_per_day_seconds: float = 60.0

    def run_deadline(self, days: int) -> float:
        """How long to wait for one Stripe job over ``days`` days: a base plus a share per day, capped
        by ``poll.deadline``. A stuck job then frees its slot in the Stripe pool after about the time
        such a job takes, not after the cap (an hour by default)."""
        return min(
            self.poll.deadline, self.run_deadline_base_seconds + self.run_deadline_per_day_seconds * days
        )

    def __repr__(self) -> str:
        # The dataclass repr would print the key.
        return f"StripeSettings(api_base={self.api_base!r}, files_base={self.files_base!r})"


@dataclass(frozen=True)
class StripeSession:
    """An open client and the runners on it."""

    settings: StripeSettings
    client: StripeClient
    sigma: SigmaRunner
    reports: ReportRunner
    files: FileDownloader


@contextmanager
def open_session(
    settings: StripeSettings,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
) -> Iterator[StripeSession]:
    """A session on ``settings``; the client is closed when the block ends.

    ``transport`` and ``clock`` are the seams tests use (an ``httpx.MockTransport``, a fake clock).
    """
    with StripeClient(
        settings.api_key,
        api_base=settings.api_base,
        files_base=settings.files_base,
        stripe_version=settings.stripe_version,
        timeout=settings.request_timeout_seconds,
        max_network_retries=settings.max_network_retries,
        transport=transport,
        clock=clock,
    ) as client:
        yield StripeSession(
            settings=settings,
            client=client,
            sigma=SigmaRunner(client, poll=settings.poll),
            reports=ReportRunner(client, poll=settings.poll),
            files=FileDownloader(client, attempts=settings.download_attempts),
        )
