"""Column types for files that come without them (Sigma query results), judged from every row.

DuckDB reads the file (in memory, with the loader's own CSV options) and answers, per column, which
of the candidate shapes every non-empty value has: one parallel pass, whatever the warehouse. A
sample would miss the ``1.5`` at row 50,001 of a column of whole numbers, and the column, typed
bigint, could then never take that file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.warehouse.bulk import database_reason
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
)

#: Rows read to infer types: None reads the whole file.
DEFAULT_SAMPLE_ROWS: int | None = None

_BOOLEAN = r"(?i:true|false)"
# No leading zeros: "0042" is an identifier or a code, and as a number it would lose its zeros.
_INTEGER = r"[+-]?(?:0|[1-9][0-9]{0,17})"
_DOUBLE = r"[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Hours, minutes, seconds and offsets within their ranges, as the loader's timestamp parser wants.
_TIMESTAMP = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?"
)

# The shapes, in the order they are tried, and the SQL that tells each value's first shape (5: none,
# text). A date (or a timestamp's date) must also be a real day: 2026-02-30 is text. Cheap tests
# come first, so most text is settled without a regular expression.
_SHAPES: tuple[LogicalType, ...] = (BOOLEAN, BIGINT, DOUBLE, DATE, TIMESTAMP, TEXT)
_FIRST_SHAPE = f"""CASE
    WHEN {{c}} IS NULL THEN NULL
    WHEN lower({{c}}) IN ('true', 'false') THEN 0
    WHEN NOT contains('0123456789+-.', left({{c}}, 1)) THEN 5
    WHEN regexp_full_match({{c}}, '{_INTEGER}') THEN 1
    WHEN regexp_full_match({{c}}, '{_DOUBLE}') THEN 2
    WHEN regexp_full_match({{c}}, '{_DATE}') AND try_cast({{c}} AS DATE) IS NOT NULL THEN 3
    WHEN regexp_full_match({{c}}, '{_TIMESTAMP}') AND try_cast(substr({{c}}, 1, 10) AS DATE) IS NOT NULL
        THEN 4
    ELSE 5 END"""


def infer_types(
    csv_file: CsvFile,
    columns: Sequence[str],
    sample_rows: int | None = DEFAULT_SAMPLE_ROWS,
    *,
    longest_record: int = 0,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, LogicalType | None]:
    """The type of each of ``columns``, judged from every row (or the first ``sample_rows``).

    ``None`` means no row has a value in that column, so any type fits it. ``longest_record``
    (bytes, from the scan) sizes DuckDB's read buffers; ``settings`` are DuckDB settings for the
    in-memory database that reads the file (the loader's bounded memory).
    Raises MalformedFileError when the file does not parse.
    """
    if not columns:
        return {}
    # Imported here: each native path imports its own driver, and only files without declared
    # types need this one on a PostgreSQL warehouse.
    import duckdb

    from pipelines.warehouse.duckdb_load import READ_CSV_OPTIONS, read_limits

    names = list(columns)
    quoted = [f'"{name}"' for name in names]  # checked identifiers: nothing to escape
    # Per column, the least and the greatest first shape of its values (NULL, an empty field, is no
    # evidence): that is enough to tell the first shape every value has (see _judge).
    shapes = [f"{_FIRST_SHAPE.replace('{c}', column)} AS s{index}" for index, column in enumerate(quoted)]
    aggregates = [f"min(s{index}), max(s{index})" for index in range(len(quoted))]
    limit = f" LIMIT {int(sample_rows)}" if sample_rows is not None else ""
    query = (
        f"SELECT {', '.join(aggregates)} FROM "  # noqa: S608 - checked identifiers and constants
        # The load's read_csv options, their SQLAlchemy :parameters as DuckDB's own $parameters.
        f"(SELECT {', '.join(shapes)} FROM read_csv($path, {READ_CSV_OPTIONS.replace(':', '$')}){limit})"
    )
    parameters = {
        "path": str(csv_file.path),
        "columns": dict.fromkeys(csv_file.header, "VARCHAR"),
        **read_limits(longest_record),
    }
    config = {key: str(value) for key, value in (settings or {}).items()}
    if sample_rows is not None:
        config["preserve_insertion_order"] = "true"  # the first rows, not any rows
    with duckdb.connect(":memory:", config=config) as database:
        database.execute("SET enable_progress_bar = false")  # it would draw on stderr
        try:
            row = database.execute(query, parameters).fetchone()
        except (duckdb.InvalidInputException, duckdb.ConversionException) as error:
            message = str(error)
        else:
            message = None
    if message is not None or row is None:
        # The file's own reading says exactly which line is wrong (raised outside the handler:
        # DuckDB's message quotes the line).
        problem = csv_file.find_error([None] * len(csv_file.header))
        raise problem or MalformedFileError(csv_file.path, None, database_reason(message or "no result"))
    return {name: _judge(row[2 * index], row[2 * index + 1]) for index, name in enumerate(names)}


def _judge(least: int | None, greatest: int | None) -> LogicalType | None:
    """The first shape every value has, from the least and greatest first shape of the values.

    Only a whole number also has a later shape (it is a double too), so values of one first shape
    have that type, whole numbers mixed with doubles are doubles, and any other mix is text.
    """
    if least is None or greatest is None:
        return None  # no value at all
    if least == greatest:
        return _SHAPES[least]
    if (least, greatest) == (1, 2):
        return DOUBLE
    return TEXT
