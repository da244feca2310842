"""Producing result files: report and Sigma query runs on the worker pool, scheduled query results.

A worker runs the engine into a CSV, applies the run's result-file faults and records the outcome;
the run only shows it once ``config.run_delay`` has passed since it was created.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from stripe_emulator.app.objects import Run, StoredFile
from stripe_emulator.conventions import new_id
from stripe_emulator.engine import ReportParameterError, SigmaSqlError
from stripe_emulator.faults import apply_file_faults
from stripe_emulator.timestamps import from_unix

if TYPE_CHECKING:
    from stripe_emulator.app.endpoint import Context
    from stripe_emulator.app.state import EmulatorState

_worker_log = logging.getLogger("stripe_emulator.runs")

SCHEDULED_FILE_PURPOSE = "sigma_scheduled_query"
REPORT_FILE_PURPOSE = "finance_report_run"
# Stripe does not document the purpose of preview Sigma query-run result files; the scheduled-query
# purpose is the documented one for Sigma results.
QUERY_FILE_PURPOSE = "sigma_scheduled_query"

_RUN_FAILED_MESSAGES = {
    "report_run": "The report run failed because of an internal error. Please create a new report run.",
    "query_run": "Query execution failed because of an internal error. Please retry the query run.",
}


def new_run(state: EmulatorState, prefix: str, kind: str, ctx: Context) -> Run:
    """A run of ``kind`` for the caller of ``ctx``, carrying the request's run faults."""
    return Run(
        id=new_id(prefix),
        kind=kind,
        created=int(time.time()),
        account=ctx.account,
        generation=state.generation,
        ready_at=time.monotonic() + state.config.run_delay,
        faults=ctx.faults.run,
        livemode=ctx.api_key.livemode,
    )


def execute_run(state: EmulatorState, run: Run) -> None:
    """Run ``run`` on the engine into a result file and record its outcome (a worker's job)."""
    if run.generation != state.generation:
        return
    file_id = new_id("file")
    path = state.files_dir / f"{file_id}.csv"
    outcome, error = "succeeded", None
    try:
        injected = next((rule for rule in run.faults if rule.kind == "run_failed"), None)
        if injected is not None:
            outcome, error = "failed", injected.option("message") or _RUN_FAILED_MESSAGES[run.kind]
        elif run.kind == "report_run":
            state.engine.run_report(run.report_type, run.parameters, path, account=run.account)
        else:
            state.engine.run_sigma(run.sql, path, account=run.account, data_load_time=run.data_load_time)
        if outcome == "succeeded":
            apply_file_faults(path, run.faults)
    except (SigmaSqlError, ReportParameterError) as exc:
        outcome, error = "failed", str(exc)
    except Exception:
        if run.generation != state.generation:
            return  # reset or shut down meanwhile: nobody will read this run
        _worker_log.exception("%s %s failed", run.kind, run.id)
        outcome, error = "failed", "An internal error occurred while processing the run. Please retry."
    now = time.time()
    with state.lock:
        if run.generation != state.generation:
            path.unlink(missing_ok=True)
            return
        if outcome == "succeeded":
            purpose = REPORT_FILE_PURPOSE if run.kind == "report_run" else QUERY_FILE_PURPOSE
            state.files[file_id] = StoredFile(
                id=file_id,
                created=int(now),
                purpose=purpose,
                path=path,
                size=path.stat().st_size,
                filename=f"{run.id}.csv",
                account=run.account,
                livemode=run.livemode,
            )
            run.file_id = file_id
        else:
            path.unlink(missing_ok=True)
        run.error = error
        run.finished_at = max(int(now), run.created + int(state.config.run_delay))
        run.ready_at = max(run.ready_at, time.monotonic())
        run.outcome = outcome


def produce_scheduled_file(state: EmulatorState, run: dict[str, Any]) -> tuple[str | None, str]:
    """The result file of a scheduled query run: (file id, "") or (None, the query's error message)."""
    file_id = new_id("file")
    path = state.files_dir / f"{file_id}.csv"
    data_load_time = from_unix(int(run["data_load_time"]))
    try:
        state.engine.run_sigma(str(run["sql"]), path, data_load_time=data_load_time)
    except SigmaSqlError as exc:
        path.unlink(missing_ok=True)
        return None, str(exc)
    with state.lock:
        state.files[file_id] = StoredFile(
            id=file_id,
            created=int(run.get("created") or time.time()),
            purpose=SCHEDULED_FILE_PURPOSE,
            path=path,
            size=path.stat().st_size,
            filename=f"{run['id']}.csv",
            account=None,
            title=run.get("title"),
            expires_at=run.get("result_available_until"),
            livemode=None,
        )
    return file_id, ""
