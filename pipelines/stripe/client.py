"""The HTTP layer: one ``httpx.Client`` speaking Stripe's v1 conventions, with retries and typed errors.

Everything Stripe-specific about transport lives here: Bearer auth, ``Stripe-Version``,
``Stripe-Account``, bracketed form bodies, an ``Idempotency-Key`` on every POST, the retry
precedence of :mod:`pipelines.stripe.retries`, and the mapping of error responses to the classes in
:mod:`pipelines.stripe.errors`. The runners above it only see JSON objects and exceptions.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
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
from pipelines.stripe.retries import RETRYABLE_TRANSPORT_ERRORS, Backoff, retry_after_seconds, should_retry

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_FILES_BASE = "https://files.stripe.com"
USER_AGENT = f"stripe-report-pipelines/0.1 httpx/{httpx.__version__}"


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
    ) -> None:
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
        self.max_network_retries = max_network_retries
        self.backoff = backoff or Backoff()
        self.clock: Clock = clock or SystemClock()
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
            f"api_key={self._api_key!r}, stripe_version={self.stripe_version!r})"
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
        headers = self._headers(method, idempotency_key=idempotency_key, stripe_account=stripe_account)
        content = encode(data or {}) if method == "POST" else None
        response = self._send(
            method,
            self._url(self.api_base, path),
            query=flatten(params) if params else None,
            content=content,
            headers=headers,
            stream=False,
        )
        return self._json(response)

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
        headers = self._headers("GET", idempotency_key=None, stripe_account=stripe_account)
        headers["Accept-Encoding"] = "identity"
        response = self._send(
            "GET",
            self._url(self.files_base if base == "files" else self.api_base, path),
            query=flatten(params) if params else None,
            content=None,
            headers=headers,
            stream=True,
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
        self, method: str, *, idempotency_key: str | None, stripe_account: str | None
    ) -> dict[str, str]:
        headers: dict[str, str] = {}
        if stripe_account:
            headers["Stripe-Account"] = stripe_account
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
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

    def _send(
        self,
        method: str,
        url: str,
        *,
        query: list[tuple[str, str]] | None,
        content: str | None,
        headers: dict[str, str],
        stream: bool,
    ) -> httpx.Response:
        retry = 0
        while True:
            request = self._http.build_request(method, url, params=query, content=content, headers=headers)
            try:
                response = self._http.send(request, stream=stream)
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
            raise self._status_error(response)

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

    def _status_error(self, response: httpx.Response) -> StripeError:
        status = response.status_code
        error = _error_object(response)
        code = _text(error.get("code"))
        error_type = _text(error.get("type"))
        message = _text(error.get("message")) or (
            f"Stripe returned HTTP {status} {response.reason_phrase} for "
            f"{response.request.method} {response.request.url.path}"
        )
        cls: type[StripeError]
        if status == 429 or (status == 400 and code == "rate_limit"):
            cls = RateLimitError
        elif error_type == "idempotency_error":
            cls = IdempotencyError
        elif status in (400, 404):
            cls = InvalidRequestError
        elif status == 401:
            cls = AuthenticationError
        elif status == 403:
            cls = PermissionDeniedError
        else:
            cls = APIError
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
