"""Stripe's Data API (``/v2/data``): query runs, report runs, the report and schema catalogues, results.

The same life as the v1 runners (:mod:`pipelines.stripe.runs`): create a run with an idempotency
key, report its id, poll it to ``succeeded | failed | canceled``, judge the outcome. What differs is
the transport (:meth:`StripeClient.request_v2`: JSON, ``Stripe-Context``, the preview
``Stripe-Version``), the failure judgement (per ``status_details.code``, see
:data:`FAILURE_RETRYABLE`) and the result: a pre-signed ``download_url`` that expires, streamed
without the API key and, once expired, replaced by retrieving the run again, never by running it
again (a new run would be billed, and could see different data).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from pipelines.stripe.client import StripeClient
from pipelines.stripe.clock import Clock
from pipelines.stripe.data_objects import DataReport, DataRun, DataSchema
from pipelines.stripe.errors import APIError, InvalidRequestError, RunFailedError
from pipelines.stripe.files import DownloadedFile, FileDownloader, IncompleteDownload
from pipelines.stripe.polling import PollPolicy
from pipelines.stripe.runs import OnCreated, RunKind, require_idempotency_key, wait_for_run

logger = logging.getLogger(__name__)

QUERY_RUN = "query_run"
REPORT_RUN = "report_run"

RUN_KINDS: Mapping[str, RunKind] = {
    QUERY_RUN: RunKind(
        label="Data query run",
        path="/v2/data/query_runs",
        succeeded=frozenset({"succeeded"}),
        failed=frozenset({"failed", "canceled"}),
    ),
    REPORT_RUN: RunKind(
        label="Data report run",
        path="/v2/data/report_runs",
        succeeded=frozenset({"succeeded"}),
        failed=frozenset({"failed", "canceled"}),
    ),
}
"""The two kinds of ``/v2/data`` run. A status outside these sets (the enum is open) keeps polling."""

DATASET = "analytical"
"""The only dataset of ``/v2/data`` today; query runs must name it."""
RESULT_FORMAT = "csv"
"""The only result format; the loaders read CSV."""

FAILURE_RETRYABLE: Mapping[str, bool] = {
    # The SQL itself is wrong: the same SQL fails the same way.
    "query_run_invalid_sql": False,
    # The same window gives the same too-large result; only a narrower window helps.
    "file_size_above_limit": False,
    # Stripe's own failure; a later run can succeed.
    "internal_error": True,
}
"""Whether a ``failed`` run with this ``status_details.code`` is worth running again."""
UNKNOWN_FAILURE_RETRYABLE = True
"""For a ``failed`` run with a code not above, or none. UNCONFIRMED which codes Stripe adds; retrying
an unknown failure costs one more run, refusing it would strand a transient one."""
CANCELED_RETRYABLE = True
"""A ``canceled`` run was stopped, not wrong (there is no cancel endpoint; how runs get canceled is
UNCONFIRMED), so running it again can succeed."""

EXPIRED_LINK_STATUSES = frozenset({403, 404, 410})
"""What a pre-signed link answers once it has expired (storage hosts differ: S3 says 403)."""

LIST_PAGE_SIZE = 100
"""``limit`` for catalogue listings: the SDK's documented maximum was 100 in one preview and 1,000 in
the next, so 100 is valid for both and keeps the default of 10 from costing ten requests."""


def run_failure(kind: RunKind, run: Mapping[str, Any]) -> RunFailedError:
    """The error for a ``/v2/data`` run that ended ``failed`` or ``canceled``, retryable or not."""
    status = str(run.get("status"))
    details = run.get("status_details")
    details = details if isinstance(details, Mapping) else {}
    code = details.get("code") if isinstance(details.get("code"), str) else None
    message = details.get("message") if isinstance(details.get("message"), str) else ""
    message = message.strip()
    if status == "canceled":
        retryable = CANCELED_RETRYABLE
        message = message or "Stripe canceled the run"
    else:
        retryable = FAILURE_RETRYABLE.get(code or "", UNKNOWN_FAILURE_RETRYABLE)
        message = message or "Stripe gave no reason"
        if code == "file_size_above_limit":
            message = (
                f"{message} (the result is larger than Stripe allows for one file: narrow the window, "
                "e.g. a smaller max_days_per_run for this asset, so that each run returns less)"
            )
    return RunFailedError(
        message, run_kind=kind.label, run_id=str(run.get("id")), status=status, retryable=retryable, code=code
    )


class _DataRuns:
    """What query runs and report runs share: creating and waiting, retrieving, downloading."""

    _kind: str

    def __init__(
        self,
        client: StripeClient,
        poll: PollPolicy | None = None,
        *,
        clock: Clock | None = None,
        files: FileDownloader | None = None,
    ) -> None:
        self._client = client
        self._poll = poll or PollPolicy()
        self._clock = clock or client.clock
        self._files = files or FileDownloader(client)

    def retrieve(self, run_id: str, *, stripe_context: str | None = None) -> DataRun:
        """The run ``run_id`` as Stripe has it now (with a freshly signed download link, if any)."""
        kind = RUN_KINDS[self._kind]
        obj = self._client.request_v2("GET", kind.run_path(run_id), stripe_context=stripe_context)
        return DataRun.from_stripe(obj, kind=self._kind, stripe_context=stripe_context)

    def download(self, run: DataRun, dest: Path) -> DownloadedFile:
        """Stream the result file of the succeeded ``run`` to ``dest``, size-checked and placed whole.

        The link is fetched without the API key. A link that has expired (``expires_at`` passed,
        or the link answers 403/404/410) is replaced by retrieving the run again in its
        ``stripe_context``; the query is never run again. Each attempt of the downloader counts,
        refused links included; after the last one
        :class:`~pipelines.stripe.errors.DownloadError` (retryable) is raised and ``dest`` is left
        as it was.
        """
        if run.kind != self._kind:
            raise ValueError(f"{run.id} is a {run.kind}; download it with the runner of its kind")
        source = _RunResult(
            self._client, run, retrieve=lambda: self.retrieve(run.id, stripe_context=run.stripe_context)
        )
        return self._files.download_from(source, Path(dest))

    def _create_and_wait(
        self,
        body: Mapping[str, Any],
        *,
        idempotency_key: str,
        stripe_context: str | None,
        on_created: OnCreated | None,
        deadline: float | None,
    ) -> DataRun:
        require_idempotency_key(idempotency_key)
        kind = RUN_KINDS[self._kind]
        created = self._client.request_v2(
            "POST", kind.path, json=body, idempotency_key=idempotency_key, stripe_context=stripe_context
        )
        run = wait_for_run(
            kind,
            created,
            lambda run_id: self._client.request_v2(
                "GET", kind.run_path(run_id), stripe_context=stripe_context
            ),
            on_created=on_created,
            poll=self._poll,
            clock=self._clock,
            deadline=deadline,
            failure=lambda failed: run_failure(kind, failed),
        )
        return DataRun.from_stripe(run, kind=self._kind, stripe_context=stripe_context)


class DataQueryRunner(_DataRuns):
    """Runs SQL on the ``analytical`` dataset through ``/v2/data/query_runs``."""

    _kind = QUERY_RUN

    def run(
        self,
        sql: str,
        *,
        idempotency_key: str,
        stripe_context: str | None = None,
        on_created: OnCreated | None = None,
        deadline: float | None = None,
    ) -> DataRun:
        """Run ``sql`` and return the succeeded run, whose result :meth:`download` fetches.

        The same ``idempotency_key`` designates the same run at Stripe: calling again after a crash
        or a deadline returns that run in its current state instead of starting (and paying for)
        another. By the same token a failed run's key only ever returns that failure, so running
        again after a retryable failure needs a new key. Raises
        :class:`~pipelines.stripe.errors.RunFailedError` (``retryable`` per
        :data:`FAILURE_RETRYABLE`; invalid SQL carries Stripe's message),
        :class:`~pipelines.stripe.errors.RunDeadlineExceeded` when ``deadline`` (or the poll
        policy's) passes first.
        """
        if not sql or not sql.strip():
            raise ValueError("a query run needs SQL")
        body = {"dataset": DATASET, "format": RESULT_FORMAT, "query": {"sql": sql}}
        return self._create_and_wait(
            body,
            idempotency_key=idempotency_key,
            stripe_context=stripe_context,
            on_created=on_created,
            deadline=deadline,
        )


class DataReportRunner(_DataRuns):
    """Runs Stripe-defined reports by name through ``/v2/data/report_runs``."""

    _kind = REPORT_RUN

    def run(
        self,
        report_name: str,
        parameters: Mapping[str, Any],
        *,
        idempotency_key: str,
        stripe_context: str | None = None,
        on_created: OnCreated | None = None,
        deadline: float | None = None,
    ) -> DataRun:
        """Run the report ``report_name`` with ``parameters`` and return the succeeded run.

        ``parameters`` go as JSON; tz-aware datetimes (``interval_start``, ``interval_end``)
        become RFC 3339 strings such as ``2026-11-08T00:00:00.000Z``. Idempotency, errors and the
        result are as for :meth:`DataQueryRunner.run`. Parameters are not checked here:
        :meth:`DataReport.check_parameters` does that against the catalogue.
        """
        if not report_name:
            raise ValueError("a report run needs a report name")
        body = {"report": {"name": report_name}, "parameters": dict(parameters), "format": RESULT_FORMAT}
        return self._create_and_wait(
            body,
            idempotency_key=idempotency_key,
            stripe_context=stripe_context,
            on_created=on_created,
            deadline=deadline,
        )


class DataReports:
    """The report catalogue, ``/v2/data/reports``: what can be run and with which parameters."""

    def __init__(self, client: StripeClient, *, page_size: int = LIST_PAGE_SIZE) -> None:
        self._client = client
        self._page_size = page_size

    def list(
        self, *, include: Iterable[str] = ("parameters",), stripe_context: str | None = None
    ) -> list[DataReport]:
        """Every report, all pages; ``include`` may add ``parameters`` and ``default_sql``."""
        return [
            DataReport.from_stripe(obj)
            for obj in self._client.list_v2(
                "/v2/data/reports", self._params(include), stripe_context=stripe_context
            )
        ]

    def retrieve(
        self, name_or_id: str, *, include: Iterable[str] = ("parameters",), stripe_context: str | None = None
    ) -> DataReport:
        """One report, by id (``report_...``) or by exact name (``balance.summary``).

        Names are looked up through the listing's ``name`` filter, which the SDK documents; whether
        the retrieve path also accepts a name is UNCONFIRMED. Raises
        :class:`~pipelines.stripe.errors.InvalidRequestError` when no report has that name.
        """
        if not name_or_id:
            raise ValueError("a report name or id is required")
        if name_or_id.startswith("report_"):
            obj = self._client.request_v2(
                "GET",
                f"/v2/data/reports/{quote(name_or_id, safe='')}",
                params=self._params(include, paged=False),
                stripe_context=stripe_context,
            )
            return DataReport.from_stripe(obj)
        params = {**self._params(include), "name": name_or_id}
        for obj in self._client.list_v2("/v2/data/reports", params, stripe_context=stripe_context):
            report = DataReport.from_stripe(obj)
            if report.name == name_or_id:
                return report
        raise InvalidRequestError(f"Stripe has no report named {name_or_id!r}", code="resource_missing")

    def _params(self, include: Iterable[str], *, paged: bool = True) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": self._page_size} if paged else {}
        includes = list(include)
        if includes:
            params["include"] = includes
        return params


class DataSchemas:
    """The tables of the ``analytical`` dataset, ``/v2/data/schemas``, with their ``refreshed_at``.

    Reading them runs no query, so this is how freshness is probed and SQL checked without cost.
    """

    def __init__(self, client: StripeClient, *, page_size: int = LIST_PAGE_SIZE) -> None:
        self._client = client
        self._page_size = page_size

    def list(self, include_columns: bool = False, *, stripe_context: str | None = None) -> list[DataSchema]:
        """Every table, all pages; columns only with ``include_columns`` (they make pages large)."""
        params: dict[str, Any] = {"limit": self._page_size}
        if include_columns:
            params["include"] = ["columns"]
        return [
            DataSchema.from_stripe(obj)
            for obj in self._client.list_v2("/v2/data/schemas", params, stripe_context=stripe_context)
        ]

    def retrieve(self, schema_id: str, *, stripe_context: str | None = None) -> DataSchema:
        """One table by id, with its columns (the retrieve endpoint includes them by default)."""
        obj = self._client.request_v2(
            "GET", f"/v2/data/schemas/{quote(schema_id, safe='')}", stripe_context=stripe_context
        )
        return DataSchema.from_stripe(obj)


class _RunResult:
    """The result file of a ``/v2/data`` run as a download source that refreshes its link.

    ``retrieve`` fetches the run again; it is called before an attempt when the last link was
    refused or ``expires_at`` has passed (or no link is known), at most once per attempt, and the
    link it brings is tried even if it looks expired too (a skewed clock must not stop every try).
    """

    def __init__(self, client: StripeClient, run: DataRun, *, retrieve: Callable[[], DataRun]) -> None:
        self.id = run.id
        self.name = f"{RUN_KINDS[run.kind].label} {run.id} result"
        self._client = client
        self._run = run
        self._retrieve = retrieve
        self._refused = False

    def prepare(self) -> int | None:
        run = self._run
        expired = run.expires_at is not None and self._client.clock.now() >= run.expires_at
        if self._refused or expired or run.download_url is None:
            logger.info(
                "Retrieving %s again for a fresh download link (%s)",
                self.name,
                "the link was refused" if self._refused else "the link expired" if expired else "no link",
            )
            self._run = run = self._retrieve()
            self._refused = False
        if run.status != "succeeded" or run.download_url is None:
            raise APIError(f"{self.name}: the run is {run.status!r} and has no download link")
        return run.file_size

    @contextmanager
    def open(self) -> Iterator[httpx.Response]:
        url = self._run.download_url
        if url is None:
            raise APIError(f"{self.name}: no download link")  # prepare() makes this unreachable
        opened = False
        try:
            with self._client.stream_url(url) as response:
                # Errors raised while the body is read are the downloader's, not a refused link.
                opened = True
                yield response
        except APIError as error:
            if opened or error.http_status not in EXPIRED_LINK_STATUSES:
                raise
            self._refused = True
            raise IncompleteDownload(
                f"the download link answered HTTP {error.http_status} (expired); "
                "the next attempt retrieves the run for a new one"
            ) from None
