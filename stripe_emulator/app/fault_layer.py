"""The emulator's outer ASGI layer: request ids, API version, fault injection, stats and logging.

Faults that answer instead of the application (``http_*``, ``drop_connection``) or that tamper with
its response (``drop_after_commit``, ``truncate_download``) act here, around the routed app.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from stripe_emulator.app.state import EmulatorState
from stripe_emulator.app.v2_conventions import fault_error
from stripe_emulator.conventions import DEFAULT_API_VERSION, StripeError, new_request_id
from stripe_emulator.faults import NO_FAULTS, FaultRule, close_connection

logger = logging.getLogger("stripe_emulator.requests")

RUN_CREATING_ROUTES = frozenset(
    {"/v1/reporting/report_runs", "/v1/sigma/query_runs", "/v2/data/query_runs", "/v2/data/report_runs"}
)
"""Route templates whose POST creates a run: only those requests count for run faults."""


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
        if scope["path"].startswith("/v2/"):
            await fault_error(rule.kind, headers).response()(scope, receive, send)
            return None
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
