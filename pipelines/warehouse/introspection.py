"""What a table in the warehouse looks like now: its columns and their logical types."""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.warehouse.logical_types import LogicalType, from_database, from_sqlalchemy

_COLUMNS = sa.table(
    "columns",
    sa.column("table_catalog"),
    sa.column("table_schema"),
    sa.column("table_name"),
    sa.column("column_name"),
    sa.column("data_type"),
    sa.column("numeric_precision"),
    sa.column("numeric_scale"),
    sa.column("ordinal_position"),
    schema="information_schema",
)


def existing_columns(conn: sa.Connection, schema: str | None, table: str) -> dict[str, LogicalType] | None:
    """The table's columns in order with their logical types; None when the table does not exist."""
    if conn.dialect.name in ("duckdb", "postgresql"):
        # duckdb-engine's SQLAlchemy reflection queries PostgreSQL catalogues DuckDB does not have;
        # information_schema answers the same question on both.
        query = (
            sa.select(
                _COLUMNS.c.column_name,
                _COLUMNS.c.data_type,
                _COLUMNS.c.numeric_precision,
                _COLUMNS.c.numeric_scale,
            )
            .where(
                _COLUMNS.c.table_catalog == sa.func.current_database(),
                _COLUMNS.c.table_schema == (schema if schema is not None else sa.func.current_schema()),
                _COLUMNS.c.table_name == table,
            )
            .order_by(_COLUMNS.c.ordinal_position)
        )
        rows = conn.execute(query).all()
        if not rows:
            return None
        return {
            name: from_database(data_type, precision, scale) for name, data_type, precision, scale in rows
        }
    inspector = sa.inspect(conn)
    if not inspector.has_table(table, schema=schema):
        return None
    return {
        column["name"]: from_sqlalchemy(column["type"]) for column in inspector.get_columns(table, schema)
    }


def schema_exists(conn: sa.Connection, schema: str) -> bool:
    """Whether ``schema`` exists."""
    return bool(sa.inspect(conn).has_schema(schema))
