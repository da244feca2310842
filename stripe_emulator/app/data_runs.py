"""What the Data API v2 remembers between requests, and the worker job that executes a run.

Runs execute on the emulator's worker pool with the same engine as v1 (``Engine.run_sigma`` for
query runs, ``Engine.run_report`` for report runs) and become visible as finished
``config.run_delay`` seconds after their creation at the earliest. Results are served through
pre-signed links: ``/v2/data/files/<token>``, no key needed, working until their ``expires_at``
(``config.download_url_ttl`` seconds after they were issued, or what an ``expire_download`` fault
says) and a 404 afterwards.

The v1 state knows nothing of this store; a reset (``POST /_emulator/reset``) is noticed by the
state's ``generation`` moving, and :meth:`DataStore.sync` then forgets runs, links, idempotency keys
and result files.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stripe_emulator.app.data_catalog import Catalog
from stripe_emulator.app.data_objects import QUERY_RUN, DataRun, result_columns
from stripe_emulator.app.v2_conventions import IDEMPOTENCY_TTL, not_found
from stripe_emulator.conventions import IdempotencyStore
from stripe_emulator.engine import ReportParameterError, SigmaSqlError
from stripe_emulator.faults import FaultPlan, FaultRule, apply_file_faults

if TYPE_CHECKING:
    from stripe_emulator.app.state import EmulatorState

_worker_log = logging.getLogger("stripe_emulator.runs")

_FILE_FAULTS = frozenset({"malformed_csv", "add_column", "remove_column", "duplicate_row"})
_FAILURE_MESSAGES = {
    "internal_error": "The run failed because of an internal error. Please create a new run.",
    "file_size_above_limit": "The result is larger than the maximum result file size. Select fewer rows "
    "or columns and create a new run.",
    "query_run_invalid_sql": "The query could not be executed because its SQL is invalid.",
}
# Links that expired this long ago are forgotten (until then they answer "expired", not "unknown").
_LINK_MEMORY = 3600.0
STATS_KINDS = {QUERY_RUN: "query_run_v2", "report_run": "report_run_v2"}
"""The ``runs_created`` keys of ``GET /_emulator/stats`` for v2 runs."""


@dataclass(frozen=True)
class Link:
    """A pre-signed download link: which file it serves and until when (Unix seconds)."""

    token: str
    path: Path
    filename: str
    media_type: str
    expires_at: float


class DataStore:
    """Runs, download links and idempotency keys of the Data API v2 (thread-safe)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.catalog = Catalog(state.engine)
        self.idempotency = IdempotencyStore(ttl=IDEMPOTENCY_TTL)
        self._lock = threading.Lock()
        self._runs: dict[str, DataRun] = {}
        self._links: dict[str, Link] = {}
        self._generation = state.generation

    # -- reset ---------------------------------------------------------------------------------

    def sync(self) -> None:
        """Forget everything when the emulator was reset since the last call."""
        with self._lock:
            if self._generation == self.state.generation:
                return
            self._generation = self.state.generation
            runs = list(self._runs.values())
            self._runs.clear()
            self._links.clear()
        self.idempotency.clear()
        for run in runs:
            _remove_files(run)

    # -- runs ----------------------------------------------------------------------------------

    def create(self, run: DataRun) -> None:
        """Store a new run, count it, and queue it for the workers (unless a run_stuck fault holds it)."""
        with self._lock:
            self._runs[run.id] = run
        self.state.stats.run_created(STATS_KINDS[run.kind])
        if not any(rule.kind == "run_stuck" for rule in run.faults):
            self.state.pool.submit(self.execute, run)

    def visible(self, run_id: str, kind: str, account: str | None) -> DataRun:
        """The run if ``account`` may see it (its own, or any run for the platform), else the 404."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or run.kind != kind or (account is not None and run.account != account):
            raise not_found(kind.replace("_", " "), run_id)
        return run

    def execute(self, run: DataRun) -> None:
        """Compute ``run`` into its result files and record the outcome (a worker's job)."""
        state = self.state
        if run.generation != state.generation:
            return
        csv_path = state.files_dir / f"{run.id}.csv"
        outcome, code, message = "succeeded", None, None
        names: list[str] = []
        rows = 0
        try:
            canceled = _first(run.faults, "run_canceled")
            failed = _first(run.faults, "run_failed")
            if canceled is not None:
                outcome, message = "canceled", canceled.option("message") or "The run was canceled."
            elif failed is not None:
                code = failed.option("code", "internal_error")
                outcome, message = "failed", failed.option("message") or _FAILURE_MESSAGES[code]
            elif run.kind == QUERY_RUN:
                query = state.engine.run_sigma(
                    run.sql, csv_path, account=run.account, data_load_time=run.refreshed_at
                )
                names, rows = query.columns, query.rows
            else:
                assert run.report is not None
                report = state.engine.run_report(
                    run.report.spec.id, run.v1_parameters, csv_path, account=run.account
                )
                names, rows = report.columns, report.rows
        except SigmaSqlError as exc:
            outcome, code, message = "failed", "query_run_invalid_sql", str(exc)
        except ReportParameterError as exc:
            outcome, code, message = "failed", "internal_error", str(exc)
        except Exception:
            if run.generation != state.generation:
                return  # reset or shut down meanwhile: nobody will read this run
            _worker_log.exception("%s %s failed", run.kind, run.id)
            outcome, code, message = "failed", "internal_error", _FAILURE_MESSAGES["internal_error"]
        served: Path | None = None
        if outcome == "succeeded":
            run.columns = result_columns(csv_path, names, report=run.kind != QUERY_RUN)
            run.row_count = rows
            served = _served_file(run, csv_path)
        else:
            csv_path.unlink(missing_ok=True)
        with self._lock:
            if run.generation != state.generation:
                run.csv_path, run.file_path = csv_path, served
                _remove_files(run)
                return
            if served is not None:
                run.csv_path, run.file_path, run.size = csv_path, served, served.stat().st_size
            run.code, run.message = code, message
            run.finished_at = max(time.time(), run.created + state.config.run_delay)
            run.ready_at = max(run.ready_at, time.monotonic())
            run.outcome = outcome  # last: the run shows its result once everything above is set

    # -- download links ------------------------------------------------------------------------

    def mint(self, run: DataRun, base_url: str, plan: FaultPlan) -> tuple[str, float]:
        """A fresh pre-signed link to ``run``'s result file: (absolute URL, expires_at)."""
        assert run.file_path is not None
        now = time.time()
        ttl = self.state.config.download_url_ttl
        expiring = next((rule for rule in plan.links if rule.kind == "expire_download"), None)
        if expiring is not None:
            ttl = float(expiring.option("seconds", 0.0))
        link = Link(
            token=secrets.token_urlsafe(24),
            path=run.file_path,
            filename=f"{run.id}.{'zip' if run.compress else 'csv'}",
            media_type="application/zip" if run.compress else "text/csv",
            expires_at=now + ttl,
        )
        with self._lock:
            for token in [t for t, old in self._links.items() if old.expires_at < now - _LINK_MEMORY]:
                del self._links[token]
            self._links[link.token] = link
        return f"{base_url}/v2/data/files/{link.token}", link.expires_at

    def link(self, token: str) -> Link | None:
        """The link with this token (expired or not), or None."""
        with self._lock:
            return self._links.get(token)


def _first(rules: tuple[FaultRule, ...], kind: str) -> FaultRule | None:
    return next((rule for rule in rules if rule.kind == kind), None)


def _served_file(run: DataRun, csv_path: Path) -> Path:
    """The file the download link serves: the result, with the run's file faults, zipped if asked."""
    rules = [rule for rule in run.faults if rule.kind in _FILE_FAULTS]
    if not rules and not run.compress:
        return csv_path
    download = csv_path.with_name(f"{run.id}.download.csv")
    shutil.copyfile(csv_path, download)
    apply_file_faults(download, rules)
    if not run.compress:
        return download
    archive = csv_path.with_name(f"{run.id}.zip")
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.write(download, arcname=f"{run.id}.csv")
    download.unlink()
    return archive


def _remove_files(run: DataRun) -> None:
    for path in {run.csv_path, run.file_path}:
        if path is not None:
            path.unlink(missing_ok=True)
