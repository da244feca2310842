"""The error a Sigma query run fails with, worded as Trino words it, at a place in the user's SQL.

Trino prefixes an analysis error with where it happened, ``line 1:8: Function 'strftime' not
registered``; :meth:`Source.error` does the same from a character offset. The emulator runs the
query on DuckDB, so some errors only surface there: :func:`translate_duckdb` turns the common
ones into Trino's words and strips what DuckDB adds (its error class, the rewritten SQL it quotes,
internal schema names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from stripe_emulator.datagen import RAW_SCHEMA

__all__ = ["SigmaSqlError", "Source", "end_of", "start_of", "translate_duckdb"]


class SigmaSqlError(Exception):
    """A Sigma query that cannot run; the message says why, in terms of the query that was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Source:
    """The SQL text a user sent, to turn character offsets into Trino's ``line L:C`` positions."""

    sql: str

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column of the character at ``offset``."""
        offset = max(0, min(offset, len(self.sql)))
        line_start = self.sql.rfind("\n", 0, offset) + 1
        return self.sql.count("\n", 0, offset) + 1, offset - line_start + 1

    def error(self, offset: int | None, message: str) -> SigmaSqlError:
        """``message`` prefixed with the position of ``offset`` (no prefix when it is unknown)."""
        if offset is None:
            return SigmaSqlError(message)
        line, column = self.position(offset)
        return SigmaSqlError(f"line {line}:{column}: {message}")


def start_of(node: exp.Expression) -> int | None:
    """The offset where ``node`` starts in the user's SQL, from the positions its tokens left."""
    starts = [n.meta["start"] for n in node.walk() if n._meta and "start" in n._meta]
    return min(starts) if starts else None


def end_of(node: exp.Expression) -> int | None:
    """The offset of the last character of ``node`` in the user's SQL."""
    ends = [n.meta["end"] for n in node.walk() if n._meta and "end" in n._meta]
    return max(ends) if ends else None


# DuckDB's type names in its messages, as Trino names them.
_TYPE_NAMES = {
    "INTEGER_LITERAL": "integer",
    "INTEGER": "integer",
    "INT32": "integer",
    "BIGINT": "bigint",
    "INT64": "bigint",
    "HUGEINT": "bigint",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "DOUBLE": "double",
    "FLOAT": "real",
    "VARCHAR": "varchar",
    "STRING_LITERAL": "varchar",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp(3)",
    "TIMESTAMP WITH TIME ZONE": "timestamp(3) with time zone",
    "INTERVAL": "interval day to second",
    "JSON": "json",
}
_CAST_TARGETS = {"INT32": "INT", "INT64": "BIGINT", "INT16": "SMALLINT", "INT8": "TINYINT"}


