"""The HTTP layer: one ``httpx.Client`` for Stripe's v1 and ``/v2`` APIs, with retries and typed errors.

Everything Stripe-specific about transport lives here: Bearer auth, ``Stripe-Version``,
``Stripe-Account`` (v1) or ``Stripe-Context`` (``/v2``), bracketed form bodies (v1) or JSON bodies
(``/v2``), an ``Idempotency-Key`` on every POST, the retry precedence of
:mod:`pipelines.stripe.retries`, and the mapping of error responses to the classes in
:mod:`pipelines.stripe.errors`. Both API generations share one connection pool, one retry loop and
one error mapping; they differ only in how a request is encoded and which headers it carries. The
runners above it only see JSON objects and exceptions.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import uuid
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import httpx

from pipelines.stripe.clock import Clock, SystemClock
from pipelines.stripe.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    IdempotencyError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
    StripeError,
)
from pipelines.stripe.forms import encode, flatten
from pipelines.stripe.rate_limit import RateLimiter
from pipelines.stripe.retries import RETRYABLE_TRANSPORT_ERRORS, Backoff, retry_after_seconds, should_retry
from pipelines.stripe.timestamps import to_rfc3339

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_FILES_BASE = "https://files.stripe.com"
USER_AGENT = f"stripe-report-pipelines/0.1 httpx/{httpx.__version__}"
DEFAULT_DATA_API_VERSION = "2026-10-28.preview"
"""The ``Stripe-Version`` sent on ``/v2`` requests: the preview that announced ``/v2/data``.
Every ``/v2`` request must carry a version, and ``/v2/data`` exists only in ``.preview`` versions."""

_Api = Literal["v1", "v2", "link"]
"""Which conventions a request follows: v1 (form), ``/v2`` (JSON), or a pre-signed link (no key)."""

#: ``/v2`` error ``type`` values that decide the class on their own (stripe-python's
#: ``specific_v2_api_error``); any other type falls back to the v1 mapping by HTTP status.
_V2_ERROR_TYPES: dict[str, type[StripeError]] = {
    "rate_limit": RateLimitError,
    "idempotency_error": IdempotencyError,
    "service_unavailable": APIError,
}


def redacted(api_key: str) -> str:
    """The key as Stripe itself prints it in error messages: its kind and last four characters.

    Short keys are fully masked, since their last four characters would be most of the key.
    """
    kind = api_key.rsplit("_", 1)[0] + "_" if api_key.count("_") >= 2 else ""
    if len(api_key) < 20:
        return f"{kind}****"
    return f"{kind}****{api_key[-4:]}"


class _ApiKey:
    """Holds the key so that nothing printing the client's attributes can show it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(redacted(self.value))


class _BearerAuth(httpx.Auth):
    """``Authorization: Bearer <key>``, set per request (httpx applies it to both API and files hosts)."""

    def __init__(self, api_key: _ApiKey) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._api_key.value}"
        yield request

    def __repr__(self) -> str:
        return f"_BearerAuth({self._api_key!r})"


