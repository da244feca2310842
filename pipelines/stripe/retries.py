"""When a failed Stripe request is worth repeating, and how long to wait first.

The precedence is stripe-python's (``_http_client._should_retry``): Stripe's ``Stripe-Should-Retry``
header decides when present; otherwise 409 (a concurrent request with the same idempotency key) and
5xx are retried. Unlike stripe-python, a plain 429 is retried too, with backoff, because Stripe's
rate-limit documentation asks clients to back off and retry. Every other status is permanent: a 400
or 401 repeated four times is still a 400 or 401, and the extra requests only eat rate limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

RETRYABLE_STATUSES = frozenset({409, 429})
"""Statuses retried (besides 5xx) when Stripe does not say otherwise."""

RETRYABLE_TRANSPORT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
"""Transport failures that may succeed on a second try. An unsupported URL or a local protocol
error will not, so those are raised at once."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter, stripe-python's schedule by default.

    The n-th retry (1-based) waits ``min(initial * factor ** (n - 1), maximum)`` seconds, jittered
    down to between half and all of that (so that clients that failed together do not retry
    together), and never less than ``initial``. A ``Retry-After`` header raises the wait to what
    Stripe asked for, up to ``max_retry_after`` seconds.
    """

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 5.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.factor < 1 or self.max_retry_after < 0:
            raise ValueError(f"invalid backoff: {self!r}")

    def delay(self, retry: int, *, jitter: float, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based).

        ``jitter`` is a number in [0, 1) from the caller's random source: 0 waits half the nominal
        delay, values near 1 wait all of it.
        """
        if retry < 1:
            raise ValueError("retry numbers start at 1")
        nominal = min(self.initial * self.factor ** (retry - 1), self.maximum)
        wait = max(self.initial, nominal * (0.5 + jitter / 2))
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def should_retry(response: httpx.Response) -> bool:
    """Whether a response with this status and these headers is worth repeating.

    ``Stripe-Should-Retry`` wins over the status code in both directions: ``false`` stops a 500
    from being retried, ``true`` makes even a 400 retried.
    """
    verdict = response.headers.get("Stripe-Should-Retry", "").strip().lower()
    if verdict == "false":
        return False
    if verdict == "true":
        return True
    return response.status_code in RETRYABLE_STATUSES or response.status_code >= 500


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or ``None``."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
