"""The interface every bulk load path implements. The base names none of its implementations:
``warehouse.bulk_load_for`` chooses the path for a dialect.

A load runs in one transaction, in this order: create or alter the table, ``prepare`` (a path may
stage and check the file here, before anything is deleted), delete the windows' rows, ``insert``,
``count_windows``, ``ensure_indexes``. Any error rolls the whole transaction back.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable

import sqlalchemy as sa

from pipelines.warehouse.errors import MalformedFileError, RowsOutsideWindowsError, shown
from pipelines.warehouse.identifiers import PARTITION_COLUMN
from pipelines.warehouse.plan import LoadPlan

#: SQLAlchemy only keeps an INSERT's row count when asked to (it is the count the load is checked by).
ROWCOUNT = {"preserve_rowcount": True}


class BulkLoad(ABC):
    """Moves one file's rows into its table, for one dialect."""

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan

    def ensure_indexes(self, conn: sa.Connection) -> None:  # noqa: B027 - optional hook
        """Create the indexes the table's queries rely on, where the database benefits and they are
        missing (called on every load after the insert, before the queries over the whole table)."""

    def prepare(self, conn: sa.Connection) -> None:  # noqa: B027 - optional hook
        """Read or check the file before the windows' rows are deleted."""

    @abstractmethod
    def insert(self, conn: sa.Connection) -> int:
        """Insert the file's rows (after the delete); return how many rows the database reports it
        inserted (the statement's row count).

        Raises MalformedFileError or RowsOutsideWindowsError; the caller rolls back.
        """

    def count_windows(self, conn: sa.Connection) -> dict[str, int]:
        """The rows the windows (within the scope) hold now, counted by the database after the
        insert, per window key (every key present). One grouped count over the windows' rows."""
        partition = self.plan.target.c[PARTITION_COLUMN]
        rows = conn.execute(
            sa.select(partition, sa.func.count()).where(self.plan.window_rows()).group_by(partition)
        ).all()
        return self.counts({key: count for key, count in rows}, lambda: None)

    def malformed(self, database_message: str) -> MalformedFileError:
        """The error to raise when the database rejected the file: the first problem the file's own
        reading finds (file, line, column, the value's first characters), else the first line of the
        database's words with every quoted value shortened (databases quote whole CSV lines)."""
        problem = self.plan.csv.find_error(self.plan.parsers())
        if problem is not None:
            return problem
        return MalformedFileError(self.plan.csv.path, None, database_reason(database_message))

    def outside_windows(self, count: int, example: object) -> RowsOutsideWindowsError:
        """The error for rows that belong to no window."""
        return RowsOutsideWindowsError(
            self.plan.csv.path,
            self.plan.spec.split_column or PARTITION_COLUMN,
            count,
            example,
            self.plan.split.describe(),
        )

    def counts(self, rows: dict[str | None, int], example: Callable[[], object]) -> dict[str, int]:
        """Rows per window key (every key present) from rows counted per key, None for rows outside
        every window; raises RowsOutsideWindowsError (with ``example()`` as the example) if there are any."""
        outside = rows.pop(None, 0)
        if outside:
            raise self.outside_windows(outside, example())
        return {key: rows.get(key, 0) for key in self.plan.split.keys}


_QUOTED = re.compile(r"""(["'])(.*?)\1""")


def database_reason(message: str) -> str:
    """What a database said failed, fit for a log: its first line only (the lines after it quote
    the CSV line, DuckDB's "Original Line", PostgreSQL's CONTEXT, and give advice), each quoted
    value cut to its first characters."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return _QUOTED.sub(lambda match: shown(match.group(2)), first)[:300]
