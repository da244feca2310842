"""DuckDB: the file goes straight from ``read_csv`` (typed, parallel) into the table in one statement."""

from __future__ import annotations

from typing import Any

import duckdb
import sqlalchemy as sa
from sqlalchemy.sql import quoted_name

from pipelines.warehouse.bulk import ROWCOUNT, BulkLoad
from pipelines.warehouse.identifiers import PARTITION_COLUMN

# Read buffer per thread: small enough for the loader's bounded buffer pool (see warehouse.py),
# large enough that read_csv keeps its full speed.
READ_BUFFER_BYTES = 2 * 1024 * 1024
# Every option spelled out, so nothing is sniffed: RFC 4180 quoting, empty fields are NULL (quoted
# or not), rows with the wrong number of fields are errors.
_READ_CSV = (
    "SELECT * FROM read_csv(:path, header = true, columns = :columns, auto_detect = false, "
    "delim = ',', quote = '\"', escape = '\"', nullstr = '', allow_quoted_nulls = true, "
    "strict_mode = true, null_padding = false, ignore_errors = false, buffer_size = :buffer_size)"
)
_BIGINT_TEXT = r"\s*[+-]?[0-9]+\s*"

# Errors that mean "this file does not parse", as opposed to I/O or programming errors.
_DATA_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.OutOfRangeException)


class DuckDBLoad(BulkLoad):
    """``INSERT INTO t SELECT ... FROM read_csv(...)``: no Python row loop, no staging copy.

    No indexes: DuckDB answers the loader's set queries (a window's rows, a unique column's values
    against the table's) with a columnar scan and a hash join, never with an ART index, and any
    index on a table makes DuckDB refuse to change a column's type (``ALTER COLUMN ... TYPE``).
    """

    def insert(self, conn: sa.Connection) -> int:
        plan = self.plan
        read_as = {
            # read_csv rounds "12.5" into a BIGINT column; reading text and checking keeps it an error.
            name: "VARCHAR" if type_.kind == "bigint" else type_.duckdb_name()
            for name, type_ in plan.file_types.items()
        }
        source = (
            sa.text(_READ_CSV)
            .columns(*(sa.column(quoted_name(name, quote=True)) for name in plan.file_columns))
            .subquery("source")
        )
        values: list[tuple[str, sa.ColumnElement[Any]]] = [
            (
                name,
                _strict_bigint(source.c[name], name)
                if plan.file_types[name].kind == "bigint"
                else source.c[name],
            )
            for name in plan.file_columns
        ]
        values += plan.constant_expressions()
        split = source.c[plan.spec.split_column] if plan.spec.split_column else None
        values.append((PARTITION_COLUMN, plan.split.sql(split)))
        statement = plan.target.insert().from_select(
            [name for name, _ in values], sa.select(*(expression for _, expression in values))
        )
        try:
            result = conn.execute(
                statement,
                {"path": str(plan.csv.path), "columns": read_as, "buffer_size": READ_BUFFER_BYTES},
                execution_options=ROWCOUNT,
            )
        except sa.exc.DBAPIError as error:
            if isinstance(error.orig, _DATA_ERRORS):
                raise self.malformed(str(error.orig)) from None
            raise
        return int(result.rowcount)

    def count_windows(self, conn: sa.Connection) -> dict[str, int]:
        """Rows per window after the insert; RowsOutsideWindowsError if some rows belong to none."""
        plan = self.plan
        # Rows outside every window were inserted with a NULL _partition (no earlier row has one);
        # counting them with the window's rows takes one pass over a single column.
        partition = plan.target.c[PARTITION_COLUMN]
        rows = conn.execute(
            sa.select(partition, sa.func.count())
            .where(sa.or_(plan.window_rows(), partition.is_(None)))
            .group_by(partition)
        ).all()
        return self.counts({key: count for key, count in rows}, lambda: self._example(conn))

    def _example(self, conn: sa.Connection) -> object:
        column = self.plan.spec.split_column
        if column is None:
            return None
        target = self.plan.target
        return conn.execute(
            sa.select(target.c[column]).where(target.c[PARTITION_COLUMN].is_(None)).limit(1)
        ).scalar()


def _strict_bigint(column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[Any]:
    return sa.case(
        (
            sa.or_(column.is_(None), sa.func.regexp_full_match(column, _BIGINT_TEXT)),
            sa.cast(column, sa.BigInteger),
        ),
        else_=sa.func.error(sa.literal(f"column {name}: not a whole number: ") + column),
    )
