"""Data contracts: every table and column a ``sql/`` file names exists in Stripe's schema.

Stripe's ``GET /v2/data/schemas`` lists the analytical dataset's tables and columns. Checking each
file against it finds a typo before any run, with the file, the line and the nearest valid name.
Offline (no key, Stripe unreachable) the check is skipped with a note, never failed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.errors import CatalogError
from pipelines.sigma_sql import referenced_tables
from pipelines.sources import DataReportSource, SigmaSource
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
    reports: Iterable[DataReportSource] = (),
) -> str:
    """Check every query against Stripe's schema, and every ``/v2/data`` report entry's parameters
    against Stripe's report catalogue; a note when the check was skipped, else raises.

    Raises :class:`~pipelines.errors.CatalogError` listing every problem (file, line, nearest
    name). Without a key, or when Stripe cannot be reached, nothing is checked and the note says so.
    """
    queries, reports = list(queries), list(reports)
    if settings is None:
        return "data contracts not checked: no STRIPE_API_KEY"
    day = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with open_session(replace(settings, max_network_retries=0, request_timeout_seconds=3.0)) as session:
            schema = stripe_schema(session)
            problems = [str(p) for p in check_queries(queries, schema)]
            for report in reports:
                offered = session.data_report_catalog.retrieve(report.report_name)
                parameters = report.parameters_for(day, day + timedelta(days=1), None)
                problems += [
                    f"{report.origin}: {problem}" for problem in offered.check_parameters(parameters)
                ]
    except StripeError as error:
        return f"data contracts not checked: Stripe's /v2/data could not be read ({error})"
    if problems:
        raise CatalogError("; ".join(problems))
    return (
        f"data contracts: {len(queries)} sql/ file(s) name only tables and columns Stripe has; "
        f"{len(reports)} v2 report entr{'y' if len(reports) == 1 else 'ies'} fit Stripe's reports"
    )
