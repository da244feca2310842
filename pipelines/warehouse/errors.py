"""Errors the loader raises. Every one of them is raised before the transaction commits, so the
table is exactly as it was before the load.

Each error says whether running the same load again can succeed (``retryable``), so a caller
decides between "retry" and "fail once, clearly" without knowing the classes::

    WarehouseError                  retryable = False: the same load fails the same way again
    ├── IdentifierError             (also a ValueError) a name is not a plain SQL identifier
    ├── MissingColumnsError         the file lacks a declared, split or unique column
    ├── MalformedFileError          the file does not parse (file, line, reason)
    ├── SchemaDriftError            the file's data does not fit an existing column
    ├── RowsOutsideWindowsError     rows belong to none of the windows being replaced
    ├── DuplicateRowsError          the file repeats a unique value within a window
    └── WarehouseBusyError          retryable = True: another process held the database file
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

MissingRole = Literal["declared", "split", "unique"]


class WarehouseError(Exception):
    """Base class of every loader error.

    ``retryable`` is False unless a subclass says otherwise: the error comes from the file, the
    spec or the table, so a retry of the same load cannot succeed.
    """

    retryable: bool = False


class IdentifierError(WarehouseError, ValueError):
    """A schema, table or column name is not a plain SQL identifier."""


class MissingColumnsError(WarehouseError):
    """The file's header lacks columns the load needs; raised before the database is touched.

    ``role`` says what the columns were needed for: ``declared`` (``LoadSpec.columns`` names them),
    ``split`` (the split column: rows cannot be assigned to windows without it) or ``unique`` (the
    unique column: a repeated record could not be refused). ``table`` is the schema-qualified name.
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
        else:
            what = (
                f"lacks unique column {names} of {table}, without which a repeated record cannot be refused"
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
    """The CSV file cannot be parsed: bad quoting, a wrong number of fields or a value of the wrong type."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path.name}, line {line}" if line is not None else self.path.name
        super().__init__(f"{where}: {reason} (file {self.path}); nothing was loaded")


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


class WarehouseBusyError(WarehouseError):
    """The database file stayed locked by another process for longer than the loader waits.

    Retryable: once the other process lets go of the file, the same load can succeed.
    """

    retryable = True
