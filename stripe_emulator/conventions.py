"""Stripe's HTTP conventions as reusable pieces.

API-key authentication and restricted-key permissions, form bodies with bracket notation, the
``{"error": {...}}`` envelope, request and object ids, list pagination, idempotency keys and a per-key
token-bucket rate limiter. Nothing here knows about a particular endpoint except the permission
table, which names the restricted-key permission that guards each endpoint family.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import qs_codec
from starlette.responses import JSONResponse

ERROR_DOCS = "https://stripe.com/docs/error-codes"
DEFAULT_API_VERSION = "2025-07-30.preview"

# --------------------------------------------------------------------------------------------
# Errors


class StripeError(Exception):
    """An error answered with Stripe's ``{"error": {...}}`` body.

    ``type`` is one of Stripe's error types (``invalid_request_error``, ``api_error``,
    ``idempotency_error``); ``headers`` are added to the response (e.g. ``Stripe-Should-Retry``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body Stripe sends for this error (``doc_url`` only when there is a code)."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"{ERROR_DOCS}/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}

    def response(self) -> JSONResponse:
        """This error as a Starlette response."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    """A 400 ``invalid_request_error`` (``parameter_invalid_*`` style validation failures)."""
    return StripeError(400, message, param=param, code=code)


def resource_missing(
    object_name: str, object_id: str, *, param: str = "id", status: int = 404
) -> StripeError:
    """Stripe's 404 for an unknown id: ``No such <object>: '<id>'``."""
    return StripeError(status, f"No such {object_name}: '{object_id}'", code="resource_missing", param=param)


def missing_param(param: str) -> StripeError:
    """Stripe's 400 for a required parameter that was not sent."""
    return StripeError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def unknown_params(params: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """Raise Stripe's ``Received unknown parameter`` 400 for the first parameter not in ``allowed``."""
    for name in params:
        if name not in allowed:
            raise StripeError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


# --------------------------------------------------------------------------------------------
# Ids


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 24) -> str:
    """A Stripe-looking object id such as ``frr_1Pgc79B7WZ01zgkWMmsefTsj``."""
    number = uuid.uuid4().int
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return f"{prefix}_{''.join(chars)}"


def new_request_id() -> str:
    """A ``req_…`` id for the ``Request-Id`` response header."""
    return new_id("req", 14)


# --------------------------------------------------------------------------------------------
# API keys and restricted-key permissions

# Stripe names restricted-key permissions per resource with a read/write level; write includes read.
# Each entry lists the endpoints the permission opens (method + route template).
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "rak_report_type_read": (
        "GET /v1/reporting/report_types",
        "GET /v1/reporting/report_types/{id}",
    ),
    "rak_report_run_read": (
        "GET /v1/reporting/report_runs",
        "GET /v1/reporting/report_runs/{id}",
    ),
    "rak_report_run_write": ("POST /v1/reporting/report_runs",),
    "rak_file_read": ("GET /v1/files", "GET /v1/files/{id}", "GET /v1/files/{id}/contents"),
    "rak_sigma_query_run_read": ("GET /v1/sigma/query_runs/{id}",),
    "rak_sigma_query_run_write": ("POST /v1/sigma/query_runs",),
    "rak_sigma_saved_query_read": (
        "GET /v1/sigma/saved_queries",
        "GET /v1/sigma/saved_queries/{id}",
    ),
    "rak_sigma_saved_query_write": (
        "POST /v1/sigma/saved_queries",
        "POST /v1/sigma/saved_queries/{id}",
        "DELETE /v1/sigma/saved_queries/{id}",
    ),
    "rak_scheduled_query_run_read": (
        "GET /v1/sigma/scheduled_query_runs",
        "GET /v1/sigma/scheduled_query_runs/{id}",
    ),
    "rak_account_read": ("GET /v1/account", "GET /v1/accounts", "GET /v1/accounts/{id}"),
    "rak_event_read": ("GET /v1/events",),
    # The Data API v2 names its permissions without the rak_ prefix; both are read-level although
    # they open the POSTs that create runs (Stripe's Data > Queries / Reports: Read).
    "data_queries_read": (
        "GET /v2/data/schemas",
        "GET /v2/data/schemas/{id}",
        "POST /v2/data/query_runs",
        "GET /v2/data/query_runs/{id}",
    ),
    "data_reports_read": (
        "GET /v2/data/reports",
        "GET /v2/data/reports/{id}",
        "POST /v2/data/report_runs",
        "GET /v2/data/report_runs/{id}",
    ),
}

_ENDPOINT_PERMISSION = {endpoint: name for name, endpoints in PERMISSIONS.items() for endpoint in endpoints}


