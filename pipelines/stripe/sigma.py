"""Sigma query runs: run SQL (or a saved query) at Stripe and wait for its result file.

The v1 ``/v1/sigma/query_runs`` API is a private preview whose docs disagree on the success word
(``succeeded`` in the attribute list, ``completed`` in an example), so both count as success, and
the scheduled-query terms ``canceled`` and ``timed_out`` count as failures alongside ``failed``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pipelines.stripe.client import StripeClient
from pipelines.stripe.clock import Clock
from pipelines.stripe.errors import APIConnectionError, APIError
from pipelines.stripe.polling import PollPolicy
from pipelines.stripe.retries import RETRYABLE_TRANSPORT_ERRORS
from pipelines.stripe.runs import FinishedRun, OnCreated, RunKind, create_and_wait
from pipelines.stripe.timestamps import from_unix, optional_from_unix

QUERY_RUNS = RunKind(
    label="Sigma query run",
    path="/v1/sigma/query_runs",
    succeeded=frozenset({"succeeded", "completed"}),
    failed=frozenset({"failed", "canceled", "timed_out"}),
    failure_retryable=False,
)

logger = logging.getLogger(__name__)

DATA_LOAD_TIME_SQL = "SELECT data_load_time"
# A one-value result is a few dozen bytes; anything much larger is not the file we asked for.
_SMALL_RESULT_LIMIT = 64 * 1024
_TRAILING_UTC = re.compile(r"\s*(UTC|Z)$", re.IGNORECASE)


class SigmaRunner:
    """Runs Sigma queries through Stripe's query runs API and waits for them to finish."""

    def __init__(
        self, client: StripeClient, poll: PollPolicy | None = None, *, clock: Clock | None = None
    ) -> None:
        self._client = client
        self._poll = poll or PollPolicy()
        self._clock = clock or client.clock

    def run(
        self,
        sql: str | None = None,
        *,
        saved_query_id: str | None = None,
        idempotency_key: str,
        stripe_account: str | None = None,
        on_created: OnCreated | None = None,
        deadline: float | None = None,
    ) -> FinishedRun:
        """Run ``sql`` (or the saved query ``saved_query_id``) and return the finished run.

        The same ``idempotency_key`` always designates the same run at Stripe, so calling again
        after a crash or a deadline picks up that run instead of starting another. Raises
        :class:`~pipelines.stripe.errors.RunFailedError` with Stripe's message when the SQL fails,
        :class:`~pipelines.stripe.errors.RunDeadlineExceeded` when the poll deadline passes.
        """
        if (sql is None) == (saved_query_id is None):
            raise ValueError("pass exactly one of sql and saved_query_id")
        data = {"sql": sql} if sql is not None else {"from_saved_query": saved_query_id}
        run = create_and_wait(
            self._client,
            QUERY_RUNS,
            data,
            idempotency_key=idempotency_key,
            stripe_account=stripe_account,
            on_created=on_created,
            poll=self._poll,
            clock=self._clock,
            deadline=deadline,
        )
        return FinishedRun(
            id=run["id"],
            file_id=_result_file_id(run),
            file_size=None,
            created=from_unix(run.get("created")),
            finished=optional_from_unix(run.get("finalized_at")) or self._clock.now(),
            status=run["status"],
        )

    def data_load_time(self, stripe_account: str | None = None) -> datetime:
        """How far Sigma's data is loaded: the value of ``data_load_time`` in a fresh query run."""
        run = self.run(
            DATA_LOAD_TIME_SQL,
            idempotency_key=f"data-load-time-{uuid.uuid4()}",
            stripe_account=stripe_account,
        )
        body = self._small_result(run.id, run.file_id, stripe_account)
        rows = [row for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) if row]
        if len(rows) < 2:
            raise APIError(f"the result of {DATA_LOAD_TIME_SQL!r} (run {run.id}) has no rows")
        return parse_sigma_timestamp(rows[1][0])

    def _small_result(self, run_id: str, file_id: str, stripe_account: str | None) -> bytes:
        """The whole body of a tiny result file, fetched again when the connection breaks mid-body.

        Opening the download retries like any request; a body cut short surfaces while reading,
        after the client's retries, so it gets the same number of attempts here.
        """
        path = f"/v1/files/{quote(file_id, safe='')}/contents"
        attempts = self._client.max_network_retries + 1
        for attempt in range(1, attempts + 1):
            body = bytearray()
            try:
                with self._client.stream(path, base="files", stripe_account=stripe_account) as response:
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > _SMALL_RESULT_LIMIT:
                            raise APIError(
                                f"the result of {DATA_LOAD_TIME_SQL!r} (run {run_id}) is unexpectedly large"
                            )
                return bytes(body)
            except RETRYABLE_TRANSPORT_ERRORS as exc:
                if attempt == attempts:
                    raise APIConnectionError(
                        f"the result of {DATA_LOAD_TIME_SQL!r} (run {run_id}) broke off after "
                        f"{len(body)} bytes in each of {attempts} attempts: {exc or type(exc).__name__}"
                    ) from exc
                delay = self._client.backoff.delay(attempt, jitter=0.5)
                logger.warning(
                    "Stripe file %s broke off after %d bytes (attempt %d of %d); fetching it again in %.2f s",
                    file_id,
                    len(body),
                    attempt,
                    attempts,
                    delay,
                )
                self._clock.sleep(delay)
        raise AssertionError("unreachable")


def parse_sigma_timestamp(value: str) -> datetime:
    """A timestamp as Sigma writes it in result files (``2026-03-01 00:00:00.000``), as tz-aware UTC.

    Sigma timestamps are UTC; an explicit offset or ``UTC`` suffix is honoured, and bare digits are
    read as unix seconds.
    """
    text = value.strip()
    if text.isdigit():
        return from_unix(int(text))
    suffixed = _TRAILING_UTC.search(text)
    if suffixed:
        text = text[: suffixed.start()]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise APIError(f"cannot read {value!r} as a Sigma timestamp") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _result_file_id(run: dict[str, Any]) -> str:
    result = run.get("result")
    file = result.get("file") if isinstance(result, dict) else None
    # The preview docs show the file as an id; accept an expanded File object as well.
    if isinstance(file, dict):
        file = file.get("id")
    if not isinstance(file, str) or not file:
        raise APIError(f"{QUERY_RUNS.label} {run.get('id')} succeeded without a result file")
    return file
