"""``StripeReportsComponent``: the pipeline as a Dagster Component, installed with pip and configured
in a ``defs.yaml``, like dagster-sling's or dagster-dlt's.

    dg scaffold defs pipelines.component.StripeReportsComponent stripe_reports

writes ``defs/stripe_reports/defs.yaml`` with a starter ``reports.yaml`` and ``sql/`` beside it. The
attributes name the catalogue (files relative to the ``defs.yaml``, or entries written inline), the
resources (the key and a URL with a password are read from environment variables by name, so their
values never reach the UI) and the translator's options. ``build_defs`` is
:func:`pipelines.project.build_definitions`, the one assembly of assets, checks, sensors, schedules
and jobs, so a component and this project's own ``definitions.py`` define the same things.
"""

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import dagster as dg
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType
from pydantic import BaseModel, ConfigDict, Field

from pipelines.catalog import Catalog, load_catalog
from pipelines.catalog_schema import LineDict, LineList
from pipelines.contracts import check_catalog
from pipelines.errors import CatalogError
from pipelines.project import build_definitions
from pipelines.report_availability import apply_stripe_data_start
from pipelines.resources import DEFAULT_WAREHOUSE_URL, StripeResource, WarehouseResource
from pipelines.sources import DataReportSource
from pipelines.stripe import StripeSettings
from pipelines.stripe.client import DEFAULT_API_BASE, DEFAULT_FILES_BASE
from pipelines.stripe.session import DEFAULT_JOBS_IN_FLIGHT, parse_jobs_in_flight
from pipelines.translator import StripeReportsTranslator, warehouse_kind

_log = logging.getLogger("stripe_reports")


class CatalogModel(BaseModel):
    """``catalog:`` — which reports and Sigma queries become assets."""

    model_config = ConfigDict(extra="forbid")

    reports_file: str | None = Field(
        default=None,
        description="A reports.yaml (defaults and reports), relative to this defs.yaml. "
        "Leave out to write `defaults`/`reports` here instead.",
    )
    sql_dir: str | None = Field(
        default=None, description="A folder of Sigma queries (*.sql), relative to this defs.yaml."
    )
    defaults: dict[str, Any] | None = Field(
        default=None, description="Inline: what every entry inherits, as under `defaults` in reports.yaml."
    )
    reports: list[Any] | None = Field(
        default=None, description="Inline: report entries, as under `reports` in reports.yaml."
    )


class StripeModel(BaseModel):
    """``stripe:`` — how to reach Stripe."""

    model_config = ConfigDict(extra="forbid")

    api_key_env: str = Field(
        default="STRIPE_API_KEY",
        description="Name of the environment variable holding the secret or restricted key "
        "(read at run time; the key itself never appears in the UI).",
    )
    api_base: str = Field(default=DEFAULT_API_BASE, description="Base URL of the API.")
    files_base: str | None = Field(
        default=None,
        description="Base URL of file downloads; default https://files.stripe.com, or api_base when "
        "that is not Stripe's (an emulator serves both).",
    )
    stripe_version: str | None = Field(default=None, description="Pin a Stripe-Version of v1 requests.")
    rate_limit_dir: str | None = Field(
        default=None,
        description="Directory every run on this machine shares for pacing Stripe requests (e.g. under "
        "DAGSTER_HOME); unset or empty: each process only backs off on 429s.",
    )
    # A number or a template such as "{{ env('STRIPE_JOBS_IN_FLIGHT', '4') }}", which is text until
    # it is resolved.
    jobs_in_flight: int | str = Field(
        default=DEFAULT_JOBS_IN_FLIGHT,
        description="Stripe jobs a run step keeps going at once when it lands many chunks (at least 1).",
    )

    def jobs(self) -> int:
        """``jobs_in_flight`` as a number; ValueError naming the attribute when it is not one."""
        return parse_jobs_in_flight(self.jobs_in_flight, "stripe.jobs_in_flight")


