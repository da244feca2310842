"""Errors the loader raises. Every one of them is raised before the transaction commits, so the
table is exactly as it was before the load.

Each error says whether running the same load again can succeed (``retryable``), so a caller
decides between "retry" and "fail once, clearly" without knowing the classes::

    WarehouseError                  retryable = False: the same load fails the same way again
    ├── IdentifierError             (also a ValueError) a name is not a plain SQL identifier
    ├── LoadSpecError               (also a ValueError) the load asked for is inconsistent
    ├── MissingColumnsError         the file lacks a declared, split, unique or freshness column
    ├── MalformedFileError          the file does not parse (file, line, reason)
    ├── SchemaDriftError            the file's data does not fit an existing column
    ├── RowsOutsideWindowsError     rows belong to none of the windows being replaced
    ├── DuplicateRowsError          the file repeats a unique value within a window
    ├── RowCountMismatchError       records in the file, rows inserted and rows counted disagree
    ├── StaleLoadError              the table holds newer data for the windows than the load brings
    ├── PeriodError                 (also a ValueError) a month's close or reopen cannot be done as
    │                               asked (already closed, not closed, no reason); nothing recorded
    ├── SourceRowCountError         retryable = True: the file holds another number of records than
    │                               its source announced (a new run of the job gives a new file)
    └── WarehouseBusyError          retryable = True: another process held the database file

Messages name the file, the line and the column, and quote at most the first characters of the
offending value (:func:`shown`): a row's other fields (customer emails, amounts) never reach a log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

MissingRole = Literal["declared", "split", "unique", "freshness"]

#: How much of an offending value an error message quotes.
SHOWN_CHARACTERS = 12


def shown(value: object) -> str:
    """``value`` for an error message: its first :data:`SHOWN_CHARACTERS` characters, quoted, with
    ``…`` when there is more; enough to find the value, too little to carry a row's contents."""
    text = str(value)
    if len(text) > SHOWN_CHARACTERS:
        return repr(text[:SHOWN_CHARACTERS] + "…")
    return repr(text)


def utc_text(moment: datetime) -> str:
    """An instant in ISO 8601, UTC; a naive datetime is taken as UTC (as the warehouse stores them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


class WarehouseError(Exception):
    """Base class of every loader error.

    ``retryable`` is False unless a subclass says otherwise: the error comes from the file, the
    spec or the table, so a retry of the same load cannot succeed.
    """

    retryable: bool = False


class IdentifierError(WarehouseError, ValueError):
    """A schema, table or column name is not a plain SQL identifier."""


class LoadSpecError(WarehouseError, ValueError):
    """The load asked for cannot be carried out as specified, whatever the file holds: windows that
    overlap or repeat, a split column of an unusable type, window keys that do not fit it, a
    freshness without a time zone, a column a read names that the table does not have."""


class MissingColumnsError(WarehouseError):
    """The file's header lacks columns the load needs; raised before the database is touched.

    ``role`` says what the columns were needed for: ``declared`` (``LoadSpec.columns`` names them),
    ``split`` (the split column: rows cannot be assigned to windows without it), ``unique`` (the
    unique column: a repeated record could not be refused) or ``freshness`` (neither the file nor
    the lineage brings the freshness column, so newer data could not be told from older).
    ``table`` is the schema-qualified name.
    """

    def __init__(self, path: Path, table: str, missing: Sequence[str], role: MissingRole) -> None:
        self.path = Path(path)
        self.table = table
        self.missing = list(missing)
        self.role: MissingRole = role
        names = ", ".join(f"`{name}`" for name in self.missing)
        if role == "declared":
            what = f"lacks declared column(s) {names} of {table}"
        elif role == "split":
            what = (
                f"lacks split column {names} of {table}, without which its rows cannot be assigned to windows"
            )
        elif role == "unique":
            what = (
                f"lacks unique column {names} of {table}, without which a repeated record cannot be refused"
            )
        else:
            what = (
                f"lacks freshness column {names} of {table} (nor is it a lineage column), without which "
                "older data cannot be told from newer"
            )
        super().__init__(f"{self.path.name} {what}; nothing was loaded")


class SchemaDriftError(WarehouseError):
    """The file's data cannot be stored in an existing column of the table."""

    def __init__(self, table: str, column: str, old_type: str, new_type: str) -> None:
        self.table = table
        self.column = column
        self.old_type = old_type
        self.new_type = new_type
        super().__init__(
            f"table {table}: column {column} is {old_type} in the warehouse but the file has {new_type} "
            f"data, which {old_type} cannot hold; nothing was loaded. Migrate the column (or drop the "
            "table to rebuild it) before loading this file."
        )


