"""Column types for files that come without them (Sigma query results), from a sample of the file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipelines.warehouse.csv_file import CsvFile
from pipelines.warehouse.errors import MalformedFileError
from pipelines.warehouse.logical_types import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    TEXT,
    TIMESTAMP,
    LogicalType,
    field_parser,
)

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_SAMPLE_ROWS = 50_000

_BOOLEAN = r"(?i:true|false)"
# No leading zeros: "0042" is an identifier or a code, and as a number it would lose its zeros.
_INTEGER = r"[+-]?(?:0|[1-9]\d{0,17})"
_DOUBLE = r"[+-]?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DATE = r"\d{4}-\d{2}-\d{2}"
_TIMESTAMP = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"

# Tried in order: the first pattern every non-empty sampled value matches gives the column's type.
_CANDIDATES: tuple[tuple[str, LogicalType], ...] = (
    (_BOOLEAN, BOOLEAN),
    (_INTEGER, BIGINT),
    (_DOUBLE, DOUBLE),
    (_DATE, DATE),
    (_TIMESTAMP, TIMESTAMP),
)


def infer_types(
    csv_file: CsvFile, columns: Sequence[str], sample_rows: int = DEFAULT_SAMPLE_ROWS
) -> dict[str, LogicalType | None]:
    """The type of each of ``columns`` judged from the first ``sample_rows`` rows.

    ``None`` means the sample has no value in that column, so any type fits it.
    """
    if not columns:
        return {}
    # Imported here: only files without declared types need pandas, and it is a heavy import.
    import pandas as pd

    try:
        sample = pd.read_csv(
            csv_file.path,
            nrows=sample_rows,
            usecols=list(columns),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding="utf-8-sig",
            skip_blank_lines=True,
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        # pandas' messages vary by engine; the file's own reading says exactly which line is wrong.
        problem = csv_file.find_error([None] * len(csv_file.header))
        if problem is not None:
            raise problem from None
        raise MalformedFileError(csv_file.path, None, f"cannot be read: {error}") from None
    return {name: _infer(sample[name]) for name in columns}


def _infer(values: pd.Series) -> LogicalType | None:
    present = values[values != ""]
    if present.empty:
        return None
    for pattern, type_ in _CANDIDATES:
        if bool(present.str.fullmatch(pattern).all()):
            if type_ in (DATE, TIMESTAMP) and not _all_parse(present, type_):
                return TEXT  # shaped like a date but not one (2026-02-30)
            return type_
    return TEXT


def _all_parse(values: pd.Series, type_: LogicalType) -> bool:
    parse = field_parser(type_)
    try:
        for value in values.drop_duplicates():
            parse(value)
    except ValueError:
        return False
    return True
