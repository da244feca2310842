"""The catalogue: which Stripe reports and Sigma queries become assets, and how.

Two sources, neither needing Python to extend:

* ``reports.yaml`` — one entry per Reporting API report template to land. Known report types
  (``pipelines/report_types.yaml``) bring their columns, types and split column; an entry may
  override any of them or describe a type this project does not know yet.
* ``sql/*.sql`` — one saved Sigma query per file. An optional header of ``-- key: value`` comment
  lines at the top sets the table name, partition column, time zone and description.

Everything is validated when definitions load, so a typo fails ``dagster definitions validate``
with the file and entry that caused it rather than a run at 3 a.m.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from pipelines.errors import CatalogError, SigmaSqlError
from pipelines.sigma_sql import parse_query
from pipelines.sources import ConnectMode, ReportSource, SigmaSource, Source
from pipelines.warehouse import Column

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPORT_TYPES_FILE = Path(__file__).with_name("report_types.yaml")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_HEADER_LINE = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_COLUMN_TYPE = re.compile(
    r"^(text|bigint|double|boolean|date|timestamp|money|decimal\(\d{1,2},\s*\d{1,2}\))$"
)
_SQL_HEADER_KEYS = frozenset(
    {
        "table",
        "partition_column",
        "timezone",
        "description",
        "start_date",
        "max_days_per_run",
        "saved_query",
        "connect",
    }
)
_REPORT_KEYS = frozenset(
    {
        "report_type",
        "name",
        "table",
        "description",
        "timezone",
        "start_date",
        "max_days_per_run",
        "columns",
        "column_types",
        "split_column",
        "unique_column",
        "interval",
        "currency",
        "reporting_category",
        "connect",
    }
)


@dataclass(frozen=True)
class Defaults:
    """Settings every entry inherits unless it sets its own."""

    start_date: date = date(2026, 1, 1)
    timezone: str = "UTC"
    max_days_per_run: int = 31


@dataclass(frozen=True)
class Catalog:
    """Every asset-to-be, in a stable order (reports first, then Sigma queries by file name)."""

    sources: tuple[Source, ...]
    defaults: Defaults

    @property
    def reports(self) -> tuple[ReportSource, ...]:
        """The Reporting API entries."""
        return tuple(s for s in self.sources if isinstance(s, ReportSource))

    @property
    def queries(self) -> tuple[SigmaSource, ...]:
        """The Sigma query entries."""
        return tuple(s for s in self.sources if isinstance(s, SigmaSource))

    def get(self, name: str) -> Source:
        """The entry whose asset is called ``name``."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(f"no report or Sigma query named {name!r} in the catalogue")


def load_catalog(
    reports_file: Path | None = None,
    sql_dir: Path | None = None,
    report_types_file: Path = REPORT_TYPES_FILE,
) -> Catalog:
    """Read ``reports.yaml`` and ``sql/`` (defaults: the project's own) into a validated catalogue."""
    reports_file = reports_file or PROJECT_ROOT / "reports.yaml"
    sql_dir = sql_dir or PROJECT_ROOT / "sql"
    known_types = _load_report_types(report_types_file)
    document = _read_yaml(reports_file) if reports_file.exists() else {}
    if not isinstance(document, dict):
        raise CatalogError(f"{reports_file}: expected a mapping with `defaults` and `reports`")
    defaults = _parse_defaults(document.get("defaults") or {}, reports_file)
    reports = tuple(
        _parse_report(entry, index, known_types, defaults, reports_file)
        for index, entry in enumerate(document.get("reports") or [])
    )
    queries = (
        tuple(_parse_sql_file(path, defaults) for path in sorted(sql_dir.glob("*.sql")))
        if sql_dir.exists()
        else ()
    )
    catalog = Catalog(sources=(*reports, *queries), defaults=defaults)
    _check_unique(catalog)
    return catalog


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise CatalogError(f"{path}: not valid YAML: {error}") from error


def _load_report_types(path: Path) -> Mapping[str, Mapping[str, Any]]:
    document = _read_yaml(path) or {}
    types = document.get("report_types")
    if not isinstance(types, dict):
        raise CatalogError(f"{path}: expected a `report_types` mapping")
    return types


