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


STORAGE_HOST = "storage.stripe-results.test"
RESULT_CSV = b"id,amount\ntxn_1,100\ntxn_2,250\n"


def rfc3339(moment: datetime) -> str:
    """A timestamp as /v2 writes it, with nanoseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


class FakeDataAPI:
    """An in-process ``/v2/data`` for query runs and report runs.

    A run answers ``running`` to its first ``polls`` GETs, then ends as ``final`` with
    ``status_details``. Once succeeded, every GET signs a new download link (``.../result?sig=N``)
    that expires ``link_ttl`` seconds later on the fake clock. Each GET of a link takes the next of
    ``link_answers`` (the last one repeats): ``full``, ``short``, or an HTTP status such as 403.
    POSTs are idempotent per key, as at Stripe: a replay returns the same run as it is now.
    """

    def __init__(
        self,
        clock: FakeClock,
        *,
        polls: int = 1,
        final: str = "succeeded",
        status_details: dict[str, Any] | None = None,
        link_ttl: float = 300,
        link_answers: tuple[Any, ...] = ("full",),
        declared_size: int = len(RESULT_CSV),
    ) -> None:
        self.clock = clock
        self.polls = polls
        self.final = final
        self.status_details = status_details
        self.link_ttl = link_ttl
        self.link_answers = link_answers
        self.declared_size = declared_size
        self.requests: list[httpx.Request] = []
        self.runs: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, str] = {}
        self.signed = 0
        self.link_gets = 0

    def of(self, method: str, prefix: str = "") -> list[httpx.Request]:
        """The requests with this method whose URL starts with ``prefix``."""
        return [r for r in self.requests if r.method == method and str(r.url).startswith(prefix)]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.url.host == STORAGE_HOST:
            return self._link(request)
        for collection, prefix, kind in (
            ("query_runs", "qrun", "query_run"),
            ("report_runs", "rrun", "report_run"),
        ):
            base = f"/v2/data/{collection}"
            if request.method == "POST" and path == base:
                return self._create(request, prefix, kind)
            if request.method == "GET" and path.startswith(base + "/"):
                return self._retrieve(path.rsplit("/", 1)[1])
        return stripe_error(404, f"Unrecognized request URL (GET: {path})", type="invalid_request_error")

    def _create(self, request: httpx.Request, prefix: str, kind: str) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        if key in self.keys:
            return stripe_json(200, self._public(self.runs[self.keys[key]]))
        run_id = f"{prefix}_{len(self.runs) + 1}"
        self.keys[key] = run_id
        self.runs[run_id] = {
            "id": run_id,
            "object": f"v2.data.{kind}",
            "created": rfc3339(self.clock.now()),
            "livemode": False,
            "body": json.loads(request.content),
            "refreshed_at": rfc3339(self.clock.now() - timedelta(hours=2)),
            "status": "running",
            "status_details": None,
            "result": None,
            "gets": 0,
        }
        return stripe_json(200, self._public(self.runs[run_id]))

    def _retrieve(self, run_id: str) -> httpx.Response:
        run = self.runs.get(run_id)
        if run is None:
            return stripe_error(404, f"No such run: {run_id}", type="not_found")
        run["gets"] += 1
        if run["status"] == "running" and run["gets"] > self.polls:
            run["status"] = self.final
            run["status_details"] = self.status_details
        if run["status"] == "succeeded":
            self.signed += 1
            expires = self.clock.now() + timedelta(seconds=self.link_ttl)
            run["result"] = {
                "col_count": "2",
                "row_count": "2",
                "file": {
                    "columns": [{"name": "id", "type": "varchar"}, {"name": "amount", "type": "bigint"}],
                    "content_type": "csv",
                    "size": str(self.declared_size),
                    "download_url": {
                        "url": f"https://{STORAGE_HOST}/results/{run_id}?sig={self.signed}",
                        "expires_at": rfc3339(expires),
                    },
                },
                "inline": None,
            }
        return stripe_json(200, self._public(run))

    def _link(self, request: httpx.Request) -> httpx.Response:
        answer = self.link_answers[min(self.link_gets, len(self.link_answers) - 1)]
        self.link_gets += 1
        if answer == "full":
            return httpx.Response(200, content=RESULT_CSV, headers={"Content-Type": "text/csv"})
        if answer == "short":
            return httpx.Response(200, content=RESULT_CSV[:10])
        return httpx.Response(answer, content=b"<Error><Code>AccessDenied</Code></Error>")

    @staticmethod
    def _public(run: dict[str, Any]) -> dict[str, Any]:
        public = {k: v for k, v in run.items() if k not in ("gets", "body")}
        if run["object"] == "v2.data.query_run":
            public.update(dataset="analytical", format="csv", query=run["body"].get("query"))
        else:
            public.update(name=run["body"]["report"]["name"], parameters=run["body"]["parameters"])
        return public


@pytest.fixture
def data_api(clock: FakeClock) -> Callable[..., FakeDataAPI]:
    """``data_api(**options)``: a :class:`FakeDataAPI` on the test's fake clock."""
    return lambda **options: FakeDataAPI(clock, **options)
