"""The Data API v2's runs: what the emulator remembers of one, and its JSON shapes.

Choices where ``../shared/stripe-data-v2.md`` marks the surface UNCONFIRMED (change them here):

* Optional parts are present as ``null`` unless included: ``result.inline`` and a report run's
  ``sql`` (REF-RR shows ``"sql": null``), like a report's ``parameters``/``default_sql``.
* ``result.file.columns[].type`` comes from the result file: DuckDB reads the CSV and its detected
  types map onto the v2 enum (an empty result is all ``varchar``); report amounts (``gross``,
  ``fee``, ``net``, ``net_amount``, ``customer_facing_amount``) are ``decimal`` as in REF-RR and
  ``count`` is ``bigint``.
* Inline row values are the CSV's text (``{"data": {"amount": "1200"}}``), an empty field is
  ``null``: the same values a client reads from the file. ``result.inline.next_page_url`` /
  ``previous_page_url`` are paths like lists' (``/v2/data/query_runs/qrun_…?include[0]=result.inline&
  limit=10&page=…``); the ``page`` value is what ``page=`` takes on a retrieve.
* ``result_options.compress_file: true`` serves a ZIP holding the CSV, with
  ``content_type: "zip"`` (the predecessor API's value); inline rows are unaffected.
* ``status_details`` is null while running and after success; a canceled run has
  ``status_details {code: null, message, canceled_at}`` (there is no cancel endpoint: only the
  ``run_canceled`` fault cancels a run).
* Every rendering of a succeeded run issues a fresh ``download_url`` (older ones keep working until
  their own ``expires_at``).
"""

from __future__ import annotations

import csv
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from stripe_emulator.app.data_catalog import ReportEntry, column_type
from stripe_emulator.app.v2_conventions import filters_digest, page_offset, page_token, page_url, rfc3339
from stripe_emulator.faults import FaultRule

QUERY_RUN, REPORT_RUN = "query_run", "report_run"
_REPORT_DECIMALS = frozenset({"gross", "fee", "net", "net_amount", "customer_facing_amount"})

Mint = Callable[["DataRun"], tuple[str, float]]
"""Issues a download link for a succeeded run: (absolute URL, expiry as Unix seconds)."""


@dataclass
class DataRun:
    """A v2 query run (``kind="query_run"``) or report run (``kind="report_run"``)."""

    id: str
    kind: str
    created: float
    account: str | None
    generation: int
    ready_at: float
    refreshed_at: datetime
    compress: bool = False
    faults: tuple[FaultRule, ...] = ()
    sql: str = ""
    report: ReportEntry | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    """As the client sent them (report runs)."""
    v1_parameters: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    code: str | None = None
    message: str | None = None
    finished_at: float | None = None
    csv_path: Path | None = None
    """The result as computed: inline rows read it."""
    file_path: Path | None = None
    """What the download link serves (after file faults and compression)."""
    size: int = 0
    row_count: int = 0
    columns: list[dict[str, str]] = field(default_factory=list)

    def status(self) -> str:
        """The outcome once known and ``ready_at`` has passed, else ``running``."""
        if self.outcome is not None and time.monotonic() >= self.ready_at:
            return self.outcome
        return "running"

    @property
    def path(self) -> str:
        """The run's API path, e.g. ``/v2/data/query_runs/qrun_…``."""
        return f"/v2/data/{self.kind}s/{self.id}"


def result_columns(path: Path, names: list[str], *, report: bool) -> list[dict[str, str]]:
    """The ``{name, type}`` of each column of the result CSV at ``path`` (``names`` = its header)."""
    types = ["varchar"] * len(names)
    con = duckdb.connect()
    try:
        relation = con.read_csv(str(path), header=True, sep=",", quotechar='"', sample_size=-1)
        detected = [column_type(str(kind)) for kind in relation.types]
        if len(detected) == len(names):
            types = detected
    except duckdb.Error:
        pass  # an unreadable file keeps varchar: its download is what the client checks
    finally:
        con.close()
    if report:
        types = [
            "decimal" if name in _REPORT_DECIMALS else "bigint" if name == "count" else kind
            for name, kind in zip(names, types, strict=True)
        ]
    return [{"name": name, "type": kind} for name, kind in zip(names, types, strict=True)]


def run_json(
    run: DataRun,
    *,
    include: frozenset[str],
    limit: int,
    page: Any,
    mint: Mint,
) -> dict[str, Any]:
    """The ``v2.data.query_run`` / ``v2.data.report_run`` object of ``run`` as it is now."""
    status = run.status()
    common: dict[str, Any] = {
        "id": run.id,
        "object": f"v2.data.{run.kind}",
        "created": rfc3339(run.created),
        "livemode": False,
        "refreshed_at": rfc3339(run.refreshed_at),
        "result": _result(run, include, limit, page, mint) if status == "succeeded" else None,
        "result_options": {"compress_file": run.compress},
        "status": status,
        "status_details": _status_details(run, status),
    }
    if run.kind == QUERY_RUN:
        return {**common, "dataset": "analytical", "format": "csv", "query": {"sql": run.sql}}
    assert run.report is not None
    return {
        **common,
        "name": run.report.name,
        "parameters": run.parameters,
        "report": run.report.id,
        "sql": run.report.run_sql(run.parameters) if "sql" in include else None,
    }


def _status_details(run: DataRun, status: str) -> dict[str, Any] | None:
    if status == "failed":
        return {"code": run.code, "message": run.message, "canceled_at": None}
    if status == "canceled":
        canceled_at = rfc3339(run.finished_at) if run.finished_at is not None else None
        return {"code": None, "message": run.message, "canceled_at": canceled_at}
    return None


def _result(run: DataRun, include: frozenset[str], limit: int, page: Any, mint: Mint) -> dict[str, Any]:
    url, expires_at = mint(run)
    return {
        "col_count": str(len(run.columns)),
        "row_count": str(run.row_count),
        "file": {
            "columns": run.columns,
            "content_type": "zip" if run.compress else "csv",
            "download_url": {"url": url, "expires_at": rfc3339(expires_at)},
            "size": str(run.size),
        },
        "inline": _inline(run, include, limit, page) if "result.inline" in include else None,
    }


def _inline(run: DataRun, include: frozenset[str], limit: int, page: Any) -> dict[str, Any]:
    digest = filters_digest({"run": run.id})
    offset = page_offset(page, digest)
    rows: list[dict[str, Any]] = []
    if run.csv_path is not None:
        names = [column["name"] for column in run.columns]
        with run.csv_path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for record in itertools.islice(reader, offset, offset + limit):
                # Duplicate column names (Trino keeps them) collapse to the last value, as in any map.
                rows.append(
                    {"data": {name: value or None for name, value in zip(names, record, strict=False)}}
                )
    keep = {"include": sorted(include), "limit": limit}
    next_url = prev_url = None
    if offset + limit < run.row_count:
        next_url = page_url(run.path, {**keep, "page": page_token(offset + limit, digest)})
    if offset > 0:
        prev_url = page_url(run.path, {**keep, "page": page_token(max(offset - limit, 0), digest)})
    return {"columns": run.columns, "rows": rows, "next_page_url": next_url, "previous_page_url": prev_url}
