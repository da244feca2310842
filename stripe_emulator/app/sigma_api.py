"""The Sigma API: query runs, saved queries and the Dashboard's scheduled query runs."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool

from stripe_emulator.app.endpoint import Context, Route, accepts
from stripe_emulator.app.objects import Run, SavedQuery
from stripe_emulator.app.runs import new_run, produce_scheduled_file
from stripe_emulator.app.state import EmulatorState
from stripe_emulator.conventions import (
    as_str,
    invalid_request,
    missing_param,
    new_id,
    paginate,
    resource_missing,
)


class SigmaApi:
    """``/v1/sigma/*``: query runs read the data as loaded when the run was created."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.engine = state.engine

    def routes(self) -> list[Route]:
        """(method, route template, handler, accepted parameters) of each endpoint."""
        runs = "/v1/sigma/scheduled_query_runs"
        scheduled = ("error", "file")
        return [
            (
                "POST",
                "/v1/sigma/query_runs",
                self.create_query_run,
                accepts("sql", "from_saved_query", expandable=("result.file",)),
            ),
            ("GET", "/v1/sigma/query_runs/{id}", self.get_query_run, accepts(expandable=("result.file",))),
            ("POST", "/v1/sigma/saved_queries", self.create_saved_query, accepts("name", "sql")),
            ("GET", "/v1/sigma/saved_queries", self.list_saved_queries, accepts(lists=True)),
            ("GET", "/v1/sigma/saved_queries/{id}", self.get_saved_query, accepts()),
            ("POST", "/v1/sigma/saved_queries/{id}", self.update_saved_query, accepts("name", "sql")),
            ("DELETE", "/v1/sigma/saved_queries/{id}", self.delete_saved_query, accepts()),
            ("GET", runs, self.list_scheduled_query_runs, accepts(expandable=scheduled, lists=True)),
            ("GET", f"{runs}/{{id}}", self.get_scheduled_query_run, accepts(expandable=scheduled)),
        ]

    # -- query runs --------------------------------------------------------------------------

    async def create_query_run(self, ctx: Context) -> dict[str, Any]:
        """``POST /v1/sigma/query_runs`` from ``sql`` or ``from_saved_query``."""
        sql, saved = ctx.params.get("sql"), ctx.params.get("from_saved_query")
        if sql and saved:
            raise invalid_request(
                "You may only specify one of these parameters: from_saved_query, sql.", param="sql"
            )
        if not sql and not saved:
            raise missing_param("sql")
        if saved:
            saved_id = as_str(saved, "from_saved_query")
            with self.state.lock:
                query = self.state.saved_queries.get(saved_id)
            if query is None or query.livemode != ctx.api_key.livemode:
                raise resource_missing("saved query", saved_id, param="from_saved_query")
            sql = query.sql
        run = new_run(self.state, "qry", "query_run", ctx)
        run.sql = as_str(sql, "sql")
        run.data_load_time = self.engine.data_load_time
        self.state.create_run(run)
        return query_run_json(self.state, run, ctx)

    async def get_query_run(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/sigma/query_runs/{id}``."""
        run_id = ctx.request.path_params["id"]
        run = self.state.visible_run(
            run_id, "query_run", ctx.account, "sigma query run", ctx.api_key.livemode
        )
        return query_run_json(self.state, run, ctx)

    # -- saved queries -----------------------------------------------------------------------

    def _saved_query(self, ctx: Context) -> SavedQuery:
        query_id = ctx.request.path_params["id"]
        with self.state.lock:
            query = self.state.saved_queries.get(query_id)
        if query is None or query.livemode != ctx.api_key.livemode:
            raise resource_missing("saved query", query_id)
        return query

    async def create_saved_query(self, ctx: Context) -> dict[str, Any]:
        """``POST /v1/sigma/saved_queries``."""
        for required in ("name", "sql"):
            if not ctx.params.get(required):
                raise missing_param(required)
        query = SavedQuery(
            id=new_id("qfl"),
            created=int(time.time()),
            name=as_str(ctx.params["name"], "name"),
            sql=as_str(ctx.params["sql"], "sql"),
            livemode=ctx.api_key.livemode,
        )
        with self.state.lock:
            self.state.saved_queries[query.id] = query
        return query.to_json()

    async def list_saved_queries(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/sigma/saved_queries``, newest first."""
        with self.state.lock:
            data = [
                query.to_json()
                for query in reversed(self.state.saved_queries.values())
                if query.livemode == ctx.api_key.livemode
            ]
        return paginate(data, ctx.params, url="/v1/sigma/saved_queries", object_name="saved query")

    async def get_saved_query(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/sigma/saved_queries/{id}``."""
        return self._saved_query(ctx).to_json()

    async def update_saved_query(self, ctx: Context) -> dict[str, Any]:
        """``POST /v1/sigma/saved_queries/{id}``: change ``name`` and/or ``sql``."""
        query = self._saved_query(ctx)
        with self.state.lock:
            if "name" in ctx.params:
                query.name = as_str(ctx.params["name"], "name")
            if "sql" in ctx.params:
                query.sql = as_str(ctx.params["sql"], "sql")
            return query.to_json()

    async def delete_saved_query(self, ctx: Context) -> dict[str, Any]:
        """``DELETE /v1/sigma/saved_queries/{id}``."""
        query = self._saved_query(ctx)
        with self.state.lock:
            self.state.saved_queries.pop(query.id, None)
        return {"id": query.id, "object": "sigma.sigma_api_query", "deleted": True}

    # -- scheduled query runs ----------------------------------------------------------------

    async def list_scheduled_query_runs(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/sigma/scheduled_query_runs``, newest first, each with its file expanded."""
        runs = await run_in_threadpool(self.engine.scheduled_query_runs)
        runs = sorted(runs, key=lambda run: (run["created"], run["id"]), reverse=True)
        page = paginate(
            runs, ctx.params, url="/v1/sigma/scheduled_query_runs", object_name="scheduled query run"
        )
        page["data"] = [
            await run_in_threadpool(scheduled_run_json, self.state, run, ctx.base_url) for run in page["data"]
        ]
        return page

    async def get_scheduled_query_run(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/sigma/scheduled_query_runs/{id}``."""
        run_id = ctx.request.path_params["id"]
        runs = await run_in_threadpool(self.engine.scheduled_query_runs)
        for run in runs:
            if run["id"] == run_id:
                return await run_in_threadpool(scheduled_run_json, self.state, run, ctx.base_url)
        raise resource_missing("scheduled query run", run_id)


def query_run_json(state: EmulatorState, run: Run, ctx: Context) -> dict[str, Any]:
    """A ``sigma.sigma_query_run`` object; ``result.file`` is a File id once succeeded, or the File
    object with ``expand[]=result.file``."""
    status = run.status()
    done = status != "running"
    file: Any = run.file_id if status == "succeeded" else None
    if file is not None and "result.file" in ctx.expand:
        with state.lock:
            stored = state.files.get(file)
        file = stored.to_json(ctx.base_url) if stored is not None else file
    return {
        "id": run.id,
        "object": "sigma.sigma_query_run",
        "created": run.created,
        "error": {"message": run.error} if done and run.error else None,
        "finalized_at": run.finished_at if done else None,
        "livemode": run.livemode,
        "result": {"file": file},
        "sql": run.sql,
        "status": status,
    }


def scheduled_run_json(state: EmulatorState, raw: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A scheduled_query_run with its result file produced on first sight and expanded.

    Blocks while the file is produced: call it from a worker thread.
    """
    run = dict(raw)
    run.setdefault("object", "scheduled_query_run")
    run.setdefault("livemode", False)
    run.setdefault("error", None)
    run["file"] = None
    if run.get("status") != "completed":
        return run
    with state.scheduled_lock:
        file_id = state.scheduled_files.get(run["id"])
        if file_id is None or file_id not in state.files:
            file_id, message = produce_scheduled_file(state, run)
            if file_id is None:
                run["status"], run["error"] = "failed", {"message": message}
                return run
            state.scheduled_files[run["id"]] = file_id
    run["file"] = state.files[file_id].to_json(base_url)
    return run
