"""The warehouse: replacing a table's windows from a CSV file in one transaction, and reading back
what the Dagster layer shows (counts, a window's first rows, sums). Every statement against a
warehouse table is SQLAlchemy Core over checked, quoted identifiers, with every value bound."""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool, StaticPool

from pipelines.warehouse.bulk import BulkLoad
from pipelines.warehouse.closed_periods import ChangeTracker
from pipelines.warehouse.csv_file import CsvFile
from pipelines.warehouse.ddl import AddColumn, DropColumn, RetypeEmptyColumn
from pipelines.warehouse.errors import (
    DuplicateRowsError,
    LoadSpecError,
    RowCountMismatchError,
    SourceRowCountError,
    StaleLoadError,
)
from pipelines.warehouse.identifiers import PARTITION_COLUMN, check_identifier, qualify
from pipelines.warehouse.inference import DEFAULT_SAMPLE_ROWS, infer_types
from pipelines.warehouse.introspection import existing_columns, schema_exists
from pipelines.warehouse.locks import (
    advisory_lock,
    immediate_sqlite_transactions,
    local_lock,
    retry_busy_file,
    retry_conflicts,
)
from pipelines.warehouse.logical_types import TIMESTAMP, field_parser, to_database_value
from pipelines.warehouse.plan import LoadPlan, build_plan, check_file_columns, undecided_candidates
from pipelines.warehouse.scan import FileScan, scan_file
from pipelines.warehouse.spec import ChangeSet, Column, LoadResult, LoadSpec

DEFAULT_BUSY_TIMEOUT = 120.0
DEFAULT_WAREHOUSE_URL = "duckdb:///data/warehouse.duckdb"
"""The warehouse when ``WAREHOUSE_URL`` is not set: an embedded DuckDB file under ``data/``."""
# DuckDB keeps what it writes in its buffer pool, 80% of RAM by default, so a process loading a large
# file would grow with the file. Loading streams, so a small pool serves: ~24 MB per DuckDB thread
# holds read_csv's buffers and row groups in flight (measured in bench/load.py), and letting rows
# land out of file order lets read_csv stay parallel under that cap. A URL's own settings win:
# duckdb:///data/warehouse.duckdb?memory_limit=2GB&preserve_insertion_order=true
DUCKDB_MEMORY_PER_THREAD_MB = 24
_SHOWN_DUPLICATES = 10


