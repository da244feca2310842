"""The Reporting API: report types (how far each is available) and report runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pipelines.stripe.client import StripeClient
from pipelines.stripe.clock import Clock
from pipelines.stripe.errors import APIError
from pipelines.stripe.polling import PollPolicy
from pipelines.stripe.runs import FinishedRun, OnCreated, RunKind, create_and_wait
from pipelines.stripe.timestamps import from_unix, optional_from_unix

REPORT_RUNS = RunKind(
    label="Report run",
    path="/v1/reporting/report_runs",
    succeeded=frozenset({"succeeded"}),
    failed=frozenset({"failed"}),
)


@dataclass(frozen=True)
class ReportType:
    """A report template and the time range Stripe can currently report on.

    A run's interval must lie within [``data_available_start``, ``data_available_end``];
    ``default_columns`` is ``None`` for types that do not take a ``columns`` parameter.
    """

    id: str
    name: str
    data_available_start: datetime
    data_available_end: datetime
    default_columns: tuple[str, ...] | None
    version: int | None = None
    updated: datetime | None = None

    @classmethod
    def from_stripe(cls, obj: Mapping[str, Any]) -> ReportType:
        """Build from a ``reporting.report_type`` object."""
        columns = obj.get("default_columns")
        return cls(
            id=str(obj["id"]),
            name=str(obj.get("name") or obj["id"]),
            data_available_start=from_unix(obj.get("data_available_start")),
            data_available_end=from_unix(obj.get("data_available_end")),
            default_columns=tuple(columns) if isinstance(columns, list) else None,
            version=obj.get("version"),
            updated=optional_from_unix(obj.get("updated")),
        )


class ReportRunner:
    """Runs Reporting API report runs and reads report types."""

    def __init__(
        self, client: StripeClient, poll: PollPolicy | None = None, *, clock: Clock | None = None
    ) -> None:
        self._client = client
        self._poll = poll or PollPolicy()
        self._clock = clock or client.clock

    def report_type(self, id: str, stripe_account: str | None = None) -> ReportType:
        """One report type, with its current ``data_available_end``."""
        obj = self._client.request(
            "GET", f"/v1/reporting/report_types/{quote(id, safe='')}", stripe_account=stripe_account
        )
        return ReportType.from_stripe(obj)

    def report_types(self, stripe_account: str | None = None) -> list[ReportType]:
        """Every report type available to the key (Stripe returns them in one unpaginated list)."""
        page = self._client.request("GET", "/v1/reporting/report_types", stripe_account=stripe_account)
        return [ReportType.from_stripe(obj) for obj in page.get("data", [])]

    def run(
        self,
        report_type: str,
        parameters: Mapping[str, Any],
        *,
        idempotency_key: str,
        stripe_account: str | None = None,
        on_created: OnCreated | None = None,
        deadline: float | None = None,
    ) -> FinishedRun:
        """Run ``report_type`` with ``parameters`` and return the finished run and its result file.

        ``parameters`` are sent as ``parameters[...]`` form fields; tz-aware datetimes (such as
        ``interval_start``) become unix seconds and lists (``columns``) become indexed fields. The
        same ``idempotency_key`` always designates the same run at Stripe. Raises
        :class:`~pipelines.stripe.errors.RunFailedError` when the run fails and
        :class:`~pipelines.stripe.errors.RunDeadlineExceeded` when the poll deadline passes.
        """
        run = create_and_wait(
            self._client,
            REPORT_RUNS,
            {"report_type": report_type, "parameters": dict(parameters)},
            idempotency_key=idempotency_key,
            stripe_account=stripe_account,
            on_created=on_created,
            poll=self._poll,
            clock=self._clock,
            deadline=deadline,
        )
        file_id, file_size = _result_file(run)
        return FinishedRun(
            id=run["id"],
            file_id=file_id,
            file_size=file_size,
            created=from_unix(run.get("created")),
            finished=optional_from_unix(run.get("succeeded_at")) or self._clock.now(),
            status=run["status"],
        )


def _result_file(run: Mapping[str, Any]) -> tuple[str, int | None]:
    result = run.get("result")
    # Stripe expands the File object; an unexpanded id is accepted too.
    if isinstance(result, str) and result:
        return result, None
    if isinstance(result, Mapping) and isinstance(result.get("id"), str):
        size = result.get("size")
        return result["id"], size if isinstance(size, int) and not isinstance(size, bool) else None
    raise APIError(f"{REPORT_RUNS.label} {run.get('id')} succeeded without a result file")
