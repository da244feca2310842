"""Sigma: Trino SQL over the generated data, as one account saw it at one ``data_load_time``.

A query is parsed as Trino with sqlglot, checked (one SELECT, known tables only, no unsupported
constructs), has its bare ``data_load_time`` bound to the run's value, and is rewritten as DuckDB
SQL. It then runs against views over the raw tables that hide rows the run may not see: rows of
other accounts and rows created at or after ``data_load_time``. The views read both from session
variables, so every run sets them on its own DuckDB cursor and runs in parallel with the others.

DuckDB runs with ``integer_division`` so ``5 / 2`` is ``2`` as in Trino, and in UTC.
"""

from __future__ import annotations

import csv
import difflib
import re
from datetime import datetime
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, UnsupportedError
from sqlglot.optimizer.scope import traverse_scope

from stripe_emulator.datagen import RAW_SCHEMA
from stripe_emulator.sigma.errors import SigmaSqlError
from stripe_emulator.sigma.tables import TABLE_NAMES
from stripe_emulator.timestamps import naive_utc

__all__ = ["run_query", "translate"]

_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%g"


def translate(sql: str, data_load_time: datetime) -> str:
    """Sigma's Trino ``sql`` as DuckDB SQL, with ``data_load_time`` bound; SigmaSqlError if it cannot run."""
    query = _parse(sql)
    _check_tables(query)
    _check_constructs(query)
    query = _bind_data_load_time(query, data_load_time)
    query = _trino_semantics(query)
    _name_columns(query)
    try:
        return query.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        raise SigmaSqlError(f"Unsupported SQL construct: {_clean_sqlglot(str(error))}") from error


def run_query(
    cursor: duckdb.DuckDBPyConnection, sql: str, out_path: Path, *, data_load_time: datetime, account: str
) -> tuple[int, list[str]]:
    """Run ``sql`` as ``account`` saw the data at ``data_load_time`` and write the result CSV.

    ``cursor`` must be a DuckDB connection of its own (``connection.cursor()``): the run's
    visibility lives in its session variables. Returns the row count and the column names.
    """
    duckdb_sql = translate(sql, data_load_time)
    cursor.execute("SET integer_division = true")
    cursor.execute("SET TimeZone = 'UTC'")
    cursor.execute(
        "SET VARIABLE sigma_data_load_time = CAST($t AS TIMESTAMP)", {"t": naive_utc(data_load_time)}
    )
    cursor.execute("SET VARIABLE sigma_account = $a", {"a": account})
    try:
        written = cursor.execute(
            f"COPY ({duckdb_sql}) TO $path (FORMAT csv, HEADER, TIMESTAMPFORMAT '{_TIMESTAMP_FORMAT}')",
            {"path": str(out_path)},
        ).fetchone()
    except duckdb.Error as error:
        raise SigmaSqlError(_clean_duckdb(str(error))) from error
    with out_path.open(newline="", encoding="utf-8") as handle:
        columns = next(csv.reader(handle), [])
    return int(written[0]) if written else 0, columns


# ----------------------------------------------------------------------------------------------
# Checks


def _parse(sql: str) -> exp.Query:
    try:
        statements = [
            s for s in sqlglot.parse(sql, read="trino", error_level=ErrorLevel.RAISE) if s is not None
        ]
    except ParseError as error:
        details = error.errors[0] if error.errors else {}
        if details:
            near = details.get("highlight") or ""
            raise SigmaSqlError(
                f"Syntax error at line {details.get('line')}, column {details.get('col')}"
                f"{f' near {near!r}' if near else ''}: {_clean_sqlglot(details.get('description', ''))}"
            ) from error
        raise SigmaSqlError(f"Syntax error: {_clean_sqlglot(str(error))}") from error
    if not statements:
        raise SigmaSqlError("No SQL query was given")
    if len(statements) > 1:
        raise SigmaSqlError(f"Sigma runs a single query; got {len(statements)} statements")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise SigmaSqlError(f"Sigma only runs SELECT queries; got {_statement_kind(statement)}")
    return statement


def _statement_kind(statement: exp.Expression) -> str:
    if isinstance(statement, exp.Command):
        return str(statement.this).upper()
    return statement.key.upper()


def _check_tables(query: exp.Query) -> None:
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            name = table.this.sql(dialect="trino") if table.this else "?"
            raise SigmaSqlError(f"Table functions are not supported: {name}")
        name = table.name.lower()
        qualified = ".".join(part.name for part in table.parts)
        if (table.args.get("db") or table.args.get("catalog")) or (
            name not in TABLE_NAMES and name not in ctes
        ):
            hint = difflib.get_close_matches(name, sorted(TABLE_NAMES), n=1)
            suggestion = f". Did you mean '{hint[0]}'?" if hint else ""
            raise SigmaSqlError(f"Table '{qualified}' does not exist{suggestion}")


# Constructs that parse as Trino but that this Sigma does not run; named in the error.
_UNSUPPORTED = {
    exp.MatchRecognize: "MATCH_RECOGNIZE",
    exp.Into: "SELECT ... INTO",
}
# DuckDB functions that would let a query look behind Sigma's views.
_HIDDEN_FUNCTIONS = frozenset({"getvariable", "current_setting"})


