"""The emulator's Starlette application: Stripe's Reporting, Sigma, Files and Connect endpoints.

Every ``/v1`` endpoint follows Stripe's conventions (see :mod:`stripe_emulator.conventions`): API-key
auth with restricted-key permissions, ``Stripe-Account`` scoping, form bodies with brackets, the error
envelope, ``Request-Id``, list pagination, idempotency keys and a per-key rate limit. Report and query
runs are created synchronously (validation errors answer at once, like Stripe) and executed by a
worker pool through the :class:`~stripe_emulator.engine.Engine`; a run becomes visible as finished
``config.run_delay`` seconds after it was created at the earliest.

``/_emulator/*`` is the control API (no auth): clock, reset, faults, restricted keys and statistics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Message, Receive, Scope, Send

from stripe_emulator.conventions import (
    DEFAULT_API_VERSION,
    PERMISSIONS,
    ApiKey,
    IdempotencyStore,
    IdempotencyTicket,
    KeyStore,
    RateLimiter,
    StoredResponse,
    StripeError,
    as_int,
    as_str,
    as_str_list,
    created_filter,
    decode_form,
    invalid_request,
    list_object,
    missing_param,
    new_id,
    new_request_id,
    paginate,
    permission_for,
    rate_limited,
    redact_key,
    resource_missing,
    unknown_params,
)
from stripe_emulator.engine import Engine, ReportParameterError, SigmaSqlError, UnknownReportType
from stripe_emulator.faults import (
    NO_FAULTS,
    FaultInjector,
    FaultPlan,
    FaultRule,
    FaultSpecError,
    apply_file_faults,
    as_rule,
    close_connection,
)

logger = logging.getLogger("stripe_emulator.requests")
_worker_log = logging.getLogger("stripe_emulator.runs")

RUN_CREATING_ROUTES = frozenset({"/v1/reporting/report_runs", "/v1/sigma/query_runs"})
_INT_PARAMETERS = frozenset({"interval_start", "interval_end"})
_LIST_PARAMETERS = frozenset({"columns", "connected_accounts"})
_SCHEDULED_FILE_PURPOSE = "sigma_scheduled_query"
_REPORT_FILE_PURPOSE = "finance_report_run"
# Stripe does not document the purpose of preview Sigma query-run result files; the scheduled-query
# purpose is the documented one for Sigma results.
_QUERY_FILE_PURPOSE = "sigma_scheduled_query"

_RUN_FAILED_MESSAGES = {
    "report_run": "The report run failed because of an internal error. Please create a new report run.",
    "query_run": "Query execution failed because of an internal error. Please retry the query run.",
}


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# Stored objects


@dataclass
class _File:
    id: str
    created: int
    purpose: str
    path: Path
    size: int
    filename: str
    account: str | None
    title: str | None = None
    expires_at: int | None = None

    def to_json(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "created": self.created,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "links": list_object([], url=f"/v1/file_links?file={self.id}"),
            "purpose": self.purpose,
            "size": self.size,
            "title": self.title,
            "type": "csv",
            "url": f"{base_url}/v1/files/{self.id}/contents",
        }


@dataclass
class _Run:
    """A report run (``kind="report_run"``) or Sigma query run (``kind="query_run"``)."""

    id: str
    kind: str
    created: int
    account: str | None
    generation: int
    ready_at: float
    report_type: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    sql: str = ""
    data_load_time: datetime | None = None
    faults: tuple[FaultRule, ...] = ()
    outcome: str | None = None
    error: str | None = None
    file_id: str | None = None
    finished_at: int | None = None

    def status(self) -> str:
        if self.outcome is not None and time.monotonic() >= self.ready_at:
            return self.outcome
        return "pending" if self.kind == "report_run" else "running"


@dataclass
class _SavedQuery:
    id: str
    created: int
    name: str
    sql: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "sigma.sigma_api_query",
            "created": self.created,
            "livemode": False,
            "name": self.name,
            "sql": self.sql,
        }


class _Stats:
    """Counters shown by ``GET /_emulator/stats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.responses: Counter[str] = Counter()
            self.runs_created: Counter[str] = Counter()
            self.idempotent_replays = 0
            self.rate_limited = 0

    def request(self, route: str, status: str) -> None:
        with self._lock:
            self.requests[route] += 1
            self.responses[status] += 1

    def bump(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def run_created(self, kind: str) -> None:
        with self._lock:
            self.runs_created[kind] += 1

    def to_json(self, faults_fired: dict[str, int]) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(sorted(self.requests.items())),
                "responses": dict(sorted(self.responses.items())),
                "runs_created": dict(self.runs_created),
                "faults_fired": faults_fired,
                "idempotent_replays": self.idempotent_replays,
                "rate_limited": self.rate_limited,
            }


