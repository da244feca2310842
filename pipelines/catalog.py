"""The catalogue: which Stripe reports and Sigma queries become assets, and how.

Two sources, neither needing Python to extend:

* ``reports.yaml`` — one entry per Reporting API report template to land. Known report types
  (``pipelines/report_types.yaml``) bring their columns, types and split column; an entry may
  override any of them or describe a type this project does not know yet.
* ``sql/*.sql`` — one saved Sigma query per file. An optional header of ``-- key: value`` comment
  lines at the top sets the table name, partition column, time zone, owners, tags and the rest.

What each may say, and how a file is read with its lines and checked, is in
:mod:`pipelines.catalog_schema`. This module applies the rules that join several keys (a type's
parameters, columns that must be requested, names used twice) and builds the sources, so a typo
fails ``dagster definitions validate`` with the file, the line and the nearest valid spelling rather
than a run at 3 a.m.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from sqlglot.errors import ParseError

from pipelines.catalog_schema import (
    LineDict,
    Place,
    ReportEntry,
    ReportType,
    Settings,
    SqlHeader,
    asset_name,
    did_you_mean,
    read_yaml,
    validate,
)
from pipelines.errors import CatalogError, SigmaSqlError
from pipelines.metadata_columns import is_metadata_column, warehouse_name
from pipelines.settling import DEFAULT_SETTLING_DAYS
from pipelines.sigma_sql import parse_query
from pipelines.sources import (
    DataQuerySource,
    DataReportSource,
    PayoutReportSource,
    ReportSource,
    SigmaSource,
    Source,
)
from pipelines.sources.base import ACCOUNT_ROW_COLUMN, DEFAULT_FRESH_BY, ConnectMode
from pipelines.warehouse import Column

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPORT_TYPES_FILE = Path(__file__).with_name("report_types.yaml")

PAYOUTS_REPORT = "payouts.itemized.3"
"""The report whose landed payouts become the partitions of per-payout reports."""
_HEADER_LINE = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_MISSING_COLUMN_HINTS = {
    "split_column": "or set `split_column: null` to run one report per day",
    "unique_column": "or set `unique_column: null` to land the report without the check",
}


@dataclass(frozen=True)
class Defaults:
    """Settings every entry inherits unless it sets its own (its ``tags`` add to these)."""

    start_date: date = date(2026, 1, 1)
    timezone: str = "UTC"
    max_days_per_run: int = 31
    #: None: each report type's own settling period (report_types.yaml), else DEFAULT_SETTLING_DAYS.
    settling_days: int | None = None
    owners: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    group: str | None = None
    key_prefix: tuple[str, ...] = ("stripe",)
    fresh_by: time = DEFAULT_FRESH_BY
    api: str = "v1"

    def api_of(self, settings: Settings) -> str:
        """The backend ``settings`` choose (``v1`` or ``v2``), else this default's."""
        return _either(settings.api, self.api)

    def apply(self, settings: Settings) -> dict[str, Any]:
        """These fields as ``settings`` overrides them, ready for a ``Source`` (or a ``Defaults``)."""
        return {
            "start_date": _either(settings.start_date, self.start_date),
            "timezone": _either(settings.timezone, self.timezone),
            "max_days_per_run": _either(settings.max_days_per_run, self.max_days_per_run),
            "settling_days": _either(settings.settling_days, self.settling_days),
            "owners": _either(settings.owners, self.owners),
            "tags": {**self.tags, **(settings.tags or {})},
            "group": _either(settings.group, self.group),
            "key_prefix": _either(settings.key_prefix, self.key_prefix),
            "fresh_by": _either(settings.fresh_by, self.fresh_by),
        }


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
    *,
    document: Any = None,
) -> Catalog:
    """Read ``reports.yaml`` and ``sql/`` (defaults: the project's own) into a validated catalogue.

    ``document``, when given, is the ``defaults``/``reports`` mapping already read from a larger file
    (a ``LineDict`` from :func:`~pipelines.catalog_schema.read_yaml` keeps its lines); ``reports_file``
    then only names that file in errors.
    """
    reports_file = reports_file or PROJECT_ROOT / "reports.yaml"
    sql_dir = sql_dir or PROJECT_ROOT / "sql"
    known_types = _load_report_types(report_types_file)
    if document is None:
        document = read_yaml(reports_file, _shown(reports_file)) if reports_file.exists() else LineDict(1)
    top = Place(_shown(reports_file), "", document, getattr(document, "line", 1))
    if not isinstance(document, dict):
        raise top.error("expected a mapping with `defaults` and `reports`")
    for key in document:
        if key not in ("defaults", "reports"):
            raise top.error(f"unknown key `{key}`{did_you_mean(key, ['defaults', 'reports'])}", key)
    defaults_place = top.child("defaults", label="defaults") if "defaults" in document else top
    settings = validate(Settings, document.get("defaults") or {}, defaults_place)
    defaults = Defaults(**Defaults().apply(settings), api=Defaults().api_of(settings))
    entries = [
        _report(place, known_types, _shown(report_types_file), defaults) for place in _report_places(top)
    ]
    if sql_dir.exists():
        entries += [_sigma(path, defaults) for path in sorted(sql_dir.glob("*.sql"))]
    entries = _link_payouts(entries)
    _check_unique(entries)
    return Catalog(sources=tuple(source for source, _ in entries), defaults=defaults)