def _parse_defaults(raw: Mapping[str, Any], source: Path) -> Defaults:
    unknown = set(raw) - {"start_date", "timezone", "max_days_per_run"}
    if unknown:
        raise CatalogError(f"{source}: unknown key(s) under defaults: {', '.join(sorted(unknown))}")
    base = Defaults()
    return Defaults(
        start_date=_date(raw.get("start_date", base.start_date), f"{source}: defaults.start_date"),
        timezone=_timezone(raw.get("timezone", base.timezone), f"{source}: defaults.timezone"),
        max_days_per_run=_days(
            raw.get("max_days_per_run", base.max_days_per_run), f"{source}: defaults.max_days_per_run"
        ),
    )


def _parse_report(
    entry: Any,
    index: int,
    known_types: Mapping[str, Mapping[str, Any]],
    defaults: Defaults,
    source: Path,
) -> ReportSource:
    where = f"{source}: reports[{index}]"
    if not isinstance(entry, dict) or "report_type" not in entry:
        raise CatalogError(f"{where}: each entry needs at least `report_type`")
    unknown = set(entry) - _REPORT_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    report_type = str(entry["report_type"])
    where = f"{where} ({report_type})"
    known = known_types.get(report_type, {})
    if not known and "columns" not in entry:
        raise CatalogError(
            f"{where}: {report_type!r} is not in pipelines/report_types.yaml; "
            "give its `columns` (name: type), `interval` and `split_column` here"
        )
    name = _name(entry.get("name", _default_name(report_type)), f"{where}: name")
    columns = _columns(entry.get("columns", known.get("columns")), where)
    overrides = entry.get("column_types") or {}
    if overrides:
        by_name = {c.name: c for c in columns}
        missing = set(overrides) - set(by_name)
        if missing:
            raise CatalogError(f"{where}: column_types names unknown column(s) {sorted(missing)}")
        columns = tuple(Column(c.name, _column_type(overrides.get(c.name, c.type), where)) for c in columns)
    names = {c.name for c in columns}
    split_column = entry.get("split_column", known.get("split_column"))
    if split_column is not None and split_column not in names:
        raise CatalogError(f"{where}: split_column {split_column!r} is not one of the requested columns")
    unique_column = entry.get("unique_column", known.get("unique_column"))
    if unique_column is not None and unique_column not in names:
        raise CatalogError(
            f"{where}: unique_column {unique_column!r} is not one of the requested columns; "
            "add it to `columns`, or set `unique_column: null` to land the report without the check"
        )
    interval = entry.get("interval", known.get("interval", "range"))
    if interval not in ("range", "end"):
        raise CatalogError(f"{where}: interval must be `range` or `end`, not {interval!r}")
    if interval == "end" and split_column is not None:
        raise CatalogError(f"{where}: a snapshot report (interval: end) cannot have a split_column")
    optional = set(known.get("optional_parameters", ["timezone", "currency", "reporting_category"]))
    parameters: dict[str, str] = {}
    for parameter in ("currency", "reporting_category"):
        if parameter in entry:
            if parameter not in optional:
                raise CatalogError(f"{where}: {report_type} does not take `{parameter}`")
            parameters[parameter] = str(entry[parameter])
    timezone = _timezone(entry.get("timezone", defaults.timezone), f"{where}: timezone")
    if timezone != "UTC" and "timezone" not in optional:
        raise CatalogError(f"{where}: {report_type} does not take a `timezone`")
    connected_account_type = bool(known.get("connect", report_type.startswith("connected_account_")))
    return ReportSource(
        origin=where,
        name=name,
        report_type=report_type,
        table=_name(entry.get("table", name), f"{where}: table"),
        description=str(entry.get("description") or known.get("name") or report_type),
        interval=interval,
        columns=columns,
        split_column=split_column,
        unique_column=unique_column,
        timezone=timezone,
        start_date=_date(entry.get("start_date", defaults.start_date), f"{where}: start_date"),
        max_days_per_run=_days(
            entry.get("max_days_per_run", defaults.max_days_per_run), f"{where}: max_days_per_run"
        ),
        parameters=parameters,
        connect=_connect(entry.get("connect"), where),
        connected_account_type=connected_account_type,
    )


