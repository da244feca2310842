"""DuckDB: the file goes straight from ``read_csv`` (typed, parallel) into the table in one statement."""

from __future__ import annotations

from typing import Any

import duckdb
import sqlalchemy as sa
from sqlalchemy.sql import quoted_name

from pipelines.warehouse.bulk import ROWCOUNT, BulkLoad
from pipelines.warehouse.identifiers import PARTITION_COLUMN
from pipelines.warehouse.logical_types import MAX_PRECISION, LogicalType

# Read buffer per thread: small enough for the loader's bounded buffer pool (see warehouse.py),
# large enough that read_csv keeps its full speed. A file with longer records gets buffers twice
# its longest record (read_csv needs a record within one buffer, and a buffer larger than the line
# limit).
READ_BUFFER_BYTES = 2 * 1024 * 1024
_MIN_LINE_LIMIT = 1024 * 1024
# Every option spelled out, so nothing is sniffed: RFC 4180 quoting, empty fields are NULL (quoted
# or not), rows with the wrong number of fields are errors.
READ_CSV_OPTIONS = (
    "header = true, columns = :columns, auto_detect = false, "
    "delim = ',', quote = '\"', escape = '\"', nullstr = '', allow_quoted_nulls = true, "
    "strict_mode = true, null_padding = false, ignore_errors = false, "
    "max_line_size = :max_line_size, buffer_size = :buffer_size"
)
_READ_CSV = "SELECT * FROM read_csv(:path, " + READ_CSV_OPTIONS + ")"  # noqa: S608 - constants only
_BIGINT_TEXT = r"\s*[+-]?[0-9]+\s*"

# Errors that mean "this file does not parse", as opposed to I/O or programming errors.
_DATA_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.OutOfRangeException)


def read_limits(longest_record: int) -> dict[str, int]:
    """read_csv's ``max_line_size`` and ``buffer_size`` for a file whose longest record is
    ``longest_record`` bytes (the scan measured it): the loader's bounded buffers unless a record
    needs more."""
    line = max(longest_record + 1, _MIN_LINE_LIMIT)
    return {"max_line_size": line, "buffer_size": max(READ_BUFFER_BYTES, 2 * line)}


class DuckDBLoad(BulkLoad):
    """``INSERT INTO t SELECT ... FROM read_csv(...)``: no Python row loop, no staging copy.

    No indexes: DuckDB answers the loader's set queries (a window's rows, a unique column's values
    against the table's) with a columnar scan and a hash join, never with an ART index, and any
    index on a table makes DuckDB refuse to change a column's type (``ALTER COLUMN ... TYPE``).

    Whole numbers, decimals and doubles are read as text and converted in the SELECT, where DuckDB's
    own reading would be more lenient than PostgreSQL's: it rounds "12.5" into a BIGINT and
    "12.34567" into DECIMAL(18,3), reads "1_000" as 1000 and "1e309" as infinity. Each check is an
    error that names the column; the file's own reading (``malformed``) then names the line.
    """

    def insert(self, conn: sa.Connection) -> int:
        plan = self.plan
        read_as = {
            name: "VARCHAR" if type_.kind in _CHECKED else type_.duckdb_name()
            for name, type_ in plan.file_types.items()
        }
        source = (
            sa.text(_READ_CSV)
            .columns(*(sa.column(quoted_name(name, quote=True)) for name in plan.file_columns))
            .subquery("source")
        )
        values: list[tuple[str, sa.ColumnElement[Any]]] = [
            (name, _checked(source.c[name], name, plan.file_types[name])) for name in plan.file_columns
        ]
        values += plan.constant_expressions()
        split = source.c[plan.spec.split_column] if plan.spec.split_column else None
        values.append((PARTITION_COLUMN, plan.split.sql(split)))
        statement = plan.target.insert().from_select(
            [name for name, _ in values], sa.select(*(expression for _, expression in values))
        )
        parameters = {"path": str(plan.csv.path), "columns": read_as, **read_limits(plan.scan.longest_record)}
        try:
            return int(conn.execute(statement, parameters, execution_options=ROWCOUNT).rowcount)
        except sa.exc.DBAPIError as error:
            if not isinstance(error.orig, _DATA_ERRORS):
                raise
            message = str(error.orig)
        # Raised outside the handler: DuckDB's message quotes the whole CSV line, so it must not
        # travel along as the error's context.
        raise self.malformed(message) from None

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


_CHECKED = ("bigint", "decimal", "double")


def _checked(column: sa.ColumnElement[Any], name: str, type_: LogicalType) -> sa.ColumnElement[Any]:
    """``column`` (read as text when its type is checked) converted to ``type_``."""
    if type_.kind == "bigint":
        return _strict_bigint(column, name)
    if type_.kind == "decimal":
        return _strict_decimal(column, name, type_)
    if type_.kind == "double":
        return _strict_double(column, name)
    return column


def _fail(name: str, reason: str) -> sa.ColumnElement[Any]:
    # A constant message: the value itself is quoted (shortened) by the file's own reading.
    return sa.func.error(sa.literal(f"column {name}: {reason}"))


def _strict_bigint(column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[Any]:
    return sa.case(
        (
            sa.or_(column.is_(None), sa.func.regexp_full_match(column, _BIGINT_TEXT)),
            sa.cast(column, sa.BigInteger),
        ),
        else_=_fail(name, "not a whole number"),
    )


def _strict_decimal(column: sa.ColumnElement[Any], name: str, type_: LogicalType) -> sa.ColumnElement[Any]:
    assert type_.precision is not None and type_.scale is not None
    target = type_.to_sqlalchemy()
    # Exact: the value read with every decimal place DuckDB can give while keeping the column's
    # whole digits, against the value rounded to the column. DECIMAL(38, s) leaves no room to
    # widen, so there the text is checked for a non-zero digit beyond the column's places.
    extra = MAX_PRECISION - type_.precision
    if extra > 0:
        wide = sa.Numeric(MAX_PRECISION, type_.scale + extra)
        rounds = sa.cast(column, wide) != sa.cast(column, target)
    else:
        rounds = sa.func.regexp_matches(column, rf"\.[0-9]{{{type_.scale}}}[0-9]*[1-9]")
    return sa.case(
        (column.is_(None), sa.null()),
        (sa.func.contains(column, "_"), _fail(name, "not a decimal number")),
        (rounds, _fail(name, f"more than {type_.scale} decimal places, which {type_} cannot hold")),
        else_=sa.cast(column, target),
    )


def _strict_double(column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[Any]:
    number = sa.cast(column, sa.Double)
    return sa.case(
        (column.is_(None), sa.null()),
        (sa.func.contains(column, "_"), _fail(name, "not a number")),
        # Beyond a double's range, as PostgreSQL refuses it: infinity from digits (1e309), zero from
        # digits that are not all zero (1e-400).
        (
            sa.or_(
                sa.and_(sa.func.isinf(number), sa.not_(sa.func.regexp_matches(column, "(?i)inf"))),
                sa.and_(number == 0, sa.func.regexp_matches(column, "^[^eE]*[1-9]")),
            ),
            _fail(name, "out of range for double"),
        ),
        else_=number,
    )