@dataclass
class _Context:
    """What an endpoint handler gets: the authenticated caller and the decoded parameters."""

    request: Request
    api_key: ApiKey
    account: str | None
    params: dict[str, Any]
    faults: FaultPlan

    @property
    def base_url(self) -> str:
        state: EmulatorState = self.request.app.state.emulator
        return state.base_url or str(self.request.base_url).rstrip("/")


Handler = Callable[[_Context], Awaitable["dict[str, Any] | Response"]]


# --------------------------------------------------------------------------------------------
# State


class EmulatorState:
    """Everything the API remembers between requests, and the run worker pool."""

    def __init__(self, engine: Engine, faults: FaultInjector | None, base_url: str | None) -> None:
        self.engine = engine
        self.config = engine.config
        self.faults = faults or FaultInjector()
        self.base_url = base_url.rstrip("/") if base_url else None
        self.keys = KeyStore()
        self.idempotency = IdempotencyStore()
        self.limiter = RateLimiter(self.config.rate_limit)
        self.stats = _Stats()
        self.initial_data_load_time = engine.data_load_time
        self.connected_accounts = {account["id"]: account for account in engine.connected_accounts()}
        self.platform_account = engine.platform_account_id
        self._own_files_dir = self.config.files_dir is None
        self.files_dir = Path(self.config.files_dir or tempfile.mkdtemp(prefix="stripe-emulator-files-"))
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.generation = 0
        self.runs: dict[str, _Run] = {}
        self.files: dict[str, _File] = {}
        self.saved_queries: dict[str, _SavedQuery] = {}
        self.scheduled_files: dict[str, str] = {}
        self._scheduled_lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="stripe-emulator-run")

    def close(self) -> None:
        """Stop the workers and delete result files the emulator created in a temporary directory."""
        with self.lock:
            self.generation += 1
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self._own_files_dir:
            shutil.rmtree(self.files_dir, ignore_errors=True)

    # -- runs ------------------------------------------------------------------------------

    def create_run(self, run: _Run) -> None:
        """Store a new run and queue it for the workers (unless a run_stuck fault holds it)."""
        with self.lock:
            self.runs[run.id] = run
        self.stats.run_created(run.kind)
        if not any(rule.kind == "run_stuck" for rule in run.faults):
            self.pool.submit(self._execute, run)

    def _execute(self, run: _Run) -> None:
        if run.generation != self.generation:
            return
        file_id = new_id("file")
        path = self.files_dir / f"{file_id}.csv"
        outcome, error = "succeeded", None
        try:
            injected = next((rule for rule in run.faults if rule.kind == "run_failed"), None)
            if injected is not None:
                outcome, error = "failed", injected.option("message") or _RUN_FAILED_MESSAGES[run.kind]
            elif run.kind == "report_run":
                self.engine.run_report(run.report_type, run.parameters, path, account=run.account)
            else:
                self.engine.run_sigma(run.sql, path, account=run.account, data_load_time=run.data_load_time)
            if outcome == "succeeded":
                apply_file_faults(path, run.faults)
        except (SigmaSqlError, ReportParameterError) as exc:
            outcome, error = "failed", str(exc)
        except Exception:
            if run.generation != self.generation:
                return  # reset or shut down meanwhile: nobody will read this run
            _worker_log.exception("%s %s failed", run.kind, run.id)
            outcome, error = "failed", "An internal error occurred while processing the run. Please retry."
        now = time.time()
        with self.lock:
            if run.generation != self.generation:
                path.unlink(missing_ok=True)
                return
            if outcome == "succeeded":
                purpose = _REPORT_FILE_PURPOSE if run.kind == "report_run" else _QUERY_FILE_PURPOSE
                self.files[file_id] = _File(
                    id=file_id,
                    created=int(now),
                    purpose=purpose,
                    path=path,
                    size=path.stat().st_size,
                    filename=f"{run.id}.csv",
                    account=run.account,
                )
                run.file_id = file_id
            else:
                path.unlink(missing_ok=True)
            run.error = error
            run.finished_at = max(int(now), run.created + int(self.config.run_delay))
            run.ready_at = max(run.ready_at, time.monotonic())
            run.outcome = outcome

    def visible_run(self, run_id: str, kind: str, account: str | None, object_name: str) -> _Run:
        """The run ``run_id`` if ``account`` may see it, else Stripe's 404."""
        with self.lock:
            run = self.runs.get(run_id)
        if run is None or run.kind != kind or not _visible_to(run.account, account):
            raise resource_missing(object_name, run_id)
        return run

    def report_run_json(self, run: _Run, base_url: str) -> dict[str, Any]:
        """A ``reporting.report_run`` object; ``result`` is the expanded File once succeeded."""
        status = run.status()
        done = status != "pending"
        stored = self.files.get(run.file_id or "") if status == "succeeded" else None
        result = stored.to_json(base_url) if stored is not None else None
        return {
            "id": run.id,
            "object": "reporting.report_run",
            "created": run.created,
            "error": run.error if done else None,
            "livemode": False,
            "parameters": run.parameters,
            "report_type": run.report_type,
            "result": result,
            "status": status,
            "succeeded_at": run.finished_at if status == "succeeded" else None,
        }

    @staticmethod
    def query_run_json(run: _Run) -> dict[str, Any]:
        """A ``sigma.sigma_query_run`` object; ``result.file`` is a File id once succeeded."""
        status = run.status()
        done = status != "running"
        return {
            "id": run.id,
            "object": "sigma.sigma_query_run",
            "created": run.created,
            "error": {"message": run.error} if done and run.error else None,
            "finalized_at": run.finished_at if done else None,
            "livemode": False,
            "result": {"file": run.file_id if status == "succeeded" else None},
            "sql": run.sql,
            "status": status,
        }

    # -- scheduled query runs ----------------------------------------------------------------

    def scheduled_run_json(self, raw: dict[str, Any], base_url: str) -> dict[str, Any]:
        """A scheduled_query_run with its result file produced on first sight and expanded."""
        run = dict(raw)
        run.setdefault("object", "scheduled_query_run")
        run.setdefault("livemode", False)
        run.setdefault("error", None)
        run["file"] = None
        if run.get("status") != "completed":
            return run
        with self._scheduled_lock:
            file_id = self.scheduled_files.get(run["id"])
            if file_id is None or file_id not in self.files:
                file_id, message = self._produce_scheduled_file(run)
                if file_id is None:
                    run["status"], run["error"] = "failed", {"message": message}
                    return run
                self.scheduled_files[run["id"]] = file_id
        run["file"] = self.files[file_id].to_json(base_url)
        return run

    def _produce_scheduled_file(self, run: dict[str, Any]) -> tuple[str | None, str]:
        file_id = new_id("file")
        path = self.files_dir / f"{file_id}.csv"
        data_load_time = datetime.fromtimestamp(int(run["data_load_time"]), UTC)
        try:
            self.engine.run_sigma(str(run["sql"]), path, data_load_time=data_load_time)
        except SigmaSqlError as exc:
            path.unlink(missing_ok=True)
            return None, str(exc)
        with self.lock:
            self.files[file_id] = _File(
                id=file_id,
                created=int(run.get("created") or time.time()),
                purpose=_SCHEDULED_FILE_PURPOSE,
                path=path,
                size=path.stat().st_size,
                filename=f"{run['id']}.csv",
                account=None,
                title=run.get("title"),
                expires_at=run.get("result_available_until"),
            )
        return file_id, ""

    # -- control -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget runs, files, saved queries, idempotency keys, counters; restore faults and the clock."""
        with self.lock:
            self.generation += 1
            files = list(self.files.values())
            self.runs.clear()
            self.files.clear()
            self.saved_queries.clear()
            self.scheduled_files.clear()
        for stored in files:
            stored.path.unlink(missing_ok=True)
        self.idempotency.clear()
        self.faults.reset()
        self.limiter.reset()
        self.stats.reset()
        self.engine.reset_clock()

    def state_json(self) -> dict[str, Any]:
        """What ``GET /_emulator/state`` shows: the clock, the data range and object counts."""
        with self.lock:
            runs = list(self.runs.values())
            counts = {
                "report_runs": sum(run.kind == "report_run" for run in runs),
                "query_runs": sum(run.kind == "query_run" for run in runs),
                "saved_queries": len(self.saved_queries),
                "files": len(self.files),
            }
        counts["restricted_keys"] = self.keys.count()
        counts["fault_rules"] = len(self.faults.rules())
        data_load_time = self.engine.data_load_time
        return {
            "data_load_time": _iso(data_load_time),
            "data_load_time_unix": _unix(data_load_time),
            "initial_data_load_time": _iso(self.initial_data_load_time),
            "data_start": _iso(self.engine.data_start),
            "data_end": _iso(self.engine.data_end),
            "platform_account": self.platform_account,
            "connected_accounts": sorted(self.connected_accounts),
            "counts": counts,
            "data_rows": self.engine.row_counts,
            "config": {
                "seed": self.config.seed,
                "days": self.config.days,
                "scale": self.config.scale,
                "run_delay": self.config.run_delay,
                "rate_limit": self.config.rate_limit,
            },
        }


