"""The life of a Stripe job: create it, report its id, poll it to a terminal status, judge the outcome.

Sigma query runs and report runs, v1 and ``/v2``, share this life and differ only in their
endpoint, their status words, how a failure is judged and where the result file is; each runner
describes its kind with a :class:`RunKind`. :func:`create_and_wait` is the v1 life;
:func:`wait_for_run` is the part after the create, which the ``/v2`` runners share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pipelines.stripe.client import StripeClient
from pipelines.stripe.clock import Clock
from pipelines.stripe.errors import APIError, RunDeadlineExceeded, RunFailedError
from pipelines.stripe.polling import PollPolicy, poll_until

OnCreated = Callable[[str], None]
"""Called with the Stripe run id as soon as the run exists, before any waiting."""


@dataclass(frozen=True)
class FinishedRun:
    """A run that succeeded at Stripe, and where its result is.

    ``file_size`` is ``None`` when Stripe's run object does not include it (Sigma query runs only
    name the file). ``created`` and ``finished`` are Stripe's timestamps, tz-aware UTC; ``finished``
    falls back to the time the success was observed when Stripe does not give one.
    """

    id: str
    file_id: str
    file_size: int | None
    created: datetime
    finished: datetime
    status: str


@dataclass(frozen=True)
class RunKind:
    """What distinguishes one kind of Stripe run from another."""

    label: str
    path: str
    succeeded: frozenset[str]
    failed: frozenset[str]
    #: Whether a failed run is worth running again (a report run failing is rare at Stripe and
    #: transient; a Sigma run fails on its SQL, which a retry cannot fix).
    failure_retryable: bool = True

    def run_path(self, run_id: str) -> str:
        """The path of one run of this kind."""
        return f"{self.path}/{quote(run_id, safe='')}"


def create_and_wait(
    client: StripeClient,
    kind: RunKind,
    data: Mapping[str, Any],
    *,
    idempotency_key: str,
    stripe_account: str | None,
    on_created: OnCreated | None,
    poll: PollPolicy,
    clock: Clock,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Create a v1 run of ``kind`` and return its object once it has succeeded.

    Raises :class:`RunFailedError` when Stripe reports a failure status and
    :class:`RunDeadlineExceeded` when the run is still going at the poll deadline (``deadline``
    seconds, when given, instead of the policy's).
    """
    require_idempotency_key(idempotency_key)
    created = client.request(
        "POST", kind.path, data=data, idempotency_key=idempotency_key, stripe_account=stripe_account
    )

    def failure(run: Mapping[str, Any]) -> RunFailedError:
        return RunFailedError(
            _failure_message(run.get("error")),
            run_kind=kind.label,
            run_id=str(run.get("id")),
            status=str(run.get("status")),
            retryable=kind.failure_retryable,
        )

    return wait_for_run(
        kind,
        created,
        lambda run_id: client.request("GET", kind.run_path(run_id), stripe_account=stripe_account),
        on_created=on_created,
        poll=poll,
        clock=clock,
        deadline=deadline,
        failure=failure,
    )


def require_idempotency_key(idempotency_key: str) -> None:
    """Refuse to create a run without a key: a retried step must resume its run, not start another."""
    if not idempotency_key:
        raise ValueError("an idempotency key is required so that a retried step resumes the same run")


def wait_for_run(
    kind: RunKind,
    created: Mapping[str, Any],
    fetch: Callable[[str], dict[str, Any]],
    *,
    on_created: OnCreated | None,
    poll: PollPolicy,
    clock: Clock,
    deadline: float | None = None,
    failure: Callable[[Mapping[str, Any]], RunFailedError],
) -> dict[str, Any]:
    """Report the id of the run Stripe answered a create with, poll it, and judge how it ended.

    ``fetch(run_id)`` retrieves the run (v1 and ``/v2`` differ only there); ``failure(run)`` builds
    the error for a run that ended in one of ``kind.failed``, so each API decides what its failures
    mean. Returns the run object once it has succeeded; raises that error, or
    :class:`RunDeadlineExceeded` when the run is still going at the deadline.
    """
    if deadline is not None:
        poll = replace(poll, deadline=deadline)
    run_id = created.get("id")
    if not isinstance(run_id, str) or not run_id:
        raise APIError(f"creating a {kind.label} returned an object without an id")
    if on_created is not None:
        on_created(run_id)

    terminal = kind.succeeded | kind.failed
    polled = poll_until(
        dict(created),
        lambda: fetch(run_id),
        lambda run: run.get("status") in terminal,
        policy=poll,
        clock=clock,
    )
    run = polled.state
    status = str(run.get("status"))
    if not polled.done:
        raise RunDeadlineExceeded(run_kind=kind.label, run_id=run_id, status=status, waited=polled.waited)
    if status in kind.failed:
        raise failure(run)
    return run


def _failure_message(error: Any) -> str:
    # Report runs carry the reason as a string, Sigma runs as {"message": ...}.
    if isinstance(error, Mapping):
        error = error.get("message")
    if isinstance(error, str) and error.strip():
        return error.strip()
    return "Stripe gave no reason"
