"""dbt downstream of the landed tables: a dbt project's models as Dagster assets after the stripe assets.

:func:`build_dbt_definitions` loads a dbt project (``examples/dbt_finance/`` is one) with
``dagster-dbt``. Its source ``stripe`` is the warehouse schema the catalogue lands: each of its
tables *is* the ``stripe/*`` asset that lands it (matched by table name), so the asset graph reads
stripe assets → dbt models, and a table the catalogue does not land fails loading the definitions
with the file that declares it. Incremental models are daily-partitioned like the stripe asset they
read, and a run of some days passes its first and last day to dbt as the vars ``min_day`` and
``max_day``; every other model is one unpartitioned asset, rebuilt whole.

dbt reaches the warehouse through its ``profiles.yml``, which reads the variables of
:func:`profile_env` (set from ``WAREHOUSE_URL`` for each dbt command, the password in a
``DBT_ENV_SECRET_`` variable that dbt keeps out of its logs). The manifest is made by ``dbt parse``
when the definitions load and kept under the project's ``target/<target>/``; it is parsed again only
when a file of the project is newer than it, so loading stays fast.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from filelock import FileLock
from packaging import version
from pydantic import Field
from sqlalchemy.engine import make_url

from pipelines.catalog import Catalog, load_catalog
from pipelines.errors import CatalogError
from pipelines.partitions import partitions_for
from pipelines.resources import DEFAULT_WAREHOUSE_URL
from pipelines.translator import StripeReportsTranslator

PROJECT_ENV = "WAREHOUSE_DBT_PROJECT"
"""The environment variable naming the dbt project to load beside the stripe assets (unset: none)."""
STRIPE_SOURCE = "stripe"
"""The dbt source whose tables are the landed stripe tables."""
DAILY_SELECTION = "config.materialized:incremental"
"""The models that are daily-partitioned: incremental ones, rebuilt by day."""
# Files whose change means the manifest must be parsed again.
_PROJECT_FILES = ("*.yml", "*.yaml", "*.sql", "*.md", "*.csv")
_SKIPPED_DIRS = {"target", "logs", "dbt_packages"}
# The dbt installed beside this Python (a virtualenv's bin/ need not be on PATH), else PATH's.
DBT_EXECUTABLE = (
    str(Path(sys.executable).with_name("dbt")) if Path(sys.executable).with_name("dbt").exists() else "dbt"
)


class DbtProjectError(CatalogError):
    """The dbt project cannot be loaded beside this catalogue; fixing the project is the only cure."""


def profile_env(warehouse_url: str, source_schema: str) -> dict[str, str]:
    """The variables a dbt ``profiles.yml`` reads to build models in the warehouse at ``warehouse_url``.

    ``DBT_WAREHOUSE_TARGET`` is ``duckdb`` or ``postgres`` (the profile's output); DuckDB gets the
    file's absolute path, PostgreSQL its host, port, user, database and password;
    ``DBT_WAREHOUSE_SOURCE_SCHEMA`` is the schema of the landed tables.
    """
    url = make_url(warehouse_url)
    backend = url.get_backend_name()
    env = {"DBT_WAREHOUSE_SOURCE_SCHEMA": source_schema}
    if backend == "duckdb":
        if not url.database or url.database == ":memory:":
            raise DbtProjectError(
                "dbt models need a DuckDB file both dbt and the pipelines open; WAREHOUSE_URL names an "
                "in-memory database"
            )
        return {
            **env,
            "DBT_WAREHOUSE_TARGET": "duckdb",
            "DBT_WAREHOUSE_DUCKDB_PATH": str(Path(url.database).resolve()),
        }
    if backend == "postgresql":
        return {
            **env,
            "DBT_WAREHOUSE_TARGET": "postgres",
            "DBT_WAREHOUSE_PG_HOST": url.host or "localhost",
            "DBT_WAREHOUSE_PG_PORT": str(url.port or 5432),
            "DBT_WAREHOUSE_PG_USER": url.username or "",
            "DBT_WAREHOUSE_PG_DATABASE": url.database or "",
            "DBT_ENV_SECRET_WAREHOUSE_PG_PASSWORD": url.password or "",
        }
    raise DbtProjectError(
        f"dbt models are built on DuckDB or PostgreSQL warehouses; WAREHOUSE_URL is a {backend} URL "
        f"(unset {PROJECT_ENV} to load the stripe assets without dbt)"
    )


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    # dagster-dbt hands dbt a copy of os.environ when it starts the process, so the profile's
    # variables are set only around that moment and the worker's environment is left as it was.
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class WarehouseDbtResource(DbtCliResource):
    """dbt's CLI, pointed at the warehouse the stripe tables are landed in."""

    warehouse_url: str = Field(description="SQLAlchemy URL of the warehouse; EnvVar('WAREHOUSE_URL').")
    warehouse_schema: str = Field(default="stripe", description="Schema of the landed tables.")

    def __repr__(self) -> str:
        return f"WarehouseDbtResource(project_dir={self.project_dir!r}, target={self.target!r})"

    __str__ = __repr__

    def cli(self, args: Sequence[str], **kwargs: Any) -> Any:  # type: ignore[override]
        """``dbt <args>`` with the profile's warehouse variables set (see :func:`profile_env`).

        dbt starts from the partial parse of this target's manifest (``target/<target>/``).
        """
        env = profile_env(self.warehouse_url, self.warehouse_schema)
        if self.target:
            env["DBT_TARGET_PATH"] = str(Path(self.project_dir, "target", self.target))
        with _environment(env):
            return super().cli(args, **kwargs)

    @cached_property
    def _cli_version(self) -> version.Version:
        # dagster-dbt asks `dbt --version` (two seconds) for every command; once a process is enough.
        return _dbt_version(self.dbt_executable)


@cache
def _dbt_version(executable: str) -> version.Version:
    output = subprocess.check_output([executable, "--version"], text=True)
    found = re.search(r"(\d+\.\d+\.\d+)", output)
    if found is None:
        raise DbtProjectError(f"`{executable} --version` printed no version: {output.strip()[:200]}")
    return version.parse(found.group(1))


class StripeDbtTranslator(DagsterDbtTranslator):
    """dbt nodes as Dagster assets: the ``stripe`` source's tables are the stripe assets that land them,
    models are ``<key_prefix>/<model>`` in the group ``group_name``."""

    def __init__(
        self,
        source_keys: Mapping[str, dg.AssetKey],
        *,
        key_prefix: str = "finance",
        group_name: str = "finance",
    ) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self._source_keys = dict(source_keys)
        self._key_prefix = key_prefix
        self._group_name = group_name

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        """A ``stripe`` source table's stripe asset; any other node keeps dbt's name under the prefix."""
        if dbt_resource_props["resource_type"] == "source":
            if dbt_resource_props["source_name"] == STRIPE_SOURCE:
                return self.source_key(dbt_resource_props)
            return super().get_asset_key(dbt_resource_props)
        return super().get_asset_key(dbt_resource_props).with_prefix(self._key_prefix)

    def source_key(self, props: Mapping[str, Any]) -> dg.AssetKey:
        """The stripe asset landing the table of a ``stripe`` source entry, or a :class:`DbtProjectError`."""
        table = props.get("identifier") or props["name"]
        key = self._source_keys.get(table)
        if key is None:
            landed = ", ".join(sorted(self._source_keys))
            raise DbtProjectError(
                f"{props.get('original_file_path', 'sources')}: source {STRIPE_SOURCE}.{props['name']} is "
                f"table {table!r}, which no catalogue entry lands (reports.yaml, sql/); "
                f"landed tables: {landed}"
            )
        return key

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The dbt ``group`` config if set, else ``group_name``."""
        return super().get_group_name(dbt_resource_props) or self._group_name


def _target_for(warehouse_url: str) -> str:
    return profile_env(warehouse_url, STRIPE_SOURCE)["DBT_WAREHOUSE_TARGET"]


def _manifest_is_current(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    for pattern in _PROJECT_FILES:
        for path in project.project_dir.rglob(pattern):
            if _SKIPPED_DIRS.isdisjoint(path.relative_to(project.project_dir).parts) and (
                path.stat().st_mtime > built
            ):
                return False
    return True


def prepare_manifest(project: DbtProject, warehouse_url: str, schema: str) -> Path:
    """``dbt parse`` into the project's target dir unless the manifest there is newer than every file.

    Processes loading the definitions at once (test workers, the webserver and the daemon) parse
    one at a time; the others then find the manifest current.
    """
    if _manifest_is_current(project):
        return project.manifest_path
    lock_dir = project.project_dir / project.target_path
    lock_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(lock_dir / ".parse.lock"):
        if not _manifest_is_current(project):
            dbt = WarehouseDbtResource(
                project_dir=project,
                dbt_executable=DBT_EXECUTABLE,
                warehouse_url=warehouse_url,
                warehouse_schema=schema,
            )
            dbt.cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project.manifest_path


def _daily_partitions(
    manifest: Mapping[str, Any], catalog: Catalog, translator: StripeDbtTranslator
) -> dg.PartitionsDefinition | None:
    # The incremental models' partitions are those of the stripe tables they read, which must agree.
    by_table = {source.table: source for source in catalog.sources}
    found: dict[str, dg.PartitionsDefinition] = {}
    incremental: list[str] = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"].get("materialized") != "incremental":
            continue
        incremental.append(node["original_file_path"])
        for parent in node["depends_on"]["nodes"]:
            props = manifest["sources"].get(parent)
            if props is None or props["source_name"] != STRIPE_SOURCE:
                continue
            translator.source_key(props)
            source = by_table[props.get("identifier") or props["name"]]
            if source.per_account:
                raise DbtProjectError(
                    f"{node['original_file_path']}: an incremental model cannot read {source.table}, which "
                    "is partitioned by connected account as well as day; make the model a table"
                )
            found[f"{node['original_file_path']} reads {source.table}"] = partitions_for(source)
    if not found:
        if incremental:
            raise DbtProjectError(
                f"{incremental[0]}: an incremental model is rebuilt by day, the days of the stripe table it "
                f"reads; it reads no table of the {STRIPE_SOURCE} source"
            )
        return None
    if len(set(map(repr, found.values()))) > 1:
        raise DbtProjectError(
            "incremental models must read tables with the same days (zone and first day): "
            + "; ".join(f"{where} ({definition})" for where, definition in found.items())
        )
    return next(iter(found.values()))


def day_vars(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The dbt vars of a partitioned run: its first and last day (partition keys, inclusive)."""
    keys = context.partition_key_range
    return {"min_day": keys.start, "max_day": keys.end}


def build_dbt_definitions(
    project_dir: str | Path,
    warehouse_url: str,
    *,
    catalog: Catalog,
    schema: str = "stripe",
    translator: StripeReportsTranslator | None = None,
    key_prefix: str = "finance",
) -> dg.Definitions:
    """The dbt project at ``project_dir`` as assets downstream of the catalogue's stripe assets.

    ``warehouse_url`` may be ``dg.EnvVar("WAREHOUSE_URL")``: its value is read at load time only to
    pick the profile's target (duckdb or postgres). Returns the dbt assets (their tests as asset
    checks), the ``dbt`` resource and two jobs named after what they run: ``<key_prefix>_dbt_daily``
    (the incremental models, by day) and ``<key_prefix>_dbt`` (the rest).
    """
    stripe_translator = translator or StripeReportsTranslator()
    url_now = warehouse_url.get_value() if isinstance(warehouse_url, dg.EnvVar) else warehouse_url
    target = _target_for(url_now or DEFAULT_WAREHOUSE_URL)
    project = DbtProject(
        project_dir=Path(project_dir).resolve(),
        target=target,
        target_path=Path("target") / target,
    )
    manifest_path = prepare_manifest(project, url_now or DEFAULT_WAREHOUSE_URL, schema)
    manifest = json.loads(manifest_path.read_text())
    dbt_translator = StripeDbtTranslator(
        {source.table: stripe_translator.get_asset_key(source) for source in catalog.sources},
        key_prefix=key_prefix,
    )
    daily_partitions = _daily_partitions(manifest, catalog, dbt_translator)

    @dbt_assets(
        manifest=manifest_path,
        project=project,
        dagster_dbt_translator=dbt_translator,
        exclude=DAILY_SELECTION,
        name=f"{key_prefix}_dbt_models",
    )
    def models(context: AssetExecutionContext, dbt: WarehouseDbtResource) -> Iterator[Any]:
        yield from dbt.cli(["build"], context=context).stream()

    assets, jobs = [models], [dg.define_asset_job(f"{key_prefix}_dbt", selection=[models])]
    if daily_partitions is not None:

        @dbt_assets(
            manifest=manifest_path,
            project=project,
            dagster_dbt_translator=dbt_translator,
            select=DAILY_SELECTION,
            name=f"{key_prefix}_dbt_daily_models",
            partitions_def=daily_partitions,
            backfill_policy=dg.BackfillPolicy.single_run(),
        )
        def daily_models(context: AssetExecutionContext, dbt: WarehouseDbtResource) -> Iterator[Any]:
            yield from dbt.cli(["build", "--vars", json.dumps(day_vars(context))], context=context).stream()

        assets.append(daily_models)
        jobs.append(dg.define_asset_job(f"{key_prefix}_dbt_daily", selection=[daily_models]))
    return dg.Definitions(
        assets=assets,
        jobs=jobs,
        resources={
            "dbt": WarehouseDbtResource(
                project_dir=project,
                dbt_executable=DBT_EXECUTABLE,
                warehouse_url=warehouse_url,
                warehouse_schema=schema,
            )
        },
    )


def dbt_definitions_from_env(
    catalog: Catalog | None = None, environ: Mapping[str, str] = os.environ
) -> dg.Definitions:
    """The dbt project ``WAREHOUSE_DBT_PROJECT`` names, downstream of ``catalog`` (default: the
    project's own, :func:`~pipelines.catalog.load_catalog`), built in ``WAREHOUSE_URL``'s warehouse;
    no definitions when the variable is unset or empty."""
    project_dir = environ.get(PROJECT_ENV, "")
    if not project_dir:
        return dg.Definitions()
    if not Path(project_dir, "dbt_project.yml").exists():
        raise DbtProjectError(
            f"{PROJECT_ENV}={project_dir}: no dbt_project.yml there (unset it to load no dbt project)"
        )
    return build_dbt_definitions(
        project_dir,
        dg.EnvVar("WAREHOUSE_URL") if environ.get("WAREHOUSE_URL") else DEFAULT_WAREHOUSE_URL,
        catalog=catalog or load_catalog(),
        schema=environ.get("WAREHOUSE_SCHEMA", "stripe"),
    )
