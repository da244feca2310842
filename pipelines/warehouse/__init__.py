"""Loading report files into a SQLAlchemy warehouse: each load replaces exactly its windows' rows,
in one transaction, through the database's native bulk path where there is one.

    wh = Warehouse("duckdb:///data/warehouse.duckdb", schema="stripe")
    spec = LoadSpec(table="payouts", columns=[...], windows=[...], split_column="effective_at_utc")
    result = wh.replace_windows(path, spec)

Every SQL statement against the warehouse's tables is written here (``Warehouse.row_counts``,
``preview``, ``totals``), and every CSV file is read here (``read_header``, ``CsvFile``).
"""

from pipelines.warehouse.changes import DEFAULT_AMOUNT_COLUMNS, ChangeSet, ChangeSpec, WindowChanges
from pipelines.warehouse.closed_periods import ALL_ACCOUNTS, ClosedPeriod, Variance
from pipelines.warehouse.csv_file import CsvFile, read_header
from pipelines.warehouse.errors import (
    DuplicateRowsError,
    IdentifierError,
    LoadSpecError,
    MalformedFileError,
    MissingColumnsError,
    PeriodError,
    RowCountMismatchError,
    RowsOutsideWindowsError,
    SchemaDriftError,
    SourceRowCountError,
    StaleLoadError,
    WarehouseBusyError,
    WarehouseError,
)
from pipelines.warehouse.identifiers import LOADED_AT_COLUMN, PARTITION_COLUMN, RESERVED_COLUMNS
from pipelines.warehouse.periods import Periods
from pipelines.warehouse.spec import Column, LoadResult, LoadSpec, Window
from pipelines.warehouse.warehouse import DEFAULT_WAREHOUSE_URL, Warehouse

__all__ = [
    "ALL_ACCOUNTS",
    "DEFAULT_AMOUNT_COLUMNS",
    "DEFAULT_WAREHOUSE_URL",
    "LOADED_AT_COLUMN",
    "PARTITION_COLUMN",
    "RESERVED_COLUMNS",
    "ChangeSet",
    "ChangeSpec",
    "ClosedPeriod",
    "Column",
    "CsvFile",
    "DuplicateRowsError",
    "IdentifierError",
    "LoadResult",
    "LoadSpec",
    "LoadSpecError",
    "MalformedFileError",
    "MissingColumnsError",
    "PeriodError",
    "Periods",
    "RowCountMismatchError",
    "RowsOutsideWindowsError",
    "SchemaDriftError",
    "SourceRowCountError",
    "StaleLoadError",
    "Variance",
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseError",
    "Window",
    "WindowChanges",
    "read_header",
]
