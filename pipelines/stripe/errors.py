"""Errors raised by the Stripe client, one class per way a call can fail.

The HTTP classes follow Stripe's own mapping of status codes (stripe-python's ``specific_v1_api_error``)
so that a reader who knows Stripe knows what each one means. Every error carries what Stripe said
(``message``, ``code``, ``type``, ``param``) and the ``Request-Id`` Stripe support asks for; ``str()``
puts them on one line so a failed Dagster run shows the cause without opening logs. No error ever
holds the API key: the client redacts it from anything a server echoes back before raising.

Each error says whether trying again can succeed (``retryable``), the way stripe-python's errors
carry ``should_retry``; the client has already retried transient statuses by the time one is raised,
so ``retryable`` is advice for the orchestrator (retry the step later), not for the client::

    StripeError
    ├── APIError                a 5xx or a response that is not Stripe-shaped       retryable
    ├── APIConnectionError      Stripe unreachable or silent                         retryable
    ├── RateLimitError          429 after backing off                                retryable
    ├── AuthenticationError     401: the key                                         never
    ├── PermissionDeniedError   403: the key lacks a permission                      never
    ├── InvalidRequestError     400/404: the request itself                          never
    ├── IdempotencyError        a key reused with other parameters                   never
    ├── RunFailedError          a run ended failed: the runner decides per kind      per run
    ├── RunDeadlineExceeded     still running at the deadline; a new run starts over never
    └── DownloadError           the file never arrived whole                         retryable
"""

from __future__ import annotations

from typing import Any


def _restore(cls: type[StripeError], state: dict[str, Any]) -> StripeError:
    """Rebuild an error from its attributes (errors have keyword-only fields, so default pickling fails)."""
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class StripeError(Exception):
    """Base class of every error this package raises about a Stripe call.

    ``message`` is Stripe's own wording when Stripe sent one; ``http_status`` and ``request_id``
    are ``None`` when no response was received.
    """

    retryable: bool = True

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        request_id: str | None = None,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.request_id = request_id
        self.code = code
        self.type = type
        self.param = param

    def _details(self) -> list[str]:
        details = []
        if self.http_status is not None:
            details.append(f"HTTP {self.http_status}")
        if self.code:
            details.append(f"code {self.code}")
        if self.param:
            details.append(f"param {self.param}")
        if self.request_id:
            details.append(f"request_id {self.request_id}")
        return details

    def _headline(self) -> str:
        return self.message

    def __str__(self) -> str:
        details = self._details()
        return f"{self._headline()} ({', '.join(details)})" if details else self._headline()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in vars(self).items() if value is not None)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), dict(vars(self))))


class APIError(StripeError):
    """Stripe failed (5xx after retries, an unexpected status, or a response that is not Stripe-shaped)."""


class APIConnectionError(StripeError):
    """Stripe could not be reached, or did not answer in time, even after retrying."""


class AuthenticationError(StripeError):
    """HTTP 401: the API key is missing, malformed, revoked or unknown to Stripe."""

    retryable = False


class PermissionDeniedError(StripeError):
    """HTTP 403: the key is valid but may not call this endpoint (a restricted key lacking a permission)."""

    retryable = False


class InvalidRequestError(StripeError):
    """HTTP 400/404: the request itself is wrong (bad parameter, unknown object); retrying cannot help."""

    retryable = False


class IdempotencyError(StripeError):
    """An Idempotency-Key was reused with different parameters (Stripe's ``idempotency_error``)."""

    retryable = False


class RateLimitError(StripeError):
    """HTTP 429: Stripe kept refusing requests for going too fast, after backing off and retrying."""


class RunFailedError(StripeError):
    """A Sigma query run or report run reached a terminal state other than success.

    ``message`` is Stripe's explanation (for a Sigma run, the SQL error); ``run_id`` and ``status``
    say which run and how it ended; ``code`` is the failure category when Stripe gives one (a
    ``/v2`` run's ``status_details.code``, e.g. ``query_run_invalid_sql``).
    """

    def __init__(
        self,
        message: str,
        *,
        run_kind: str,
        run_id: str,
        status: str,
        request_id: str | None = None,
        retryable: bool = True,
        code: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, code=code)
        self.run_kind = run_kind
        self.run_id = run_id
        self.status = status
        self.retryable = retryable

    def _headline(self) -> str:
        return f"{self.run_kind} {self.run_id} ended with status {self.status!r}: {self.message}"


class RunDeadlineExceeded(StripeError):
    """A run was still in progress when the poll deadline passed; it may yet finish at Stripe.

    Not retried by the orchestrator: the step has already waited its whole deadline, and the next
    run of the partition starts a new Stripe job for the same window.
    """

    retryable = False

    def __init__(self, *, run_kind: str, run_id: str, status: str, waited: float) -> None:
        super().__init__(
            f"{run_kind} {run_id} was still {status!r} after waiting {waited:.1f} s; "
            "it may still finish at Stripe, so retrying with the same idempotency key resumes it"
        )
        self.run_kind = run_kind
        self.run_id = run_id
        self.status = status
        self.waited = waited


class DownloadError(StripeError):
    """A file could not be downloaded completely; nothing was written at the destination.

    ``file_id`` names what was downloaded: a v1 File id, or for a ``/v2`` result (which has no file
    id) the id of the run that produced it.
    """

    def __init__(
        self,
        message: str,
        *,
        file_id: str,
        attempts: int,
        expected_size: int | None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status)
        self.file_id = file_id
        self.attempts = attempts
        self.expected_size = expected_size
