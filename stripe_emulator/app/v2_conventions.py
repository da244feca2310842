"""Stripe's ``/v2`` conventions as reusable pieces, beside :mod:`.endpoint`'s ``/v1`` ones.

:func:`v2_endpoint` wraps a handler with API-key auth and restricted-key permissions (the same keys
as v1), the per-key rate limit, a required preview ``Stripe-Version``, ``Stripe-Context`` scoping,
JSON bodies, ``Idempotency-Key`` with v2 semantics (a replay answers the object's *current* state)
and the v2 error shape ``{"error": {"type", "code", "message"[, "param"]}}``.

Choices where ``../shared/stripe-data-v2.md`` marks the surface UNCONFIRMED (change them here):

* Error ``type``: ``invalid_request_error`` for 400/401/403/404/409, ``idempotency_error`` for a
  reused key, ``rate_limit`` for 429, ``service_unavailable`` for 503, ``api_error`` for other 5xx.
  Every error carries a ``code`` (defaults per status: ``invalid_request``, ``api_key_invalid``,
  ``insufficient_permissions``, ``not_found``, ``idempotency_key_in_use``, ``rate_limit``,
  ``internal_error``, ``service_unavailable``); no ``doc_url``. 404 uses ``not_found`` as the
  predecessor ``/v2/reporting`` API did.
* ``param`` names nested fields with dots: ``query.sql``, ``parameters.interval_end``.
* ``Stripe-Version`` must match ``YYYY-MM-DD.preview`` (missing or other: 400
  ``invalid_stripe_version``). ``Stripe-Account`` on ``/v2`` is a 400 pointing at ``Stripe-Context``,
  so a client that sends the v1 header is not silently served the platform's data.
* ``Stripe-Context`` is the platform's id (or absent) or one of its connected accounts' ids;
  anything else (also ``acct_a/acct_b`` paths) is the v1 403 ``account_invalid``.
* Unknown query or body parameters are refused (400 ``parameter_unknown``), like v1.
* Page tokens are opaque; they carry the offset and a digest of the list's filters, and a token
  used with other filters is a 400 (V2OV: "You can't change list filters after the first request").
* Idempotency keys last 30 days per (API key, account, key). Only a request that succeeded is
  remembered: after a 4xx or 5xx the same key executes again (v2's "re-executes" rule).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

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
    redact_key,
)
from stripe_emulator.faults import NO_FAULTS, FaultPlan

if TYPE_CHECKING:
    from stripe_emulator.app.state import EmulatorState

logger = logging.getLogger("stripe_emulator.requests")

PREVIEW_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}\.preview$")
IDEMPOTENCY_TTL = 30 * 24 * 3600.0
DEFAULT_LIMIT, MAX_LIMIT = 10, 1000

_DEFAULT_TYPES = {429: "rate_limit", 503: "service_unavailable"}
_DEFAULT_CODES = {
    400: "invalid_request",
    401: "api_key_invalid",
    403: "insufficient_permissions",
    404: "not_found",
    409: "idempotency_key_in_use",
    429: "rate_limit",
    503: "service_unavailable",
}


# --------------------------------------------------------------------------------------------
# Errors


class V2Error(Exception):
    """An error answered with the v2 body ``{"error": {"type", "code", "message"[, "param"]}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = (
            type or _DEFAULT_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
        )
        self.code = code or _DEFAULT_CODES.get(status, "internal_error")
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body of this error."""
        error: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        if self.param:
            error["param"] = self.param
        return {"error": error}

    def response(self) -> JSONResponse:
        """This error as a Starlette response."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def from_v1(exc: StripeError) -> V2Error:
    """A v1 :class:`StripeError` (from the shared key, permission and idempotency code) in v2 shape."""
    reused = exc.type == "idempotency_error" or exc.code == "idempotency_key_in_use"
    error_type = "idempotency_error" if reused else None
    code = exc.code
    if error_type and not code:
        code = "idempotency_key_reused"
    param = exc.param.replace("[", ".").replace("]", "") if exc.param else None
    return V2Error(exc.status, exc.message, code=code, type=error_type, param=param, headers=exc.headers)


def invalid(message: str, *, param: str | None = None, code: str = "parameter_invalid") -> V2Error:
    """A 400 for a request parameter."""
    return V2Error(400, message, code=code, param=param)


def not_found(object_name: str, object_id: str) -> V2Error:
    """The 404 for an unknown id."""
    return V2Error(404, f"No such {object_name}: '{object_id}'", param="id")


def fault_error(kind: str, headers: Mapping[str, str]) -> V2Error:
    """What an ``http_*`` fault answers on a ``/v2`` path."""
    if kind == "http_429":
        return V2Error(
            429,
            "Too many requests hit the API too quickly. "
            "We recommend an exponential backoff of your requests.",
            headers=headers,
        )
    status = int(kind.removeprefix("http_"))
    return V2Error(status, "An unknown error occurred. Please retry the request.", headers=headers)


# --------------------------------------------------------------------------------------------
# Timestamps


def rfc3339(moment: datetime | float) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2026-10-05T21:02:00.919Z``."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(value: Any, param: str) -> datetime:
    """An RFC 3339 timestamp with a zone (``Z`` or ``±hh:mm``), else a 400 naming ``param``."""
    text = value if isinstance(value, str) else ""
    match = re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", text)
    if match is None:
        raise invalid(
            f"Invalid timestamp: {value!r}. Use RFC 3339 with a time zone, e.g. 2026-06-01T00:00:00.000Z.",
            param=param,
        )
    return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00")).astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Query parameters, includes, limits and page tokens


def query_params(request: Request) -> dict[str, Any]:
    """The query string decoded with brackets (``include[0]=a``, ``include[]=a`` and ``include=a`` alike)."""
    try:
        return decode_form(request.url.query)
    except StripeError as exc:
        raise from_v1(exc) from exc


def reject_unknown(params: Mapping[str, Any], allowed: set[str] | frozenset[str], prefix: str = "") -> None:
    """A 400 ``parameter_unknown`` for the first parameter not in ``allowed``."""
    for name in params:
        if name not in allowed:
            raise invalid(
                f"Received unknown parameter: {prefix}{name}",
                param=f"{prefix}{name}",
                code="parameter_unknown",
            )


def includes(params: Mapping[str, Any], allowed: frozenset[str]) -> frozenset[str]:
    """The ``include`` values of a GET, each one of ``allowed``, else a 400 naming ``include``."""
    raw = params.get("include")
    if raw is None or raw == "":
        return frozenset()
    if isinstance(raw, str):
        values = [raw]
    elif isinstance(raw, list):
        values = raw
    elif isinstance(raw, Mapping) and all(str(key).isdigit() for key in raw):
        values = [raw[key] for key in sorted(raw, key=int)]
    else:
        raise invalid("include must be a list of strings", param="include")
    for value in values:
        if not isinstance(value, str) or value not in allowed:
            choices = ", ".join(sorted(allowed)) or "nothing"
            raise invalid(
                f"Invalid include value {value!r}: this endpoint can include {choices}.", param="include"
            )
    return frozenset(values)


def parse_limit(value: Any) -> int:
    """``limit``: default 10, from 1 to 1,000, else a 400 naming ``limit``."""
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not isinstance(value, str | int) or not re.fullmatch(r"-?\d+", str(value).strip()):
        raise invalid(f"Invalid integer: {value!r}", param="limit")
    limit = int(value)
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit must be between 1 and {MAX_LIMIT}; got {limit}.", param="limit")
    return limit


def filters_digest(filters: Mapping[str, Any]) -> str:
    """A short digest of the filters a page token belongs to."""
    canonical = json.dumps(filters, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def page_token(offset: int, digest: str) -> str:
    """An opaque page token for ``offset`` under the filters of ``digest``."""
    raw = json.dumps({"o": offset, "f": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page_offset(token: Any, digest: str) -> int:
    """The offset in a page token (0 without one); 400 for a malformed token or other filters."""
    if token is None or token == "":
        return 0
    try:
        text = str(token)
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        offset, owner = int(data["o"]), str(data["f"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise invalid(f"Invalid page token: {token!r}", param="page") from exc
    if owner != digest or offset < 0:
        raise invalid(
            "This page token belongs to a list with other filters: a list's filters cannot change "
            "after its first page.",
            param="page",
        )
    return offset


def page_url(path: str, params: Mapping[str, Any]) -> str:
    """A path with a query string, lists indexed (``include[0]=…``) and brackets left readable."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | frozenset | set):
            items = sorted(value) if isinstance(value, frozenset | set) else value
            pairs += [(f"{name}[{index}]", str(item)) for index, item in enumerate(items)]
        else:
            pairs.append((name, str(value)))
    query = urlencode(pairs).replace("%5B", "[").replace("%5D", "]")
    return f"{path}?{query}" if query else path


def v2_list(
    items: list[dict[str, Any]], *, path: str, limit: int, offset: int, digest: str, keep: Mapping[str, Any]
) -> dict[str, Any]:
    """One page of ``items`` as a v2 list; ``keep`` are the query parameters every page repeats."""
    page = items[offset : offset + limit]
    next_url = prev_url = None
    if offset + limit < len(items):
        next_url = page_url(path, {**keep, "limit": limit, "page": page_token(offset + limit, digest)})
    if offset > 0:
        prev_url = page_url(
            path, {**keep, "limit": limit, "page": page_token(max(offset - limit, 0), digest)}
        )
    return {"data": page, "next_page_url": next_url, "previous_page_url": prev_url}


# --------------------------------------------------------------------------------------------
# The endpoint wrapper


@dataclass
class V2Context:
    """What a v2 handler gets: the caller, the account it acts as, and the decoded parameters."""

    request: Request
    api_key: ApiKey
    account: str | None
    query: dict[str, Any]
    body: dict[str, Any]
    faults: FaultPlan

    @property
    def base_url(self) -> str:
        """Scheme and host for absolute URLs in responses: the configured one, else the request's."""
        state: EmulatorState = self.request.app.state.emulator
        return state.base_url or str(self.request.base_url).rstrip("/")


V2Handler = Callable[[V2Context], Awaitable[dict[str, Any]]]
"""A ``/v2`` endpoint's logic, behind :func:`v2_endpoint`."""
Replay = Callable[[V2Context, str], Awaitable[dict[str, Any]]]
"""Renders the current state of the object an idempotent POST created, from its id."""


def v2_endpoint(
    state: EmulatorState,
    method: str,
    template: str,
    handler: V2Handler,
    *,
    idempotency: IdempotencyStore | None = None,
    replay: Replay | None = None,
    prepare: Callable[[], None] | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint for ``handler`` at ``method template`` with the v2 conventions.

    POSTs given ``idempotency`` (an :class:`IdempotencyStore` with :data:`IDEMPOTENCY_TTL`; it keeps
    the created object's id) and ``replay`` honour ``Idempotency-Key``; ``prepare`` runs first on
    every request (the Data API uses it to forget what a reset dropped).
    """
    permission = permission_for(method, template)

    async def endpoint(request: Request) -> Response:
        if prepare is not None:
            prepare()
        try:
            api_key = _authenticate(state, request)
            if not state.limiter.allow(api_key):
                state.stats.bump("rate_limited")
                raise V2Error(
                    429,
                    "Request rate limit exceeded. You can learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.",
                )
            _check_version(request.headers.get("stripe-version"))
            account = _acting_account(state, request, api_key)
            KeyStore.authorize(api_key, permission, account or state.platform_account)
            query = query_params(request) if method == "GET" else {}
            body = await _json_body(request) if method == "POST" else {}
        except StripeError as exc:
            return from_v1(exc).response()
        except V2Error as exc:
            return exc.response()
        plan: FaultPlan = request.scope.get("stripe_emulator.faults", NO_FAULTS)
        ctx = V2Context(request, api_key, account, query, body, plan)
        ticket: IdempotencyTicket | None = None
        key = request.headers.get("idempotency-key")
        if method == "POST" and key and idempotency is not None and replay is not None:
            try:
                claimed = idempotency.begin(
                    f"{api_key.key}|{account or ''}",
                    key,
                    endpoint=f"{method} {template}",
                    fingerprint=IdempotencyStore.fingerprint(method, template, body, account),
                )
                if isinstance(claimed, StoredResponse):
                    state.stats.bump("idempotent_replays")
                    current = await replay(ctx, claimed.body.decode())
                    return JSONResponse(
                        current,
                        headers={"Idempotent-Replayed": "true", "Original-Request": claimed.request_id},
                    )
            except StripeError as exc:
                return from_v1(exc).response()
            except V2Error as exc:
                return exc.response()
            ticket = claimed
        return await _respond(state, ctx, handler, ticket, idempotency)

    return endpoint


async def _respond(
    state: EmulatorState,
    ctx: V2Context,
    handler: V2Handler,
    ticket: IdempotencyTicket | None,
    idempotency: IdempotencyStore | None,
) -> Response:
    result: dict[str, Any] | None = None
    try:
        # Inside the idempotency window, like v1: a retry while this sleeps gets the 409.
        if ctx.faults.delay:
            await asyncio.sleep(ctx.faults.delay)
        result = await handler(ctx)
        response: Response = JSONResponse(result)
    except V2Error as exc:
        response = exc.response()
    except StripeError as exc:
        response = from_v1(exc).response()
    except Exception:
        logger.exception("%s %s crashed", ctx.request.method, ctx.request.url.path)
        response = V2Error(500, "An unknown error occurred.").response()
    finally:
        if ticket is not None and idempotency is not None:
            if result is not None and "id" in result:
                request_id = ctx.request.scope.get("stripe_emulator.request_id", "")
                idempotency.finish(ticket, StoredResponse(200, str(result["id"]).encode(), request_id))
            else:
                idempotency.abandon(ticket)
    return response


def _authenticate(state: EmulatorState, request: Request) -> ApiKey:
    header = request.headers.get("authorization")
    if not header or not header.strip():
        raise V2Error(
            401,
            "You did not provide an API key. Provide it in the Authorization header, using Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            code="api_key_missing",
        )
    return state.keys.authenticate(header)


def _check_version(version: str | None) -> None:
    if not version:
        raise V2Error(
            400,
            "All requests to the /v2 namespace must include a Stripe-Version header with a preview "
            "version such as 2026-10-28.preview.",
            code="invalid_stripe_version",
            param="Stripe-Version",
        )
    if not PREVIEW_VERSION.match(version.strip()):
        raise V2Error(
            400,
            f"Invalid Stripe-Version {version!r}: the Data API is a preview; send a version of the form "
            "YYYY-MM-DD.preview such as 2026-10-28.preview.",
            code="invalid_stripe_version",
            param="Stripe-Version",
        )


def _acting_account(state: EmulatorState, request: Request, api_key: ApiKey) -> str | None:
    if request.headers.get("stripe-account"):
        raise V2Error(
            400,
            "The Stripe-Account header is not supported on /v2 endpoints: name the account with the "
            "Stripe-Context header instead.",
            code="invalid_header",
            param="Stripe-Account",
        )
    context = (request.headers.get("stripe-context") or "").strip()
    if not context or context == state.platform_account:
        return None
    if context in state.connected_accounts:
        return context
    raise V2Error(
        403,
        f"The provided key '{redact_key(api_key.key)}' does not have access to account '{context}' (or "
        "that account does not exist). Application access may have been revoked.",
        code="account_invalid",
        param="Stripe-Context",
    )


async def _json_body(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if content_type and content_type != "application/json":
        raise V2Error(
            400,
            f"Invalid Content-Type {content_type!r}: /v2 request bodies are JSON (application/json).",
            code="invalid_content_type",
        )
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise V2Error(400, f"Invalid JSON body: {exc}", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise V2Error(400, "The request body must be a JSON object.", code="invalid_json")
    return body
