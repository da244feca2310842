"""A file holding another number of records than its source said is refused, the table unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import LoadSpec, SourceRowCountError, Warehouse

from .support import COLUMNS, HEADER, activity_rows, day_window, read_rows, write_csv

DAY = day_window("2026-01-05")


def test_a_file_with_the_records_its_source_announced_loads(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "day.csv", HEADER, activity_rows("2026-01-05", 5))

    result = warehouse.replace_windows(
        path, LoadSpec("activity", COLUMNS, [DAY], "created_utc", expected_records=5)
    )

    assert result.rows == result.records_in_file == 5


def test_a_file_short_of_its_announced_records_is_refused_and_retried(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "first.csv", HEADER, activity_rows("2026-01-05", 5))
    warehouse.replace_windows(first, LoadSpec("activity", COLUMNS, [DAY], "created_utc"))
    before = read_rows(warehouse, "activity")
    short = write_csv(tmp_path / "short.csv", HEADER, activity_rows("2026-01-05", 4, tag="b"))

    with pytest.raises(
        SourceRowCountError, match="4 record\\(s\\) in the file, but its source says 5"
    ) as raised:
        warehouse.replace_windows(
            short, LoadSpec("activity", COLUMNS, [DAY], "created_utc", expected_records=5)
        )

    assert raised.value.retryable
    assert read_rows(warehouse, "activity") == before
