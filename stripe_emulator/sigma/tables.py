"""The Sigma schema: one view per Sigma table over the raw generated tables.

Each view shows a raw table as Sigma would at the run's ``data_load_time`` and for the run's
account. The tables, their columns and views are defined beside the data they show, in
:mod:`stripe_emulator.datagen.sigma_schema` (their columns read the raw tables' hidden columns);
this module gives the runner their names and column types.
"""

from __future__ import annotations

import duckdb

from stripe_emulator.datagen.sigma_schema import SIGMA_TABLES, TABLE_NAMES, install_views
from stripe_emulator.sigma.types import TrinoType, from_duckdb

__all__ = ["SIGMA_TABLES", "TABLE_NAMES", "column_types", "install_views"]


def column_types(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, TrinoType | None]]:
    """The Trino type of every column of the Sigma views, by table and column (lower case)."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND database_name = current_database()"
    ).fetchall()
    schema: dict[str, dict[str, TrinoType | None]] = {}
    for table, column, data_type in rows:
        schema.setdefault(table.lower(), {})[column.lower()] = from_duckdb(data_type)
    return schema
