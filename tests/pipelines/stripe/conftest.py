"""Fixtures for the Stripe client tests: a fake clock and clients wired to in-process handlers."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pipelines.stripe import StripeClient

API_BASE = "https://api.stripe.test"
FILES_BASE = "https://files.stripe.test"

Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A clock whose sleep returns at once and moves both monotonic and wall time forward."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.sleeps: list[float] = []
        self.start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.elapsed += seconds

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)


@pytest.fixture
def api_key() -> str:
    return "sk_test_51QfakeKeyThatMustNeverBePrinted0123456789abcd"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(api_key: str, clock: FakeClock) -> Iterator[Callable[..., StripeClient]]:
    """Build a client whose requests go to ``handler`` instead of the network."""
    clients: list[StripeClient] = []

    def make(handler: Handler, **kwargs: Any) -> StripeClient:
        client = StripeClient(
            api_key,
            api_base=API_BASE,
            files_base=FILES_BASE,
            transport=httpx.MockTransport(handler),
            clock=clock,
            **kwargs,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


_request_ids = itertools.count(1)


def stripe_json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON response with a fresh Request-Id, as Stripe sends on every response."""
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Request-Id": f"req_{next(_request_ids)}",
            **(headers or {}),
        },
    )


def stripe_error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """An error response in Stripe's ``{"error": {...}}`` shape."""
    error = {"type": type, "message": message, "code": code, "param": param}
    return stripe_json(status, {"error": error}, headers)


@pytest.fixture
def respond() -> Callable[..., httpx.Response]:
    """``respond(status, body, headers=None)``: a Stripe-style JSON response."""
    return stripe_json


@pytest.fixture
def error() -> Callable[..., httpx.Response]:
    """``error(status, message, type=..., code=..., param=..., headers=...)``: a Stripe error response."""
    return stripe_error
