"""Errors the loader raises. Every one of them is raised before the transaction commits, so the
table is exactly as it was before the load."""

from __future__ import annotations

from pathlib import Path


class WarehouseError(Exception):
    """Base class of every loader error."""


class IdentifierError(WarehouseError, ValueError):
    """A schema, table or column name is not a plain SQL identifier."""


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
    """The database file stayed locked by another process for longer than the loader waits."""
