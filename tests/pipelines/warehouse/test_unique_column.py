"""A unique column: a file repeating one of its values within a window is refused, table untouched;
a value that moved into the load's windows from another window is removed there; the whole table
can be checked for repeated values at any time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.warehouse import (
    DuplicateRowsError,
    LoadSpec,
    MissingColumnsError,
    StaleLoadError,
    Warehouse,
    Window,
)

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


# ---- a record that moves across midnight --------------------------------------------------------

DAY_1, DAY_2 = day_window("2026-01-05"), day_window("2026-01-06")


def moved_day(tmp_path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Day 1 with ``txn_x`` at 23:59:59, and day 2 after Stripe corrected it to 00:00:01 of day 2."""
    first, second = activity_rows("2026-01-05", 5), activity_rows("2026-01-06", 5)
    first[4][0:2] = ["txn_x", "2026-01-05 23:59:59"]
    corrected = [*second, [*first[4][:1], "2026-01-06 00:00:01", *first[4][2:6], "2026-01-06", "corrected"]]
    return first, corrected


def test_a_record_that_moved_across_midnight_is_kept_once(warehouse: Warehouse, tmp_path: Path) -> None:
    first, corrected = moved_day(tmp_path)
    load(warehouse, write_csv(tmp_path / "day1.csv", HEADER, first), [DAY_1])
    load(warehouse, write_csv(tmp_path / "day2.csv", HEADER, corrected[:-1]), [DAY_2])

    # Only the second day is re-landed: its file now holds txn_x.
    result = warehouse.replace_windows(
        write_csv(tmp_path / "day2_again.csv", HEADER, corrected),
        LoadSpec("activity", COLUMNS, [DAY_2], "created_utc", unique_column="id"),
    )

    assert result.moved_from_other_windows == {"2026-01-05": 1}
    assert warehouse.row_counts("activity") == {"2026-01-05": 4, "2026-01-06": 6}
    held = [row for row in read_rows(warehouse, "activity") if row["id"] == "txn_x"]
    assert [(row["_partition"], row["description"]) for row in held] == [("2026-01-06", "corrected")]
    assert warehouse.duplicate_ids("activity", "id") == []


def test_a_record_moves_within_its_scope_only(warehouse: Warehouse, tmp_path: Path) -> None:
    first, corrected = moved_day(tmp_path)
    for account in ("acct_a", "acct_b"):
        warehouse.replace_windows(
            write_csv(tmp_path / "day1.csv", HEADER, first),
            LoadSpec(
                "activity", COLUMNS, [DAY_1], "created_utc", scope={"_account": account}, unique_column="id"
            ),
        )

    result = warehouse.replace_windows(
        write_csv(tmp_path / "day2.csv", HEADER, corrected),
        LoadSpec(
            "activity", COLUMNS, [DAY_2], "created_utc", scope={"_account": "acct_a"}, unique_column="id"
        ),
    )

    assert result.moved_from_other_windows == {"2026-01-05": 1}
    assert warehouse.row_counts("activity", where={"_account": "acct_b"}) == {"2026-01-05": 5}
    assert warehouse.duplicate_ids("activity", "id", scope={"_account": "acct_a"}) == []
    # Across scopes every id is there twice (once per account), txn_x on the two days.
    across = dict(warehouse.duplicate_ids("activity", "id", limit=100))
    assert len(across) == 5 and across["txn_x"] == ["2026-01-05", "2026-01-06"]


def test_duplicate_ids_covers_the_whole_table(warehouse: Warehouse, tmp_path: Path) -> None:
    # Loaded without a unique column, so nothing was moved: the check still finds the copies.
    first, corrected = moved_day(tmp_path)
    first[1][0] = first[0][0]  # one id twice within day 1 as well
    warehouse.replace_windows(
        write_csv(tmp_path / "two_days.csv", HEADER, [*first, *corrected]),
        LoadSpec("activity", COLUMNS, [DAY_1, DAY_2], "created_utc"),
    )

    found = warehouse.duplicate_ids("activity", "id")

    assert found == [
        (first[0][0], ["2026-01-05", "2026-01-05"]),
        ("txn_x", ["2026-01-05", "2026-01-06"]),
    ]
    assert warehouse.duplicate_ids("activity", "id", limit=1) == found[:1]
    assert warehouse.duplicate_ids("missing", "id") == []
    assert warehouse.duplicate_ids("activity", "id", scope={"_account": "acct_a"}) == []


def test_a_record_is_not_taken_from_a_window_computed_later(warehouse: Warehouse, tmp_path: Path) -> None:
    early, late = datetime(2026, 1, 8, tzinfo=UTC), datetime(2026, 1, 9, tzinfo=UTC)

    def fresh(windows: list[Window], at: datetime) -> LoadSpec:
        return LoadSpec(
            "activity",
            COLUMNS,
            windows,
            "created_utc",
            unique_column="id",
            lineage={"_data_load_time": at},
            freshness_column="_data_load_time",
            freshness=at,
        )

    first, corrected = moved_day(tmp_path)
    warehouse.replace_windows(write_csv(tmp_path / "day1.csv", HEADER, first), fresh([DAY_1], late))
    before = read_rows(warehouse, "activity", drop=())

    with pytest.raises(StaleLoadError) as refused:
        warehouse.replace_windows(write_csv(tmp_path / "day2.csv", HEADER, corrected), fresh([DAY_2], early))

    assert refused.value.windows == ["2026-01-05"]
    assert read_rows(warehouse, "activity", drop=()) == before


@pytest.mark.postgres
def test_the_unique_column_is_indexed_on_postgres_even_for_an_older_table(
    postgres_url: str, tmp_path: Path
) -> None:
    wh = Warehouse(postgres_url)
    path = write_csv(tmp_path / "day.csv", HEADER, activity_rows("2026-01-05", 3))
    wh.replace_windows(path, LoadSpec("activity", COLUMNS, [DAY_1], "created_utc"))  # no unique column yet
    load(wh, path, [DAY_1])

    with wh.engine.connect() as conn:
        indexes = (
            conn.execute(
                sa.text(
                    "select indexdef from pg_indexes where schemaname = 'stripe' and tablename = 'activity'"
                )
            )
            .scalars()
            .all()
        )
    assert any(index.endswith("(id)") for index in indexes), indexes
    wh.dispose()