class StripeClient:
    """A Stripe v1 API client: one connection pool, retries with backoff, typed errors.

    ``api_base`` serves the API and ``files_base`` serves file contents (``files.stripe.com`` at
    Stripe; the same server for an emulator). ``transport`` replaces the network, e.g. with an
    ``httpx.MockTransport`` in tests; ``clock`` replaces sleeping and time-keeping the same way.
    ``max_network_retries`` counts retries after the first attempt.

    ``stripe_version`` is sent on v1 requests when given (v1 works without one);
    ``data_api_version`` is sent on every ``/v2`` request, which requires one.
    ``rate_limiter`` (:mod:`pipelines.stripe.rate_limit`) paces every API request, retries included,
    with the other processes sharing its bucket.
    """

    def __init__(
        self,
        api_key: str,
        api_base: str = DEFAULT_API_BASE,
        files_base: str = DEFAULT_FILES_BASE,
        stripe_version: str | None = None,
        timeout: float = 30.0,
        max_network_retries: int = 4,
        transport: httpx.BaseTransport | None = None,
        *,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
        data_api_version: str = DEFAULT_DATA_API_VERSION,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        if not isinstance(data_api_version, str) or not data_api_version.strip():
            raise ValueError("data_api_version is required: every /v2 request must name a Stripe-Version")
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError("a Stripe API key is required")
        if api_key != api_key.strip() or any(c.isspace() for c in api_key):
            raise ValueError("the Stripe API key contains whitespace; check how it was pasted or exported")
        if max_network_retries < 0:
            raise ValueError("max_network_retries must be 0 or more")
        self._api_key = _ApiKey(api_key)
        self.api_base = _base_url(api_base, "api_base")
        self.files_base = _base_url(files_base, "files_base")
        self.stripe_version = stripe_version
        self.data_api_version = data_api_version.strip()
        self.max_network_retries = max_network_retries
        self.backoff = backoff or Backoff()
        self.clock: Clock = clock or SystemClock()
        self.rate_limiter = rate_limiter
        # Jitter only needs to differ between processes; a private generator keeps the module-level
        # random state untouched.
        self._random = random.Random()
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if stripe_version:
            headers["Stripe-Version"] = stripe_version
        self._http = httpx.Client(
            auth=_BearerAuth(self._api_key),
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return (
            f"StripeClient(api_base={self.api_base!r}, files_base={self.files_base!r}, "
            f"api_key={self._api_key!r}, stripe_version={self.stripe_version!r}, "
            f"data_api_version={self.data_api_version!r})"
        )

    def __enter__(self) -> StripeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool. The client cannot be used afterwards."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        stripe_account: str | None = None,
    ) -> dict[str, Any]:
        """Call ``method path`` on the API and return the JSON object Stripe answered with.

        ``params`` go in the query string and ``data`` in a form body (POST only), both with
        Stripe's bracket notation for nested values. A POST always carries an Idempotency-Key,
        ``idempotency_key`` or a generated one, and keeps it across retries so that Stripe
        replays rather than repeats a request whose response was lost. ``stripe_account`` acts on
        a connected account. Raises a :class:`~pipelines.stripe.errors.StripeError` subclass.
        """
        method = method.upper()
        if data is not None and method != "POST":
            raise ValueError(f"a {method} request has no body; pass params instead of data")
        if path.startswith("/v2/"):
            raise ValueError(f"{path} is a /v2 path: /v2 takes JSON bodies, so use request_v2()")
        headers = self._headers(
            method,
            idempotency_key=idempotency_key,
            scope=("Stripe-Account", stripe_account),
            content_type="application/x-www-form-urlencoded",
        )
        content = encode(data or {}) if method == "POST" else None
        response = self._send(
            method,
            self._url(self.api_base, path),
            query=flatten(params) if params else None,
            content=content,
            headers=headers,
            stream=False,
            api="v1",
        )
        return self._json(response)

    def request_v2(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        stripe_context: str | None = None,
    ) -> dict[str, Any]:
        """Call ``method path`` on Stripe's ``/v2`` API and return the JSON object it answered with.

        ``json`` is the request body (POST only, ``Content-Type: application/json``; datetimes
        become RFC 3339 strings, decimals strings). ``params`` go in the query string with indexed
        arrays (``include[0]=result.inline``), which ``/v2`` requires even for a single value.
        ``Stripe-Version`` is the client's ``data_api_version``; ``stripe_context`` sets
        ``Stripe-Context`` (``/v2``'s successor to ``Stripe-Account``). A POST always carries an
        Idempotency-Key, kept across retries: a ``/v2`` replay returns the current state of what
        the first request created. Retries and errors are those of :meth:`request`, with ``/v2``
        error types (``rate_limit``, ``idempotency_error``, ``service_unavailable``) honoured first.
        """
        method = method.upper()
        if json is not None and method != "POST":
            raise ValueError(f"a {method} request has no body; pass params instead of json")
        if not path.startswith("/v2/"):
            raise ValueError(f"request_v2() calls /v2 paths only, got {path!r}")
        headers = self._headers(
            method,
            idempotency_key=idempotency_key,
            scope=("Stripe-Context", stripe_context),
            content_type="application/json",
        )
        # Per request, so that it replaces the client-wide v1 version (if any) on /v2 only.
        headers["Stripe-Version"] = self.data_api_version
        content = _json_body(json or {}) if method == "POST" else None
        response = self._send(
            method,
            self._url(self.api_base, path),
            query=flatten(params, timestamp=to_rfc3339) if params else None,
            content=content,
            headers=headers,
            stream=False,
            api="v2",
        )
        return self._json(response)

    def list_v2(
        self, path: str, params: Mapping[str, Any] | None = None, *, stripe_context: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every object of a ``/v2`` list endpoint, following ``next_page_url`` until it is null.

        ``params`` (filters, ``limit``, ``include``) go on the first request only: ``/v2`` carries
        them inside ``next_page_url`` and refuses filters changed after the first page, so each
        later page is fetched exactly as Stripe named it (as stripe-python's ``auto_paging_iter``
        does). Pages are fetched lazily, as the iterator is consumed.
        """
        page = self.request_v2("GET", path, params=params, stripe_context=stripe_context)
        fetched: set[str] = set()
        while True:
            data = page.get("data")
            # stripe-python recognises a /v2 list by both keys being present; so does this.
            if not isinstance(data, list) or "next_page_url" not in page:
                raise APIError(f"GET {path} did not return a Stripe /v2 list object")
            yield from data
            next_page_url = page.get("next_page_url")
            if next_page_url is None:
                return
            next_path = self._v2_page_path(next_page_url, listing=path)
            if next_path in fetched:
                raise APIError(f"GET {path} named the page {next_path} twice; stopping instead of looping")
            fetched.add(next_path)
            page = self.request_v2("GET", next_path, stripe_context=stripe_context)

    @contextmanager
    def stream_url(self, url: str) -> Iterator[httpx.Response]:
        """GET a pre-signed URL (a ``/v2`` result's ``download_url``) without reading the body.

        The request carries no ``Authorization`` header and none of the client's Stripe headers:
        a pre-signed link authorises itself, and its host (a storage bucket) must never receive
        the API key. Redirects are followed. It goes over the same connection pool and retries
        transient failures like
        :meth:`request`; any other status raises :class:`~pipelines.stripe.errors.APIError` with
        ``http_status`` set, so that the caller can tell an expired link (403/404/410) from the
        rest. Body errors surface while reading, as with :meth:`stream`.
        """
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("a download link must be an absolute http(s) URL")
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        response = self._send("GET", url, query=None, content=None, headers=headers, stream=True, api="link")
        try:
            yield response
        finally:
            response.close()

    @contextmanager
    def stream(
        self,
        path: str,
        *,
        base: Literal["api", "files"] = "api",
        params: Mapping[str, Any] | None = None,
        stripe_account: str | None = None,
    ) -> Iterator[httpx.Response]:
        """GET ``path`` without reading the body, for downloads too large to hold in memory.

        Opening the response retries and raises like :meth:`request`. Once the body is being read,
        a broken connection surfaces as ``httpx.TransportError`` from the response's iterators:
        only the caller knows whether a partial body can be resumed or must be fetched again.
        The body is requested without compression so that ``Content-Length`` counts the bytes read.
        """
        headers = self._headers(
            "GET", idempotency_key=None, scope=("Stripe-Account", stripe_account), content_type=None
        )
        headers["Accept-Encoding"] = "identity"
        response = self._send(
            "GET",
            self._url(self.files_base if base == "files" else self.api_base, path),
            query=flatten(params) if params else None,
            content=None,
            headers=headers,
            stream=True,
            api="v1",
        )
        try:
            yield response
        finally:
            response.close()

    def list(
        self, path: str, params: Mapping[str, Any] | None = None, *, stripe_account: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every object of a list endpoint, fetching further pages with ``starting_after`` as needed.

        Pages hold 100 objects unless ``params`` sets ``limit``. Pages are fetched lazily, as the
        iterator is consumed.
        """
        query: dict[str, Any] = {"limit": 100, **(params or {})}
        if "ending_before" in query:
            raise ValueError("list() pages forward with starting_after; ending_before is not supported")
        while True:
            page = self.request("GET", path, params=query, stripe_account=stripe_account)
            data = page.get("data")
            if page.get("object") != "list" or not isinstance(data, list):
                raise APIError(f"GET {path} did not return a Stripe list object")
            yield from data
            if not page.get("has_more") or not data:
                return
            query["starting_after"] = data[-1]["id"]

    def _headers(
        self,
        method: str,
        *,
        idempotency_key: str | None,
        scope: tuple[str, str | None],
        content_type: str | None,
    ) -> dict[str, str]:
        # ``scope`` is the account header of the API generation: Stripe-Account or Stripe-Context.
        headers: dict[str, str] = {}
        scope_header, scope_value = scope
        if scope_value:
            headers[scope_header] = scope_value
        if method == "POST":
            if content_type:
                headers["Content-Type"] = content_type
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        elif idempotency_key is not None:
            raise ValueError(f"idempotency keys apply to POST requests, not {method}")
        return headers

    @staticmethod
    def _url(base: str, path: str) -> str:
        # Only paths are accepted, never full URLs, so the key is sent to the configured hosts only
        # (a URL taken from a response body could point anywhere).
        if not path.startswith("/"):
            raise ValueError(f"expected a path starting with '/', got {path!r}")
        return base + path

    def _v2_page_path(self, next_page_url: Any, *, listing: str) -> str:
        # Stripe gives a path; an absolute URL is accepted only on the API host, since the next page
        # is fetched with the key.
        if isinstance(next_page_url, str) and next_page_url.startswith(self.api_base + "/"):
            next_page_url = next_page_url[len(self.api_base) :]
        if not isinstance(next_page_url, str) or not next_page_url.startswith("/v2/"):
            raise APIError(f"GET {listing} gave a next_page_url that is not a /v2 path on the API host")
        return next_page_url

    def _build(
        self,
        method: str,
        url: str,
        *,
        query: list[tuple[str, str]] | None,
        content: str | None,
        headers: dict[str, str],
        api: _Api,
    ) -> httpx.Request:
        if api != "link":
            return self._http.build_request(method, url, params=query, content=content, headers=headers)
        # Built by hand rather than by the client, so that none of the client's default headers
        # (Stripe-Version, Accept) go to a foreign host; only the timeout is taken over.
        return httpx.Request(
            method, url, headers=headers, extensions={"timeout": self._http.timeout.as_dict()}
        )

    def _send(
        self,
        method: str,
        url: str,
        *,
        query: list[tuple[str, str]] | None,
        content: str | None,
        headers: dict[str, str],
        stream: bool,
        api: _Api,
    ) -> httpx.Response:
        # ``auth=None`` is httpx's "no auth for this request": the key stays off pre-signed links.
        # Such a link may redirect (a storage host sending to its regional endpoint); following it
        # is safe because the request carries no credential, unlike an API request.
        auth = None if api == "link" else httpx.USE_CLIENT_DEFAULT
        follow = api == "link"
        retry = 0
        while True:
            request = self._build(method, url, query=query, content=content, headers=headers, api=api)
            if self.rate_limiter is not None and api != "link":
                # Pre-signed links are not Stripe's API and do not count against its limit.
                self.rate_limiter.acquire()
            try:
                response = self._http.send(request, stream=stream, auth=auth, follow_redirects=follow)
            except RETRYABLE_TRANSPORT_ERRORS as exc:
                if retry >= self.max_network_retries:
                    raise self._connection_error(request, exc, attempts=retry + 1) from exc
                retry += 1
                self._wait(request, retry, reason=type(exc).__name__, retry_after=None)
                continue
            except httpx.TransportError as exc:
                raise self._connection_error(request, exc, attempts=retry + 1) from exc
            if response.is_success:
                return response
            if retry < self.max_network_retries and should_retry(response):
                retry_after = retry_after_seconds(response, now=self.clock.now())
                reason = f"HTTP {response.status_code} (request_id {response.headers.get('Request-Id')})"
                response.close()
                retry += 1
                self._wait(request, retry, reason=reason, retry_after=retry_after)
                continue
            try:
                response.read()
            except httpx.TransportError:
                pass  # the status alone still says what went wrong; the message falls back to it
            finally:
                response.close()
            raise self._status_error(response, api)

    def _wait(self, request: httpx.Request, retry: int, *, reason: str, retry_after: float | None) -> None:
        delay = self.backoff.delay(retry, jitter=self._random.random(), retry_after=retry_after)
        logger.warning(
            "Stripe %s %s failed with %s; retry %d of %d in %.2f s",
            request.method,
            request.url.path,
            reason,
            retry,
            self.max_network_retries,
            delay,
        )
        self.clock.sleep(delay)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key.value, redacted(self._api_key.value))

    def _connection_error(
        self, request: httpx.Request, exc: httpx.TransportError, *, attempts: int
    ) -> StripeError:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        detail = str(exc) or type(exc).__name__
        message = (
            f"{request.method} {request.url.host}{request.url.path} {kind} after "
            f"{attempts} attempt{'s' if attempts != 1 else ''}: {detail}"
        )
        return APIConnectionError(self._redact(message))

    def _status_error(self, response: httpx.Response, api: _Api) -> StripeError:
        status = response.status_code
        if api == "link":
            # A storage host's refusal says nothing about the key or the request to Stripe (an
            # expired link answers 403 or 404), so no v1 class applies; the caller reads the status.
            return APIError(
                f"the download link answered HTTP {status} {response.reason_phrase} for "
                f"GET {response.request.url.host}{response.request.url.path}",
                http_status=status,
                request_id=response.headers.get("Request-Id"),
            )
        error = _error_object(response)
        code = _text(error.get("code"))
        error_type = _text(error.get("type"))
        message = _text(error.get("message")) or (
            f"Stripe returned HTTP {status} {response.reason_phrase} for "
            f"{response.request.method} {response.request.url.path}"
        )
        cls = _V2_ERROR_TYPES.get(error_type or "") if api == "v2" else None
        if cls is None:
            cls = _error_class(status, code, error_type)
        return cls(
            self._redact(message),
            http_status=status,
            request_id=response.headers.get("Request-Id"),
            code=code,
            type=error_type,
            param=_text(error.get("param")),
        )

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise APIError(
                f"Stripe answered {response.request.method} {response.request.url.path} with a body "
                "that is not a JSON object",
                http_status=response.status_code,
                request_id=response.headers.get("Request-Id"),
            )
        return body


def _error_class(status: int, code: str | None, error_type: str | None) -> type[StripeError]:
    """The v1 mapping (stripe-python's ``specific_v1_api_error``), also ``/v2``'s fallback."""
    if status == 429 or (status == 400 and code == "rate_limit"):
        return RateLimitError
    if error_type == "idempotency_error":
        return IdempotencyError
    if status in (400, 404):
        return InvalidRequestError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    return APIError


def _json_body(body: Mapping[str, Any]) -> str:
    return jsonlib.dumps(body, default=_json_value, separators=(",", ":"))


def _json_value(value: Any) -> Any:
    # /v2 spells instants as RFC 3339 and exact decimals as strings.
    if isinstance(value, datetime):
        return to_rfc3339(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    raise TypeError(f"cannot JSON-encode a {type(value).__name__} for a /v2 request")


def _base_url(url: str, name: str) -> str:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{name} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _error_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