class Warehouse:
    """A SQLAlchemy database that report files are loaded into, one schema of it.

    DuckDB (``duckdb:///path``) and PostgreSQL (``postgresql+psycopg://...``) load through their
    native bulk paths; any other dialect through batched inserts. Connections are opened per
    operation: a DuckDB file is only held while a load or query runs, so other processes can use it.

    ``busy_timeout``: how long to wait for a DuckDB or SQLite file another process is writing.
    ``sample_rows``: rows read to infer the types of files that come without them (None, the
    default: every row).
    """

    def __init__(
        self,
        url: str | sa.URL,
        schema: str | None = "stripe",
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        sample_rows: int | None = DEFAULT_SAMPLE_ROWS,
    ) -> None:
        parsed = sa.make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver this project ships
        if parsed.get_backend_name() == "duckdb":
            parsed = _with_duckdb_defaults(parsed)
        self._url = parsed
        self._schema = check_identifier(schema, "schema") if schema is not None else None
        self._sample_rows = sample_rows
        backend = parsed.get_backend_name()
        in_memory = parsed.database in (None, "", ":memory:")
        options: dict[str, Any] = {}
        if backend in ("duckdb", "sqlite"):
            # A pooled connection would keep the file open (and, for DuckDB, locked) between loads.
            options["poolclass"] = StaticPool if in_memory else NullPool
        else:
            options["pool_pre_ping"] = True
        if backend == "sqlite":
            options["connect_args"] = {"timeout": busy_timeout, "check_same_thread": False}
            if self._schema not in (None, "main"):
                raise LoadSpecError(
                    f"SQLite has no schemas; use Warehouse(url, schema=None) instead of schema={schema!r}"
                )
        self._engine = sa.create_engine(parsed, **options)
        self._dialect = self._engine.dialect.name
        self._bulk: type[BulkLoad] = bulk_load_for(self._dialect)
        if backend == "duckdb" and not in_memory:
            retry_busy_file(self._engine, busy_timeout, f"DuckDB file {parsed.database}")
        if backend == "sqlite":
            immediate_sqlite_transactions(self._engine)

    # ---- what the Dagster layer reads back ----------------------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (connections are not pooled for file databases)."""
        return self._engine

    @property
    def schema(self) -> str | None:
        """The schema tables are loaded into (None: the connection's default)."""
        return self._schema

    def qualified(self, table: str) -> str:
        """``table``'s quoted, schema-qualified name, for SQL text (``"stripe"."payouts"``)."""
        return qualify(self._engine.dialect, self._schema, check_identifier(table, "table name"))

    def table_columns(self, table: str) -> list[Column] | None:
        """The table's columns and logical types, in table order; None if the table does not exist."""
        check_identifier(table, "table name")
        with self._engine.connect() as conn:
            columns = existing_columns(conn, self._schema, table)
        if columns is None:
            return None
        return [Column(name, str(type_)) for name, type_ in columns.items()]

    def row_counts(
        self, table: str, by: str = PARTITION_COLUMN, where: Mapping[str, Any] | None = None
    ) -> dict[str, int]:
        """Rows per value of column ``by`` (text keys), optionally only rows whose columns equal ``where``.

        Empty when the table, or one of the columns in ``where``, does not exist yet.
        """
        where = self._check_columns(where)
        check_identifier(by, "column")
        with self._engine.connect() as conn:
            source = self._source(conn, table)
            if source is None or any(name not in source.c for name in where):
                return {}
            key = self._column(source, by)
            rows = conn.execute(
                sa.select(key, sa.func.count()).where(*self._equal(source, where)).group_by(key)
            ).all()
        return {_text(value): count for value, count in rows}

    def preview(
        self, table: str, window_key: str, scope: Mapping[str, str] | None = None, limit: int = 5
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` rows of one window (``_partition`` = ``window_key``) within ``scope``, every
        column as a Python value of its logical type, in the database's order (no sort).

        Empty when the table, or one of the scope columns, does not exist.
        """
        if limit < 0:
            raise LoadSpecError(f"preview of {table}: limit must not be negative, not {limit}")
        scope = self._check_columns(scope)
        with self._engine.connect() as conn:
            source = self._source(conn, table)
            if source is None or any(name not in source.c for name in scope):
                return []
            rows = conn.execute(
                sa.select(source)
                .where(source.c[PARTITION_COLUMN] == window_key, *self._equal(source, scope))
                .limit(limit)
            ).mappings()
            return [{str(name): value for name, value in row.items()} for row in rows]

    def rows(self, table: str, columns: Sequence[str]) -> list[dict[str, Any]]:
        """Every row of ``table`` with only ``columns`` (typed values), ordered by ``_partition``.

        For checks over small derived tables (one row per day); empty when the table does not exist.
        """
        names = [check_identifier(name, "column") for name in columns]
        with self._engine.connect() as conn:
            source = self._source(conn, table)
            if source is None:
                return []
            selected = [self._column(source, name) for name in names]
            rows = conn.execute(sa.select(*selected).order_by(source.c[PARTITION_COLUMN])).mappings()
            return [{str(name): value for name, value in row.items()} for row in rows]

    def totals(
        self,
        table: str,
        amount_column: str,
        *,
        group_by: str,
        window_keys: Sequence[str],
        where: Mapping[str, Any] | None = None,
    ) -> dict[tuple[str, str], Decimal]:
        """SUM(``amount_column``) per (``_partition``, ``group_by`` value as text) over the windows
        ``window_keys``, optionally only rows whose columns equal ``where``.

        Sums are exact Decimals (money columns are ``decimal(18,3)``); a group whose amounts are all
        NULL sums to 0. Empty when the table, or one of the columns in ``where``, does not exist;
        LoadSpecError (a ValueError) when ``amount_column`` or ``group_by`` does not.
        """
        check_identifier(amount_column, "column")
        check_identifier(group_by, "column")
        where = self._check_columns(where)
        with self._engine.connect() as conn:
            source = self._source(conn, table)
            if source is None or any(name not in source.c for name in where):
                return {}
            partition = source.c[PARTITION_COLUMN]
            group = self._column(source, group_by)
            amount = self._column(source, amount_column)
            rows = conn.execute(
                sa.select(partition, group, sa.func.sum(amount))
                .where(partition.in_(list(window_keys)), *self._equal(source, where))
                .group_by(partition, group)
            ).all()
        return {(_text(key), _text(value)): _decimal(total) for key, value, total in rows}

    def grouped_totals(
        self,
        table: str,
        amount_columns: Sequence[str],
        *,
        group_by: Sequence[str],
        window_keys: Sequence[str],
        where: Mapping[str, Any] | None = None,
        exclude: Mapping[str, Sequence[Any]] | None = None,
    ) -> dict[tuple[str, ...], tuple[Decimal, ...]]:
        """SUM of each of ``amount_columns`` per (``_partition``, each ``group_by`` value as text) over
        the windows ``window_keys``: one grouped query, values bound.

        ``where`` keeps rows whose columns equal its values; ``exclude`` drops rows whose column holds
        one of its values (NULLs are kept). Sums are exact Decimals, 0 for a group of NULLs. Empty
        when the table, or a column of ``where`` or ``exclude``, does not exist; LoadSpecError when
        an amount or group column does not.
        """
        for name in (*amount_columns, *group_by):
            check_identifier(name, "column")
        where = self._check_columns(where)
        exclude = self._check_columns(exclude)
        with self._engine.connect() as conn:
            source = self._source(conn, table)
            if source is None or any(name not in source.c for name in (*where, *exclude)):
                return {}
            partition = source.c[PARTITION_COLUMN]
            groups = [self._column(source, name) for name in group_by]
            sums = [sa.func.sum(self._column(source, name)) for name in amount_columns]
            excluded = [
                sa.or_(source.c[name].is_(None), source.c[name].not_in(list(values)))
                for name, values in exclude.items()
            ]
            rows = conn.execute(
                sa.select(partition, *groups, *sums)
                .where(partition.in_(list(window_keys)), *self._equal(source, where), *excluded)
                .group_by(partition, *groups)
            ).all()
        width = 1 + len(groups)
        return {
            tuple(_text(value) for value in row[:width]): tuple(_decimal(total) for total in row[width:])
            for row in rows
        }

    def duplicate_ids(
        self, table: str, column: str, scope: Mapping[str, Any] | None = None, limit: int = 10
    ) -> list[tuple[Any, list[str]]]:
        """Values of ``column`` held by more than one row of the whole table (within ``scope``), each
        with the window key of every row holding it, sorted; the first ``limit`` values, in order.

        The check a unique column's table answers at any time, whatever the loads were: one grouped
        query (index-backed on PostgreSQL, where the loader indexes the unique column), then the
        partitions of the few values found. NULLs are no value. Empty when the table, or a scope
        column, does not exist.
        """
        if limit < 0:
            raise LoadSpecError(f"duplicate_ids of {table}: limit must not be negative, not {limit}")
        scope = self._check_columns(scope)
        check_identifier(column, "column")
        with self._engine.connect() as conn:
            source = self._source(conn, table)
            if source is None or any(name not in source.c for name in scope):
                return []
            value = self._column(source, column)
            partition = source.c[PARTITION_COLUMN]
            present = [value.is_not(None), *self._equal(source, scope)]
            repeated = (
                conn.execute(
                    sa.select(value)
                    .where(*present)
                    .group_by(value)
                    .having(sa.func.count() > 1)
                    .order_by(value)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            if not repeated:
                return []
            rows = conn.execute(
                sa.select(value, partition).where(*present, value.in_(repeated)).order_by(value, partition)
            ).all()
        partitions: dict[Any, list[str]] = {found: [] for found in repeated}
        for found, key in rows:
            partitions[found].append(_text(key))
        return [(found, partitions[found]) for found in repeated]

    @contextmanager
    def table_transaction(self, table: str) -> Iterator[sa.Connection]:
        """A transaction holding ``table``'s writer lock, the one loads take: for state kept beside a
        table (closed periods) that a concurrent load must see before or after, never half."""
        check_identifier(table, "table name")
        with self._writer_lock(table), self._engine.connect() as conn, conn.begin():
            if self._dialect == "postgresql":
                advisory_lock(conn, f"warehouse table {self._schema or ''}.{table}")
            self._ensure_schema(conn)
            yield conn

    def source_table(self, conn: sa.Connection, table: str) -> sa.Table | None:
        """``table`` with its columns typed by their logical types, or None when it does not exist."""
        return self._source(conn, table)

    def _source(self, conn: sa.Connection, table: str) -> sa.Table | None:
        """``table`` with its columns typed by their logical types (so every dialect returns the same
        Python values), or None when it does not exist."""
        check_identifier(table, "table name")
        columns = existing_columns(conn, self._schema, table)
        if columns is None:
            return None
        return sa.Table(
            sa.sql.quoted_name(table, quote=True),
            sa.MetaData(),
            *(
                sa.Column(sa.sql.quoted_name(name, quote=True), type_.to_sqlalchemy())
                for name, type_ in columns.items()
            ),
            schema=sa.sql.quoted_name(self._schema, quote=True) if self._schema else None,
        )

    def _column(self, source: sa.Table, name: str) -> sa.ColumnElement[Any]:
        if name not in source.c:
            raise LoadSpecError(f"table {self._display(str(source.name))} has no column {name}")
        return source.c[name]

    @staticmethod
    def _check_columns(values: Mapping[str, Any] | None) -> dict[str, Any]:
        values = dict(values or {})
        for name in values:
            check_identifier(name, "column")
        return values

    @staticmethod
    def _equal(source: sa.Table, values: Mapping[str, Any]) -> list[sa.ColumnElement[bool]]:
        return [source.c[name] == value for name, value in values.items()]

    def dispose(self) -> None:
        """Close pooled connections (PostgreSQL and other server databases)."""
        self._engine.dispose()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Warehouse({self._url.render_as_string(hide_password=True)!r}, schema={self._schema!r})"

    # ---- loading -------------------------------------------------------------------------------------

    def replace_windows(
        self, csv_path: Path | str, spec: LoadSpec, *, scan: FileScan | None = None
    ) -> LoadResult:
        """Replace the rows of ``spec``'s windows (within its scope) by the rows of the CSV file, atomically.

        Before the database is touched: the header is checked (MissingColumnsError: the file lacks
        a declared, split, unique or freshness column), the file's bytes are scanned once (records
        counted, quoting checked: MalformedFileError), and undeclared columns' types are inferred
        from every row. Then, in one transaction under the table's lock: create the table or add
        the file's new columns (and type columns still undecided), refuse older data than the
        windows hold (StaleLoadError), delete the windows' rows, insert the file's rows, each
        tagged with its window's key in ``_partition``, check that records in the file, rows
        inserted and rows counted in the windows agree (RowCountMismatchError) and, with a
        ``unique_column``, refuse a value repeated within a window (DuplicateRowsError) and remove
        the rows of other windows whose value this load brought (``moved_from_other_windows``).

        On any error the transaction rolls back and the table is exactly as before. Besides the
        above: SchemaDriftError (the file's data does not fit an existing column),
        RowsOutsideWindowsError, IdentifierError (a name that is not a plain identifier),
        LoadSpecError (windows that overlap or do not fit the split column).

        ``scan``: the scan of exactly these bytes made as they were received
        (:class:`~pipelines.warehouse.scan.FileScanner`), used instead of scanning the file again.
        """
        started = time.perf_counter()
        table = check_identifier(spec.table, "table name")
        csv_file = CsvFile(Path(csv_path))
        # What only the file can tell is settled before the database is touched (and locked).
        check_file_columns(spec, csv_file.header, csv_file.path, self._display(table))
        if scan is None:
            scan = scan_file(csv_file.path)
        if spec.expected_records is not None and scan.records != spec.expected_records:
            raise SourceRowCountError(
                csv_file.path, self._display(table), scan.records, spec.expected_records
            )
        declared = {column.name for column in spec.columns or ()}
        undeclared = [name for name in csv_file.header if name not in declared]
        inferred = (
            infer_types(
                csv_file,
                undeclared,
                self._sample_rows,
                longest_record=scan.longest_record,
                settings=duckdb_defaults(),
            )
            if undeclared
            else {}
        )

        def load() -> tuple[LoadPlan, _Loaded]:
            with self._writer_lock(table), self._engine.connect() as conn, conn.begin():
                if self._dialect == "postgresql":
                    advisory_lock(conn, f"warehouse table {self._schema or ''}.{table}")
                self._ensure_schema(conn)
                existing = existing_columns(conn, self._schema, table)
                plan = build_plan(
                    spec,
                    csv_file,
                    scan,
                    self._schema,
                    existing,
                    inferred,
                    loaded_at=datetime.now(UTC),
                    undecided=self._undecided(conn, spec, csv_file.header, existing, inferred),
                )
                return plan, self._run(conn, plan)

        plan, loaded = retry_conflicts(load)
        return LoadResult(
            table=table,
            rows=sum(loaded.rows_by_window.values()),
            rows_by_window=loaded.rows_by_window,
            records_in_file=scan.records,
            rows_inserted=loaded.inserted,
            moved_from_other_windows=loaded.moved,
            changes=loaded.changes,
            bytes=csv_file.size,
            seconds=time.perf_counter() - started,
            file_columns=plan.file_columns,
            table_columns=plan.table_columns,
            dropped_columns=plan.dropped_columns,
        )

    def _run(self, conn: sa.Connection, plan: LoadPlan) -> _Loaded:
        bulk = self._bulk(plan)
        if plan.create:
            plan.target.create(conn)
        for name, _ in plan.added:
            conn.execute(AddColumn(plan.target.c[name]))
        for name, _ in plan.retyped:
            # Every value of the column is NULL, so it loses nothing.
            if self._dialect in ("duckdb", "postgresql"):
                conn.execute(RetypeEmptyColumn(plan.target.c[name]))
            else:  # no ALTER COLUMN TYPE (SQLite): the column is dropped and added back, at the end
                conn.execute(DropColumn(plan.target.c[name]))
                conn.execute(AddColumn(plan.target.c[name]))
        self._refuse_stale(conn, plan)
        bulk.prepare(conn)
        # The windows' rows as they were, to compare with and to keep for closed months.
        tracker = ChangeTracker.start(conn, plan, self._schema)
        conn.execute(sa.delete(plan.target).where(plan.window_rows()))
        inserted = bulk.insert(conn)
        rows_by_window = bulk.count_windows(conn)
        counted = sum(rows_by_window.values())
        # The file's own count (from its bytes), the database's report of its insert and the
        # database's count of the windows must agree before anything commits: a parser that stopped
        # early, skipped a record or inserted one twice shows here.
        if not plan.scan.records == inserted == counted:
            raise RowCountMismatchError(plan.csv.path, plan.table_name, plan.scan.records, inserted, counted)
        bulk.ensure_indexes(conn)
        if plan.spec.unique_column is not None:
            self._refuse_duplicates(conn, plan)
        changes = tracker.finish(conn, rows_by_window) if tracker is not None else None
        protected = set(tracker.closed_months) if tracker is not None else set()
        moved = self._move_from_other_windows(conn, plan, protected)
        return _Loaded(inserted, rows_by_window, moved, changes)

    @staticmethod
    def _move_from_other_windows(
        conn: sa.Connection, plan: LoadPlan, protected: Collection[str] = ()
    ) -> dict[str, int]:
        # A record Stripe moved across a window boundary (its time corrected from 23:59:59 to
        # 00:00:01) now arrives in this load's window while the neighbouring window still holds it
        # from its own, older load: the newest answer wins, so the older copy goes. One set query
        # (the windows' unique values against the rest of the scope), then a delete when it finds any.
        column = plan.spec.unique_column
        if column is None or plan.create:
            return {}
        target = plan.target
        value = target.c[column]
        partition = target.c[PARTITION_COLUMN]
        landed = sa.select(value).where(plan.window_rows(), value.is_not(None))
        elsewhere = sa.and_(partition.not_in(plan.split.keys), *plan.scope_condition(), value.in_(landed))
        if protected:
            # A closed month keeps its rows, even one Stripe now places on another day.
            elsewhere = sa.and_(elsewhere, sa.func.substr(partition, 1, 7).not_in(sorted(protected)))
        moved = conn.execute(
            sa.select(partition, sa.func.count()).where(elsewhere).group_by(partition).order_by(partition)
        ).all()
        if not moved:
            return {}
        spec = plan.spec
        freshness = spec.freshness_column
        if (
            freshness is not None
            and spec.freshness is not None
            and freshness in plan.columns
            and freshness not in dict(plan.added)
        ):
            # Taking a record from a window computed later than this load would be older data
            # overwriting newer too.
            newer = _newer_rows(conn, plan, freshness, spec.freshness, where=elsewhere)
            if newer:
                raise StaleLoadError(
                    plan.table_name, freshness, sorted(newer), max(newer.values()), spec.freshness
                )
        conn.execute(sa.delete(target).where(elsewhere))
        return {str(key): int(count) for key, count in moved}

    def _undecided(
        self,
        conn: sa.Connection,
        spec: LoadSpec,
        header: Sequence[str],
        existing: Mapping[str, Any] | None,
        inferred: Mapping[str, Any],
    ) -> list[str]:
        # A column NULL in every file so far was created as text; that text means "not yet known",
        # and the first file with values decides its type. A column that ever held a value is
        # decided (text that held "n/a" stays text). One probe per candidate, which stops at the
        # first value it finds.
        if existing is None:
            return []
        candidates = undecided_candidates(spec, header, existing, inferred)
        if not candidates:
            return []
        source = self._source(conn, spec.table)
        assert source is not None
        return [
            name
            for name in candidates
            if conn.execute(sa.select(sa.literal(1)).where(source.c[name].is_not(None)).limit(1)).first()
            is None
        ]

    @staticmethod
    def _refuse_stale(conn: sa.Connection, plan: LoadPlan) -> None:
        # Under the table's lock and before the delete: a slow backfill that reaches its commit
        # after a newer run cannot put its older rows back. One grouped query over the windows.
        spec = plan.spec
        column = spec.freshness_column
        if column is None or spec.freshness is None or plan.create or column in dict(plan.added):
            return  # no rows hold a freshness yet
        newer = _newer_rows(conn, plan, column, spec.freshness)
        if newer:
            raise StaleLoadError(plan.table_name, column, sorted(newer), max(newer.values()), spec.freshness)

    @staticmethod
    def _refuse_duplicates(conn: sa.Connection, plan: LoadPlan) -> None:
        # Checked on the inserted rows, inside the transaction: the database does the counting on
        # every dialect, and raising here rolls the whole replace back.
        column = plan.spec.unique_column
        assert column is not None
        partition = plan.target.c[PARTITION_COLUMN]
        value = plan.target.c[column]
        copies = sa.func.count().label("copies")
        # Grouped in a subquery, sorted and cut outside it: with ORDER BY and LIMIT on the grouping
        # itself, PostgreSQL walks the unique column's index over the whole table to read the
        # groups in order (2 s for a day in a 1M-row table instead of 30 ms).
        grouped = (
            sa.select(partition.label("key"), value.label("value"), copies)
            .where(plan.window_rows())
            .group_by(partition, value)
            .having(sa.func.count() > 1)
            .subquery("repeated")
        )
        repeated = conn.execute(
            sa.select(grouped.c.key, grouped.c.value, grouped.c.copies)
            .order_by(grouped.c.key, grouped.c.value)
            .limit(_SHOWN_DUPLICATES)
        ).all()
        if repeated:
            raise DuplicateRowsError(
                plan.csv.path,
                plan.table_name,
                column,
                [(str(key), found, int(count)) for key, found, count in repeated],
            )

    def _ensure_schema(self, conn: sa.Connection) -> None:
        if self._schema is None or self._dialect == "sqlite" or schema_exists(conn, self._schema):
            return
        if self._dialect == "postgresql":
            # Two first loads (of different tables) would both create the schema; the second waits
            # here until the first commits, then finds it. DuckDB reports a conflict and retries.
            advisory_lock(conn, f"warehouse schema {self._schema}")
        conn.execute(sa.schema.CreateSchema(sa.sql.quoted_name(self._schema, quote=True), if_not_exists=True))

    def _writer_lock(self, name: str) -> AbstractContextManager[None]:
        # PostgreSQL's advisory locks cover threads and processes alike. Elsewhere a process-local
        # lock keeps this process's own loads apart (file locks only keep other processes out).
        if self._dialect == "postgresql":
            return nullcontext()
        database = os.path.abspath(self._url.database) if self._url.database else ":memory:"
        return local_lock(self._dialect, database, self._schema or "", name)

    def _display(self, table: str) -> str:
        return f"{self._schema}.{table}" if self._schema else table


@dataclass(frozen=True)
class _Loaded:
    """What the transaction did: rows the database reported inserting, rows per window counted
    afterwards, rows removed from other windows per window key (their unique value moved here)."""

    inserted: int
    rows_by_window: dict[str, int]
    moved: dict[str, int]
    changes: ChangeSet | None = None


def _newer_rows(
    conn: sa.Connection,
    plan: LoadPlan,
    column: str,
    freshness: datetime,
    where: sa.ColumnElement[bool] | None = None,
) -> dict[str, datetime]:
    """The latest ``column`` value (naive UTC) per window key among rows later than ``freshness``,
    in the load's windows (or in ``where``)."""
    type_ = plan.columns[column]
    stored = plan.target.c[column]
    partition = plan.target.c[PARTITION_COLUMN]
    rows_of = plan.window_rows() if where is None else where
    limit = to_database_value(freshness)
    assert isinstance(limit, datetime)
    if type_.kind == "timestamp":
        rows = conn.execute(
            sa.select(partition, sa.func.max(stored)).where(rows_of, stored > limit).group_by(partition)
        ).all()
        return {str(key): value for key, value in rows}
    if type_.kind == "text":
        # A file column typed as text (a table created before it had values): ISO text sorts as
        # time does, so the latest value per window is its maximum; text that is no timestamp is
        # no evidence either way.
        parse = field_parser(TIMESTAMP)
        rows = conn.execute(
            sa.select(partition, sa.func.max(stored)).where(rows_of, stored.is_not(None)).group_by(partition)
        ).all()
        newer: dict[str, datetime] = {}
        for key, text in rows:
            try:
                value = parse(str(text))
            except ValueError:
                continue
            if value > limit:
                newer[str(key)] = value
        return newer
    raise LoadSpecError(
        f"load of {plan.table_name}: freshness column {column} is {type_} in the table; it must hold "
        "timestamps"
    )


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _decimal(value: object) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    # Doubles (and SQLite's decimals) arrive as floats: their shortest repr, not their binary expansion.
    return Decimal(str(value))


def bulk_load_for(dialect: str) -> type[BulkLoad]:
    """The bulk path for a SQLAlchemy dialect name: DuckDB's ``read_csv``, PostgreSQL's ``COPY``, or
    portable batches for any other dialect. Imported on first use: each native path imports its
    database's driver."""
    if dialect == "duckdb":
        from pipelines.warehouse.duckdb_load import DuckDBLoad

        return DuckDBLoad
    if dialect == "postgresql":
        from pipelines.warehouse.postgres_load import PostgresLoad

        return PostgresLoad
    from pipelines.warehouse.portable_load import PortableLoad

    return PortableLoad


def duckdb_defaults(threads: int | None = None) -> dict[str, str]:
    """The DuckDB settings the loader uses unless its URL says otherwise, for ``threads`` threads
    (DuckDB's default: one per CPU)."""
    threads = threads or os.cpu_count() or 1
    return {
        "memory_limit": f"{max(threads, 2) * DUCKDB_MEMORY_PER_THREAD_MB}MB",
        "preserve_insertion_order": "false",
    }


def _with_duckdb_defaults(url: sa.URL) -> sa.URL:
    """``url`` with :func:`duckdb_defaults` for every setting it does not set itself."""
    threads = url.query.get("threads")
    defaults = duckdb_defaults(int(str(threads)) if threads else None)
    return url.update_query_dict({key: value for key, value in defaults.items() if key not in url.query})
