r"""PostgreSQL: ``COPY ... FROM STDIN`` (psycopg 3) straight into the table, inside the load's transaction.

The file goes through :mod:`pipelines.warehouse.copy_stream` on its way: each record leaves with
its window key and the load's constant columns appended, so the server reads the file once, into
the table. Everything the load checks is checked before the commit (rows per window, row
accounting, unique values), so a failure rolls the whole transaction back and leaves the table as
it was. Rewriting runs in a thread of its own while the server reads the previous buffer.

A file the rewriting cannot vouch for (a decimal PostgreSQL would round, a record outside every
window, a split value in another spelling, a record COPY refuses) takes the careful path instead,
from a savepoint: COPY into a typed temporary table (decimals unconstrained), one pass over it
(rows per window, decimals the column would round or cannot hold), then ``INSERT ... SELECT``.

On that path COPY reads CSV with two rules of its own, so two kinds of line are edited on the way
(found by the scan, never inside a quoted field): a record that is exactly ``\.`` is COPY's
end-of-data marker (PostgreSQL before 18 silently stops reading there), so it is sent quoted,
``"\."``, the same value; a blank line, which DuckDB and the portable path skip, COPY refuses, so
it is left out. The rewritten stream has neither.
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
from pipelines.warehouse.copy_stream import (
    CopyStream,
    NotStreamable,
    StreamLayout,
    csv_field,
    layout_for,
    prefetched,
    streamable,
)
from pipelines.warehouse.identifiers import PARTITION_COLUMN
from pipelines.warehouse.logical_types import LogicalType

CHUNK_BYTES = 1 << 20
_STAGE = "_warehouse_stage"


class PostgresLoad(BulkLoad):
    """COPY of the rewritten file into the table; or, for a file the rewriting cannot vouch for,
    COPY into a temporary staging table (dropped at commit), then one INSERT ... SELECT."""

    _stage: sa.Table
    _layout: StreamLayout | None = None
    _constants: dict[str, str | None]  # constant columns sent in the stream, as text
    _defaults: dict[str, str | None]  # constant columns given as defaults during the COPY

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
        missing = [name for name in columns if (name,) not in indexed]
        if missing:
            # The sort of a 1M-row first load fits in memory then, instead of spilling to disk.
            conn.execute(sa.text("SET LOCAL maintenance_work_mem TO '256MB'"))
        for name in missing:
            sa.Index(None, target.c[name]).create(conn)

    def prepare(self, conn: sa.Connection) -> None:
        # Year-first reading of dates: '01/02/2026' fails instead of meaning what DateStyle says.
        conn.execute(sa.text("SET LOCAL DateStyle TO 'ISO, YMD'"))
        self._layout = self._stream_layout(conn)
        if self._layout is None:
            self._stage_file(conn)

    def insert(self, conn: sa.Connection) -> int:
        if self._layout is not None:
            savepoint = conn.begin_nested()
            try:
                inserted = self._copy_into_target(conn, self._layout)
            except (NotStreamable, psycopg.errors.DataError, psycopg.errors.BadCopyFileFormat):
                # Nothing of the attempt stays; the careful path gives the file its verdict.
                savepoint.rollback()
                self._stage_file(conn)
            else:
                savepoint.commit()
                return inserted
        return self._insert_from_stage(conn)

    def _stream_layout(self, conn: sa.Connection) -> StreamLayout | None:
        """How the file can be rewritten on its way into the table, or None (the careful path)."""
        plan = self.plan
        if streamable(plan.split) is not None:
            return None
        decimals = {
            name: type_.scale
            for name, type_ in plan.file_types.items()
            if type_.kind == "decimal" and type_.scale is not None
        }
        # The constants as PostgreSQL itself writes them in their column types, so COPY reads back
        # exactly the values an INSERT would have stored.
        expressions = plan.constant_expressions()
        texts = conn.execute(sa.select(*(sa.cast(value, sa.Text) for _, value in expressions))).one()
        constants = {name: text for (name, _), text in zip(expressions, texts, strict=True)}
        self._constants, self._defaults = constants, {}
        if plan.create:
            # A table this transaction created is seen by no one else, so its constant columns can
            # take their values as column defaults during the COPY (dropped again before the
            # commit): the server then parses no constant timestamps row after row.
            self._constants, self._defaults = {}, constants
        stream = b"".join(b"," + csv_field(text) for text in self._constants.values())
        return layout_for(plan.file_columns, plan.split, decimals, stream)

    def _copy_into_target(self, conn: sa.Connection, layout: StreamLayout) -> int:
        plan = self.plan
        target = plan.target
        file_columns = [sql.Identifier(name) for name in plan.file_columns]
        columns = [*file_columns, sql.Identifier(PARTITION_COLUMN)]
        columns += [sql.Identifier(name) for name in self._constants]
        table = (
            sql.Identifier(str(target.schema), str(target.name))
            if target.schema
            else sql.Identifier(str(target.name))
        )
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        defaults = [
            sql.SQL("ALTER COLUMN {} SET DEFAULT {}::{}").format(
                sql.Identifier(name),
                sql.Literal(text),
                sql.SQL(target.c[name].type.compile(dialect=conn.dialect)),
            )
            for name, text in self._defaults.items()
            if text is not None
        ]
        if defaults:
            raw.execute(sql.SQL("ALTER TABLE {} {}").format(table, sql.SQL(", ").join(defaults)))
        # FORCE_NULL: a quoted empty field is NULL too, as in every other path.
        copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, FORCE_NULL ({}))").format(
            table, sql.SQL(", ").join(columns), sql.SQL(", ").join(file_columns)
        )
        stream = CopyStream(plan.csv.path, layout)
        with raw.cursor() as cursor:
            with cursor.copy(copy) as writer, prefetched(stream.chunks()) as chunks:
                for chunk in chunks:
                    writer.write(chunk)
            inserted = cursor.rowcount
        if defaults:
            dropped = [
                sql.SQL("ALTER COLUMN {} DROP DEFAULT").format(sql.Identifier(name))
                for name, text in self._defaults.items()
                if text is not None
            ]
            raw.execute(sql.SQL("ALTER TABLE {} {}").format(table, sql.SQL(", ").join(dropped)))
        if stream.records != plan.scan.records:
            raise NotStreamable("the rewriting and the scan count the records differently")
        return inserted

    def _stage_file(self, conn: sa.Connection) -> None:
        """COPY the file into the staging table and check it there, before anything is inserted."""
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

    def _insert_from_stage(self, conn: sa.Connection) -> int:
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
