"""One open connection to Stripe and the runners built on it, for the length of a run or a tick."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pipelines.stripe.client import (
    DEFAULT_API_BASE,
    DEFAULT_DATA_API_VERSION,
    DEFAULT_FILES_BASE,
    StripeClient,
)
from pipelines.stripe.clock import Clock
from pipelines.stripe.data_api import DataQueryRunner, DataReportRunner, DataReports, DataSchemas
from pipelines.stripe.files import FileDownloader
from pipelines.stripe.polling import PollPolicy
from pipelines.stripe.rate_limit import RateLimiter, default_rate, mode_of
from pipelines.stripe.reporting import ReportRunner
from pipelines.stripe.sigma import SigmaRunner

DEFAULT_JOBS_IN_FLIGHT = 4
"""Stripe jobs a run step keeps going at once when it lands many chunks."""


def parse_jobs_in_flight(value: int | str, where: str) -> int:
    """``value`` (a number, or its text from configuration) as jobs in flight; ValueError naming
    ``where`` when it is not a whole number of at least 1."""
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{where} must be a whole number of at least 1, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class StripeSettings:
    """Where Stripe is, which key to use and how patiently to wait: everything a session needs.

    ``stripe_version`` is the optional version of v1 requests; ``data_api_version`` the
    ``Stripe-Version`` of every ``/v2`` (Data API) request, which must be a ``.preview`` version.
    """

    api_key: str
    api_base: str = DEFAULT_API_BASE
    files_base: str = DEFAULT_FILES_BASE
    stripe_version: str | None = None
    data_api_version: str = DEFAULT_DATA_API_VERSION
    request_timeout_seconds: float = 30.0
    max_network_retries: int = 4
    poll: PollPolicy = field(default_factory=PollPolicy)
    download_attempts: int = 3
    run_deadline_base_seconds: float = 600.0
    run_deadline_per_day_seconds: float = 60.0
    rate_limit_dir: str | None = None
    """Directory of the request bucket shared by every process on the machine; None: no limiter."""
    rate_limit_per_second: float | None = None
    """Requests per second of that bucket; None: Stripe's limit for the key's mode, less a margin."""
    jobs_in_flight: int = DEFAULT_JOBS_IN_FLIGHT
    """Stripe jobs one run step keeps going at once when it lands many chunks (a month of a report
    Stripe computes a day at a time): created and awaited ahead while earlier chunks load."""

    def __post_init__(self) -> None:
        if self.jobs_in_flight < 1:
            raise ValueError(f"jobs_in_flight must be at least 1, got {self.jobs_in_flight}")

    def run_deadline(self, days: int) -> float:
        """How long to wait for one Stripe job over ``days`` days: a base plus a share per day, capped
        by ``poll.deadline``. A stuck job then frees its slot in the Stripe pool after about the time
        such a job takes, not after the cap (an hour by default)."""
        return min(
            self.poll.deadline, self.run_deadline_base_seconds + self.run_deadline_per_day_seconds * days
        )

    def __repr__(self) -> str:
        # The dataclass repr would print the key.
        return (
            f"StripeSettings(api_base={self.api_base!r}, files_base={self.files_base!r}, "
            f"data_api_version={self.data_api_version!r})"
        )


@dataclass(frozen=True)
class StripeSession:
    """An open client and the runners on it.

    ``sigma``, ``reports`` and ``files`` speak v1; ``data_queries`` (query runs), ``data_reports``
    (report runs), ``data_report_catalog`` (``/v2/data/reports``) and ``data_schemas`` speak the
    Data API. All share the one client, and the ``/v2`` runners download through ``files``.
    """

    settings: StripeSettings
    client: StripeClient
    sigma: SigmaRunner
    reports: ReportRunner
    files: FileDownloader
    data_queries: DataQueryRunner
    data_reports: DataReportRunner
    data_report_catalog: DataReports
    data_schemas: DataSchemas


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
        data_api_version=settings.data_api_version,
        timeout=settings.request_timeout_seconds,
        max_network_retries=settings.max_network_retries,
        transport=transport,
        clock=clock,
        rate_limiter=_rate_limiter(settings, clock),
    ) as client:
        files = FileDownloader(client, attempts=settings.download_attempts)
        yield StripeSession(
            settings=settings,
            client=client,
            sigma=SigmaRunner(client, poll=settings.poll),
            reports=ReportRunner(client, poll=settings.poll),
            files=files,
            data_queries=DataQueryRunner(client, poll=settings.poll, files=files),
            data_reports=DataReportRunner(client, poll=settings.poll, files=files),
            data_report_catalog=DataReports(client),
            data_schemas=DataSchemas(client),
        )


def _rate_limiter(settings: StripeSettings, clock: Clock | None) -> RateLimiter | None:
    if not settings.rate_limit_dir:
        return None
    mode = mode_of(settings.api_key)
    rate = settings.rate_limit_per_second or default_rate(mode)
    return RateLimiter(Path(settings.rate_limit_dir), rate=rate, bucket=mode, clock=clock)
