"""The Reporting API: ``/v1/reporting/report_types`` and ``/v1/reporting/report_runs``."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from stripe_emulator.app.endpoint import Context, Route, accepts
from stripe_emulator.app.objects import Run
from stripe_emulator.app.runs import new_run
from stripe_emulator.app.state import EmulatorState
from stripe_emulator.conventions import (
    as_int,
    as_str,
    as_str_list,
    created_filter,
    invalid_request,
    list_object,
    missing_param,
    paginate,
    resource_missing,
)
from stripe_emulator.engine import ReportParameterError, ReportType, UnknownReportType
from stripe_emulator.timestamps import unix

_INT_PARAMETERS = frozenset({"interval_start", "interval_end"})
_LIST_PARAMETERS = frozenset({"columns", "connected_accounts"})


class ReportingApi:
    """Report types and report runs; runs are validated at once and computed by the workers."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.engine = state.engine

    def routes(self) -> list[Route]:
        """(method, route template, handler, accepted parameters) of each endpoint.

        Report types list without pagination parameters (Stripe's list takes only ``expand``).
        """
        return [
            ("GET", "/v1/reporting/report_types", self.list_report_types, accepts()),
            ("GET", "/v1/reporting/report_types/{id}", self.get_report_type, accepts()),
            (
                "POST",
                "/v1/reporting/report_runs",
                self.create_report_run,
                accepts("report_type", "parameters", expandable=("result",)),
            ),
            (
                "GET",
                "/v1/reporting/report_runs",
                self.list_report_runs,
                accepts("created", expandable=("result",), lists=True),
            ),
            ("GET", "/v1/reporting/report_runs/{id}", self.get_report_run, accepts(expandable=("result",))),
        ]

    async def list_report_types(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/reporting/report_types``."""
        types = await run_in_threadpool(self.engine.report_types)
        data = [_report_type_json(t) for t in types]
        return list_object(data, url="/v1/reporting/report_types")

    async def get_report_type(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/reporting/report_types/{id}``."""
        type_id = ctx.request.path_params["id"]
        types = await run_in_threadpool(self.engine.report_types)
        for report_type in types:
            if report_type.id == type_id:
                return _report_type_json(report_type)
        raise resource_missing("report type", type_id)

    async def create_report_run(self, ctx: Context) -> dict[str, Any]:
        """``POST /v1/reporting/report_runs``: 400/404 at once for what the run could not compute."""
        report_type = ctx.params.get("report_type")
        if not report_type:
            raise missing_param("report_type")
        report_type = as_str(report_type, "report_type")
        parameters = _report_parameters(ctx.params.get("parameters"))
        try:
            await run_in_threadpool(
                self.engine.validate_report_parameters, report_type, parameters, account=ctx.account
            )
        except UnknownReportType as exc:
            raise resource_missing("report type", report_type, param="report_type") from exc
        except ReportParameterError as exc:
            raise invalid_request(exc.args[0] if exc.args else str(exc), param=_param_name(exc)) from exc
        run = new_run(self.state, "frr", "report_run", ctx)
        run.report_type = report_type
        run.parameters = parameters
        self.state.create_run(run)
        return report_run_json(self.state, run, ctx.base_url)

    async def list_report_runs(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/reporting/report_runs``: the caller's own runs, newest first."""
        keep = created_filter(ctx.params.get("created"))
        with self.state.lock:
            runs = [
                run
                for run in reversed(self.state.runs.values())
                if run.kind == "report_run"
                and run.account == ctx.account
                and run.livemode == ctx.api_key.livemode
                and keep(run.created)
            ]
        data = [report_run_json(self.state, run, ctx.base_url) for run in runs]
        return paginate(data, ctx.params, url="/v1/reporting/report_runs", object_name="report run")

    async def get_report_run(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/reporting/report_runs/{id}``."""
        run_id = ctx.request.path_params["id"]
        run = self.state.visible_run(run_id, "report_run", ctx.account, "report run", ctx.api_key.livemode)
        return report_run_json(self.state, run, ctx.base_url)


def report_run_json(state: EmulatorState, run: Run, base_url: str) -> dict[str, Any]:
    """A ``reporting.report_run`` object; ``result`` is the expanded File once succeeded."""
    status = run.status()
    done = status != "pending"
    stored = state.files.get(run.file_id or "") if status == "succeeded" else None
    result = stored.to_json(base_url) if stored is not None else None
    return {
        "id": run.id,
        "object": "reporting.report_run",
        "created": run.created,
        "error": run.error if done else None,
        "livemode": run.livemode,
        "parameters": run.parameters,
        "report_type": run.report_type,
        "result": result,
        "status": status,
        "succeeded_at": run.finished_at if status == "succeeded" else None,
    }


def _report_type_json(report_type: ReportType) -> dict[str, Any]:
    end = unix(report_type.data_available_end)
    return {
        "id": report_type.id,
        "object": "reporting.report_type",
        "data_available_end": end,
        "data_available_start": unix(report_type.data_available_start),
        "default_columns": list(report_type.default_columns)
        if report_type.default_columns is not None
        else None,
        "livemode": False,
        "name": report_type.name,
        "updated": end,
        "version": report_type.version,
    }


def _report_parameters(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, dict):
        raise invalid_request("Invalid object: parameters must be a hash", param="parameters")
    parameters: dict[str, Any] = {}
    for name, value in raw.items():
        param = f"parameters[{name}]"
        if name in _INT_PARAMETERS:
            parameters[name] = as_int(value, param)
        elif name in _LIST_PARAMETERS:
            parameters[name] = as_str_list(value, param)
        else:
            parameters[name] = as_str(value, param)
    return parameters


def _param_name(exc: ReportParameterError) -> str | None:
    """Stripe names run parameters ``parameters[<name>]``; accept either spelling from the engine."""
    param = getattr(exc, "param", None)
    if not param:
        return None
    if param.startswith("parameters[") or param == "report_type":
        return param
    return f"parameters[{param}]"
