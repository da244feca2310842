"""A file lacking a column the load needs (declared, split or unique) is refused before the database
is touched: a clear, final error naming the file, the table and the columns, and the table unchanged."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipelines.warehouse import LoadSpec, MissingColumnsError, Warehouse

from .support import (
    COLUMNS,
    HEADER,
    activity_rows,
    day_window,
    read_rows,
    start_load_process,
    wait_for_line,
    write_csv,
)

DAY = day_window("2026-01-05")
SPEC = LoadSpec("activity", COLUMNS, [DAY], "created_utc")


def without(columns: list[str], rows: list[list[str]], *dropped: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows with the ``dropped`` columns cut out."""
    keep = [index for index, name in enumerate(columns) if name not in dropped]
    return [columns[i] for i in keep], [[row[i] for i in keep] for row in rows]


@pytest.fixture
def loaded(warehouse: Warehouse, tmp_path: Path) -> list[dict[str, object]]:
    """The activity table after a good load of one day, every column included."""
    warehouse.replace_windows(write_csv(tmp_path / "good.csv", HEADER, activity_rows("2026-01-05", 4)), SPEC)
    return read_rows(warehouse, "activity", drop=())


def test_a_declared_column_missing_from_the_file_is_refused(
    warehouse: Warehouse, tmp_path: Path, loaded: list[dict[str, object]]
) -> None:
    header, rows = without(HEADER, activity_rows("2026-01-05", 3, tag="new"), "amount", "ratio")
    path = write_csv(tmp_path / "frr_123.csv", header, rows)

    with pytest.raises(MissingColumnsError) as refused:
        warehouse.replace_windows(path, SPEC)

    error = refused.value
    assert (error.path, error.table, error.missing, error.role) == (
        path,
        "stripe.activity",
        ["amount", "ratio"],
        "declared",
    )
    assert str(error) == (
        "frr_123.csv lacks declared column(s) `amount`, `ratio` of stripe.activity; nothing was loaded"
    )
    assert rows[0][0] not in str(error)  # names only, never row contents
    assert error.retryable is False
    assert read_rows(warehouse, "activity", drop=()) == loaded


def test_a_declared_column_is_refused_even_on_a_first_load(warehouse: Warehouse, tmp_path: Path) -> None:
    header, rows = without(HEADER, activity_rows("2026-01-05", 3), "description")
    path = write_csv(tmp_path / "first.csv", header, rows)

    with pytest.raises(MissingColumnsError, match="`description`"):
        warehouse.replace_windows(path, SPEC)

    assert warehouse.table_columns("activity") is None


def test_the_split_column_missing_from_the_file_is_refused(
    warehouse: Warehouse, tmp_path: Path, loaded: list[dict[str, object]]
) -> None:
    # Types inferred (no declared columns, like a Sigma query), so only the split column is needed.
    header, rows = without(HEADER, activity_rows("2026-01-05", 3), "created_utc")
    path = write_csv(tmp_path / "sigma.csv", header, rows)

    with pytest.raises(MissingColumnsError) as refused:
        warehouse.replace_windows(path, LoadSpec("activity", None, [DAY], "created_utc"))

    error = refused.value
    assert (error.missing, error.role, error.table) == (["created_utc"], "split", "stripe.activity")
    assert "sigma.csv" in str(error) and "`created_utc`" in str(error)
    assert "cannot be assigned to windows" in str(error)
    assert error.retryable is False
    assert read_rows(warehouse, "activity", drop=()) == loaded


def test_the_unique_column_missing_from_the_file_is_refused(
    warehouse: Warehouse, tmp_path: Path, loaded: list[dict[str, object]]
) -> None:
    path = write_csv(tmp_path / "day.csv", HEADER, activity_rows("2026-01-05", 3, tag="new"))
    spec = LoadSpec("activity", COLUMNS, [DAY], "created_utc", unique_column="charge_id")

    with pytest.raises(MissingColumnsError) as refused:
        warehouse.replace_windows(path, spec)

    error = refused.value
    assert (error.missing, error.role) == (["charge_id"], "unique")
    assert "day.csv" in str(error) and "stripe.activity" in str(error) and "`charge_id`" in str(error)
    assert error.retryable is False
    assert read_rows(warehouse, "activity", drop=()) == loaded


def test_the_file_is_refused_without_waiting_for_the_database(warehouse_url: str, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", HEADER, activity_rows("2026-01-05", 3))
    # Another process holds the table (PostgreSQL: its lock; DuckDB: the database file) for 60 s.
    holder = start_load_process(warehouse_url, "stripe", good, SPEC, hold=60)
    header, rows = without(HEADER, activity_rows("2026-01-05", 3), "amount")
    wh = Warehouse(warehouse_url, schema="stripe")
    try:
        wait_for_line(holder, "holding")
        started = time.monotonic()
        with pytest.raises(MissingColumnsError):
            wh.replace_windows(write_csv(tmp_path / "short.csv", header, rows), SPEC)
        assert time.monotonic() - started < 10  # refused from the file alone, not after a wait
    finally:
        holder.kill()
        holder.wait()
        wh.dispose()