def permission_for(method: str, template: str) -> str | None:
    """The permission a restricted key needs for ``method template`` (None: no permission needed)."""
    return _ENDPOINT_PERMISSION.get(f"{method.upper()} {template}")


def grants(granted: frozenset[str], required: str) -> bool:
    """Whether a permission set allows ``required`` (a ``_write`` permission includes its ``_read``)."""
    if required in granted:
        return True
    return required.endswith("_read") and required[: -len("_read")] + "_write" in granted


def redact_key(key: str) -> str:
    """Redact an API key the way Stripe's error messages do: ``sk_test_****abcd``."""
    match = re.match(r"^([a-z]+_(?:test|live)_)(.*)$", key)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", key)
    tail = rest[-4:] if len(rest) > 4 else ""
    return f"{prefix}****{tail}"


@dataclass(frozen=True)
class ApiKey:
    """An authenticated key. ``permissions`` is None for secret keys (everything allowed)."""

    key: str
    permissions: frozenset[str] | None = None

    @property
    def restricted(self) -> bool:
        """Whether this is a restricted (``rk_``) key."""
        return self.permissions is not None

    @property
    def livemode(self) -> bool:
        """Whether this is a live-mode key (``sk_live_``/``rk_live_``): its objects say ``livemode``."""
        return "_live_" in self.key[:8]

    def __repr__(self) -> str:  # the key itself must never reach logs
        return f"ApiKey({redact_key(self.key)!r}, restricted={self.restricted})"


_NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, "
    "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#"
    "authentication for details, or we can help at https://support.stripe.com/."
)
_SECRET_KEY = re.compile(r"^sk_(test|live)_[A-Za-z0-9]+$")
_TEST_SECRET_KEY = re.compile(r"^sk_test_[A-Za-z0-9]+$")
_RESTRICTED_KEY = re.compile(r"^rk_(test|live)_[A-Za-z0-9]+$")


def _unauthorized(message: str) -> StripeError:
    return StripeError(401, message, headers={"WWW-Authenticate": 'Basic realm="Stripe"'})


def key_from_authorization(header: str | None) -> str:
    """Extract the API key from ``Authorization: Bearer <key>`` or ``Basic base64(<key>:)``."""
    if not header or not header.strip():
        raise _unauthorized(_NO_KEY_MESSAGE)
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = credentials  # Stripe also takes the bare key after "Basic"
        return decoded.split(":", 1)[0]
    raise _unauthorized(
        "Invalid Authorization header. Use Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY') "
        "or Basic auth with the key as the username."
    )


class KeyStore:
    """Which keys authenticate: secret keys, and restricted keys registered with permissions.

    By default any well-formed test secret key (``sk_test_…``) works. Given ``secret_keys``, only
    those work (test or live), so a wrong test key is refused like a wrong key at Stripe; a live key
    only ever works when it is listed there.
    """

    def __init__(self, secret_keys: Sequence[str] | None = None) -> None:
        for key in secret_keys or ():
            if not _SECRET_KEY.match(key):
                raise ValueError(
                    f"secret keys look like sk_test_… or sk_live_… (letters and digits): {redact_key(key)}"
                )
        self._secret = frozenset(secret_keys) if secret_keys is not None else None
        self._restricted: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def register(self, key: str, permissions: Sequence[str]) -> ApiKey:
        """Register (or replace) a restricted key; ValueError for a malformed key or unknown permission."""
        if not _RESTRICTED_KEY.match(key):
            raise ValueError("restricted keys look like rk_test_<letters and digits> (or rk_live_…)")
        unknown = sorted(set(permissions) - PERMISSIONS.keys())
        if unknown:
            raise ValueError(f"unknown permissions: {', '.join(unknown)}; known: {', '.join(PERMISSIONS)}")
        with self._lock:
            self._restricted[key] = frozenset(permissions)
        return ApiKey(key, frozenset(permissions))

    def count(self) -> int:
        """How many restricted keys are registered."""
        with self._lock:
            return len(self._restricted)

    def authenticate(self, authorization: str | None) -> ApiKey:
        """The key behind an ``Authorization`` header, or a 401 StripeError."""
        key = key_from_authorization(authorization)
        known = _TEST_SECRET_KEY.match(key) if self._secret is None else key in self._secret
        if known:
            return ApiKey(key)
        with self._lock:
            permissions = self._restricted.get(key)
        if permissions is not None:
            return ApiKey(key, permissions)
        raise _unauthorized(f"Invalid API Key provided: {redact_key(key)}")

    @staticmethod
    def authorize(api_key: ApiKey, permission: str | None, account_id: str) -> None:
        """Raise Stripe's 403 when a restricted key lacks ``permission``."""
        if permission is None or api_key.permissions is None or grants(api_key.permissions, permission):
            return
        raise StripeError(
            403,
            f"The provided key '{redact_key(api_key.key)}' does not have the required permissions for this "
            f"endpoint on account '{account_id}'. Having the '{permission}' permission would allow this "
            "request to continue.",
        )