def _visible_to(owner: str | None, requester: str | None) -> bool:
    """Objects of a connected account are visible to that account and to the platform (no header)."""
    return requester is None or owner == requester


# --------------------------------------------------------------------------------------------
# Application


class EmulatorApp(Starlette):
    """Starlette plus the emulator's outer layer: request ids, fault injection, stats and logging."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return None
        state: EmulatorState = self.state.emulator
        request_id = new_request_id()
        method, path = scope["method"], scope["path"]
        template = self._template(scope)
        control = path.startswith("/_emulator")
        creates_run = method == "POST" and template in RUN_CREATING_ROUTES
        plan = NO_FAULTS if control else state.faults.plan(method, path, template, creates_run=creates_run)
        scope["stripe_emulator.request_id"] = request_id
        scope["stripe_emulator.faults"] = plan
        version = _header(scope, b"stripe-version") or DEFAULT_API_VERSION
        statuses: list[int] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Request-Id"] = request_id
                if not control:
                    headers["Stripe-Version"] = version
                statuses.append(message["status"])
            await send(message)

        fallback: Any = None
        if plan.abort is not None:
            fallback = await self._abort(plan.abort, scope, receive, send, send_with_headers)
        elif plan.response is not None and plan.response.kind == "drop_after_commit":
            fallback = await self._drop_after_commit(scope, receive, send)
        elif plan.response is not None:
            await super().__call__(scope, receive, _truncating(send_with_headers, send, plan.response))
        else:
            await super().__call__(scope, receive, send_with_headers)
        dropped = plan.abort is not None and plan.abort.kind == "drop_connection"
        dropped = dropped or (plan.response is not None and plan.response.kind == "drop_after_commit")
        outcome = "dropped" if dropped else str(statuses[0]) if statuses else "none"
        if not control:
            state.stats.request(f"{method} {template or '<unknown>'}", outcome)
        logger.info("%s %s %s %s", method, path, outcome, request_id)
        # A non-None return makes uvicorn close the connection: the fallback for dropping a
        # connection when its transport cannot be reached.
        return fallback

    def _template(self, scope: Scope) -> str | None:
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", None)
            if match == Match.PARTIAL and partial is None:
                partial = getattr(route, "path", None)
        return partial

    async def _abort(self, rule: FaultRule, scope: Scope, receive: Receive, raw: Send, send: Send) -> Any:
        if rule.kind == "drop_connection":
            return None if await close_connection(raw) else "drop"
        headers = {"Stripe-Should-Retry": "true" if rule.option("should_retry", True) else "false"}
        if rule.option("retry_after") is not None:
            headers["Retry-After"] = f"{float(rule.option('retry_after')):g}"
        if rule.kind == "http_429":
            error = StripeError(
                429,
                "Too many requests hit the API too quickly. We recommend an exponential backoff of your "
                "requests.",
                code="rate_limit",
                headers=headers,
            )
        else:
            error = StripeError(
                int(rule.kind.removeprefix("http_")),
                "An unknown error occurred. Please retry the request.",
                type="api_error",
                headers=headers,
            )
        await error.response()(scope, receive, send)
        return None

    async def _drop_after_commit(self, scope: Scope, receive: Receive, raw: Send) -> Any:
        async def swallow(message: Message) -> None:
            return None

        await super().__call__(scope, receive, swallow)
        return None if await close_connection(raw) else "drop"


def _truncating(send: Send, raw: Send, rule: FaultRule) -> Send:
    """A ``send`` that stops the body after ``bytes`` bytes and closes the connection."""
    limit: int | None = rule.option("bytes")
    sent = 0
    closed = False

    async def truncate(message: Message) -> None:
        nonlocal limit, sent, closed
        if closed:
            return
        if message["type"] == "http.response.start":
            if limit is None:
                length = MutableHeaders(scope=message).get("content-length")
                limit = int(length) // 2 if length else 0
            await send(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        body: bytes = message.get("body", b"")
        assert limit is not None
        if sent + len(body) <= limit:
            sent += len(body)
            await send(message)
            return
        await send({"type": "http.response.body", "body": body[: limit - sent], "more_body": True})
        closed = True
        if not await close_connection(raw):
            raise ConnectionAbortedError("truncated download")

    return truncate


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def create_app(
    engine: Engine, *, faults: FaultInjector | None = None, base_url: str | None = None
) -> Starlette:
    """Build the emulator's ASGI application around ``engine``.

    ``faults`` holds the initial fault rules (the control API can change them); ``base_url`` fixes the
    scheme and host used in file URLs (default: taken from each request, so any port works).
    """
    state = EmulatorState(engine, faults, base_url)
    api = _Api(state)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    app = EmulatorApp(
        routes=api.routes(),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_exception, Exception: _server_error},
    )
    app.state.emulator = state
    return app


async def _http_exception(request: Request, exc: Exception) -> Response:
    # Stripe answers an unknown path and a known path with the wrong method alike: 404.
    message = (
        f"Unrecognized request URL ({request.method}: {request.url.path}). "
        "Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
    )
    return StripeError(404, message).response()


async def _server_error(request: Request, exc: Exception) -> Response:
    return StripeError(500, "An unknown error occurred.", type="api_error").response()


# --------------------------------------------------------------------------------------------
# Endpoints


class _Api:
    """Route handlers; each ``/v1`` handler runs behind :meth:`_stripe` (auth, idempotency…)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.engine = state.engine

    def routes(self) -> list[BaseRoute]:
        v1: list[tuple[str, str, Handler]] = [
            ("GET", "/v1/reporting/report_types", self.list_report_types),
            ("GET", "/v1/reporting/report_types/{id}", self.get_report_type),
            ("POST", "/v1/reporting/report_runs", self.create_report_run),
            ("GET", "/v1/reporting/report_runs", self.list_report_runs),
            ("GET", "/v1/reporting/report_runs/{id}", self.get_report_run),
            ("POST", "/v1/sigma/query_runs", self.create_query_run),
            ("GET", "/v1/sigma/query_runs/{id}", self.get_query_run),
            ("POST", "/v1/sigma/saved_queries", self.create_saved_query),
            ("GET", "/v1/sigma/saved_queries", self.list_saved_queries),
            ("GET", "/v1/sigma/saved_queries/{id}", self.get_saved_query),
            ("POST", "/v1/sigma/saved_queries/{id}", self.update_saved_query),
            ("DELETE", "/v1/sigma/saved_queries/{id}", self.delete_saved_query),
            ("GET", "/v1/sigma/scheduled_query_runs", self.list_scheduled_query_runs),
            ("GET", "/v1/sigma/scheduled_query_runs/{id}", self.get_scheduled_query_run),
            ("GET", "/v1/files/{id}", self.get_file),
            ("GET", "/v1/files/{id}/contents", self.get_file_contents),
            ("GET", "/v1/account", self.get_own_account),
            ("GET", "/v1/accounts", self.list_accounts),
            ("GET", "/v1/accounts/{id}", self.get_account),
        ]
        control: list[tuple[str, str, Callable[[Request], Awaitable[Response]]]] = [
            ("GET", "/_emulator/state", self.control_state),
            ("POST", "/_emulator/advance", self.control_advance),
            ("POST", "/_emulator/reset", self.control_reset),
            ("GET", "/_emulator/faults", self.control_list_faults),
            ("POST", "/_emulator/faults", self.control_add_faults),
            ("DELETE", "/_emulator/faults", self.control_clear_faults),
            ("DELETE", "/_emulator/faults/{id}", self.control_delete_fault),
            ("POST", "/_emulator/keys", self.control_register_key),
            ("GET", "/_emulator/permissions", self.control_permissions),
            ("GET", "/_emulator/stats", self.control_stats),
        ]
        routes: list[BaseRoute] = [
            Route(path, self._stripe(method, path, handler), methods=[method]) for method, path, handler in v1
        ]
        routes += [Route(path, handler, methods=[method]) for method, path, handler in control]
        return routes

    # -- conventions wrapper -----------------------------------------------------------------

    def _stripe(
        self, method: str, template: str, handler: Handler
    ) -> Callable[[Request], Awaitable[Response]]:
        state = self.state
        permission = permission_for(method, template)

        async def endpoint(request: Request) -> Response:
            try:
                api_key = state.keys.authenticate(request.headers.get("authorization"))
                if not state.limiter.allow(api_key.key):
                    state.stats.bump("rate_limited")
                    raise rate_limited()
                account = self._account(request.headers.get("stripe-account"), api_key)
                KeyStore.authorize(api_key, permission, account or state.platform_account)
                raw = await request.body() if method == "POST" else request.url.query.encode()
                params = decode_form(raw)
            except StripeError as exc:
                return exc.response()
            plan: FaultPlan = request.scope.get("stripe_emulator.faults", NO_FAULTS)
            ticket: IdempotencyTicket | None = None
            idempotency_key = request.headers.get("idempotency-key")
            if method == "POST" and idempotency_key:
                try:
                    claimed = state.idempotency.begin(
                        api_key.key,
                        idempotency_key,
                        endpoint=f"{method} {request.url.path}",
                        fingerprint=IdempotencyStore.fingerprint(method, request.url.path, params, account),
                    )
                except StripeError as exc:
                    return exc.response()
                if isinstance(claimed, StoredResponse):
                    state.stats.bump("idempotent_replays")
                    return Response(
                        claimed.body,
                        status_code=claimed.status,
                        media_type="application/json",
                        headers={"Idempotent-Replayed": "true", "Original-Request": claimed.request_id},
                    )
                ticket = claimed
            response: Response | None = None
            try:
                if plan.delay:
                    await asyncio.sleep(plan.delay)
                result = await handler(_Context(request, api_key, account, params, plan))
                response = result if isinstance(result, Response) else JSONResponse(result)
            except StripeError as exc:
                response = exc.response()
            except Exception:
                logger.exception("%s %s crashed", method, request.url.path)
                response = StripeError(500, "An unknown error occurred.", type="api_error").response()
            finally:
                if ticket is not None:
                    if response is None:
                        state.idempotency.abandon(ticket)
                    else:
                        request_id = request.scope.get("stripe_emulator.request_id", "")
                        state.idempotency.finish(
                            ticket, StoredResponse(response.status_code, bytes(response.body), request_id)
                        )
            return response

        return endpoint

    def _account(self, header: str | None, api_key: ApiKey) -> str | None:
        """The ``Stripe-Account`` a request acts as (None = the platform); 403 for a foreign account."""
        if not header or header == self.state.platform_account:
            return None
        if header in self.state.connected_accounts:
            return header
        raise StripeError(
            403,
            f"The provided key '{redact_key(api_key.key)}' does not have access to account '{header}' (or "
            "that account does not exist). Application access may have been revoked.",
            code="account_invalid",
        )

    # -- reporting ---------------------------------------------------------------------------

    def _report_type_json(self, report_type: Any) -> dict[str, Any]:
        end = _unix(report_type.data_available_end)
        return {
            "id": report_type.id,
            "object": "reporting.report_type",
            "data_available_end": end,
            "data_available_start": _unix(report_type.data_available_start),
            "default_columns": list(report_type.default_columns)
            if report_type.default_columns is not None
            else None,
            "livemode": False,
            "name": report_type.name,
            "updated": end,
            "version": report_type.version,
        }

    async def list_report_types(self, ctx: _Context) -> dict[str, Any]:
        types = await run_in_threadpool(self.engine.report_types)
        data = [self._report_type_json(t) for t in types]
        return list_object(data, url="/v1/reporting/report_types")

    async def get_report_type(self, ctx: _Context) -> dict[str, Any]:
        type_id = ctx.request.path_params["id"]
        types = await run_in_threadpool(self.engine.report_types)
        for report_type in types:
            if report_type.id == type_id:
                return self._report_type_json(report_type)
        raise resource_missing("report type", type_id)

    @staticmethod
    def _report_parameters(raw: Any) -> dict[str, Any]:
        if raw is None or raw == "":
            return {}
        if not isinstance(raw, dict):
            raise invalid_request("Invalid object: parameters must be a hash", param="parameters")
        parameters: dict[str, Any] = {}
        for name, value in raw.items():
            param = f"parameters[{name}]"
            if name in _INT_PARAMETERS:
                parameters[name] = as_int(value, param)
            elif name in _LIST_PARAMETERS:
                parameters[name] = as_str_list(value, param)
            else:
                parameters[name] = as_str(value, param)
        return parameters

    async def create_report_run(self, ctx: _Context) -> dict[str, Any]:
        unknown_params(ctx.params, {"report_type", "parameters", "expand"})
        report_type = ctx.params.get("report_type")
        if not report_type:
            raise missing_param("report_type")
        report_type = as_str(report_type, "report_type")
        parameters = self._report_parameters(ctx.params.get("parameters"))
        try:
            await run_in_threadpool(
                self.engine.validate_report_parameters, report_type, parameters, account=ctx.account
            )
        except UnknownReportType as exc:
            raise resource_missing("report type", report_type, param="report_type") from exc
        except ReportParameterError as exc:
            raise invalid_request(exc.args[0] if exc.args else str(exc), param=_param_name(exc)) from exc
        run = self._new_run("frr", "report_run", ctx)
        run.report_type = report_type
        run.parameters = parameters
        self.state.create_run(run)
        return self.state.report_run_json(run, ctx.base_url)

    def _new_run(self, prefix: str, kind: str, ctx: _Context) -> _Run:
        return _Run(
            id=new_id(prefix),
            kind=kind,
            created=int(time.time()),
            account=ctx.account,
            generation=self.state.generation,
            ready_at=time.monotonic() + self.state.config.run_delay,
            faults=ctx.faults.run,
        )

    async def list_report_runs(self, ctx: _Context) -> dict[str, Any]:
        keep = created_filter(ctx.params.get("created"))
        with self.state.lock:
            runs = [
                run
                for run in reversed(self.state.runs.values())
                if run.kind == "report_run" and run.account == ctx.account and keep(run.created)
            ]
        data = [self.state.report_run_json(run, ctx.base_url) for run in runs]
        return paginate(data, ctx.params, url="/v1/reporting/report_runs", object_name="report run")

    async def get_report_run(self, ctx: _Context) -> dict[str, Any]:
        run_id = ctx.request.path_params["id"]
        run = self.state.visible_run(run_id, "report_run", ctx.account, "report run")
        return self.state.report_run_json(run, ctx.base_url)

    # -- sigma -------------------------------------------------------------------------------

    async def create_query_run(self, ctx: _Context) -> dict[str, Any]:
        unknown_params(ctx.params, {"sql", "from_saved_query", "expand"})
        sql, saved = ctx.params.get("sql"), ctx.params.get("from_saved_query")
        if sql and saved:
            raise invalid_request(
                "You may only specify one of these parameters: from_saved_query, sql.", param="sql"
            )
        if not sql and not saved:
            raise missing_param("sql")
        if saved:
            saved_id = as_str(saved, "from_saved_query")
            with self.state.lock:
                query = self.state.saved_queries.get(saved_id)
            if query is None:
                raise resource_missing("saved query", saved_id, param="from_saved_query")
            sql = query.sql
        run = self._new_run("qry", "query_run", ctx)
        run.sql = as_str(sql, "sql")
        run.data_load_time = self.engine.data_load_time
        self.state.create_run(run)
        return self.state.query_run_json(run)

    async def get_query_run(self, ctx: _Context) -> dict[str, Any]:
        run_id = ctx.request.path_params["id"]
        run = self.state.visible_run(run_id, "query_run", ctx.account, "sigma query run")
        return self.state.query_run_json(run)

    def _saved_query(self, ctx: _Context) -> _SavedQuery:
        query_id = ctx.request.path_params["id"]
        with self.state.lock:
            query = self.state.saved_queries.get(query_id)
        if query is None:
            raise resource_missing("saved query", query_id)
        return query

    async def create_saved_query(self, ctx: _Context) -> dict[str, Any]:
        unknown_params(ctx.params, {"name", "sql", "expand"})
        for required in ("name", "sql"):
            if not ctx.params.get(required):
                raise missing_param(required)
        query = _SavedQuery(
            id=new_id("qfl"),
            created=int(time.time()),
            name=as_str(ctx.params["name"], "name"),
            sql=as_str(ctx.params["sql"], "sql"),
        )
        with self.state.lock:
            self.state.saved_queries[query.id] = query
        return query.to_json()

    async def list_saved_queries(self, ctx: _Context) -> dict[str, Any]:
        with self.state.lock:
            data = [query.to_json() for query in reversed(self.state.saved_queries.values())]
        return paginate(data, ctx.params, url="/v1/sigma/saved_queries", object_name="saved query")

    async def get_saved_query(self, ctx: _Context) -> dict[str, Any]:
        return self._saved_query(ctx).to_json()

    async def update_saved_query(self, ctx: _Context) -> dict[str, Any]:
        unknown_params(ctx.params, {"name", "sql", "expand"})
        query = self._saved_query(ctx)
        with self.state.lock:
            if "name" in ctx.params:
                query.name = as_str(ctx.params["name"], "name")
            if "sql" in ctx.params:
                query.sql = as_str(ctx.params["sql"], "sql")
            return query.to_json()

    async def delete_saved_query(self, ctx: _Context) -> dict[str, Any]:
        query = self._saved_query(ctx)
        with self.state.lock:
            self.state.saved_queries.pop(query.id, None)
        return {"id": query.id, "object": "sigma.sigma_api_query", "deleted": True}

    async def list_scheduled_query_runs(self, ctx: _Context) -> dict[str, Any]:
        runs = await run_in_threadpool(self.engine.scheduled_query_runs)
        runs = sorted(runs, key=lambda run: (run["created"], run["id"]), reverse=True)
        page = paginate(
            runs, ctx.params, url="/v1/sigma/scheduled_query_runs", object_name="scheduled query run"
        )
        page["data"] = [
            await run_in_threadpool(self.state.scheduled_run_json, run, ctx.base_url) for run in page["data"]
        ]
        return page

    async def get_scheduled_query_run(self, ctx: _Context) -> dict[str, Any]:
        run_id = ctx.request.path_params["id"]
        runs = await run_in_threadpool(self.engine.scheduled_query_runs)
        for run in runs:
            if run["id"] == run_id:
                return await run_in_threadpool(self.state.scheduled_run_json, run, ctx.base_url)
        raise resource_missing("scheduled query run", run_id)

    # -- files -------------------------------------------------------------------------------

    def _file(self, ctx: _Context) -> _File:
        file_id = ctx.request.path_params["id"]
        with self.state.lock:
            stored = self.state.files.get(file_id)
        if stored is None or not _visible_to(stored.account, ctx.account):
            raise resource_missing("file upload", file_id)
        return stored

    async def get_file(self, ctx: _Context) -> dict[str, Any]:
        return self._file(ctx).to_json(ctx.base_url)

    async def get_file_contents(self, ctx: _Context) -> Response:
        stored = self._file(ctx)
        return FileResponse(
            stored.path,
            media_type="text/csv",
            filename=stored.filename,
            content_disposition_type="inline",
        )

    # -- accounts ----------------------------------------------------------------------------

    async def get_own_account(self, ctx: _Context) -> dict[str, Any]:
        if ctx.account is not None:
            return self.state.connected_accounts[ctx.account]
        return {
            "id": self.state.platform_account,
            "object": "account",
            "business_type": "company",
            "charges_enabled": True,
            "country": "US",
            "default_currency": "usd",
            "payouts_enabled": True,
            "type": "standard",
        }

    async def list_accounts(self, ctx: _Context) -> dict[str, Any]:
        accounts = sorted(
            self.state.connected_accounts.values(),
            key=lambda account: (account.get("created", 0), account["id"]),
            reverse=True,
        )
        return paginate(accounts, ctx.params, url="/v1/accounts", object_name="account")

    async def get_account(self, ctx: _Context) -> dict[str, Any]:
        account_id = ctx.request.path_params["id"]
        account = self.state.connected_accounts.get(account_id)
        if account is None:
            raise resource_missing("account", account_id)
        return account

    # -- control API -------------------------------------------------------------------------

    async def control_state(self, request: Request) -> Response:
        return JSONResponse(self.state.state_json())

    async def control_advance(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            if "to" in body:
                target = datetime.fromisoformat(str(body["to"]).replace("Z", "+00:00"))
                if target.tzinfo is None:
                    target = target.replace(tzinfo=UTC)
                await run_in_threadpool(lambda: self.engine.advance(to=target))
            elif "by_hours" in body:
                by = timedelta(hours=float(body["by_hours"]))
                await run_in_threadpool(lambda: self.engine.advance(by=by))
            else:
                raise ValueError('send {"to": "<ISO timestamp>"} or {"by_hours": <number>}')
        except (ValueError, TypeError) as exc:
            return _control_error(str(exc))
        return JSONResponse(self.state.state_json())

    async def control_reset(self, request: Request) -> Response:
        await run_in_threadpool(self.state.reset)
        return JSONResponse(self.state.state_json())

    async def control_list_faults(self, request: Request) -> Response:
        return JSONResponse({"rules": self.state.faults.rules(), "fired": self.state.faults.fired()})

    async def control_add_faults(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            items = body.get("rules", [body])
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise FaultSpecError("'rules' must be a list of rule objects")
            rules = [as_rule(item) for item in items]
        except (FaultSpecError, ValueError) as exc:
            return _control_error(str(exc))
        added = [self.state.faults.add(rule).to_json() for rule in rules]
        return JSONResponse({"rules": added})

    async def control_clear_faults(self, request: Request) -> Response:
        self.state.faults.clear()
        return JSONResponse({"rules": []})

    async def control_delete_fault(self, request: Request) -> Response:
        rule_id = request.path_params["id"]
        if not self.state.faults.remove(rule_id):
            return _control_error(f"no fault rule {rule_id!r}", status=404)
        return JSONResponse({"id": rule_id, "deleted": True})

    async def control_register_key(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            permissions = body.get("permissions", [])
            if not isinstance(permissions, list):
                raise ValueError("permissions must be a list of permission names")
            api_key = self.state.keys.register(str(body.get("key", "")), [str(p) for p in permissions])
        except ValueError as exc:
            return _control_error(str(exc))
        return JSONResponse(
            {"key": redact_key(api_key.key), "permissions": sorted(api_key.permissions or ())}
        )

    async def control_permissions(self, request: Request) -> Response:
        return JSONResponse({name: list(endpoints) for name, endpoints in PERMISSIONS.items()})

    async def control_stats(self, request: Request) -> Response:
        return JSONResponse(self.state.stats.to_json(self.state.faults.fired()))


def _param_name(exc: ReportParameterError) -> str | None:
    """Stripe names run parameters ``parameters[<name>]``; accept either spelling from the engine."""
    param = getattr(exc, "param", None)
    if not param:
        return None
    if param.startswith("parameters[") or param == "report_type":
        return param
    return f"parameters[{param}]"


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    return body


def _control_error(message: str, status: int = 400) -> Response:
    return JSONResponse({"error": {"type": "invalid_request_error", "message": message}}, status_code=status)
