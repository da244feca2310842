"""The glue between Stripe's conventions and a ``/v1`` handler.

:func:`stripe_endpoint` wraps a handler with API-key auth and restricted-key permissions, the
per-key rate limit, ``Stripe-Account`` scoping, ``Stripe-Version`` checks, form decoding with the
endpoint's parameters and expandable fields (:class:`Accepts`), idempotency keys, the ``slow``
fault and Stripe's error envelope; the handler gets a :class:`Context` and returns a JSON-able
dict or a Response.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
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
    expand: frozenset[str] = field(default_factory=frozenset)
    """The fields ``expand[]`` asked for (already checked against the endpoint's expandable ones)."""

    @property
    def base_url(self) -> str:
        """Scheme and host for URLs in responses: the configured one, else the request's."""
        state: EmulatorState = self.request.app.state.emulator
        return state.base_url or str(self.request.base_url).rstrip("/")


Handler = Callable[[Context], Awaitable["dict[str, Any] | Response"]]
"""A ``/v1`` endpoint's logic, behind :func:`stripe_endpoint`."""


@dataclass(frozen=True)
class Accepts:
    """What a ``/v1`` endpoint takes: its parameters (besides ``expand``) and the fields it can expand.

    Stripe answers any other parameter with a 400 naming it, and ``expand[]`` of a field that cannot
    be expanded with a 400 too. On a list, expandable fields are named ``data.<field>``.
    """

    params: frozenset[str] = frozenset()
    expandable: frozenset[str] = frozenset()


LIST_PARAMS = frozenset({"limit", "starting_after", "ending_before"})
"""The pagination parameters every list endpoint takes."""


def accepts(*params: str, expandable: tuple[str, ...] = (), lists: bool = False) -> Accepts:
    """An :class:`Accepts`; ``lists`` adds the pagination parameters and ``data.`` to each expandable."""
    names = frozenset(params) | (LIST_PARAMS if lists else frozenset())
    fields = frozenset(f"data.{name}" for name in expandable) if lists else frozenset(expandable)
    return Accepts(names, fields)


Route = tuple[str, str, Handler, Accepts]
"""(method, route template, handler, what it accepts) of a ``/v1`` endpoint."""

# Dated API versions, optionally named (2025-03-31.basil) or a preview (2025-07-30.preview).
_API_VERSION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(\.[a-z]+)?$")
_FIRST_API_VERSION = date(2011, 1, 1)


def check_api_version(version: str | None) -> None:
    """Stripe's 400 for a ``Stripe-Version`` that is not a version (malformed, no such date, or later
    than today); no header means the account's default version."""
    if version is None:
        return
    match = _API_VERSION.match(version.strip())
    valid = False
    if match:
        try:
            day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            day = None
        valid = day is not None and _FIRST_API_VERSION <= day <= datetime.now(UTC).date()
    if not valid:
        raise StripeError(400, f"Invalid Stripe API version: {version}")


def check_params(params: Mapping[str, Any], spec: Accepts) -> frozenset[str]:
    """Raise Stripe's 400 for an unknown parameter or an unexpandable field; the fields to expand."""
    for name in params:
        if name != "expand" and name not in spec.params:
            raise StripeError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )
    raw = params.get("expand")
    if raw is None or raw == "":
        return frozenset()
    if isinstance(raw, str):
        fields = [raw]
    elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        fields = raw
    elif isinstance(raw, Mapping) and all(str(k).isdigit() and isinstance(v, str) for k, v in raw.items()):
        fields = [raw[k] for k in sorted(raw, key=int)]
    else:
        raise StripeError(400, "Invalid array: expand must be a list of field names", param="expand")
    for name in fields:
        if name not in spec.expandable:
            raise StripeError(400, f"This property cannot be expanded ({name}).", param="expand")
    return frozenset(fields)


def stripe_endpoint(
    state: EmulatorState, method: str, template: str, handler: Handler, spec: Accepts
) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint for ``handler`` at ``method template``, with Stripe's conventions."""
    permission = permission_for(method, template)

    async def endpoint(request: Request) -> Response:
        try:
            api_key = state.keys.authenticate(request.headers.get("authorization"))
            if not state.limiter.allow(api_key):
                state.stats.bump("rate_limited")
                raise rate_limited()
            account = _acting_account(state, request.headers.get("stripe-account"), api_key)
            KeyStore.authorize(api_key, permission, account or state.platform_account)
            check_api_version(request.headers.get("stripe-version"))
            raw = await request.body() if method == "POST" else request.url.query.encode()
            params = decode_form(raw)
            expand = check_params(params, spec)
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
            result = await handler(Context(request, api_key, account, params, plan, expand))
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
