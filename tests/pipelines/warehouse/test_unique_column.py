"""A unique column: a file repeating one of its values within a window is refused, table untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import DuplicateRowsError, LoadSpec, MissingColumnsError, Warehouse, Window

from .support import COLUMNS, HEADER, activity_rows, day_window, day_windows, read_rows, write_csv


def load(wh: Warehouse, path: Path, windows: list[Window]) -> None:
    wh.replace_windows(path, LoadSpec("activity", COLUMNS, windows, "created_utc", unique_column="id"))


def test_a_file_repeating_a_value_within_a_day_is_refused_and_nothing_changes(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    day = activity_rows("2026-01-05", 12)
    load(warehouse, write_csv(tmp_path / "first.csv", HEADER, day), [day_window("2026-01-05")])
    before = read_rows(warehouse, "activity", drop=())
    again = activity_rows("2026-01-05", 12, tag="b")
    repeated = [*again, again[4]]

    with pytest.raises(DuplicateRowsError) as refused:
        load(warehouse, write_csv(tmp_path / "twice.csv", HEADER, repeated), [day_window("2026-01-05")])

    assert read_rows(warehouse, "activity", drop=()) == before
    assert refused.value.duplicates == [("2026-01-05", again[4][0], 2)]
    assert f"id {again[4][0]!r} appears 2 times in 2026-01-05" in str(refused.value)
    assert "twice.csv" in str(refused.value) and "nothing was loaded" in str(refused.value)


def test_the_same_value_on_different_days_or_reloaded_is_fine(warehouse: Warehouse, tmp_path: Path) -> None:
    first, second = activity_rows("2026-01-05", 5), activity_rows("2026-01-06", 5)
    second[0][0] = first[0][0]  # one id on two days
    path = write_csv(tmp_path / "two_days.csv", HEADER, [*first, *second])

    load(warehouse, path, day_windows("2026-01-05", 2))
    load(warehouse, path, day_windows("2026-01-05", 2))  # a reload replaces, so it repeats nothing

    assert warehouse.row_counts("activity") == {"2026-01-05": 5, "2026-01-06": 5}


def test_a_unique_column_missing_from_the_file_is_an_error(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "day.csv", HEADER, activity_rows("2026-01-05", 3))
    spec = LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc", unique_column="charge_id")

    with pytest.raises(MissingColumnsError, match=r"day\.csv lacks unique column `charge_id`"):
        warehouse.replace_windows(path, spec)

    assert warehouse.table_columns("activity") is None
