r"""PostgreSQL: ``COPY ... FROM STDIN`` (psycopg 3) into a typed temporary table, then ``INSERT ... SELECT``.

The file is streamed in chunks, so memory does not grow with its size. Staging first means a file
that does not parse, or has rows outside every window, fails before anything is deleted.

COPY reads CSV with two rules of its own, so two kinds of line are edited on the way (found by the
scan, never inside a quoted field): a record that is exactly ``\.`` is COPY's end-of-data marker
(PostgreSQL before 18 silently stops reading there), so it is sent quoted, ``"\."``, the same
value; a blank line, which DuckDB and the portable path skip, COPY refuses, so it is left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.sql import quoted_name

from pipelines.warehouse.bulk import ROWCOUNT, BulkLoad
from pipelines.warehouse.identifiers import PARTITION_COLUMN
from pipelines.warehouse.logical_types import LogicalType

CHUNK_BYTES = 1 << 20
_STAGE = "_warehouse_stage"


class PostgresLoad(BulkLoad):
    """COPY into a temporary staging table (dropped at commit), then one INSERT ... SELECT."""

    _stage: sa.Table

    def ensure_indexes(self, conn: sa.Connection) -> None:
        # _partition: deletes find a window's rows through it instead of scanning the whole table.
        # The unique column: it is looked up as a set (values that moved across windows, the
        # whole-table duplicate check). Created after the insert when missing: one sorted build is
        # faster than keeping the index up to date row by row through a large first load (a
        # 1M-row month: about 1 s against 3 s), and a table created before the unique column was
        # indexed gets its index on its next load. Names come from the plan's naming convention
        # (shortened with a hash past 63 characters).
        target = self.plan.target
        columns = [
            PARTITION_COLUMN,
            *([self.plan.spec.unique_column] if self.plan.spec.unique_column else []),
        ]
        # An existing index is recognised by its columns, not its name: SQLAlchemy's checkfirst looks
        # the name up unshortened, so it misses a name the convention shortened past 63 characters.
        indexed: set[tuple[str, ...]] = set()
        if not self.plan.create:
            indexes = sa.inspect(conn).get_indexes(str(target.name), schema=target.schema)
            indexed = {tuple(index["column_names"]) for index in indexes}
        for name in columns:
            if (name,) not in indexed:
                sa.Index(None, target.c[name]).create(conn)

    def prepare(self, conn: sa.Connection) -> None:
        plan = self.plan
        self._stage = sa.Table(
            quoted_name(_STAGE, quote=True),
            sa.MetaData(),
            *(
                sa.Column(quoted_name(name, quote=True), _stage_type(type_))
                for name, type_ in plan.file_types.items()
            ),
            prefixes=["TEMPORARY"],
            postgresql_on_commit="DROP",
        )
        self._stage.create(conn)
        # Year-first reading of dates: '01/02/2026' fails instead of meaning what DateStyle says.
        conn.execute(sa.text("SET LOCAL DateStyle TO 'ISO, YMD'"))
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in plan.file_columns)
        # FORCE_NULL: a quoted empty field is NULL too, as in every other path.
        copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true, FORCE_NULL ({}))").format(
            sql.Identifier(_STAGE), columns, columns
        )
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        try:
            with raw.cursor() as cursor, cursor.copy(copy) as stream:
                for chunk in copy_chunks(plan.csv.path, self._edits()):
                    stream.write(chunk)
        except (psycopg.errors.DataError, psycopg.errors.BadCopyFileFormat) as error:
            message = str(error)
        else:
            message = None
        if message is not None:
            # Raised outside the handler: COPY's message quotes the whole CSV line (CONTEXT), so it
            # must not travel along as the error's context.
            raise self.malformed(message) from None

        # One pass over the stage: rows per window (rows outside every window are refused here,
        # before the delete) and decimals the column would round or cannot hold.
        partition = plan.split.sql(self._split_column()).label("partition")
        unfit = self._unfit_decimals()
        rows = conn.execute(
            sa.select(
                partition,
                sa.func.count(),
                sa.func.count().filter(unfit) if unfit is not None else sa.literal(0),
            )
            .select_from(self._stage)
            .group_by(partition)
        ).all()
        if any(bad for _, _, bad in rows):
            raise self.malformed("a decimal has more places than its column, or is out of its range")
        self.counts({key: count for key, count, _ in rows}, lambda: self._example(conn))

    def _unfit_decimals(self) -> sa.ColumnElement[bool] | None:
        """Rows whose decimal (staged as unconstrained numeric) the target column would round, or
        cannot hold (out of range, NaN, infinity); None when the file has no decimal column."""
        conditions = []
        for name, type_ in self.plan.file_types.items():
            if type_.kind != "decimal":
                continue
            assert type_.precision is not None and type_.scale is not None
            value = self._stage.c[name]
            limit = sa.literal(Decimal(10) ** (type_.precision - type_.scale), sa.Numeric())
            # NaN sorts above every number in PostgreSQL, so it fails the range test too.
            conditions.append(sa.or_(value != sa.func.round(value, type_.scale), sa.func.abs(value) >= limit))
        return sa.or_(*conditions) if conditions else None

    def _edits(self) -> list[tuple[int, int, bytes]]:
        scan = self.plan.scan
        edits = [(offset, 2, b'"\\."') for offset in scan.end_markers]
        edits += [(offset, length, b"") for offset, length in scan.blank_lines]
        return sorted(edits)

    def insert(self, conn: sa.Connection) -> int:
        plan = self.plan
        values: list[tuple[str, sa.ColumnElement[Any]]] = [
            (name, self._stage.c[name]) for name in plan.file_columns
        ]
        values += plan.constant_expressions()
        values.append((PARTITION_COLUMN, plan.split.sql(self._split_column())))
        statement = plan.target.insert().from_select(
            [name for name, _ in values], sa.select(*(expression for _, expression in values))
        )
        return int(conn.execute(statement, execution_options=ROWCOUNT).rowcount)

    def _split_column(self) -> sa.ColumnElement[Any] | None:
        column = self.plan.spec.split_column
        return self._stage.c[column] if column else None

    def _example(self, conn: sa.Connection) -> object:
        column = self._split_column()
        if column is None:
            return None
        return conn.execute(sa.select(column).where(self.plan.split.sql(column).is_(None)).limit(1)).scalar()


def _stage_type(type_: LogicalType) -> sa.types.TypeEngine[Any]:
    # COPY would round 12.34567 into numeric(18,3) without a word: decimals are staged unconstrained
    # and checked against their column before the insert.
    if type_.kind == "decimal":
        return sa.Numeric(asdecimal=True)
    return type_.to_sqlalchemy()


def copy_chunks(path: Path, edits: list[tuple[int, int, bytes]]) -> Iterator[bytes]:
    """The file's bytes in chunks of at most CHUNK_BYTES, with each ``(offset, length, replacement)``
    of ``edits`` (sorted, not overlapping) applied: those bytes sent as ``replacement`` instead."""
    with path.open("rb") as handle:
        position = 0
        for offset, length, replacement in edits:
            yield from _read(handle, offset - position)
            handle.seek(offset + length)
            if replacement:
                yield replacement
            position = offset + length
        yield from _read(handle, None)


def _read(handle: BinaryIO, count: int | None) -> Iterator[bytes]:
    """``count`` bytes from ``handle`` (None: to its end), in chunks of at most CHUNK_BYTES."""
    while count is None or count > 0:
        chunk = handle.read(CHUNK_BYTES if count is None else min(CHUNK_BYTES, count))
        if not chunk:
            return
        if count is not None:
            count -= len(chunk)
        yield chunk
