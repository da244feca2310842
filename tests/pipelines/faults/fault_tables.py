"""Reading a landed table as a multiset of rows, and comparing it with what it should hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pipelines.warehouse import Warehouse

LOAD_LINEAGE = ("_loaded_at", "_stripe_run_id")
"""Columns that differ between two correct loads of the same data (when, and by which Stripe job)."""


@dataclass(frozen=True)
class Table:
    """A table's rows as comparable tuples, columns sorted by name; ``None`` rows: no such table."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...] | None

    @property
    def exists(self) -> bool:
        return self.rows is not None

    def only(self, columns: Iterable[str]) -> Table:
        """The same rows restricted to ``columns`` (which must all be present)."""
        wanted = tuple(sorted(columns))
        missing = set(wanted) - set(self.columns)
        assert not missing, f"the table has no column(s) {sorted(missing)}"
        index = [self.columns.index(name) for name in wanted]
        rows = None if self.rows is None else tuple(tuple(r[i] for i in index) for r in self.rows)
        return Table(wanted, rows)

    def in_partitions(self, keys: Iterable[str]) -> Table:
        """The rows whose ``_partition`` is one of ``keys``."""
        keep = set(keys)
        position = self.columns.index("_partition")
        rows = None if self.rows is None else tuple(r for r in self.rows if r[position] in keep)
        return Table(self.columns, rows)

    def column(self, name: str) -> list[Any]:
        """Every value of one column."""
        position = self.columns.index(name)
        return [r[position] for r in self.rows or ()]


def read_table(wh: Warehouse, table: str, *, drop: Iterable[str] = LOAD_LINEAGE) -> Table:
    """Every row of ``table`` (all columns but ``drop``), with values comparable across dialects."""
    existing = wh.table_columns(table)
    if existing is None:
        return Table((), None)
    dropped = set(drop)
    columns = tuple(sorted(c.name for c in existing if c.name not in dropped))
    quote = wh.engine.dialect.identifier_preparer.quote
    with wh.engine.connect() as connection:
        result = connection.execute(
            sa.text(f"SELECT {', '.join(quote(c) for c in columns)} FROM {wh.qualified(table)}")
        )
        rows = tuple(sorted((tuple(_comparable(v) for v in row) for row in result), key=repr))
    return Table(columns, rows)


def _comparable(value: Any) -> Any:
    # DuckDB and PostgreSQL both return naive UTC timestamps for the loader's columns; an aware
    # value (a driver's choice) is brought to the same form.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class Difference:
    """How a table's rows differ from the expected ones, counting repeated rows (multisets)."""

    lost: int
    duplicated: int

    @property
    def none(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def difference(expected: Table, actual: Table) -> Difference:
    """Rows of ``expected`` missing from ``actual``, and rows of ``actual`` beyond ``expected``."""
    want = Counter(expected.rows or ())
    have = Counter(actual.rows or ())
    return Difference(lost=sum((want - have).values()), duplicated=sum((have - want).values()))
