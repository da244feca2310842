"""Each load replaces exactly its windows (within its scope): nothing lost, nothing duplicated."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.warehouse import Column, LoadSpec, RowsOutsideWindowsError, Warehouse, Window

from .support import (
    COLUMNS,
    HEADER,
    activity_rows,
    day_window,
    day_windows,
    only,
    read_rows,
    typed,
    write_csv,
)


def load(wh: Warehouse, path: Path, windows: list[Window], **options: object) -> None:
    wh.replace_windows(path, LoadSpec("activity", COLUMNS, windows, "created_utc", **options))  # type: ignore[arg-type]


def test_reloading_a_window_never_duplicates(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "day.csv", HEADER, activity_rows("2026-01-05", 20))
    for _ in range(3):
        load(warehouse, path, [day_window("2026-01-05")])

    assert warehouse.row_counts("activity") == {"2026-01-05": 20}
    assert only(read_rows(warehouse, "activity"), HEADER) == only(
        typed(activity_rows("2026-01-05", 20)), HEADER
    )


def test_reload_replaces_the_window_contents(warehouse: Warehouse, tmp_path: Path) -> None:
    load(
        warehouse,
        write_csv(tmp_path / "v1.csv", HEADER, activity_rows("2026-01-05", 20, tag="v1")),
        [day_window("2026-01-05")],
    )
    corrected = activity_rows("2026-01-05", 7, tag="v2")

    load(warehouse, write_csv(tmp_path / "v2.csv", HEADER, corrected), [day_window("2026-01-05")])

    assert only(read_rows(warehouse, "activity"), HEADER) == only(typed(corrected), HEADER)


def test_loading_day_two_leaves_day_one_alone(warehouse: Warehouse, tmp_path: Path) -> None:
    day_one = activity_rows("2026-01-05", 10)
    load(warehouse, write_csv(tmp_path / "d1.csv", HEADER, day_one), [day_window("2026-01-05")])
    before = [row for row in read_rows(warehouse, "activity", drop=()) if row["_partition"] == "2026-01-05"]

    load(
        warehouse,
        write_csv(tmp_path / "d2.csv", HEADER, activity_rows("2026-01-06", 4)),
        [day_window("2026-01-06")],
    )

    after = [row for row in read_rows(warehouse, "activity", drop=()) if row["_partition"] == "2026-01-05"]
    assert after == before  # _loaded_at included: day one's rows were not rewritten
    assert warehouse.row_counts("activity") == {"2026-01-05": 10, "2026-01-06": 4}


def test_ranged_file_matches_loading_each_day_separately(warehouse_url: str, tmp_path: Path) -> None:
    days = ["2026-01-05", "2026-01-06", "2026-01-07"]
    per_day = {day: activity_rows(day, 5 + index) for index, day in enumerate(days)}
    ranged = Warehouse(warehouse_url, schema="ranged")
    daily = Warehouse(warehouse_url, schema="daily")

    result = ranged.replace_windows(
        write_csv(tmp_path / "range.csv", HEADER, [row for day in days for row in per_day[day]]),
        LoadSpec("activity", COLUMNS, day_windows(days[0], 3), "created_utc"),
    )
    for day in days:
        load(daily, write_csv(tmp_path / f"{day}.csv", HEADER, per_day[day]), [day_window(day)])

    assert result.rows_by_window == {day: len(rows) for day, rows in per_day.items()}
    assert read_rows(ranged, "activity") == read_rows(daily, "activity")
    ranged.dispose()
    daily.dispose()


def test_scope_isolation(warehouse: Warehouse, tmp_path: Path) -> None:
    rows_a = activity_rows("2026-01-05", 6, tag="acct_a")
    rows_b = activity_rows("2026-01-05", 4, tag="acct_b")
    load(
        warehouse,
        write_csv(tmp_path / "a.csv", HEADER, rows_a),
        [day_window("2026-01-05")],
        scope={"_account": "acct_a"},
    )
    load(
        warehouse,
        write_csv(tmp_path / "b.csv", HEADER, rows_b),
        [day_window("2026-01-05")],
        scope={"_account": "acct_b"},
    )

    # Account A's day is reloaded with fewer rows: B's rows for the same day stay.
    load(
        warehouse,
        write_csv(tmp_path / "a2.csv", HEADER, rows_a[:2]),
        [day_window("2026-01-05")],
        scope={"_account": "acct_a"},
    )

    assert warehouse.row_counts("activity", where={"_account": "acct_a"}) == {"2026-01-05": 2}
    assert warehouse.row_counts("activity", where={"_account": "acct_b"}) == {"2026-01-05": 4}
    stored_b = [row for row in read_rows(warehouse, "activity") if row["_account"] == "acct_b"]
    assert only(stored_b, HEADER) == only(typed(rows_b), HEADER)


def test_rows_outside_every_window_fail_and_change_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    load(
        warehouse,
        write_csv(tmp_path / "d1.csv", HEADER, activity_rows("2026-01-05", 5)),
        [day_window("2026-01-05")],
    )
    before = read_rows(warehouse, "activity", drop=())
    stray = activity_rows("2026-01-09", 3, tag="stray")
    path = write_csv(tmp_path / "mixed.csv", HEADER, activity_rows("2026-01-05", 8, tag="new") + stray)

    with pytest.raises(RowsOutsideWindowsError) as caught:
        load(warehouse, path, [day_window("2026-01-05")])

    assert caught.value.count == len(stray)
    assert "mixed.csv" in str(caught.value) and "3 row(s)" in str(caught.value)
    assert str(caught.value.example).startswith("2026-01-09")
    assert read_rows(warehouse, "activity", drop=()) == before


def test_rows_with_no_split_value_are_outside(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = activity_rows("2026-01-05", 3)
    rows[1][1] = ""
    with pytest.raises(RowsOutsideWindowsError) as caught:
        load(warehouse, write_csv(tmp_path / "null.csv", HEADER, rows), [day_window("2026-01-05")])
    assert caught.value.count == 1
    assert warehouse.table_columns("activity") is None  # even the new table was rolled back


def test_window_bounds_are_half_open_and_time_zone_aware(warehouse: Warehouse, tmp_path: Path) -> None:
    # A New York business day: [05:00 UTC, 05:00 UTC next day) in winter.
    ny_day = Window("2026-01-05", datetime(2026, 1, 5, 5, tzinfo=UTC), datetime(2026, 1, 6, 5, tzinfo=UTC))
    ny_next = Window("2026-01-06", datetime(2026, 1, 6, 5, tzinfo=UTC), datetime(2026, 1, 7, 5, tzinfo=UTC))
    rows = activity_rows("2026-01-06", 3)
    rows[0][1] = "2026-01-06 04:59:59.999999"  # the end of the first day
    rows[1][1] = "2026-01-06 05:00:00"  # the start of the second
    rows[2][1] = "2026-01-05 05:00:00"  # the start of the first

    result = warehouse.replace_windows(
        write_csv(tmp_path / "ny.csv", HEADER, rows),
        LoadSpec("activity", COLUMNS, [ny_day, ny_next], "created_utc"),
    )

    assert result.rows_by_window == {"2026-01-05": 2, "2026-01-06": 1}
    placed = {row["id"]: row["_partition"] for row in read_rows(warehouse, "activity")}
    assert placed == {rows[0][0]: "2026-01-05", rows[1][0]: "2026-01-06", rows[2][0]: "2026-01-05"}


def test_split_by_date_or_text_column_matches_window_keys(warehouse: Warehouse, tmp_path: Path) -> None:
    columns = [Column("day", "date"), Column("account", "text"), Column("total", "bigint")]
    path = write_csv(
        tmp_path / "summary.csv",
        ["day", "account", "total"],
        [["2026-01-05", "acct_1", "10"], ["2026-01-06", "acct_1", "20"], ["2026-01-06", "acct_2", "30"]],
    )

    by_date = warehouse.replace_windows(
        path, LoadSpec("by_date", columns, day_windows("2026-01-05", 2), "day")
    )
    by_text = warehouse.replace_windows(
        path, LoadSpec("by_text", columns, _text_windows("acct_1", "acct_2"), "account")
    )

    assert by_date.rows_by_window == {"2026-01-05": 1, "2026-01-06": 2}
    assert by_text.rows_by_window == {"acct_1": 2, "acct_2": 1}
    assert warehouse.row_counts("by_text", by="total") == {"10": 1, "20": 1, "30": 1}


def test_without_split_column_the_whole_file_is_the_window(warehouse: Warehouse, tmp_path: Path) -> None:
    columns = [Column("category", "text"), Column("net_amount", "money")]
    path = write_csv(
        tmp_path / "summary.csv", ["category", "net_amount"], [["starting_balance", "10.00"], ["x", "-1"]]
    )

    result = warehouse.replace_windows(path, LoadSpec("summary", columns, [day_window("2026-01-05")], None))
    warehouse.replace_windows(path, LoadSpec("summary", columns, [day_window("2026-01-06")], None))

    assert result.rows_by_window == {"2026-01-05": 2}
    assert warehouse.row_counts("summary") == {"2026-01-05": 2, "2026-01-06": 2}


def test_overlapping_windows_are_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", HEADER, activity_rows("2026-01-05", 2))
    overlapping = Window("late", datetime(2026, 1, 5, 12, tzinfo=UTC), datetime(2026, 1, 6, 12, tzinfo=UTC))
    with pytest.raises(ValueError, match="overlap"):
        load(warehouse, path, [day_window("2026-01-05"), overlapping])


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="exactly one window"):
        LoadSpec("t", None, day_windows("2026-01-05", 2), None)
    with pytest.raises(ValueError, match="repeat"):
        LoadSpec("t", None, [day_window("2026-01-05")] * 2, "created_utc")
    with pytest.raises(ValueError, match="time-zone aware"):
        Window("2026-01-05", datetime(2026, 1, 5), datetime(2026, 1, 6))


def _text_windows(*keys: str) -> list[Window]:
    # Text-split windows are matched by key; their time bounds only have to be valid.
    return [Window(key, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)) for key in keys]