def column_descriptions(report_types_file: Path = REPORT_TYPES_FILE) -> dict[str, str]:
    """What each Stripe report column means, by column name (``column_descriptions`` of the file).

    One glossary for every report type: Stripe gives a column name one meaning across its reports.
    """
    document = read_yaml(report_types_file, _shown(report_types_file))
    described = (document.get("column_descriptions") or {}) if isinstance(document, dict) else {}
    top = Place(_shown(report_types_file), "column_descriptions", described, getattr(described, "line", 1))
    if not isinstance(described, dict):
        raise top.error("expected a mapping of column name to description")
    for name, text in described.items():
        if not isinstance(text, str) or not text.strip():
            raise top.error(f"`{name}` needs a description (text)", name)
    return {str(name): text.strip() for name, text in described.items()}


def _shown(path: Path) -> str:
    """``path`` relative to the project root when inside it, as messages and origins show it."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


# ---- report types and reports -----------------------------------------------------------------


def _load_report_types(path: Path) -> dict[str, ReportType]:
    document = read_yaml(path, _shown(path))
    top = Place(_shown(path), "", document, 1)
    if not isinstance(document, dict) or not isinstance(document.get("report_types"), dict):
        raise top.error("expected a `report_types` mapping")
    return {
        name: validate(ReportType, raw, top.child("report_types", name, label=f"report_types.{name}"))
        for name, raw in document["report_types"].items()
    }


def _report_places(top: Place) -> list[Place]:
    reports = top.node.get("reports") or []
    if not isinstance(reports, list):
        raise top.error("`reports` must be a list of entries", "reports")
    places = []
    for index, raw in enumerate(reports):
        report_type = raw.get("report_type") if isinstance(raw, dict) else None
        label = f"reports[{index}]" + (f" ({report_type})" if isinstance(report_type, str) else "")
        places.append(top.child("reports", index, label=label))
    return places


def _report(
    place: Place, known_types: Mapping[str, ReportType], types_file: str, defaults: Defaults
) -> tuple[ReportSource, Place]:
    if not isinstance(place.node, dict):
        raise place.error("each entry needs at least `report_type`")
    entry = validate(ReportEntry, place.node, place)
    report_type = entry.report_type
    known = known_types.get(report_type)
    if known is None and entry.columns is None:
        hint = did_you_mean(report_type, known_types)
        raise place.error(
            f"{report_type!r} is not in {types_file}{hint}{' Otherwise' if hint else ';'} give its "
            "`columns` (name: type), `interval` and `split_column` here",
            "report_type",
        )
    known = known or ReportType(columns=entry.columns or {})  # a new type: only what the entry says
    columns = _columns(entry, known, place)
    split_column = _requested_column("split_column", entry, known, columns, place)
    unique_column = _requested_column("unique_column", entry, known, columns, place)
    interval = entry.interval or known.interval
    if interval == "end" and split_column is not None:
        raise place.error("a snapshot report (interval: end) cannot have a split_column", "interval")
    parameters = {}
    for key in ("currency", "reporting_category"):
        value = getattr(entry, key)
        if value is not None:
            if key not in known.optional_parameters:
                raise place.error(f"{report_type} does not take `{key}`", key)
            parameters[key] = value
    settings = defaults.apply(entry)
    settings["settling_days"] = _either(
        settings["settling_days"], _either(known.settling_days, DEFAULT_SETTLING_DAYS)
    )
    if settings["timezone"] != "UTC" and "timezone" not in known.optional_parameters:
        raise place.error(f"{report_type} does not take a `timezone`", "timezone")
    name = entry.name or _default_name(report_type, place)
    kind: type[ReportSource] = DataReportSource if defaults.api_of(entry) == "v2" else ReportSource
    extra = _per_payout(entry, interval, kind, place)
    if extra:
        kind = PayoutReportSource
    connected_account_type = _either(known.connect, report_type.startswith("connected_account_"))
    connect = _connect_mode(entry.connect, connected_account_type, kind)
    if connect == "all_accounts":
        columns = _all_accounts_columns(columns, connected_account_type, kind, place)
    landed, stripe_columns = _landed_columns(columns, kind, place)
    source = kind(
        origin=place.at(),
        name=name,
        report_type=report_type,
        table=entry.table or name,
        description=entry.description or known.name or report_type,
        interval=interval,
        columns=landed,
        stripe_columns=stripe_columns,
        split_column=split_column,
        unique_column=unique_column,
        parameters=parameters,
        connect=connect,
        connected_account_type=connected_account_type,
        period=entry.period or "day",
        **extra,
        **settings,
    )
    return source, place


def _connect_mode(
    given: Literal["per_account", "all_accounts", True] | None,
    connected_account_type: bool,
    kind: type[ReportSource],
) -> ConnectMode:
    """The entry's Connect mode: a named one as given; otherwise ``all_accounts`` for a v1
    ``connected_account_*`` type and ``per_account`` for any other type asked to fan out (``true``).

    A ``connected_account_*`` run without ``parameters[connected_account]`` returns every account's
    rows, so without the account column they could not be told apart: such a type lands all accounts
    at once unless ``per_account`` is named. One run per chunk keeps the partitions (days) and Stripe
    jobs independent of the number of accounts, which per-account partitions are not at platform
    scale (README, Connect)."""
    if given in ("per_account", "all_accounts"):
        return given
    if connected_account_type and kind is ReportSource:
        return "all_accounts"
    return "per_account" if given is True else None


def _all_accounts_columns(
    columns: Mapping[str, str], connected_account_type: bool, kind: type[ReportSource], place: Place
) -> dict[str, str]:
    """An all-accounts entry's columns, led by the column naming each row's connected account; only
    ``connected_account_*`` types (v1) return every account's rows from one run."""
    if not connected_account_type:
        raise place.error(
            "`connect: all_accounts` needs a connected_account_* report type (one run returns every "
            "connected account's rows); use `connect: per_account` for other types",
            "connect",
        )
    if issubclass(kind, DataReportSource):
        raise place.error("all-accounts Connect reports run on the v1 Reporting API; drop `api: v2`", "api")
    return {ACCOUNT_ROW_COLUMN: "text", **{c: t for c, t in columns.items() if c != ACCOUNT_ROW_COLUMN}}


