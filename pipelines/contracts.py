"""Data contracts: every name the catalogue gives Stripe is one Stripe offers.

* ``sql/`` files: each table and column exists in ``GET /v2/data/schemas`` (the analytical dataset);
* report entries: each v1 report type is in ``GET /v1/reporting/report_types`` and each requested
  column is one of the type's columns (Stripe's ``default_columns`` plus those
  ``pipelines/report_types.yaml`` records from Stripe's report documentation, since the report
  type object lists no others); each ``api: v2`` report is in ``GET /v2/data/reports`` and its
  parameters fit; each ``currency`` filter is a lowercase ISO 4217 code, as Stripe writes them.

Checking before any run finds a typo with the file, the line and the nearest valid name. Offline
(no key, Stripe unreachable) what needs Stripe is skipped with a note, never failed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pycountry

from pipelines.catalog import PROJECT_ROOT, REPORT_TYPES_FILE
from pipelines.catalog_schema import Place, read_yaml
from pipelines.errors import CatalogError
from pipelines.sigma_sql import referenced_tables
from pipelines.sources import DataReportSource, ReportSource, SigmaSource
from pipelines.stripe import StripeSession, StripeSettings, open_session
from pipelines.stripe.errors import StripeError


@dataclass(frozen=True)
class ContractProblem:
    """One name a file uses that Stripe's schema does not have."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}"


def check_queries(
    queries: Iterable[SigmaSource], schema: Mapping[str, Sequence[str]]
) -> list[ContractProblem]:
    """Problems of every query against ``schema`` (table name → column names)."""
    problems: list[ContractProblem] = []
    for query in queries:
        problems.extend(check_query(query.sql, query.source_label, schema))
    return problems


def check_query(sql: str, file: str | Path, schema: Mapping[str, Sequence[str]]) -> list[ContractProblem]:
    """Problems of one query's SQL against ``schema``."""
    problems = []
    for table, columns in sorted(referenced_tables(sql, file).items()):
        if table not in schema:
            problems.append(
                ContractProblem(
                    str(file),
                    _line_of(sql, table),
                    f"table `{table}` is not in Stripe's schema" + _hint(table, schema),
                )
            )
            continue
        known = set(schema[table])
        for column in sorted(columns - known):
            problems.append(
                ContractProblem(
                    str(file),
                    _line_of(sql, column),
                    f"`{table}` has no column `{column}`" + _hint(column, known),
                )
            )
    return problems


