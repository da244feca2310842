"""What a load is asked to do (``LoadSpec``) and what it did (``LoadResult``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.warehouse.changes import ChangeSet, ChangeSpec
from pipelines.warehouse.errors import LoadSpecError
from pipelines.warehouse.logical_types import parse_type


@dataclass(frozen=True)
class Column:
    """A column of a report file and its logical type (``text``, ``bigint``, ``double``, ``boolean``,
    ``date``, ``timestamp``, ``money`` or ``decimal(p,s)``)."""

    name: str
    type: str

    def __post_init__(self) -> None:
        # Canonical spelling, so a column read back from the warehouse compares equal to the declared one.
        try:
            canonical = str(parse_type(self.type))
        except ValueError as error:
            raise LoadSpecError(f"column {self.name}: {error}") from None
        object.__setattr__(self, "type", canonical)


@dataclass(frozen=True)
class Window:
    """The slice of a table one partition owns: rows whose split value falls in ``[start, end)``.

    ``key`` is the partition key, stored in every row's ``_partition`` column; ``start`` and ``end``
    are time-zone aware.
    """

    key: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not self.key:
            raise LoadSpecError("a window needs a non-empty key")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise LoadSpecError(f"window {self.key}: start and end must be time-zone aware datetimes")
        if not self.start < self.end:
            raise LoadSpecError(f"window {self.key}: start {self.start} is not before end {self.end}")


@dataclass(frozen=True)
class LoadSpec:
    """One replace of one table's windows.

    * ``columns``: the file's declared columns and types; ``None`` infers the types from the file.
      Once the table exists, its column types win wherever they can hold the data.
    * ``split_column``: ``None`` puts every row in the single window. A timestamp column (UTC)
      puts each row in the window whose ``[start, end)`` contains it; a date or text column puts it
      in the window whose key equals its value.
    * ``scope``: identity columns stored on every row; the replace only touches rows with these values.
    * ``lineage``: constant columns stored on every row (run ids, data load time, ...).
    * ``unique_column``: a file column no value of which may appear twice within a window (and the
      scope); a file that repeats one is refused, so a duplicated record never reaches the table.
    * ``freshness_column``, ``freshness``: the column holding the instant each row's data was
      computed at (a lineage column, or a file column such as a Sigma result's ``_data_load_time``)
      and that instant for this load (time-zone aware). A load is refused (StaleLoadError) when its
      windows, within the scope, already hold rows computed later: older data never replaces newer.
    * ``expected_records``: how many records the file's source says it holds (Stripe's
      ``row_count``); a file holding another number is refused (SourceRowCountError) before the
      database is touched, and the load's own accounting then makes the rows landed equal it.
    * ``changes``: report what the load changed per window (``LoadResult.changes``) and keep the
      windows of closed months as they are, recording their differences instead
      (:mod:`pipelines.warehouse.changes`, :mod:`pipelines.warehouse.periods`); None: neither.
    """

    table: str
    columns: Sequence[Column] | None
    windows: Sequence[Window]
    split_column: str | None
    scope: Mapping[str, str] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    unique_column: str | None = None
    freshness_column: str | None = None
    freshness: datetime | None = None
    expected_records: int | None = None
    changes: ChangeSpec | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(self.columns))
        if not self.windows:
            raise LoadSpecError(f"load of {self.table}: at least one window is needed")
        keys = [window.key for window in self.windows]
        if len(set(keys)) != len(keys):
            raise LoadSpecError(f"load of {self.table}: window keys repeat: {keys}")
        if self.split_column is None and len(self.windows) != 1:
            raise LoadSpecError(
                f"load of {self.table}: without a split column a file fills exactly one window, "
                f"not {len(self.windows)}"
            )
        if (self.freshness_column is None) != (self.freshness is None):
            raise LoadSpecError(
                f"load of {self.table}: freshness_column and freshness go together (the column holding "
                "when rows were computed, and when this load's rows were)"
            )
        if self.freshness is not None and self.freshness.tzinfo is None:
            raise LoadSpecError(
                f"load of {self.table}: freshness {self.freshness.isoformat()} must be time-zone aware"
            )


@dataclass(frozen=True)
class LoadResult:
    """What a replace did and what the loader established on the way, so callers need not ask the
    database again.

    * ``rows``, ``rows_by_window``: rows the windows hold after the load, in total and per window key
      (every key present), counted by the database inside the load's transaction.
    * ``records_in_file``: the data records of the file, counted from its bytes (blank lines not
      counted); ``rows_inserted``: the rows the database reported inserting. The load only commits
      when ``records_in_file == rows_inserted == rows`` (RowCountMismatchError otherwise).
    * ``moved_from_other_windows``: rows removed from windows outside this load (within its scope)
      because their unique value now belongs to one of this load's windows, per window key (empty
      without a ``unique_column``): a record Stripe moved across midnight is kept once, where the
      newest data puts it.
    * ``bytes``, ``seconds``: the file's size, the time the replace took.
    * ``file_columns``: the file's header, in file order.
    * ``table_columns``: the table's columns after the load, in table order, with logical types.
    * ``dropped_columns``: table columns the file did not bring (NULL in its rows), other than the
      loader's own (``_partition``, ``_loaded_at``) and this load's scope and lineage columns.
    * ``changes``: with ``LoadSpec.changes``, what the load changed in each window. A window of a
      closed month keeps its rows (``rows_by_window`` counts them), so there ``rows`` can differ
      from the file's records.
    """

    table: str
    rows: int
    rows_by_window: dict[str, int]
    records_in_file: int
    rows_inserted: int
    bytes: int
    seconds: float
    file_columns: tuple[str, ...]
    table_columns: tuple[Column, ...]
    dropped_columns: tuple[str, ...]
    moved_from_other_windows: dict[str, int] = field(default_factory=dict)
    changes: ChangeSet | None = None