def _landed_columns(
    columns: Mapping[str, str], kind: type[ReportSource], place: Place
) -> tuple[tuple[Column, ...], dict[str, str]]:
    """The columns as the table holds them (metadata columns under their warehouse names), and the
    name Stripe knows each renamed one by; two columns landing under one name are refused."""
    landed: dict[str, Column] = {}
    written: dict[str, str] = {}
    stripe_columns: dict[str, str] = {}
    for column, type_ in columns.items():
        name = warehouse_name(column) if is_metadata_column(column) else column
        if name in landed:
            raise place.error(
                f"`{column}` and `{written[name]}` would both land as the column `{name}`; keep one of them",
                "columns",
                column,
            )
        landed[name], written[name] = Column(name, type_), column
        if name != column:
            stripe_columns[name] = column
    if stripe_columns and issubclass(kind, DataReportSource):
        raise place.error(
            f"`{next(iter(stripe_columns.values()))}`: metadata columns are asked for by name in v1 report "
            "runs; /v2/data report runs return the report's own columns. Set `api: v1` on this entry",
            "columns",
        )
    return tuple(landed.values()), stripe_columns


def _per_payout(entry: ReportEntry, interval: str, kind: type[ReportSource], place: Place) -> dict[str, str]:
    """The payout settings of a per-payout type (``interval: payout``), checked; else nothing."""
    if interval != "payout":
        if entry.payouts_from is not None:
            raise place.error(
                "`payouts_from` is for per-payout report types (interval: payout), such as "
                "payout_reconciliation.by_id.itemized.4",
                "payouts_from",
            )
        return {}
    for key, reason in (
        ("connect", "per-payout reports have no connected-account variant"),
        ("period", "a per-payout report has one partition per payout, not per day or month"),
    ):
        if getattr(entry, key) is not None:
            raise place.error(f"{reason}; drop `{key}`", key)
    if kind is DataReportSource:
        raise place.error("per-payout reports run on the v1 Reporting API; drop `api: v2`", "api")
    # Linked to the payouts table by _link_payouts, once every entry is read.
    return {"payouts_from": "", "payouts_asset": entry.payouts_from or ""}