def _hint(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f"; did you mean `{close[0]}`?" if close else ""


def _line_of(sql: str, name: str) -> int:
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", re.IGNORECASE)
    for number, line in enumerate(sql.splitlines(), start=1):
        if not line.lstrip().startswith("--") and pattern.search(line):
            return number
    return 1


def stripe_schema(session: StripeSession) -> dict[str, list[str]]:
    """Stripe's analytical dataset as table name → column names (one listing; runs no query)."""
    return {
        s.name: [name for name, _ in s.columns or ()] for s in session.data_schemas.list(include_columns=True)
    }


def check_catalog(
    queries: Iterable[SigmaSource],
    settings: StripeSettings | None,
    reports: Iterable[ReportSource] = (),
) -> str:
    """Check every query against Stripe's schema and every report entry against what Stripe offers
    (report types and their columns for v1, reports and their parameters for ``/v2/data``, and
    currency codes); a note when the Stripe part was skipped, else raises.

    Raises :class:`~pipelines.errors.CatalogError` listing every problem (file, line, nearest
    name). Without a key, or when Stripe cannot be reached, only what needs no Stripe (currency
    codes) is checked and the note says so.
    """
    queries, reports = list(queries), list(reports)
    _entry.cache_clear()  # lines as the files read now, not as when a reloaded process last read them
    problems = [str(p) for p in check_currencies(reports)]
    note = ""
    if settings is None:
        note = "data contracts not checked: no STRIPE_API_KEY"
    else:
        try:
            problems += _check_at_stripe(queries, reports, settings)
        except StripeError as error:
            note = f"data contracts not checked: Stripe could not be read ({error})"
    if problems:
        raise CatalogError("; ".join(problems))
    if note:
        return note
    v1 = sum(1 for r in reports if not isinstance(r, DataReportSource))
    v2 = len(reports) - v1
    return (
        f"data contracts: {len(queries)} sql/ file(s) name only tables and columns Stripe has; "
        f"{v1} report entr{'y' if v1 == 1 else 'ies'} name report types and columns Stripe offers; "
        f"{v2} v2 report entr{'y' if v2 == 1 else 'ies'} fit Stripe's reports"
    )


def _check_at_stripe(
    queries: Sequence[SigmaSource], reports: Sequence[ReportSource], settings: StripeSettings
) -> list[str]:
    day = datetime(2026, 1, 1, tzinfo=UTC)
    v2 = [r for r in reports if isinstance(r, DataReportSource)]
    v1 = [r for r in reports if not isinstance(r, DataReportSource)]
    with open_session(replace(settings, max_network_retries=0, request_timeout_seconds=3.0)) as session:
        schema = stripe_schema(session)
        problems = [str(p) for p in check_queries(queries, schema)]
        if v1:
            offered = {t.id: t.default_columns for t in session.reports.report_types()}
            problems += [str(p) for p in check_report_types(v1, offered, documented_columns())]
        if v2:
            names = [r.name for r in session.data_report_catalog.list(include=())]
        for report in v2:
            if report.report_name not in names:
                file, line = entry_line(report, "report_type")
                problems.append(
                    str(
                        ContractProblem(
                            file,
                            line,
                            f"{_label(report)}: Stripe's /v2/data has no report `{report.report_name}`"
                            + _hint(report.report_name, names),
                        )
                    )
                )
                continue
            offered_report = session.data_report_catalog.retrieve(report.report_name)
            parameters = report.parameters_for(day, day + timedelta(days=1), None)
            problems += [
                f"{report.origin}: {problem}" for problem in offered_report.check_parameters(parameters)
            ]
    return problems


def check_report_types(
    reports: Iterable[ReportSource],
    offered: Mapping[str, Sequence[str] | None],
    documented: Mapping[str, Sequence[str]],
) -> list[ContractProblem]:
    """Problems of v1 report entries against the report types Stripe offers.

    ``offered`` maps each report type id of ``GET /v1/reporting/report_types`` to its
    ``default_columns`` (``None``: the type takes no ``columns``); ``documented`` maps a type to the
    columns Stripe's documentation lists for it (``pipelines/report_types.yaml``). A type Stripe
    does not offer, or a column neither list has, is a problem naming the nearest valid spelling.
    """
    problems = []
    for report in reports:
        if report.report_type not in offered:
            file, line = entry_line(report, "report_type")
            problems.append(
                ContractProblem(
                    file,
                    line,
                    f"{_label(report)}: Stripe offers no report type `{report.report_type}`"
                    + _hint(report.report_type, offered),
                )
            )
            continue
        defaults = offered[report.report_type]
        if defaults is None:
            continue
        known = {*defaults, *documented.get(report.report_type, ())}
        for column in report.columns:
            if column.name in known:
                continue
            file, line = entry_line(report, "columns", column.name)
            where = "" if _entry_names(report, column.name) else " (a column of pipelines/report_types.yaml)"
            problems.append(
                ContractProblem(
                    file,
                    line,
                    f"{_label(report)}: `{column.name}` is not a column of {report.report_type}{where}"
                    + _hint(column.name, known),
                )
            )
    return problems


def check_currencies(reports: Iterable[ReportSource]) -> list[ContractProblem]:
    """Problems of report entries' ``currency`` filters: Stripe writes ISO 4217 codes in lowercase."""
    problems = []
    codes = currency_codes()
    for report in reports:
        currency = report.parameters.get("currency")
        if currency is None or currency in codes:
            continue
        file, line = entry_line(report, "currency")
        if currency.lower() in codes:
            message = (
                f"currency `{currency}`: Stripe writes currency codes in lowercase, `{currency.lower()}`"
            )
        else:
            message = f"currency `{currency}` is not an ISO 4217 currency code" + _hint(
                currency.lower(), codes
            )
        problems.append(ContractProblem(file, line, f"{_label(report)}: {message}"))
    return problems


@cache
def currency_codes() -> frozenset[str]:
    """ISO 4217 currency codes in the lowercase Stripe uses (``usd``, ``eur``, ``jpy``...)."""
    return frozenset(c.alpha_3.lower() for c in pycountry.currencies)


def documented_columns(path: Path = REPORT_TYPES_FILE) -> dict[str, list[str]]:
    """Report type id → the columns ``report_types.yaml`` records for it from Stripe's documentation."""
    document = read_yaml(path, path.name)
    types = document.get("report_types") or {}
    return {str(name): [str(c) for c in (spec or {}).get("columns") or ()] for name, spec in types.items()}


_ORIGIN = re.compile(r"^(?P<file>.+), line (?P<line>\d+): reports\[(?P<index>\d+)\]")


def entry_line(report: ReportSource, *loc: Any) -> tuple[str, int]:
    """The file and line of ``loc`` (a key, then a column name...) inside ``report``'s entry, or of
    the entry itself when the entry does not write it (a column its report type brings)."""
    match = _ORIGIN.match(report.origin)
    if match is None:
        return report.origin or "reports.yaml", 1
    file, line, index = match["file"], int(match["line"]), int(match["index"])
    entry = _entry(file, index)
    if entry is None:
        return file, line
    place = Place(file, "", entry, line)
    if loc[:1] == ("columns",) and len(loc) > 1 and not _entry_names(report, loc[1]):
        return file, line
    return file, place.line_of(*loc)


def _entry_names(report: ReportSource, column: str) -> bool:
    match = _ORIGIN.match(report.origin)
    entry = _entry(match["file"], int(match["index"])) if match else None
    written = (entry or {}).get("columns") or ()
    return column in written


@cache
def _entry(file: str, index: int) -> Any:
    path = Path(file) if Path(file).is_absolute() else PROJECT_ROOT / file
    try:
        document = read_yaml(path, file)
        return document["reports"][index]
    except (OSError, CatalogError, KeyError, IndexError, TypeError):
        return None


def _label(report: ReportSource) -> str:
    return report.origin.split(": ", 1)[1] if ": " in report.origin else report.name
