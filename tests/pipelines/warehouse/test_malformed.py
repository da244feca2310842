"""Files that do not parse are refused with file, line and reason, and the table is left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import LoadSpec, MalformedFileError, Warehouse

from .support import COLUMNS, HEADER, activity_rows, day_window, read_rows, write_csv

DAY = day_window("2026-01-05")
SPEC = LoadSpec("activity", COLUMNS, [DAY], "created_utc")
GOOD = "g_1,2026-01-05 01:00:00,1.50,3,0.5,true,2026-01-05,fine"
# A record spanning lines 2-3, so a problem after it is on a later line than its record number.
MULTI_LINE = 'g_0,2026-01-05 00:30:00,1.00,1,0.5,false,2026-01-05,"two\nlines"'

CASES = {
    "unterminated quote": (
        f'{GOOD}\ng_2,2026-01-05 02:00:00,1.00,1,0.5,true,2026-01-05,"never closed\n',
        5,
        "unterminated",
    ),
    "extra field": (
        f"{GOOD}\ng_2,2026-01-05 02:00:00,1.00,1,0.5,true,2026-01-05,x,surplus\n",
        5,
        "expected 8 fields",
    ),
    "missing field": (f"{GOOD}\ng_2,2026-01-05 02:00:00,1.00,1,0.5,true\n", 5, "expected 8 fields"),
    "bad number": (f"{GOOD}\ng_2,2026-01-05 02:00:00,1.00,lots,0.5,true,2026-01-05,x\n", 5, "units"),
    "fraction in bigint": (f"{GOOD}\ng_2,2026-01-05 02:00:00,1.00,2.5,0.5,true,2026-01-05,x\n", 5, "units"),
    "bad money": (f"{GOOD}\ng_2,2026-01-05 02:00:00,1.0.0,1,0.5,true,2026-01-05,x\n", 5, "amount"),
    "money out of range": (f"{GOOD}\ng_2,2026-01-05 02:00:00,1e30,1,0.5,true,2026-01-05,x\n", 5, "amount"),
    "bad timestamp": (f"{GOOD}\ng_2,soon,1.00,1,0.5,true,2026-01-05,x\n", 5, "created_utc"),
    "day-first timestamp": (
        f"{GOOD}\ng_2,05/01/2026 02:00:00,1.00,1,0.5,true,2026-01-05,x\n",
        5,
        "created_utc",
    ),
    "bad boolean": (f"{GOOD}\ng_2,2026-01-05 02:00:00,1.00,1,0.5,perhaps,2026-01-05,x\n", 5, "settled"),
    "bad date": (f"{GOOD}\ng_2,2026-01-05 02:00:00,1.00,1,0.5,true,2026-02-30,x\n", 5, "value_date"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_file_is_refused_and_changes_nothing(
    warehouse: Warehouse, tmp_path: Path, case: str
) -> None:
    warehouse.replace_windows(write_csv(tmp_path / "good.csv", HEADER, activity_rows("2026-01-05", 5)), SPEC)
    before = read_rows(warehouse, "activity", drop=())
    body, line, reason = CASES[case]
    path = tmp_path / "broken.csv"
    path.write_text(",".join(HEADER) + "\n" + MULTI_LINE + "\n" + body, encoding="utf-8")

    with pytest.raises(MalformedFileError) as caught:
        warehouse.replace_windows(path, SPEC)

    error = caught.value
    assert error.path == path and error.line == line
    assert reason in error.reason
    assert str(error).startswith(f"broken.csv, line {line}:")
    assert read_rows(warehouse, "activity", drop=()) == before


def test_invalid_utf8_names_its_line(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (",".join(HEADER) + "\n" + GOOD + "\n").encode()
        + "g_2,2026-01-05 02:00:00,1,1,1,true,2026-01-05,caf\xe9\n".encode("latin-1")
    )
    with pytest.raises(MalformedFileError) as caught:
        warehouse.replace_windows(path, SPEC)
    assert caught.value.line == 3 and "UTF-8" in caught.value.reason
    assert warehouse.table_columns("activity") is None


def test_empty_file_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(MalformedFileError, match="empty"):
        warehouse.replace_windows(path, SPEC)


def test_duplicate_header_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dup.csv", ["id", "id"], [["a", "b"]])
    with pytest.raises(MalformedFileError, match="twice"):
        warehouse.replace_windows(path, LoadSpec("dup", None, [DAY], None))


def test_malformed_file_without_declared_types(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "sigma.csv"
    path.write_text("day,n\n2026-01-05 00:00:00.000,1\n2026-01-05 00:00:00.000,2,3\n")
    with pytest.raises(MalformedFileError) as caught:
        warehouse.replace_windows(path, LoadSpec("sigma", None, [DAY], "day"))
    assert caught.value.line == 3