# --------------------------------------------------------------------------------------------
# Form bodies

# qs-codec (a port of the JavaScript `qs` library) implements the bracket grammar Stripe uses. Its
# defaults guard against abuse with small limits that real report requests exceed (a column list
# has ~40 entries, which `qs` would otherwise turn into a dict keyed "0".."39").
_FORM_OPTIONS = qs_codec.DecodeOptions(list_limit=1000, depth=8, parameter_limit=10_000)


def decode_form(body: bytes | str) -> dict[str, Any]:
    """Decode ``a[b][0]=x&a[b][]=y&c=1`` into nested dicts and lists of strings.

    ``parameters[columns][0]=a`` and ``parameters[columns][]=a`` both give lists; a repeated plain key
    gives a list too.
    """
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    if not text:
        return {}
    try:
        return dict(qs_codec.decode(text, _FORM_OPTIONS))
    except Exception as exc:  # qs-codec raises assorted errors for garbage input
        raise invalid_request(f"Invalid request body: {exc}") from exc


def as_int(value: Any, param: str) -> int:
    """A decoded form value as an integer, else Stripe's ``Invalid integer`` 400."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise invalid_request(f"Invalid integer: {value}", param=param, code="parameter_invalid_integer")


def as_str_list(value: Any, param: str) -> list[str]:
    """A decoded form value as a list of strings (``x[0]=…`` / ``x[]=…``), else a 400."""
    if isinstance(value, Mapping) and all(str(k).isdigit() for k in value):
        value = [value[k] for k in sorted(value, key=lambda k: int(k))]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise invalid_request(f"Invalid array: {param} must be a list of strings", param=param)


def as_str(value: Any, param: str) -> str:
    """A decoded form value as a plain string, else a 400."""
    if isinstance(value, str):
        return value
    raise invalid_request(f"Invalid string: {param} must be a string", param=param)


# --------------------------------------------------------------------------------------------
# Lists


def list_object(data: list[dict[str, Any]], *, url: str, has_more: bool = False) -> dict[str, Any]:
    """Stripe's list envelope."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def parse_limit(value: Any) -> int:
    """``limit`` (default 10): an integer from 1 to 100, else a 400 naming ``limit``."""
    if value is None or value == "":
        return 10
    limit = as_int(value, "limit")
    if limit < 1:
        raise invalid_request("This value must be greater than or equal to 1.", param="limit")
    if limit > 100:
        raise invalid_request("This value must be less than or equal to 100.", param="limit")
    return limit


def paginate(
    items: Sequence[dict[str, Any]],
    query: Mapping[str, Any],
    *,
    url: str,
    object_name: str,
    id_of: Callable[[dict[str, Any]], str] = lambda item: str(item["id"]),
) -> dict[str, Any]:
    """One page of ``items`` (already newest first) as a Stripe list.

    ``starting_after`` gives the items after the cursor, ``ending_before`` the page just before it;
    ``has_more`` says whether more items lie beyond the page in the direction of travel.
    """
    limit = parse_limit(query.get("limit"))
    after, before = query.get("starting_after"), query.get("ending_before")
    if after and before:
        raise invalid_request(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="starting_after",
        )
    ids = [id_of(item) for item in items]
    if after or before:
        param = "starting_after" if after else "ending_before"
        cursor = str(after or before)
        if cursor not in ids:
            raise resource_missing(object_name, cursor, param=param, status=400)
        index = ids.index(cursor)
        if after:
            window = list(items[index + 1 :])
            return list_object(window[:limit], url=url, has_more=len(window) > limit)
        window = list(items[:index])
        return list_object(window[-limit:], url=url, has_more=len(window) > limit)
    return list_object(list(items[:limit]), url=url, has_more=len(items) > limit)


def created_filter(value: Any) -> Callable[[int], bool]:
    """A predicate for the ``created`` list filter (``created=…`` or ``created[gt|gte|lt|lte]=…``)."""
    if value is None or value == "":
        return lambda _created: True
    if isinstance(value, Mapping):
        ops: dict[str, Callable[[int, int], bool]] = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
        }
        bounds = []
        for op, bound in value.items():
            if op not in ops:
                raise StripeError(400, f"Received unknown parameter: created[{op}]", param=f"created[{op}]")
            bounds.append((ops[op], as_int(bound, f"created[{op}]")))
        return lambda created: all(check(created, bound) for check, bound in bounds)
    exact = as_int(value, "created")
    return lambda created: created == exact