def _parse_sql_file(path: Path, defaults: Defaults) -> SigmaSource:
    text = path.read_text()
    header = _sql_header(text, path)
    where = str(path)
    name = _name(path.stem, f"{where}: file name (asset name)")
    if not text.strip() or all(
        line.strip().startswith("--") or not line.strip() for line in text.splitlines()
    ):
        raise CatalogError(f"{where}: the file holds no SQL")
    try:
        parse_query(text, path)
    except SigmaSqlError as error:
        raise CatalogError(str(error)) from error
    partition_column = header.get("partition_column") or None
    if partition_column is not None:
        _name(partition_column, f"{where}: partition_column")
    return SigmaSource(
        origin=_relative(path),
        name=name,
        path=path,
        sql=text,
        table=_name(header.get("table", name), f"{where}: table"),
        description=header.get("description", f"Sigma query {path.name}"),
        split_column=partition_column,
        timezone=_timezone(header.get("timezone", defaults.timezone), f"{where}: timezone"),
        start_date=_date(header.get("start_date", defaults.start_date), f"{where}: start_date"),
        max_days_per_run=_days(
            header.get("max_days_per_run", defaults.max_days_per_run), f"{where}: max_days_per_run"
        ),
        saved_query=header.get("saved_query") or None,
        connect=_connect(header.get("connect"), where),
    )


def _sql_header(text: str, path: Path) -> dict[str, str]:
    """The ``-- key: value`` lines before the first statement line."""
    header: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = _HEADER_LINE.match(stripped)
        if match is None:
            continue  # an ordinary comment
        key, value = match.groups()
        if key not in _SQL_HEADER_KEYS:
            raise CatalogError(
                f"{path}: unknown header `{key}`; known: {', '.join(sorted(_SQL_HEADER_KEYS))}"
            )
        header[key] = value
    return header


def _check_unique(catalog: Catalog) -> None:
    seen_names: dict[str, str] = {}
    seen_tables: dict[str, str] = {}
    for spec in catalog.sources:
        origin = spec.origin
        if spec.name in seen_names:
            raise CatalogError(
                f"asset name {spec.name!r} is used twice: {seen_names[spec.name]} and {origin}; "
                "give one of them a `name`"
            )
        if spec.table in seen_tables:
            raise CatalogError(
                f"table {spec.table!r} is used twice: {seen_tables[spec.table]} and {origin}; "
                "give one of them a `table`"
            )
        seen_names[spec.name] = origin
        seen_tables[spec.table] = origin


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _default_name(report_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", report_type.lower()).strip("_")


def _name(value: Any, where: str) -> str:
    text = str(value)
    if not _NAME.match(text):
        raise CatalogError(
            f"{where}: {text!r} is not a valid name (lower-case letters, digits and _, "
            "starting with a letter, at most 63 characters)"
        )
    return text


def _columns(raw: Any, where: str) -> tuple[Column, ...]:
    if isinstance(raw, list):
        raw = {str(name): "text" for name in raw}
    if not isinstance(raw, dict) or not raw:
        raise CatalogError(f"{where}: `columns` must map column names to types")
    return tuple(
        Column(_name(name, f"{where}: column"), _column_type(kind, f"{where}: column {name}"))
        for name, kind in raw.items()
    )


def _column_type(value: Any, where: str) -> str:
    text = str(value).strip().lower()
    if not _COLUMN_TYPE.match(text):
        raise CatalogError(
            f"{where}: unknown column type {value!r}; use text, bigint, double, boolean, date, "
            "timestamp, money or decimal(p,s)"
        )
    return text


def _timezone(value: Any, where: str) -> str:
    text = str(value)
    if text in ("UTC", "Etc/UTC"):
        return "UTC"
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise CatalogError(f"{where}: {text!r} is not an IANA time zone (e.g. America/New_York)") from error
    return text


def _date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise CatalogError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from error


def _days(value: Any, where: str) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError) as error:
        raise CatalogError(f"{where}: {value!r} is not a whole number of days") from error
    if not 1 <= days <= 31:
        raise CatalogError(f"{where}: must be between 1 and 31 days, not {days}")
    return days


def _connect(value: Any, where: str) -> ConnectMode:
    if value in (None, "", False, "none"):
        return None
    if value == "per_account":
        return "per_account"
    raise CatalogError(f"{where}: connect must be `per_account` (one partition per connected account)")
