"""A file the loader refuses is refused the same way on every warehouse, with the file, the line and
the column, quoting at most the offending value's first characters: nothing else of the row (a
customer's email) reaches the error, its chain, or a log."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import LoadSpec, MalformedFileError, Warehouse
from pipelines.warehouse.bulk import database_reason
from pipelines.warehouse.csv_file import MAX_RECORD_BYTES

from .support import COLUMNS, HEADER, activity_rows, day_window, only, read_rows, typed, write_csv

DAY = day_window("2026-01-05")
SPEC = LoadSpec("activity", COLUMNS, [DAY], "created_utc")
EMAIL = "jane.doe@customer.example"
GOOD = f"g_1,2026-01-05 01:00:00,1.50,3,0.5,true,2026-01-05,{EMAIL}"
# A record spanning lines 2-3, so the offending record (line 5) is not record number 4.
MULTI_LINE = 'g_0,2026-01-05 00:30:00,1.00,1,0.5,false,2026-01-05,"two\nlines"'


def broken(tmp_path: Path, line: str) -> Path:
    """A file whose line 5 is ``line``, after a multi-line record and a good one."""
    path = tmp_path / "broken.csv"
    path.write_text(",".join(HEADER) + "\n" + MULTI_LINE + "\n" + GOOD + "\n" + line + "\n", encoding="utf-8")
    return path


def chain(error: BaseException) -> list[BaseException]:
    """The error and every error it carries (cause or context), as a traceback would print them."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return found


def refuse(warehouse: Warehouse, path: Path) -> MalformedFileError:
    """Load ``path`` (after a good day) and return the refusal; the table must be as before."""
    warehouse.replace_windows(
        write_csv(path.with_name("good.csv"), HEADER, activity_rows("2026-01-05", 3)), SPEC
    )
    before = read_rows(warehouse, "activity", drop=())
    with pytest.raises(MalformedFileError) as refused:
        warehouse.replace_windows(path, SPEC)
    assert read_rows(warehouse, "activity", drop=()) == before
    error = refused.value
    assert not error.retryable
    for link in chain(error):
        assert EMAIL not in str(link), f"{type(link).__name__} carries the row: {link}"
    return error


VALUES = {
    # column, line 5's value there, what the reason says
    "money of 1e37": ("amount", "1e37", "out of range"),
    "money of 1e40": ("amount", "-1e40", "out of range"),
    "money with more places than its column": ("amount", "12.34567", "more than 3 decimal places"),
    "money with a digit separator": ("amount", "1_000", "not a decimal number"),
    "money that is not a number": ("amount", "NaN", "not a decimal number"),
    "double beyond its range": ("ratio", "1e309", "out of range for double"),
    "double below its range": ("ratio", "1e-400", "out of range for double"),
    "double with a digit separator": ("ratio", "1_000", "not a number"),
}


@pytest.mark.parametrize("case", list(VALUES))
def test_a_value_the_column_cannot_hold_is_refused_naming_line_column_and_value(
    warehouse: Warehouse, tmp_path: Path, case: str
) -> None:
    column, value, reason = VALUES[case]
    fields = dict(
        zip(HEADER, f"g_2,2026-01-05 02:00:00,1.00,1,0.5,true,2026-01-05,{EMAIL}".split(","), strict=True)
    )
    fields[column] = value

    error = refuse(warehouse, broken(tmp_path, ",".join(fields.values())))

    assert error.line == 5
    assert f"column {column}: {value!r}" in error.reason and reason in error.reason


def test_a_long_offending_value_is_shortened(warehouse: Warehouse, tmp_path: Path) -> None:
    error = refuse(warehouse, broken(tmp_path, f"g_2,2026-01-05 02:00:00,1.00,{EMAIL},0.5,true,2026-01-05,x"))

    assert error.line == 5 and "column units: 'jane.doe@cus…'" in error.reason