# --------------------------------------------------------------------------------------------
# Idempotency


@dataclass(frozen=True)
class StoredResponse:
    """A response saved under an idempotency key."""

    status: int
    body: bytes
    request_id: str


@dataclass
class _IdempotencyRecord:
    fingerprint: str
    endpoint: str
    created: float
    response: StoredResponse | None = None


@dataclass(frozen=True)
class IdempotencyTicket:
    """Proof that a request owns an idempotency key until it calls ``finish`` or ``abandon``."""

    scope: tuple[str, str]


class IdempotencyStore:
    """``Idempotency-Key`` handling for POSTs, per API key.

    Same key and same parameters replays the saved status and body; different parameters (or a
    different endpoint) is a 400 ``idempotency_error``; a key whose first request is still executing
    answers 409. Like Stripe, nothing is saved when the request failed validation (4xx): such a
    request can be retried with the same key. Keys expire after ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 24 * 3600) -> None:
        self._ttl = ttl
        self._records: dict[tuple[str, str], _IdempotencyRecord] = {}
        self._lock = threading.Lock()

    @staticmethod
    def fingerprint(method: str, path: str, params: Mapping[str, Any], account: str | None) -> str:
        """A digest of everything that must match for a replay."""
        canonical = json.dumps([method.upper(), path, account, params], sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def begin(
        self, api_key: str, idempotency_key: str, *, endpoint: str, fingerprint: str
    ) -> IdempotencyTicket | StoredResponse:
        """Claim the key, or return the saved response to replay; StripeError for mismatch/in-flight."""
        if len(idempotency_key) > 255:
            raise invalid_request(
                "Idempotency-Key must be at most 255 characters long.", param="Idempotency-Key"
            )
        scope = (api_key, idempotency_key)
        now = time.monotonic()
        with self._lock:
            record = self._records.get(scope)
            if record is not None and now - record.created > self._ttl:
                record = None
            if record is None:
                self._records[scope] = _IdempotencyRecord(fingerprint, endpoint, now)
                return IdempotencyTicket(scope)
            if record.endpoint != endpoint:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used for the same endpoint they were first "
                    f"used for ('{record.endpoint}' vs '{endpoint}'). Try using a key other than "
                    f"'{idempotency_key}' if you meant to execute a different request.",
                    type="idempotency_error",
                    headers={"Stripe-Should-Retry": "false"},
                )
            if record.fingerprint != fingerprint:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{idempotency_key}' if you meant to execute a "
                    "different request.",
                    type="idempotency_error",
                    headers={"Stripe-Should-Retry": "false"},
                )
            if record.response is None:
                raise StripeError(
                    409,
                    "There is currently another in-progress request using this Idempotency-Key "
                    f"('{idempotency_key}'). Please try again later.",
                    code="idempotency_key_in_use",
                    headers={"Stripe-Should-Retry": "true"},
                )
            return record.response

    def finish(self, ticket: IdempotencyTicket, response: StoredResponse) -> None:
        """Save the response for replays, unless it is a 4xx (then the key is released)."""
        with self._lock:
            record = self._records.get(ticket.scope)
            if record is None:
                return
            if 400 <= response.status < 500:
                del self._records[ticket.scope]
            else:
                record.response = response

    def abandon(self, ticket: IdempotencyTicket) -> None:
        """Release a key whose request ended without a response worth saving."""
        with self._lock:
            record = self._records.get(ticket.scope)
            if record is not None and record.response is None:
                del self._records[ticket.scope]

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._records.clear()


# --------------------------------------------------------------------------------------------
# Rate limiting


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """A token bucket per API key, at Stripe's rate for the key's mode: ``live`` requests per second
    for live keys, ``test`` for test keys; bursts up to the rate (at least 1).

    Stripe documents a global limit per mode (100 operations a second in live mode, 25 in test
    mode), so a client tuned against the emulator meets the limit it will meet at Stripe.
    """

    live: float
    test: float
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rate(self, livemode: bool) -> float:
        """Requests per second allowed to a key of that mode."""
        return self.live if livemode else self.test

    def allow(self, api_key: ApiKey) -> bool:
        """Take a token for ``api_key``; False when its bucket is empty."""
        rate = self.rate(api_key.livemode)
        burst = max(rate, 1.0)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(api_key.key)
            if bucket is None:
                bucket = self._buckets[api_key.key] = _Bucket(burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                return False
            bucket.tokens -= 1.0
            return True

    def reset(self) -> None:
        """Refill every bucket."""
        with self._lock:
            self._buckets.clear()


def rate_limited() -> StripeError:
    """Stripe's 429 for a key over its rate limit."""
    return StripeError(
        429,
        "Request rate limit exceeded. You can learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        code="rate_limit",
    )