def translate_duckdb(message: str, source: Source, query: exp.Expression | None) -> SigmaSqlError:
    """A SigmaSqlError for DuckDB's ``message``, in Trino's words where the error is a common one."""
    text = _clean_duckdb(message)
    if match := re.search(r'Referenced column "([^"]+)" not found', text):
        return _column_error(source, query, None, match.group(1), "cannot be resolved")
    if match := re.search(r'(?:Table|Values list) "([^"]+)" does not have a column named "([^"]+)"', text):
        return _column_error(source, query, match.group(1), match.group(2), "cannot be resolved")
    if match := re.search(r'Referenced table "([^"]+)" not found', text):
        return _column_error(source, query, match.group(1), None, "cannot be resolved")
    if match := re.search(r'Ambiguous reference to column name "([^"]+)"', text):
        return _column_error(source, query, None, match.group(1), "is ambiguous")
    if match := re.search(r'column "([^"]+)" must appear in the GROUP BY clause', text):
        column = _find_column(query, None, match.group(1))
        offset = start_of(column) if column is not None else None
        name = column.sql(dialect="trino") if column is not None else match.group(1)
        return source.error(offset, f"'{name}' must be an aggregate expression or appear in GROUP BY clause")
    if "Division by zero" in text:
        return SigmaSqlError("Division by zero")
    if match := re.search(r'(?:date field value out of range|invalid date field format): "(.*?)"', text):
        return SigmaSqlError(f"Value cannot be cast to date: {match.group(1)}")
    if match := re.search(
        r'(?:timestamp field value out of range|invalid timestamp field format): "(.*?)"', text
    ):
        return SigmaSqlError(f"Value cannot be cast to timestamp: {match.group(1)}")
    if match := re.search(r'Could not parse string "(.*?)" according to format specifier', text, re.DOTALL):
        return SigmaSqlError(f'Invalid format: "{match.group(1)}"')
    if match := re.search(r"Overflow in (addition|subtraction|multiplication) of (\w+) \((.*)\)!", text):
        operation, kind, operands = match.groups()
        return SigmaSqlError(f"{_TYPE_NAMES.get(kind, kind.lower())} {operation} overflow: {operands}")
    if match := re.search(r"Unimplemented type for cast \((.+?) -> (.+?)\)", text):
        source_type, target = (_TYPE_NAMES.get(t, t.lower()) for t in match.groups())
        return SigmaSqlError(f"Cannot cast {source_type} to {target}")
    if match := re.search(r"Could not convert string '(.*)' to (\w+)", text, re.DOTALL):
        value, target = match.groups()
        if target in ("DATE", "TIMESTAMP"):
            return SigmaSqlError(f"Value cannot be cast to {target.lower()}: {value}")
        return SigmaSqlError(f"Cannot cast '{value}' to {_CAST_TARGETS.get(target, target)}")
    if match := re.search(r"(?:Scalar|Aggregate|Table) Function with name (\w+) does not exist", text):
        # Only Trino's names get this far (unknown names were refused before running).
        name = match.group(1).lower()
        return SigmaSqlError(
            f"Function '{name}' is a Trino function that the Stripe emulator does not implement"
        )
    if match := re.search(
        r"No function matches the given name and argument types '(\w+)\((.*?)\)'"
        r'|Could not choose a best candidate function for the function call "(\w+)\((.*?)\)"',
        text,
    ):
        name, arguments = (
            (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        )
        types = ", ".join(_TYPE_NAMES.get(t.strip(), t.strip().lower()) for t in arguments.split(",") if t)
        return SigmaSqlError(f"Unexpected parameters ({types}) for function {name.lower()}")
    return SigmaSqlError(re.sub(r"^[A-Z][A-Za-z ]* Error: ", "", text))


def _column_error(
    source: Source, query: exp.Expression | None, table: str | None, name: str | None, problem: str
) -> SigmaSqlError:
    column = _find_column(query, table, name)
    if column is not None:
        shown = ".".join(part.name for part in column.parts)
        return source.error(start_of(column), f"Column '{shown}' {problem}")
    shown = ".".join(part for part in (table, name) if part)
    return SigmaSqlError(f"Column '{shown}' {problem}")


def _find_column(query: exp.Expression | None, table: str | None, name: str | None) -> exp.Column | None:
    """The first column reference in the user's query that DuckDB's message is about."""
    if query is None:
        return None
    matches = [
        column
        for column in query.find_all(exp.Column)
        if (name is None or column.name.lower() == name.lower())
        and (table is None or column.table.lower() == table.lower())
        and start_of(column) is not None
    ]
    # Without a table in the message, DuckDB means a reference written without one.
    unqualified = [column for column in matches if not column.table] if table is None else []
    found = unqualified or matches
    return min(found, key=lambda column: start_of(column) or 0) if found else None


def _clean_duckdb(message: str) -> str:
    """DuckDB's message without the rewritten SQL it quotes or the internal schema names."""
    message = message.split("\n\nLINE ", 1)[0].split("\nLINE ", 1)[0]
    message = message.replace(f"{RAW_SCHEMA}.", "").replace('"main.', '"').replace("main.", "")
    return message.strip()
