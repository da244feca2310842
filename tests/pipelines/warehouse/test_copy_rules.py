"""Lines PostgreSQL's COPY reads by rules of its own: a record that is exactly ``\\.`` (COPY's
end-of-data marker, at which PostgreSQL before 18 stops reading without an error) and blank lines
(which COPY refuses and the other paths skip). Every warehouse gives the same verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import LoadSpec, MalformedFileError, Warehouse

from .support import COLUMNS, HEADER, activity_rows, day_window, only, read_rows, typed, write_csv

DAY = day_window("2026-01-05")
SPEC = LoadSpec("activity", COLUMNS, [DAY], "created_utc")


def test_a_backslash_dot_line_inside_a_quoted_field_keeps_every_row(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    rows = activity_rows("2026-01-05", 91)
    rows[38][7] = "first line\n\\.\nthird line"
    path = write_csv(tmp_path / "eod.csv", HEADER, rows)

    result = warehouse.replace_windows(path, SPEC)

    assert result.rows == 91
    assert only(read_rows(warehouse, "activity"), HEADER) == only(typed(rows), HEADER)


def test_a_backslash_dot_record_is_refused_at_its_line_and_nothing_changes(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    warehouse.replace_windows(write_csv(tmp_path / "good.csv", HEADER, activity_rows("2026-01-05", 5)), SPEC)
    before = read_rows(warehouse, "activity", drop=())
    rows = activity_rows("2026-01-05", 91, tag="b")
    lines = write_csv(tmp_path / "tmp.csv", HEADER, rows).read_text().splitlines(keepends=True)
    # Header on line 1, 38 records on lines 2-39, then the marker on line 40, 53 records after it.
    path = tmp_path / "marker.csv"
    path.write_text("".join([*lines[:39], "\\.\n", *lines[39:]]))

    with pytest.raises(MalformedFileError) as refused:
        warehouse.replace_windows(path, SPEC)

    assert refused.value.line == 40
    assert "expected 8 fields" in refused.value.reason
    assert read_rows(warehouse, "activity", drop=()) == before


def test_a_one_column_file_keeps_a_backslash_dot_value(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("code\nfirst\n\\.\nlast\n")

    result = warehouse.replace_windows(path, LoadSpec("codes", None, [DAY], None))

    assert result.rows == 3
    assert sorted(row["code"] for row in read_rows(warehouse, "codes")) == ["\\.", "first", "last"]


def test_a_backslash_dot_last_record_without_a_line_end_is_kept(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("code\nfirst\n\\.")

    assert warehouse.replace_windows(path, LoadSpec("codes", None, [DAY], None)).rows == 2


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_blank_lines_are_skipped_on_every_warehouse(
    warehouse: Warehouse, tmp_path: Path, line_end: str
) -> None:
    rows = activity_rows("2026-01-05", 6)
    rows[2][7] = "a field\n\nwith a blank line inside"  # kept: it is inside quotes
    lines = write_csv(tmp_path / "tmp.csv", HEADER, rows).read_text().split("\n")
    path = tmp_path / "blank.csv"
    body = "\n".join([*lines[:3], "", *lines[3:], ""])  # a blank line after two records, two at the end
    path.write_bytes(body.replace("\n", line_end).encode())

    result = warehouse.replace_windows(path, SPEC)

    assert result.rows == 6
    expected = typed(rows)
    if line_end == "\r\n":  # the field's own line ends are CRLF in this file, as written
        for row in expected:
            if row["description"] and "\n" in row["description"]:
                row["description"] = row["description"].replace("\n", "\r\n")
    assert only(read_rows(warehouse, "activity"), HEADER) == only(expected, HEADER)
