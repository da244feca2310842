"""The glue between Stripe's conventions and a ``/v1`` handler.

:func:`stripe_endpoint` wraps a handler with API-key auth and restricted-key permissions, the
per-key rate limit, ``Stripe-Account`` scoping, form decoding, idempotency keys, the ``slow`` fault
and Stripe's error envelope; the handler gets a :class:`Context` and returns a JSON-able dict or a
Response.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stripe_emulator.conventions import (
    ApiKey,
    IdempotencyStore,
    IdempotencyTicket,
    KeyStore,
    StoredResponse,
    StripeError,
    decode_form,
    permission_for,
    rate_limited,
    redact_key,
)
from stripe_emulator.faults import NO_FAULTS, FaultPlan

if TYPE_CHECKING:
    from stripe_emulator.app.state import EmulatorState

logger = logging.getLogger("stripe_emulator.requests")


@dataclass
class Context:
    """What an endpoint handler gets: the authenticated caller and the decoded parameters."""

    request: Request
    api_key: ApiKey
    account: str | None
    params: dict[str, Any]
    faults: FaultPlan

    @property
    def base_url(self) -> str:
        """Scheme and host for URLs in responses: the configured one, else the request's."""
        state: EmulatorState = self.request.app.state.emulator
        return state.base_url or str(self.request.base_url).rstrip("/")


Handler = Callable[[Context], Awaitable["dict[str, Any] | Response"]]
"""A ``/v1`` endpoint's logic, behind :func:`stripe_endpoint`."""


def stripe_endpoint(
    state: EmulatorState, method: str, template: str, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint for ``handler`` at ``method template``, with Stripe's conventions."""
    permission = permission_for(method, template)

    async def endpoint(request: Request) -> Response:
        try:
            api_key = state.keys.authenticate(request.headers.get("authorization"))
            if not state.limiter.allow(api_key.key):
                state.stats.bump("rate_limited")
                raise rate_limited()
            account = _acting_account(state, request.headers.get("stripe-account"), api_key)
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
            result = await handler(Context(request, api_key, account, params, plan))
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


def _acting_account(state: EmulatorState, header: str | None, api_key: ApiKey) -> str | None:
    """The ``Stripe-Account`` a request acts as (None = the platform); 403 for a foreign account."""
    if not header or header == state.platform_account:
        return None
    if header in state.connected_accounts:
        return header
    raise StripeError(
        403,
        f"The provided key '{redact_key(api_key.key)}' does not have access to account '{header}' (or "
        "that account does not exist). Application access may have been revoked.",
        code="account_invalid",
    )