class MalformedFileError(WarehouseError):
    """The CSV file cannot be parsed: bad quoting, a wrong number of fields or a value of the wrong type.

    ``line`` is the line the offending record starts on (None when no line can be named),
    ``offset`` the byte offset in the file where the problem is, when it is known to the byte (an
    invalid UTF-8 sequence, a stray quote).
    """

    def __init__(self, path: Path, line: int | None, reason: str, *, offset: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        self.offset = offset
        where = f"{self.path.name}, line {line}" if line is not None else self.path.name
        at = f", byte offset {offset}" if offset is not None else ""
        super().__init__(f"{where}{at}: {reason} (file {self.path}); nothing was loaded")


class RowsOutsideWindowsError(WarehouseError):
    """Some rows of the file belong to none of the windows being replaced."""

    def __init__(self, path: Path, column: str, count: int, example: object, windows: str) -> None:
        self.path = Path(path)
        self.column = column
        self.count = count
        self.example = example
        super().__init__(
            f"{self.path.name}: {count} row(s) have a {column} outside every window being loaded "
            f"({windows}), e.g. {example!r}; nothing was loaded"
        )


class DuplicateRowsError(WarehouseError):
    """The file repeats a value of the load's unique column within a window."""

    def __init__(
        self, path: Path, table: str, column: str, duplicates: list[tuple[str, object, int]]
    ) -> None:
        self.path = Path(path)
        self.table = table
        self.column = column
        self.duplicates = duplicates  # (window key, value, copies), the first few
        key, value, copies = duplicates[0]
        more = f" (and {len(duplicates) - 1} more value(s))" if len(duplicates) > 1 else ""
        super().__init__(
            f"{self.path.name}: {column} {value!r} appears {copies} times in {key}{more}, but each "
            f"{column} may appear only once per window of {table}; nothing was loaded"
        )


class RowCountMismatchError(WarehouseError):
    """The rows of a load do not add up: the records the file holds, the rows the database reports
    inserting and the rows counted in the windows after the insert (inside the transaction) differ.
    Raised before the commit, so the table is unchanged."""

    def __init__(
        self, path: Path, table: str, records_in_file: int, rows_inserted: int, rows_in_windows: int
    ) -> None:
        self.path = Path(path)
        self.table = table
        self.records_in_file = records_in_file
        self.rows_inserted = rows_inserted
        self.rows_in_windows = rows_in_windows
        super().__init__(
            f"{self.path.name}: {records_in_file} record(s) in the file, {rows_inserted} row(s) inserted "
            f"into {table} by the database, {rows_in_windows} row(s) counted in the windows after the "
            "insert; they must be equal, so the load was rolled back and nothing was loaded"
        )


class SourceRowCountError(WarehouseError):
    """The file holds another number of records than its source said it would (Stripe's
    ``row_count``). Retried: a new run of the job gives a new file. Nothing was loaded."""

    retryable = True

    def __init__(self, path: Path, table: str, records_in_file: int, expected: int) -> None:
        self.path = Path(path)
        self.table = table
        self.records_in_file = records_in_file
        self.expected = expected
        super().__init__(
            f"{self.path.name}: {records_in_file} record(s) in the file, but its source says {expected}; "
            f"nothing was loaded into {table}"
        )


class StaleLoadError(WarehouseError):
    """The table already holds rows for the load's windows (and scope) computed later than the load's
    own data: loading would put older data over newer. ``windows`` are the window keys holding newer
    rows, ``stored`` the latest freshness found there, ``freshness`` the load's (both aware, UTC)."""

    def __init__(
        self, table: str, column: str, windows: Sequence[str], stored: datetime, freshness: datetime
    ) -> None:
        self.table = table
        self.column = column
        self.windows = list(windows)
        self.stored = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
        self.freshness = freshness
        shown_windows = ", ".join(self.windows[:10]) + (", ..." if len(self.windows) > 10 else "")
        super().__init__(
            f"table {table}: window(s) {shown_windows} hold rows with {column} {utc_text(self.stored)}, "
            f"later than this load's {utc_text(freshness)}; older data does not replace newer, so "
            "nothing was loaded (a newer run has landed these windows already)"
        )


class WarehouseBusyError(WarehouseError):
    """The database file stayed locked by another process for longer than the loader waits.

    Retryable: once the other process lets go of the file, the same load can succeed.
    """

    retryable = True


class PeriodError(WarehouseError, ValueError):
    """A close or reopen that cannot be done as asked (already closed, not closed, no reason...)."""