def test_trailing_zeros_beyond_the_columns_places_are_fine(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "zeros.csv",
        HEADER,
        [["z_1", "2026-01-05 01:00:00", "12.34500", "1", "0.5", "true", "2026-01-05", ""]],
    )

    warehouse.replace_windows(path, SPEC)

    assert [str(row["amount"]) for row in read_rows(warehouse, "activity")] == ["12.345"]


QUOTING = {
    # line 5, what the reason says, which of its quotes is at fault
    "a quote inside an unquoted field": (
        'g_2,2026-01-05 02:00:00,1.00,1,0.5,true,2026-01-05,say "hi"',
        "quote inside an unquoted field",
        0,
    ),
    "text after a closing quote": (
        'g_2,2026-01-05 02:00:00,1.00,1,0.5,true,2026-01-05,"say"hi',
        "text after a closing quote",
        1,
    ),
}


@pytest.mark.parametrize("case", list(QUOTING))
def test_quoting_the_databases_read_differently_is_refused_at_its_line(
    warehouse: Warehouse, tmp_path: Path, case: str
) -> None:
    # DuckDB read both lines (the first as text with quotes in it); PostgreSQL took the first quote
    # for the start of a quoted field and failed lines later, or read the second as `sayhi`.
    line, reason, which = QUOTING[case]
    path = broken(tmp_path, line)
    quotes = [index for index, char in enumerate(line) if char == '"']

    error = refuse(warehouse, path)

    assert error.line == 5 and reason in error.reason
    assert error.offset == path.read_bytes().index(line.encode()) + quotes[which]


def test_invalid_utf8_in_the_first_kilobytes_names_file_line_and_byte(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    head = (",".join(HEADER) + "\n" + GOOD + "\n").encode()
    path = tmp_path / "latin1.csv"
    path.write_bytes(head + "g_2,2026-01-05 02:00:00,1,1,1,true,2026-01-05,caf\xe9\n".encode("latin-1"))

    for columns in (COLUMNS, None):  # declared types, and types inferred from the file
        with pytest.raises(MalformedFileError) as refused:
            warehouse.replace_windows(path, LoadSpec("activity", columns, [DAY], "created_utc"))
        error = refused.value
        assert (error.path, error.line, error.offset) == (path, 3, path.read_bytes().index(b"\xe9"))
        assert "UTF-8" in error.reason and "latin1.csv, line 3, byte offset" in str(error)
        assert not error.retryable
    assert warehouse.table_columns("activity") is None


def test_a_three_megabyte_field_loads(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = activity_rows("2026-01-05", 4)
    rows[1][7] = "x" * (3 * 1024 * 1024)
    path = write_csv(tmp_path / "big.csv", HEADER, rows)

    assert warehouse.replace_windows(path, SPEC).rows == 4
    assert only(read_rows(warehouse, "activity"), HEADER) == only(typed(rows), HEADER)


def test_a_record_beyond_the_loaders_limit_is_refused_on_every_warehouse(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    rows = activity_rows("2026-01-05", 4)
    rows[2][7] = "x" * (MAX_RECORD_BYTES + 1)

    with pytest.raises(MalformedFileError) as refused:
        warehouse.replace_windows(write_csv(tmp_path / "huge.csv", HEADER, rows), SPEC)

    assert refused.value.line == 4 and "longer than the loader's limit" in refused.value.reason


def test_a_database_message_is_cut_to_its_first_line_and_short_values() -> None:
    postgres = (
        f'invalid input syntax for type numeric: "{EMAIL}"\n'
        f'CONTEXT:  COPY _warehouse_stage, line 5, column amount: "{EMAIL}"'
    )
    duckdb = (
        "Conversion Error: CSV Error on Line: 5\n"
        f"Original Line: g_2,2026-01-05,{EMAIL}\n\nPossible fixes: ..."
    )

    assert database_reason(postgres) == "invalid input syntax for type numeric: 'jane.doe@cus…'"
    assert database_reason(duckdb) == "Conversion Error: CSV Error on Line: 5"
