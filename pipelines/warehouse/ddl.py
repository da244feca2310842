"""The one schema change SQLAlchemy Core has no construct for: adding a column to an existing table.

Compiled by the dialect like any DDL: its own quoting of the table and column names, its own
spelling of the column's type.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement
from sqlalchemy.sql.compiler import DDLCompiler


class AddColumn(ExecutableDDLElement):
    """``ALTER TABLE <table> ADD COLUMN <column>`` for a column of ``table`` (a ``sa.Table`` that
    already lists it)."""

    inherit_cache = False

    def __init__(self, column: sa.Column[Any]) -> None:
        assert isinstance(column.table, sa.Table), "the column must belong to a table"
        self.table = column.table
        self.column = column


@compiles(AddColumn)
def _compile_add_column(element: AddColumn, compiler: DDLCompiler, **kw: Any) -> str:
    table = compiler.preparer.format_table(element.table)
    return f"ALTER TABLE {table} ADD COLUMN {compiler.get_column_specification(element.column)}"
