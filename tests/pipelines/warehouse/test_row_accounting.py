"""Every load accounts for its rows: the records the file holds (counted from its bytes), the rows
the database reports inserting and the rows counted in the windows afterwards, inside the
transaction, must be equal, or the load is rolled back with the three numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import pipelines.warehouse.warehouse as warehouse_module
from pipelines.warehouse import LoadSpec, RowCountMismatchError, Warehouse
from pipelines.warehouse.scan import FileScan
from pipelines.warehouse.warehouse import bulk_load_for

from .support import COLUMNS, HEADER, activity_rows, day_window, day_windows, read_rows, write_csv

DAYS = day_windows("2026-01-05", 2)
SPEC = LoadSpec("activity", COLUMNS, DAYS, "created_utc")


def two_days(tmp_path: Path, name: str = "d.csv", tag: str = "a") -> Path:
    rows = activity_rows("2026-01-05", 30, tag) + activity_rows("2026-01-06", 20, tag)
    rows[4][7] = "a description\nover two lines"
    return write_csv(tmp_path / name, HEADER, rows)


def test_the_result_carries_the_three_counts(warehouse: Warehouse, tmp_path: Path) -> None:
    path = two_days(tmp_path)
    with path.open("a") as handle:
        handle.write("\n\n")  # blank lines are no records

    result = warehouse.replace_windows(path, SPEC)

    assert (result.records_in_file, result.rows_inserted, result.rows) == (50, 50, 50)
    assert result.rows_by_window == {"2026-01-05": 30, "2026-01-06": 20}


def test_a_database_that_loses_a_row_fails_the_load_with_the_three_numbers(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse.replace_windows(two_days(tmp_path, "first.csv"), SPEC)
    before = read_rows(warehouse, "activity", drop=())
    bulk = bulk_load_for(warehouse.engine.dialect.name)
    insert = bulk.insert

    def lossy(self: Any, conn: sa.Connection) -> int:
        # The database says it inserted every row, but one is gone when the windows are counted.
        inserted = insert(self, conn)
        target = self.plan.target
        conn.execute(sa.delete(target).where(target.c.id == "b_2026-01-06_00003"))
        return inserted

    monkeypatch.setattr(bulk, "insert", lossy)

    with pytest.raises(RowCountMismatchError) as refused:
        warehouse.replace_windows(two_days(tmp_path, "second.csv", tag="b"), SPEC)

    error = refused.value
    assert (error.records_in_file, error.rows_inserted, error.rows_in_windows) == (50, 50, 49)
    assert "50 record(s) in the file, 50 row(s) inserted" in str(error) and "49 row(s) counted" in str(error)
    assert not error.retryable
    assert read_rows(warehouse, "activity", drop=()) == before


def test_a_file_holding_more_records_than_the_database_read_fails_the_load(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse.replace_windows(two_days(tmp_path, "first.csv"), SPEC)
    before = read_rows(warehouse, "activity", drop=())
    scan = warehouse_module.scan_file

    def one_more(path: Path) -> FileScan:
        found = scan(path)
        return FileScan(found.records + 1, found.longest_record, found.end_markers, found.blank_lines)

    monkeypatch.setattr(warehouse_module, "scan_file", one_more)

    with pytest.raises(RowCountMismatchError) as refused:
        warehouse.replace_windows(two_days(tmp_path, "second.csv", tag="b"), SPEC)

    assert (refused.value.records_in_file, refused.value.rows_inserted) == (51, 50)
    assert read_rows(warehouse, "activity", drop=()) == before


@pytest.mark.postgres
def test_a_copy_that_stops_at_its_end_marker_is_caught_by_the_count(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On the staging path, without the loader's edit of `\.` records, COPY stops reading there and
    # reports no error: the count is what catches it.
    import pipelines.warehouse.postgres_load as postgres_load

    monkeypatch.setattr(postgres_load.PostgresLoad, "_stream_layout", lambda self, conn: None)
    monkeypatch.setattr(postgres_load.PostgresLoad, "_edits", lambda self: [])
    path = tmp_path / "codes.csv"
    path.write_text("code\nfirst\n\\.\nlast\n")
    wh = Warehouse(postgres_url)

    with pytest.raises(RowCountMismatchError) as refused:
        wh.replace_windows(path, LoadSpec("codes", None, [day_window("2026-01-05")], None))

    assert (refused.value.records_in_file, refused.value.rows_inserted) == (3, 1)
    assert wh.table_columns("codes") is None
    wh.dispose()
