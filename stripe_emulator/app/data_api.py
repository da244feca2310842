"""The Data API v2 (``/v2/data``): schemas, reports, query runs, report runs and result downloads.

Same server, keys, data and engine as v1; the v2 conventions come from :mod:`.v2_conventions`, the
objects from :mod:`.data_catalog` and :mod:`.data_objects`, the runs' lifecycle from
:mod:`.data_runs`. Routes:

* ``GET /v2/data/schemas`` (``dataset``, ``name``, ``include[]=columns``, ``limit``, ``page``) and
  ``GET /v2/data/schemas/{id}`` (columns always included);
* ``GET /v2/data/reports`` (``name``, ``include[]=default_sql|parameters``, ``limit``, ``page``) and
  ``GET /v2/data/reports/{id}`` (``include[]``);
* ``POST /v2/data/query_runs`` (``dataset``, ``format``, ``query.sql``, ``result_options``) and
  ``GET /v2/data/query_runs/{id}`` (``include[]=result.inline``, ``limit``, ``page``);
* ``POST /v2/data/report_runs`` (``report.id|name``, ``parameters``, ``format``, ``result_options``)
  and ``GET /v2/data/report_runs/{id}`` (``include[]=result.inline|sql``, ``limit``, ``page``);
* ``GET /v2/data/files/{token}``: a result file behind a pre-signed ``download_url`` (no key).

Choices where ``../shared/stripe-data-v2.md`` marks the surface UNCONFIRMED (change them here):

* Invalid SQL is not refused at creation: the run is created ``running`` and ends ``failed`` with
  ``status_details.code = query_run_invalid_sql`` and the engine's message (line:col). An empty or
  missing ``query.sql`` is a 400 at once. Report parameters are checked at creation (400), as v1.
* An unknown ``dataset`` filter on the schemas list gives an empty list; on a query run it is a 400.
* ``result_options`` takes ``compress_file`` (the SDK's) and ``compression: none|zip`` (REF-RR's).
* The platform sees its connected accounts' runs; a connected account sees only its own (v1's rule).
* An expired link answers 404 with code ``download_url_expired``; an unknown one 404 ``not_found``.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from stripe_emulator.app.data_catalog import unknown_report
from stripe_emulator.app.data_objects import QUERY_RUN, REPORT_RUN, DataRun, run_json
from stripe_emulator.app.data_runs import DataStore
from stripe_emulator.app.state import EmulatorState
from stripe_emulator.app.v2_conventions import (
    V2Context,
    V2Error,
    filters_digest,
    includes,
    invalid,
    not_found,
    page_offset,
    parse_limit,
    reject_unknown,
    v2_endpoint,
    v2_list,
)
from stripe_emulator.engine import ReportParameterError, UnknownReportType

SCHEMA_INCLUDES = frozenset({"columns"})
REPORT_INCLUDES = frozenset({"default_sql", "parameters"})
QUERY_RUN_INCLUDES = frozenset({"result.inline"})
REPORT_RUN_INCLUDES = frozenset({"result.inline", "sql"})
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RUN_PREFIXES = {QUERY_RUN: "qrun", REPORT_RUN: "rrun"}
_INCLUDES = {QUERY_RUN: QUERY_RUN_INCLUDES, REPORT_RUN: REPORT_RUN_INCLUDES}


class DataApi:
    """Handlers of ``/v2/data/*``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.store = DataStore(state)
        self.catalog = self.store.catalog

    def routes(self) -> list[BaseRoute]:
        """Starlette routes of every endpoint, wrapped in the v2 conventions (downloads: no key)."""
        table = [
            ("GET", "/v2/data/schemas", self.list_schemas),
            ("GET", "/v2/data/schemas/{id}", self.get_schema),
            ("GET", "/v2/data/reports", self.list_reports),
            ("GET", "/v2/data/reports/{id}", self.get_report),
            ("POST", "/v2/data/query_runs", self.create_query_run),
            ("GET", "/v2/data/query_runs/{id}", self.get_query_run),
            ("POST", "/v2/data/report_runs", self.create_report_run),
            ("GET", "/v2/data/report_runs/{id}", self.get_report_run),
        ]
        replays = {
            "/v2/data/query_runs": self.replay_query_run,
            "/v2/data/report_runs": self.replay_report_run,
        }
        routes: list[BaseRoute] = []
        for method, path, handler in table:
            endpoint = v2_endpoint(
                self.state,
                method,
                path,
                handler,
                idempotency=self.store.idempotency,
                replay=replays.get(path),
                prepare=self.store.sync,
            )
            routes.append(Route(path, endpoint, methods=[method]))
        routes.append(Route("/v2/data/files/{token}", self.download, methods=["GET"]))
        return routes

    # -- schemas -----------------------------------------------------------------------------

    async def list_schemas(self, ctx: V2Context) -> dict[str, Any]:
        """``GET /v2/data/schemas``, alphabetically by table name."""
        reject_unknown(ctx.query, {"dataset", "name", "include", "limit", "page"})
        include = includes(ctx.query, SCHEMA_INCLUDES)
        limit = parse_limit(ctx.query.get("limit"))
        filters = {"dataset": ctx.query.get("dataset"), "name": ctx.query.get("name")}
        digest = filters_digest(filters)
        offset = page_offset(ctx.query.get("page"), digest)
        names = await run_in_threadpool(self.catalog.schema_names)
        if filters["dataset"] not in (None, "", "analytical"):
            names = []
        if filters["name"]:
            names = [name for name in names if name == filters["name"]]
        loaded = self.state.engine.data_load_time
        return v2_list(
            [
                self.catalog.schema_json(name, columns="columns" in include, refreshed_at=loaded)
                for name in names
            ],
            path="/v2/data/schemas",
            limit=limit,
            offset=offset,
            digest=digest,
            keep={**filters, "include": sorted(include)},
        )

    async def get_schema(self, ctx: V2Context) -> dict[str, Any]:
        """``GET /v2/data/schemas/{id}`` with its columns."""
        reject_unknown(ctx.query, set())
        schema_id = ctx.request.path_params["id"]
        table = await run_in_threadpool(self.catalog.schema_by_id, schema_id)
        if table is None:
            raise not_found("schema", schema_id)
        return self.catalog.schema_json(table, columns=True, refreshed_at=self.state.engine.data_load_time)

    # -- reports -----------------------------------------------------------------------------

    async def list_reports(self, ctx: V2Context) -> dict[str, Any]:
        """``GET /v2/data/reports``, alphabetically by name."""
        reject_unknown(ctx.query, {"name", "include", "limit", "page"})
        include = includes(ctx.query, REPORT_INCLUDES)
        limit = parse_limit(ctx.query.get("limit"))
        name = ctx.query.get("name") or None
        digest = filters_digest({"name": name})
        offset = page_offset(ctx.query.get("page"), digest)
        entries = [entry for entry in self.catalog.reports if name is None or entry.name == name]
        return v2_list(
            [self.catalog.report_json(entry, include) for entry in entries],
            path="/v2/data/reports",
            limit=limit,
            offset=offset,
            digest=digest,
            keep={"name": name, "include": sorted(include)},
        )

    async def get_report(self, ctx: V2Context) -> dict[str, Any]:
        """``GET /v2/data/reports/{id}``."""
        reject_unknown(ctx.query, {"include"})
        include = includes(ctx.query, REPORT_INCLUDES)
        report_id = ctx.request.path_params["id"]
        entry = self.catalog.report(report_id=report_id)
        if entry is None:
            raise not_found("report", report_id)
        return self.catalog.report_json(entry, include)

    # -- runs --------------------------------------------------------------------------------

    def _new_run(self, ctx: V2Context, kind: str) -> DataRun:
        return DataRun(
            id=_run_id(_RUN_PREFIXES[kind]),
            kind=kind,
            created=time.time(),
            account=ctx.account,
            generation=self.state.generation,
            ready_at=time.monotonic() + self.state.config.run_delay,
            refreshed_at=self.state.engine.data_load_time,
            compress=_compress(ctx.body.get("result_options")),
            faults=ctx.faults.run,
        )

    async def create_query_run(self, ctx: V2Context) -> dict[str, Any]:
        """``POST /v2/data/query_runs``: created ``running``; the SQL is checked when it runs."""
        body = ctx.body
        reject_unknown(body, {"dataset", "format", "query", "result_options"})
        _require_value(body, "dataset", "analytical")
        _require_value(body, "format", "csv")
        query = body.get("query")
        if query is None:
            raise invalid("Missing required param: query.", param="query", code="parameter_missing")
        if not isinstance(query, dict):
            raise invalid("query must be an object with sql.", param="query")
        reject_unknown(query, {"sql"}, prefix="query.")
        sql = query.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise invalid("Missing required param: query.sql.", param="query.sql", code="parameter_missing")
        run = self._new_run(ctx, QUERY_RUN)
        run.sql = sql
        self.store.create(run)
        return self._json(ctx, run, frozenset())

    async def create_report_run(self, ctx: V2Context) -> dict[str, Any]:
        """``POST /v2/data/report_runs``: parameters are checked at once (400), the rows computed later."""
        body = ctx.body
        reject_unknown(body, {"report", "parameters", "format", "result_options"})
        _require_value(body, "format", "csv")
        reference = body.get("report")
        if reference is None:
            raise invalid("Missing required param: report.", param="report", code="parameter_missing")
        if not isinstance(reference, dict) or not (reference.get("id") or reference.get("name")):
            raise invalid("report must be an object with id or name.", param="report")
        reject_unknown(reference, {"id", "name"}, prefix="report.")
        entry = self.catalog.report(report_id=reference.get("id"), name=reference.get("name"))
        if entry is None:
            raise unknown_report(reference)
        if reference.get("id") and reference.get("name") and entry.name != reference["name"]:
            raise invalid("report.id and report.name name different reports.", param="report.name")
        if "parameters" not in body:
            raise invalid("Missing required param: parameters.", param="parameters", code="parameter_missing")
        engine = self.state.engine
        v1 = entry.v1_parameters(
            body["parameters"], data_start=engine.data_start, loaded=engine.data_load_time
        )
        try:
            await run_in_threadpool(engine.validate_report_parameters, entry.spec.id, v1, account=ctx.account)
        except UnknownReportType as exc:  # pragma: no cover - the catalogue only names known types
            raise unknown_report(reference) from exc
        except ReportParameterError as exc:
            raise _v2_parameter_error(exc) from exc
        run = self._new_run(ctx, REPORT_RUN)
        run.report, run.parameters, run.v1_parameters = entry, dict(body["parameters"] or {}), v1
        self.store.create(run)
        return self._json(ctx, run, frozenset())

    async def get_query_run(self, ctx: V2Context) -> dict[str, Any]:
        """``GET /v2/data/query_runs/{id}``."""
        return self._retrieve(ctx, QUERY_RUN)

    async def get_report_run(self, ctx: V2Context) -> dict[str, Any]:
        """``GET /v2/data/report_runs/{id}``."""
        return self._retrieve(ctx, REPORT_RUN)

    async def replay_query_run(self, ctx: V2Context, run_id: str) -> dict[str, Any]:
        """An idempotent replay of a query run's creation: the run as it is now."""
        return self._json(ctx, self.store.visible(run_id, QUERY_RUN, ctx.account), frozenset())

    async def replay_report_run(self, ctx: V2Context, run_id: str) -> dict[str, Any]:
        """An idempotent replay of a report run's creation: the run as it is now."""
        return self._json(ctx, self.store.visible(run_id, REPORT_RUN, ctx.account), frozenset())

    def _retrieve(self, ctx: V2Context, kind: str) -> dict[str, Any]:
        reject_unknown(ctx.query, {"include", "limit", "page"})
        include = includes(ctx.query, _INCLUDES[kind])
        limit = parse_limit(ctx.query.get("limit"))
        run = self.store.visible(ctx.request.path_params["id"], kind, ctx.account)
        return self._json(ctx, run, include, limit=limit, page=ctx.query.get("page"))

    def _json(
        self, ctx: V2Context, run: DataRun, include: frozenset[str], *, limit: int = 10, page: Any = None
    ) -> dict[str, Any]:
        return run_json(
            run,
            include=include,
            limit=limit,
            page=page,
            mint=lambda done: self.store.mint(done, ctx.base_url, ctx.faults),
        )

    # -- downloads ---------------------------------------------------------------------------

    async def download(self, request: Request) -> Response:
        """``GET /v2/data/files/{token}``: the result file while the link has not expired."""
        self.store.sync()
        token = request.path_params["token"]
        link = self.store.link(token)
        if link is None or not link.path.exists():
            return V2Error(404, "No such file: this download link is unknown.", code="not_found").response()
        if time.time() >= link.expires_at:
            return V2Error(
                404,
                "This download link has expired. Retrieve the run again for a fresh download_url.",
                code="download_url_expired",
            ).response()
        return FileResponse(link.path, media_type=link.media_type, filename=link.filename)


def _run_id(prefix: str) -> str:
    """``qrun_…``/``rrun_…`` with 44 random base62 characters, as long as REF-QR's example id."""
    return f"{prefix}_{''.join(secrets.choice(_BASE62) for _ in range(44))}"


def _require_value(body: dict[str, Any], name: str, allowed: str) -> None:
    value = body.get(name)
    if value is None:
        raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
    if value != allowed:
        raise invalid(f"Invalid {name}: {value!r}. The only supported value is {allowed!r}.", param=name)


def _compress(options: Any) -> bool:
    if options is None:
        return False
    if not isinstance(options, dict):
        raise invalid("result_options must be an object.", param="result_options")
    reject_unknown(options, {"compress_file", "compression"}, prefix="result_options.")
    compress = options.get("compress_file")
    if compress is not None and not isinstance(compress, bool):
        raise invalid("result_options.compress_file must be a boolean.", param="result_options.compress_file")
    compression = options.get("compression")
    if compression is not None and compression not in ("none", "zip"):
        raise invalid(
            "result_options.compression must be 'none' or 'zip'.", param="result_options.compression"
        )
    return bool(compress) or compression == "zip"


def _v2_parameter_error(exc: ReportParameterError) -> V2Error:
    """The engine's v1-worded 400 in v2 words: ``parameters.x`` and ``Stripe-Context``."""
    param = exc.param or "parameters"
    if param.startswith("parameters["):
        param = "parameters." + param[len("parameters[") :].rstrip("]")
    elif param == "report_type":
        param = "report"
    message = re.sub(r"parameters\[(\w+)\]", r"parameters.\1", exc.message)
    return invalid(message.replace("Stripe-Account", "Stripe-Context"), param=param)