def _link_payouts(entries: list[tuple[Source, Place]]) -> list[tuple[Source, Place]]:
    """Each per-payout entry with the table of the payouts.itemized entry it discovers payouts in:
    the one it names in ``payouts_from``, else the catalogue's only ``payouts.itemized.3`` entry."""
    payouts = [
        source
        for source, _ in entries
        if isinstance(source, ReportSource) and source.report_type == PAYOUTS_REPORT and not source.connect
    ]
    linked = []
    for source, place in entries:
        if isinstance(source, PayoutReportSource):
            named = source.payouts_asset
            found = [p for p in payouts if p.name == named] if named else payouts
            if len(found) != 1:
                choices = ", ".join(p.name for p in payouts) or "none"
                problem = (
                    f"`payouts_from: {named}` names no {PAYOUTS_REPORT} entry"
                    + did_you_mean(named, [p.name for p in payouts])
                    if named
                    else f"needs `payouts_from`: the {PAYOUTS_REPORT} entry whose landed payouts become "
                    "its partitions"
                )
                raise place.error(f"{problem} ({PAYOUTS_REPORT} entries: {choices})", "payouts_from")
            source = replace(source, payouts_from=found[0].table, payouts_asset=found[0].name)
        linked.append((source, place))
    return linked


def _columns(entry: ReportEntry, known: ReportType, place: Place) -> dict[str, str]:
    """The entry's columns (its own, else its type's) with ``column_types`` applied."""
    columns = dict(known.columns if entry.columns is None else entry.columns)
    for column, kind in (entry.column_types or {}).items():
        if column not in columns:
            raise place.error(f"column_types names unknown column {column!r}", "column_types", column)
        columns[column] = kind
    if not columns:
        raise place.error("`columns` must map column names to types", "columns")
    return columns


