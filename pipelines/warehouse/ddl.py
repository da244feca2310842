"""The schema changes SQLAlchemy Core has no construct for: adding a column to an existing table,
giving a column (all of whose kept values are NULL) a type, dropping a column.

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


class RetypeEmptyColumn(ExecutableDDLElement):
    """``ALTER TABLE <table> ALTER COLUMN <column> TYPE <type> USING NULL``: give ``column`` (of a
    ``sa.Table`` that lists it with its new type) that type, every value becoming NULL. Only for a
    column whose values are all NULL already (DuckDB and PostgreSQL)."""

    inherit_cache = False

    def __init__(self, column: sa.Column[Any]) -> None:
        assert isinstance(column.table, sa.Table), "the column must belong to a table"
        self.table = column.table
        self.column = column


@compiles(RetypeEmptyColumn)
def _compile_retype(element: RetypeEmptyColumn, compiler: DDLCompiler, **kw: Any) -> str:
    table = compiler.preparer.format_table(element.table)
    column = compiler.preparer.format_column(element.column)
    type_ = compiler.dialect.type_compiler_instance.process(element.column.type)
    return f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_} USING NULL"


class DropColumn(ExecutableDDLElement):
    """``ALTER TABLE <table> DROP COLUMN <column>`` for a column of ``table``."""

    inherit_cache = False

    def __init__(self, column: sa.Column[Any]) -> None:
        assert isinstance(column.table, sa.Table), "the column must belong to a table"
        self.table = column.table
        self.column = column


@compiles(DropColumn)
def _compile_drop_column(element: DropColumn, compiler: DDLCompiler, **kw: Any) -> str:
    table = compiler.preparer.format_table(element.table)
    return f"ALTER TABLE {table} DROP COLUMN {compiler.preparer.format_column(element.column)}"
