"""The client-side rate limiter: a token bucket in a file every process on the machine shares."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from conftest import FakeClock, stripe_json

from pipelines.stripe import StripeSettings, open_session
from pipelines.stripe.rate_limit import RateLimiter, default_rate, mode_of


def test_a_burst_is_free_and_the_next_request_waits_one_interval(tmp_path: Path, clock: FakeClock) -> None:
    limiter = RateLimiter(tmp_path, rate=10, burst=3, clock=clock)

    waits = [limiter.acquire() for _ in range(5)]

    assert waits == [0, 0, 0, pytest.approx(0.1), pytest.approx(0.1)]
    assert clock.sleeps == [pytest.approx(0.1), pytest.approx(0.1)]


def test_waiting_requests_are_served_in_order_at_the_rate(tmp_path: Path, clock: FakeClock) -> None:
    frozen = FakeClock()  # a clock that never moves: each request reserves the next token
    frozen.sleep = lambda seconds: frozen.sleeps.append(seconds)  # type: ignore[method-assign]
    limiter = RateLimiter(tmp_path, rate=20, burst=1, clock=frozen)

    waits = [limiter.acquire() for _ in range(4)]

    assert waits == [0, pytest.approx(0.05), pytest.approx(0.10), pytest.approx(0.15)]


def test_idle_time_refills_the_bucket_up_to_its_burst(tmp_path: Path, clock: FakeClock) -> None:
    limiter = RateLimiter(tmp_path, rate=10, burst=2, clock=clock)
    limiter.acquire(), limiter.acquire()
    clock.elapsed += 60  # a minute idle refills two tokens, not six hundred

    assert [limiter.acquire() for _ in range(3)] == [0, 0, pytest.approx(0.1)]


def test_modes_have_their_own_buckets_and_default_rates(tmp_path: Path, clock: FakeClock) -> None:
    test = RateLimiter(tmp_path, rate=1, burst=1, bucket="test", clock=clock)
    live = RateLimiter(tmp_path, rate=1, burst=1, bucket="live", clock=clock)
    test.acquire()
    assert live.acquire() == 0
    assert mode_of("sk_live_abc") == mode_of("rk_live_abc") == "live" and mode_of("sk_test_abc") == "test"
    assert default_rate("live") < 100 and default_rate("test") < 25
    assert "sk_" not in (tmp_path / "stripe-rate-limit.sqlite3").read_bytes().decode("latin-1")


def test_a_rate_of_zero_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="more than 0"):
        RateLimiter(tmp_path, rate=0)


_OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pipelines.stripe.rate_limit import RateLimiter

    class Frozen:
        def now(self):
            return datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        def sleep(self, seconds):
            pass
        def monotonic(self):
            return 0.0

    limiter = RateLimiter(sys.argv[1], rate=10, burst=5, clock=Frozen())
    print(" ".join(f"{limiter.acquire():.2f}" for _ in range(int(sys.argv[2]))))
    """
)


def test_two_processes_share_one_bucket(tmp_path: Path) -> None:
    def take(count: int) -> list[float]:
        out = subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, str(tmp_path), str(count)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [float(w) for w in out.split()]

    first = take(4)
    second = take(3)

    # The first process used four of the five tokens: the second gets one free and then waits.
    assert first == [0, 0, 0, 0]
    assert second == [0, 0.1, 0.2]


def test_the_client_takes_a_token_before_every_request_retries_included(
    tmp_path: Path, clock: FakeClock, make_client
) -> None:
    answers = iter([stripe_json(500, {"error": {"type": "api_error", "message": "x"}})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or stripe_json(200, {"id": "rt", "object": "reporting.report_type"})

    waits: list[float] = []

    class Recording(RateLimiter):
        def acquire(self) -> float:
            waits.append(super().acquire())
            return waits[-1]

    client = make_client(handler, rate_limiter=Recording(tmp_path, rate=1, burst=1, clock=clock))

    client.request("GET", "/v1/reporting/report_types/rt")  # a 500, then its retry
    client.request("GET", "/v1/reporting/report_types/rt")

    assert len(waits) == 3
    # At one request a second, three requests span at least two seconds of the (fake) clock.
    assert waits[0] == 0 and waits[2] == pytest.approx(1.0) and clock.elapsed >= 2.0


def test_a_session_paces_its_client_when_given_a_directory(tmp_path: Path, api_key: str) -> None:
    with open_session(StripeSettings(api_key=api_key, rate_limit_dir=str(tmp_path))) as session:
        limiter = session.client.rate_limiter
    with open_session(StripeSettings(api_key=api_key)) as unpaced:
        assert unpaced.client.rate_limiter is None

    assert limiter is not None and limiter.bucket == "test" and limiter.rate == default_rate("test")
    assert limiter.path.parent == tmp_path
