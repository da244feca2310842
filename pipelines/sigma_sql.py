"""Turning a ``sql/*.sql`` file into the Sigma SQL that runs for one window.

Files are Trino SQL (Sigma's dialect) with two named parameters, ``:window_start`` and
``:window_end``. They are bound by rewriting the parsed query with sqlglot — each becomes a typed
``TIMESTAMP`` literal in UTC — never by pasting text into the query.

Every rendered query also returns Sigma's ``data_load_time`` as an extra column, so the loaded
result proves which snapshot of Stripe's data it saw: a result older than its window is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from pipelines.errors import SigmaSqlError
from pipelines.lineage import FRESHNESS_COLUMN

WINDOW_PARAMETERS = frozenset({"window_start", "window_end"})
_DIALECT = "trino"

__all__ = [
    "FRESHNESS_COLUMN",
    "WINDOW_PARAMETERS",
    "SigmaSqlError",
    "parse_query",
    "render_for_window",
    "render_latest_day",
]


def parse_query(sql: str, source: Path | str = "<sql>") -> exp.Expression:
    """Parse one Sigma query, refusing anything that is not a single SELECT or unknown parameters."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=_DIALECT) if s is not None]
    except ParseError as error:
        # sqlglot's message underlines the token with terminal escapes; keep the plain facts.
        details = error.errors[0] if error.errors else {}
        where = f" at line {details['line']}, column {details['col']}" if "line" in details else ""
        reason = details.get("description") or str(error)
        raise SigmaSqlError(f"{source}: not valid Trino SQL{where}: {reason}") from error
    if len(statements) != 1:
        raise SigmaSqlError(f"{source}: expected exactly one query, found {len(statements)}")
    query = statements[0]
    if not isinstance(query, exp.Query):
        raise SigmaSqlError(f"{source}: Sigma runs SELECT queries only, found {query.key.upper()}")
    for placeholder in query.find_all(exp.Placeholder):
        if placeholder.name not in WINDOW_PARAMETERS:
            shown = f":{placeholder.name}" if placeholder.name else "?"
            raise SigmaSqlError(
                f"{source}: unknown parameter {shown}; only :window_start and :window_end are bound"
            )
    return query


def render_for_window(
    sql: str,
    start: datetime,
    end: datetime,
    source: Path | str = "<sql>",
    *,
    freshness_column: bool = True,
) -> str:
    """The query for the window ``[start, end)``, plus the ``_data_load_time`` freshness column
    unless ``freshness_column`` is false (v2 query runs report their ``refreshed_at`` themselves)."""
    bound = {"window_start": _timestamp_literal(start), "window_end": _timestamp_literal(end)}

    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in bound:
            return bound[node.name].copy()
        return node

    query = parse_query(sql, source).transform(bind)
    rendered = _with_freshness_column(query) if freshness_column else query
    return rendered.sql(dialect=_DIALECT, comments=False, pretty=True)


def referenced_tables(sql: str, source: Path | str = "<sql>") -> dict[str, set[str]]:
    """The tables a query reads and, per table, the columns it surely names, for data-contract checks.

    A column counts when it is qualified by the table (or its alias), or unqualified in a SELECT whose
    only source is that table and is not one of the SELECT's own output names; anything less certain
    is left out, so a check built on this never reports a column that is in fact fine.
    """
    query = parse_query(sql, source)
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    tables: dict[str, set[str]] = {}
    for select in query.find_all(exp.Select):
        sources = [
            s for s in select.find_all(exp.Table, exp.Subquery) if s.find_ancestor(exp.Select) is select
        ]
        own = [t for t in sources if isinstance(t, exp.Table) and t.name not in ctes]
        aliases = {t.alias_or_name: t.name for t in own}
        outputs = {e.alias for e in select.expressions if isinstance(e, exp.Alias)}
        for table in own:
            tables.setdefault(table.name, set())
        only = own[0].name if len(sources) == 1 and len(own) == 1 else None
        for column in select.find_all(exp.Column):
            if column.find_ancestor(exp.Select) is not select or isinstance(column.this, exp.Star):
                continue
            if column.table:
                if column.table in aliases:
                    tables[aliases[column.table]].add(column.name)
            elif only is not None and column.name not in outputs:
                tables[only].add(column.name)
    return tables


def render_latest_day(sql: str, source: Path | str = "<sql>") -> str:
    """The query for "the last complete UTC day before ``data_load_time``", for saved queries.

    Saved queries take no parameters, so the window is expressed relative to Sigma's own
    ``data_load_time``; the freshness column then tells which day a run covered.
    """
    day_end = sqlglot.parse_one("date_trunc('day', data_load_time)", read=_DIALECT)
    day_start = sqlglot.parse_one("date_trunc('day', data_load_time) - interval '1' day", read=_DIALECT)
    bound = {"window_start": day_start, "window_end": day_end}

    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in bound:
            return exp.paren(bound[node.name].copy())
        return node

    query = parse_query(sql, source).transform(bind)
    return _with_freshness_column(query).sql(dialect=_DIALECT, comments=False, pretty=True)


def _timestamp_literal(moment: datetime) -> exp.Expression:
    if moment.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return exp.cast(exp.Literal.string(text), exp.DataType.build("timestamp"))


def _with_freshness_column(query: exp.Query) -> exp.Expression:
    return exp.select(exp.Star(), exp.alias_(exp.column("data_load_time"), FRESHNESS_COLUMN)).from_(
        query.subquery("sigma_query")
    )