def _requested_column(
    key: str, entry: ReportEntry, known: ReportType, columns: Mapping[str, str], place: Place
) -> str | None:
    """The entry's ``key`` (even ``null``), else its type's; it must be one of the requested columns."""
    overridden = key in entry.model_fields_set
    column = getattr(entry if overridden else known, key)
    if column is not None and column not in columns:
        where = key if overridden else "columns"
        raise place.error(
            f"{key} {column!r} is not one of the requested columns; add it to `columns`, "
            f"{_MISSING_COLUMN_HINTS[key]}",
            where,
        )
    return column


def _default_name(report_type: str, place: Place) -> str:
    try:
        return asset_name(re.sub(r"[^a-z0-9]+", "_", report_type.lower()).strip("_"))
    except ValueError as error:
        raise place.error(f"{error}; give the entry a `name`", "report_type") from None


# ---- Sigma queries ------------------------------------------------------------------------------


def _sigma(path: Path, defaults: Defaults) -> tuple[SigmaSource, Place]:
    text = path.read_text()
    place = Place(_shown(path), "", _sql_header(text, path), 1)
    header = validate(SqlHeader, place.node, place, noun="header")
    try:
        name = asset_name(path.stem)
    except ValueError as error:
        raise place.error(f"file name (asset name): {error}") from None
    _check_sql(text, place)
    v2 = defaults.api_of(header) == "v2"
    if v2 and header.saved_query:
        raise place.error(
            "saved queries are a v1 feature; /v2/data runs the file's SQL (drop `api: v2`)", "saved_query"
        )
    settings = defaults.apply(header)
    settings["settling_days"] = _either(settings["settling_days"], DEFAULT_SETTLING_DAYS)
    source = (DataQuerySource if v2 else SigmaSource)(
        origin=place.file,
        name=name,
        path=path,
        sql=text,
        table=header.table or name,
        description=header.description or f"Sigma query {path.name}",
        split_column=header.partition_column,
        saved_query=header.saved_query,
        connect=header.connect,
        period=header.period or "day",
        **settings,
    )
    return source, place


def _sql_header(text: str, path: Path) -> LineDict:
    """The ``-- key: value`` lines before the first statement line (an empty value sets nothing)."""
    header = LineDict(1)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break
        match = _HEADER_LINE.match(stripped)
        if match is None:
            continue  # a blank line or an ordinary comment
        key, value = match.groups()
        if key in header.lines:
            raise CatalogError(
                f"{_shown(path)}, line {number}: `{key}` is set twice (first on line {header.lines[key]})"
            )
        header[key], header.lines[key] = value or None, number
    return header


def _check_sql(text: str, place: Place) -> None:
    """One SELECT with only the window parameters (:func:`pipelines.sigma_sql.parse_query`)."""
    lines = text.splitlines()
    first = next(
        (n for n, line in enumerate(lines, 1) if line.strip() and not line.strip().startswith("--")), None
    )
    if first is None:
        raise CatalogError(f"{place.file}, line {max(len(lines), 1)}: the file holds no SQL")
    try:
        parse_query(text, place.file)
    except SigmaSqlError as error:
        cause = error.__cause__
        details = cause.errors[0] if isinstance(cause, ParseError) and cause.errors else {}
        line = details.get("line", first)
        raise CatalogError(
            f"{place.file}, line {line}: {str(error).removeprefix(f'{place.file}: ')}"
        ) from error


# ---- across entries --------------------------------------------------------------------------------


def _check_unique(entries: list[tuple[Source, Place]]) -> None:
    """No two entries share an asset name or a table."""
    names: dict[str, str] = {}
    tables: dict[str, str] = {}
    for source, place in entries:
        if source.name in names:
            raise place.error(
                f"asset name {source.name!r} is used twice: here and in {names[source.name]}; "
                "give one of them a `name`",
                "name",
            )
        if source.table in tables:
            raise place.error(
                f"table {source.table!r} is used twice: here and in {tables[source.table]}; "
                "give one of them a `table`",
                "table",
            )
        names[source.name] = tables[source.table] = source.origin


def _either(value: Any, default: Any) -> Any:
    """``value`` unless it is not set (``None``); an empty list or ``false`` is a setting."""
    return default if value is None else value
