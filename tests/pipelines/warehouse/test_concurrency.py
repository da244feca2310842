"""Concurrent loads of the same partition end with exactly one copy of its rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.warehouse import LoadSpec, Warehouse

from .support import (
    COLUMNS,
    HEADER,
    activity_rows,
    day_window,
    only,
    read_rows,
    start_load_process,
    typed,
    wait_for_line,
    write_csv,
)

SPEC = LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc")


def run_in_threads(count: int, work: Callable[[int], object]) -> list[BaseException]:
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        start.wait()
        try:
            work(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_threads_loading_the_same_partition_leave_one_copy(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = activity_rows("2026-01-05", 50)
    path = write_csv(tmp_path / "d.csv", HEADER, rows)

    for _ in range(3):  # several rounds: the first creates the table, later ones replace
        errors = run_in_threads(4, lambda _: warehouse.replace_windows(path, SPEC))
        assert errors == []
        assert warehouse.row_counts("activity") == {"2026-01-05": 50}
    assert only(read_rows(warehouse, "activity"), HEADER) == only(typed(rows), HEADER)


def test_threads_loading_different_tables_into_a_new_schema(warehouse_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", HEADER, activity_rows("2026-01-05", 10))
    wh = Warehouse(warehouse_url, schema="fresh")

    errors = run_in_threads(
        4,
        lambda index: wh.replace_windows(
            path, LoadSpec(f"table_{index}", COLUMNS, SPEC.windows, "created_utc")
        ),
    )

    assert errors == []
    assert [wh.row_counts(f"table_{index}") for index in range(4)] == [{"2026-01-05": 10}] * 4
    wh.dispose()


def test_processes_loading_the_same_partition_serialise(warehouse_url: str, tmp_path: Path) -> None:
    first_rows = activity_rows("2026-01-05", 30, tag="first")
    second_rows = activity_rows("2026-01-05", 20, tag="second")
    release = tmp_path / "release"
    first = start_load_process(
        warehouse_url,
        "stripe",
        write_csv(tmp_path / "first.csv", HEADER, first_rows),
        SPEC,
        hold=60,
        release=release,
    )
    try:
        wait_for_line(first, "holding")  # the first load has deleted and inserted, not committed
        second = start_load_process(
            warehouse_url, "stripe", write_csv(tmp_path / "second.csv", HEADER, second_rows), SPEC
        )
        wait_for_line(second, "loading")
        time.sleep(0.5)  # the second load is now waiting (for the file or the table's lock)
        release.touch()
        first_out, first_err = first.communicate(timeout=60)
        second_out, second_err = second.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second_err
    assert "done 30" in first_out and "done 20" in second_out

    # The second load ran after the first committed, so it replaced the first's rows.
    wh = Warehouse(warehouse_url)
    assert wh.row_counts("activity") == {"2026-01-05": 20}
    assert only(read_rows(wh, "activity"), HEADER) == only(typed(second_rows), HEADER)
    wh.dispose()


def test_threads_loading_a_new_day_into_an_existing_table_leave_one_copy(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    # The table exists, the day does not: each load deletes nothing, so only the table's lock
    # (in-process on DuckDB, advisory on PostgreSQL) keeps four inserts of the same day from all
    # landing (DuckDB's optimistic concurrency sees no conflict between inserts).
    warehouse.replace_windows(
        write_csv(tmp_path / "first.csv", HEADER, activity_rows("2026-01-05", 10)), SPEC
    )
    rows = activity_rows("2026-01-06", 50)
    path = write_csv(tmp_path / "new_day.csv", HEADER, rows)
    new_day = LoadSpec("activity", COLUMNS, [day_window("2026-01-06")], "created_utc")

    errors = run_in_threads(4, lambda _: warehouse.replace_windows(path, new_day))

    assert errors == []
    assert warehouse.row_counts("activity") == {"2026-01-05": 10, "2026-01-06": 50}
    loaded = [row for row in read_rows(warehouse, "activity") if row["_partition"] == "2026-01-06"]
    assert only(loaded, HEADER) == only(typed(rows), HEADER)