def _check_constructs(query: exp.Query) -> None:
    for node_type, name in _UNSUPPORTED.items():
        if query.find(node_type) is not None:
            raise SigmaSqlError(f"Unsupported SQL construct: {name}")
    for function in query.find_all(exp.Anonymous):
        if str(function.this).lower() in _HIDDEN_FUNCTIONS:
            raise SigmaSqlError(f"Function '{function.this}' not registered")


# ----------------------------------------------------------------------------------------------
# Rewrites


def _bind_data_load_time(query: exp.Query, moment: datetime) -> exp.Query:
    """Replace the bare ``data_load_time`` identifier by a TIMESTAMP literal.

    A column of that name coming from a CTE or subquery keeps its meaning, and so does an
    ORDER BY/GROUP BY that refers to a select alias named ``data_load_time``.
    """
    text = naive_utc(moment).isoformat(sep=" ")
    literal = exp.cast(exp.Literal.string(text), exp.DataType.build("timestamp"))

    def is_bare(column: exp.Expression) -> bool:
        return isinstance(column, exp.Column) and not column.table and column.name.lower() == "data_load_time"

    targets: list[exp.Column] = []
    try:
        for scope in traverse_scope(query):
            shadowed = any(_exposes_data_load_time(source) for _, source in scope.selected_sources.values())
            aliases = {
                e.alias.lower()
                for e in getattr(scope.expression, "expressions", [])
                if isinstance(e, exp.Alias)
            }
            for column in scope.columns:
                if not is_bare(column) or shadowed:
                    continue
                in_clause = column.find_ancestor(exp.Order, exp.Group, exp.Select)
                if "data_load_time" in aliases and isinstance(in_clause, exp.Order | exp.Group):
                    continue
                targets.append(column)
    except OptimizeError:
        targets = [column for column in query.find_all(exp.Column) if is_bare(column)]
    for column in {id(c): c for c in targets}.values():
        replacement = literal.copy()
        # A projection that is just `data_load_time` keeps that name, as in Sigma's result header.
        if isinstance(column.parent, exp.Select) and column.arg_key == "expressions":
            replacement = exp.alias_(replacement, "data_load_time")
        column.replace(replacement)
    return query


def _exposes_data_load_time(source: object) -> bool:
    """Whether a FROM source (a CTE or subquery scope; tables never do) has a data_load_time column."""
    expression = getattr(source, "expression", None)
    if not isinstance(expression, exp.Query):
        return False
    return "data_load_time" in {name.lower() for name in expression.named_selects}


def _trino_semantics(query: exp.Query) -> exp.Query:
    """Rewrite the few constructs whose DuckDB spelling means something else than in Trino."""

    def rewrite(node: exp.Expression) -> exp.Expression:
        # Trino: a timestamp (UTC here) shown in another zone. DuckDB's AT TIME ZONE would read the
        # timestamp as local time of that zone instead.
        if isinstance(node, exp.AtTimeZone):
            return exp.func(
                "timezone", node.args["zone"], exp.cast(node.this, exp.DataType.build("timestamptz"))
            )
        # Trino's date_diff counts whole units elapsed, DuckDB's counts unit boundaries crossed;
        # DuckDB's date_sub is the one that counts like Trino.
        if isinstance(node, exp.DateDiff) and node.args.get("unit") is not None:
            unit = exp.Literal.string(node.args["unit"].name.lower())
            return exp.Anonymous(this="date_sub", expressions=[unit, node.expression, node.this])
        # Trino's sequence() over dates yields dates with a default step of one day; DuckDB's
        # generate_series only knows timestamps.
        if isinstance(node, exp.GenerateSeries) and (
            _is_date(node.args.get("start")) or _is_date(node.args.get("end"))
        ):
            step = node.args.get("step") or exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY"))
            series = exp.GenerateSeries(
                start=exp.cast(node.args["start"], exp.DataType.build("timestamp")),
                end=exp.cast(node.args["end"], exp.DataType.build("timestamp")),
                step=step,
            )
            return exp.cast(series, exp.DataType.build("date[]", dialect="duckdb"))
        return node

    return query.transform(rewrite)


def _is_date(node: exp.Expression | None) -> bool:
    if node is None:
        return False
    if isinstance(node, exp.Cast | exp.TryCast):
        return node.to.is_type(exp.DataType.Type.DATE)
    if isinstance(node, exp.CurrentDate | exp.TsOrDsToDate | exp.StrToDate | exp.Date):
        return True
    if isinstance(node, exp.DateAdd | exp.DateSub | exp.Add | exp.Sub):
        return _is_date(node.this)
    return False


def _name_columns(query: exp.Query) -> None:
    """Name unnamed result columns ``_col0``, ``_col1``… as Trino does."""
    select = query
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for position, projection in enumerate(select.expressions):
        if not isinstance(projection, exp.Alias | exp.Column | exp.Star) and not projection.is_star:
            projection.replace(exp.alias_(projection.copy(), f"_col{position}"))


# ----------------------------------------------------------------------------------------------
# Messages


def _clean_sqlglot(message: str) -> str:
    message = re.sub(r"\x1b\[[0-9;]*m", "", message)
    return re.sub(r"<class 'sqlglot\.expressions\.[\w.]*?(\w+)'>", r"\1", message).strip()


def _clean_duckdb(message: str) -> str:
    """DuckDB's message without the rewritten SQL it quotes or the internal schema names."""
    message = message.split("\n\nLINE ", 1)[0].split("\nLINE ", 1)[0]
    message = message.replace(f"{RAW_SCHEMA}.", "").replace('"main.', '"').replace("main.", "")
    return message.strip()