class WarehouseModel(BaseModel):
    """``warehouse:`` — where the tables land."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        default=DEFAULT_WAREHOUSE_URL,
        description="SQLAlchemy URL used when the `url_env` variable is not set (relative DuckDB paths "
        "are relative to where Dagster runs).",
    )
    url_env: str | None = Field(
        default="WAREHOUSE_URL",
        description="Name of an environment variable that, when set, holds the URL instead (it may "
        "hold a password; the UI shows the variable's name). null: always `url`.",
    )
    schema_name: str = Field(default="stripe", alias="schema", description="Schema of the landed tables.")


class TranslatorModel(BaseModel):
    """``translator:`` — how every asset looks in Dagster (entries' own settings win)."""

    model_config = ConfigDict(extra="forbid")

    key_prefix: list[str] | str = Field(
        default_factory=list, description="Put before every asset key: a list or an `a/b` string."
    )
    group: str | None = Field(default=None, description="Group of the entries that set no `group`.")
    owners: list[str] = Field(default_factory=list, description="Owners added to every asset.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags of every asset (entries' win).")
    kinds: list[str] = Field(
        default_factory=list, description="Kinds added beside `stripe` and the warehouse's."
    )


def _model(model: type[BaseModel]) -> Any:
    """A resolver that validates the attribute as ``model``, its templates (``{{ env.X }}``) rendered."""

    def resolve(context: dg.ResolutionContext, raw: Any) -> BaseModel:
        value = context.resolve_value(raw.model_dump(exclude_unset=True, by_alias=True) if raw else {})
        if model is CatalogModel:
            value = _with_lines(value, context)
        return model.model_validate(value)

    return dg.Resolver(resolve, model_field_type=model)


def _with_lines(value: Any, context: dg.ResolutionContext) -> Any:
    """``value`` as ``LineDict``/``LineList`` carrying the defs.yaml lines Dagster recorded, so a
    mistake in an inline entry is reported at its line."""
    tree = context.source_position_tree
    if tree is None:
        return value

    def line(path: Sequence[str | int]) -> int:
        position = tree.lookup([*context.path, *path])
        return position.start.line if position is not None else 1

    def convert(node: Any, path: list[str | int]) -> Any:
        if isinstance(node, dict):
            mapping = LineDict(line(path))
            for key, item in node.items():
                mapping[key] = convert(item, [*path, key])
                mapping.lines[key] = line([*path, key])
            return mapping
        if isinstance(node, list):
            sequence = LineList(line(path))
            for index, item in enumerate(node):
                sequence.append(convert(item, [*path, index]))
                sequence.lines.append(line([*path, index]))
            return sequence
        return node

    return {
        key: convert(item, [key]) if key in ("defaults", "reports") else item for key, item in value.items()
    }


class StripeReportsScaffolder(dg.Scaffolder):
    """``dg scaffold defs``: a defs.yaml reading a starter reports.yaml and sql/ folder beside it."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        """Write ``defs.yaml``, ``reports.yaml`` and ``sql/`` into the new folder (kept if present)."""
        target = request.target_path
        target.mkdir(parents=True, exist_ok=True)
        (target / "defs.yaml").write_text(_SCAFFOLD_DEFS_YAML.format(type_name=request.type_name))
        reports = target / "reports.yaml"
        if not reports.exists():
            reports.write_text(_SCAFFOLD_REPORTS_YAML)
        sql = target / "sql"
        sql.mkdir(exist_ok=True)
        example = sql / "daily_refunds.sql"
        if not any(sql.glob("*.sql")):
            example.write_text(_SCAFFOLD_SQL)


@dg.scaffold_with(StripeReportsScaffolder)
@dataclass
class StripeReportsComponent(dg.Component, dg.Resolvable):
    """Stripe Reporting API reports and Sigma queries landed in a SQLAlchemy warehouse: one asset
    per entry, daily partitions, freshness-gated sensors and schedules, reconciliation checks.

    Attributes (all optional): ``catalog`` (``reports_file``/``sql_dir`` relative to the defs.yaml, or
    inline ``defaults``/``reports``), ``stripe`` (``api_key_env``, ``api_base``, ``files_base``),
    ``warehouse`` (``url``, ``url_env``, ``schema``), ``translator`` (``key_prefix``, ``group``,
    ``owners``, ``tags``, ``kinds``), ``sensor_interval_seconds`` and ``check_data_contracts``.
    """

    catalog: Annotated[CatalogModel, _model(CatalogModel)] = field(default_factory=CatalogModel)
    stripe: Annotated[StripeModel, _model(StripeModel)] = field(default_factory=StripeModel)
    warehouse: Annotated[WarehouseModel, _model(WarehouseModel)] = field(default_factory=WarehouseModel)
    translator: Annotated[TranslatorModel, _model(TranslatorModel)] = field(default_factory=TranslatorModel)
    sensor_interval_seconds: int = 600
    check_data_contracts: bool = True
    # One process per run by default: a step process would import Dagster and rebuild the
    # definitions (seconds each) for steps that mostly wait on Stripe (README: Performance).
    executor: Literal["in_process", "multiprocess", "forkserver"] = "in_process"

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """Assets, checks, sensors, schedules and jobs for the catalogue, with the two resources."""
        catalog = self.load_catalog(context.path)
        key = _reconstruction_key(context)
        starts: dict[str, datetime] | None = None
        if self.check_data_contracts:
            # A run or step process finds the starts the code server recorded: no request to Stripe.
            recorded = _recorded_checks(key)
            if recorded is None:
                reports = [s for s in catalog.sources if isinstance(s, DataReportSource)]
                _log.info(check_catalog(catalog.queries, self.stripe_settings(), reports))
            # Days before Stripe's data_available_start are not offered as partitions.
            catalog, starts, note = apply_stripe_data_start(
                catalog, self.stripe_settings(), recorded=recorded
            )
            _log.info(note)
        defs = build_definitions(
            catalog,
            self.resources(),
            sensor_interval_seconds=self.sensor_interval_seconds,
            translator=self.build_translator(),
        )
        defs = dg.Definitions.merge(defs, dg.Definitions(executor=self.executor_def()))
        if not self.check_data_contracts:
            return defs
        recorded_starts = {t: s.isoformat() for t, s in (starts or {}).items()}
        return defs.with_reconstruction_metadata({key: json.dumps(recorded_starts, sort_keys=True)})

    def executor_def(self) -> dg.ExecutorDefinition:
        """The executor of every job of this component, as the ``executor`` attribute names it."""
        if self.executor == "multiprocess":
            return dg.multiprocess_executor
        if self.executor == "forkserver":
            return dg.multiprocess_executor.configured(
                {"start_method": {"forkserver": {"preload_modules": ["dagster", "pipelines.component"]}}}
            )
        return dg.in_process_executor

    def load_catalog(self, folder: Path) -> Catalog:
        """The catalogue the attributes name; relative paths are relative to ``folder``, the defs.yaml's."""
        config, shown = self.catalog, folder / "defs.yaml"
        inline = config.defaults is not None or config.reports is not None
        if inline and config.reports_file is not None:
            raise CatalogError(
                f"{shown}: catalog: set either `reports_file` or inline `defaults`/`reports`, not both"
            )
        # A folder that does not exist holds no Sigma queries; an empty mapping, no report entries.
        reports_file = folder / (config.reports_file or "defs.yaml")
        sql_dir = folder / (config.sql_dir or ".none")
        if config.reports_file is not None and not reports_file.is_file():
            raise CatalogError(f"{shown}: catalog.reports_file: {reports_file} does not exist")
        if config.sql_dir is not None and not sql_dir.is_dir():
            raise CatalogError(f"{shown}: catalog.sql_dir: {sql_dir} is not a folder")
        if config.reports_file is not None:
            return load_catalog(reports_file, sql_dir)
        document = LineDict(getattr(config.defaults or config.reports, "line", 1))
        for key in ("defaults", "reports"):
            value = getattr(config, key)
            if value is not None:
                document[key] = value
                document.lines[key] = getattr(value, "line", 1)
        return load_catalog(shown, sql_dir, document=document)

    def resources(self, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
        """``stripe`` and ``warehouse``: the key always, the URL when its variable is set, as ``EnvVar``."""
        return {
            "stripe": StripeResource(
                api_key=dg.EnvVar(self.stripe.api_key_env),
                api_base=self.stripe.api_base,
                files_base=self._files_base(),
                stripe_version=self.stripe.stripe_version,
                # An empty value (an unset variable in defs.yaml) means no shared limiter.
                rate_limit_dir=self.stripe.rate_limit_dir or None,
                jobs_in_flight=self.stripe.jobs(),
            ),
            "warehouse": WarehouseResource(
                url=dg.EnvVar(self.warehouse.url_env) if self._url_from_env(environ) else self.warehouse.url,
                schema_name=self.warehouse.schema_name,
            ),
        }

    def warehouse_url(self, environ: Mapping[str, str] = os.environ) -> str:
        """The warehouse URL the resources will use (for its dialect; never shown)."""
        env = self.warehouse.url_env
        return environ[env] if env and self._url_from_env(environ) else self.warehouse.url

    def build_translator(self) -> StripeReportsTranslator:
        """The translator with the ``translator:`` options and the warehouse's kind."""
        options = self.translator
        prefix = options.key_prefix
        return StripeReportsTranslator(
            key_prefix=[p for p in prefix.split("/") if p] if isinstance(prefix, str) else prefix,
            group=options.group,
            owners=options.owners,
            tags=options.tags,
            kinds=options.kinds,
            warehouse_kind=warehouse_kind(self.warehouse_url()),
        )

    def stripe_settings(self, environ: Mapping[str, str] = os.environ) -> StripeSettings | None:
        """Settings for load-time checks against Stripe, None when the key's variable is unset."""
        key = environ.get(self.stripe.api_key_env)
        if not key:
            return None
        return StripeSettings(api_key=key, api_base=self.stripe.api_base, files_base=self._files_base())

    def _files_base(self) -> str:
        if self.stripe.files_base:
            return self.stripe.files_base
        return DEFAULT_FILES_BASE if self.stripe.api_base == DEFAULT_API_BASE else self.stripe.api_base

    def _url_from_env(self, environ: Mapping[str, str]) -> bool:
        return bool(self.warehouse.url_env and environ.get(self.warehouse.url_env))


def _reconstruction_key(context: dg.ComponentLoadContext) -> str:
    """The name under which the code server records this component's Stripe checks."""
    try:
        where = context.path.relative_to(context.project_root)
    except ValueError:
        where = context.path
    return f"stripe_reports/data_available_start/{where.as_posix()}"


def _recorded_checks(key: str) -> dict[str, datetime] | None:
    """Stripe's ``data_available_start`` per report type as the code server recorded it, when these
    definitions are being rebuilt in a run or step process; None when they are loaded afresh."""
    context = DefinitionsLoadContext.get()
    if context.load_type != DefinitionsLoadType.RECONSTRUCTION:
        return None
    raw = context.reconstruction_metadata.get(key)
    if raw is None:
        return None
    return {report_type: datetime.fromisoformat(start) for report_type, start in json.loads(raw).items()}


_SCAFFOLD_DEFS_YAML = """\
type: {type_name}

attributes:
  # The catalogue: report templates (reports.yaml) and Sigma queries (sql/*.sql), beside this file.
  catalog:
    reports_file: reports.yaml
    sql_dir: sql
  # The key is read from this environment variable when a run starts; it never reaches the UI.
  stripe:
    api_key_env: STRIPE_API_KEY
    api_base: "{{{{ env('STRIPE_API_BASE', 'https://api.stripe.com') }}}}"
  # WAREHOUSE_URL, when set, wins over `url` (and stays a secret); relative paths are from where
  # Dagster runs.
  warehouse:
    url: duckdb:///data/warehouse.duckdb
    url_env: WAREHOUSE_URL
    schema: stripe
  translator:
    key_prefix: []
    owners: []
    tags: {{}}
    kinds: []
"""

_SCAFFOLD_REPORTS_YAML = """\
# Reporting API report templates to land: one entry = one asset = one table.
defaults:
  start_date: "2026-01-01"
  timezone: UTC

reports:
  - report_type: balance.summary.1
    description: Starting balance, activity, payouts and ending balance per currency, per day.
  - report_type: balance_change_from_activity.itemized.3
    description: Every balance transaction except payouts, one row each.
"""

_SCAFFOLD_SQL = """\
-- table: sigma_daily_refunds
-- partition_column: day
-- description: Refunds per day and reason.
select date_trunc('day', created) as day, reason, count(*) as refunds, sum(amount) as amount
from refunds
where created >= :window_start and created < :window_end
group by 1, 2
"""
