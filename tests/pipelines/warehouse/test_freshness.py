"""Older data never overwrites newer: a load whose windows already hold rows computed later than
its own data is refused (not retried), naming both times and the windows, and the table is unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipelines.warehouse import (
    Column,
    LoadSpec,
    LoadSpecError,
    MissingColumnsError,
    StaleLoadError,
    Warehouse,
    Window,
)

from .support import COLUMNS, HEADER, activity_rows, day_window, day_windows, read_rows, write_csv

FRESHNESS = "_data_load_time"
EARLY = datetime(2026, 1, 8, 3, 0, tzinfo=UTC)
LATE = datetime(2026, 1, 9, 3, 0, tzinfo=UTC)


def spec(windows: list[Window], freshness: datetime, account: str = "acct_a") -> LoadSpec:
    return LoadSpec(
        "activity",
        COLUMNS,
        windows,
        "created_utc",
        scope={"_account": account},
        lineage={FRESHNESS: freshness},
        freshness_column=FRESHNESS,
        freshness=freshness,
    )


def days(tmp_path: Path, name: str, first: str, count: int, tag: str) -> Path:
    start = datetime.fromisoformat(first)
    rows = [
        row
        for offset in range(count)
        for row in activity_rows((start + timedelta(days=offset)).date().isoformat(), 4, tag)
    ]
    return write_csv(tmp_path / name, HEADER, rows)


def test_a_backfill_older_than_a_landed_day_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    # A newer single-day run landed the 6th; a slow backfill computed earlier reaches its commit later.
    warehouse.replace_windows(
        days(tmp_path, "day.csv", "2026-01-06", 1, "new"), spec([day_window("2026-01-06")], LATE)
    )
    before = read_rows(warehouse, "activity", drop=())

    with pytest.raises(StaleLoadError) as refused:
        warehouse.replace_windows(
            days(tmp_path, "backfill.csv", "2026-01-05", 3, "old"), spec(day_windows("2026-01-05", 3), EARLY)
        )

    error = refused.value
    assert error.windows == ["2026-01-06"]
    assert error.stored == LATE and error.freshness == EARLY
    assert not error.retryable
    message = str(error)
    assert "2026-01-06" in message and "2026-01-09T03:00:00+00:00" in message
    assert "2026-01-08T03:00:00+00:00" in message and "nothing was loaded" in message
    assert read_rows(warehouse, "activity", drop=()) == before


def test_newer_or_equally_fresh_data_replaces(warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse.replace_windows(
        days(tmp_path, "a.csv", "2026-01-05", 2, "a"), spec(day_windows("2026-01-05", 2), EARLY)
    )
    # The same run again (equal freshness), then a newer one: a freshness in another zone is the
    # same instant.
    warehouse.replace_windows(
        days(tmp_path, "a.csv", "2026-01-05", 2, "a"), spec(day_windows("2026-01-05", 2), EARLY)
    )
    later = LATE.astimezone(timezone(timedelta(hours=-5)))
    warehouse.replace_windows(
        days(tmp_path, "b.csv", "2026-01-05", 2, "b"), spec(day_windows("2026-01-05", 2), later)
    )

    assert {row["id"][:1] for row in read_rows(warehouse, "activity")} == {"b"}
    assert warehouse.row_counts("activity") == {"2026-01-05": 4, "2026-01-06": 4}


def test_newer_rows_of_another_scope_or_window_do_not_block(warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse.replace_windows(
        days(tmp_path, "b.csv", "2026-01-05", 1, "b"), spec([day_window("2026-01-05")], LATE, "acct_b")
    )
    warehouse.replace_windows(
        days(tmp_path, "a6.csv", "2026-01-06", 1, "a"), spec([day_window("2026-01-06")], LATE)
    )

    warehouse.replace_windows(
        days(tmp_path, "a5.csv", "2026-01-05", 1, "a"), spec([day_window("2026-01-05")], EARLY)
    )

    assert warehouse.row_counts("activity", where={"_account": "acct_a"}) == {
        "2026-01-05": 4,
        "2026-01-06": 4,
    }


def test_rows_loaded_before_the_table_had_a_freshness_column_do_not_block(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = days(tmp_path, "a.csv", "2026-01-05", 1, "a")
    warehouse.replace_windows(
        path,
        LoadSpec(
            "activity", COLUMNS, [day_window("2026-01-05")], "created_utc", scope={"_account": "acct_a"}
        ),
    )

    assert warehouse.replace_windows(path, spec([day_window("2026-01-05")], EARLY)).rows == 4


SIGMA_HEADER = ["day", "currency", "total", FRESHNESS]


def sigma(tmp_path: Path, name: str, loaded: str, total: str) -> Path:
    return write_csv(
        tmp_path / name,
        SIGMA_HEADER,
        [["2026-01-05", "usd", total, loaded], ["2026-01-05", "eur", total, loaded]],
    )


def sigma_spec(freshness: datetime) -> LoadSpec:
    return LoadSpec(
        "daily_totals",
        None,
        [day_window("2026-01-05")],
        "day",
        freshness_column=FRESHNESS,
        freshness=freshness,
    )


def test_a_freshness_column_in_the_file_is_compared_too(warehouse: Warehouse, tmp_path: Path) -> None:
    # Sigma results carry _data_load_time as a column of the file.
    warehouse.replace_windows(sigma(tmp_path, "new.csv", "2026-01-09 03:00:00.000", "20"), sigma_spec(LATE))
    before = read_rows(warehouse, "daily_totals", drop=())

    with pytest.raises(StaleLoadError) as refused:
        warehouse.replace_windows(
            sigma(tmp_path, "old.csv", "2026-01-08 03:00:00.000", "10"), sigma_spec(EARLY)
        )

    assert refused.value.windows == ["2026-01-05"] and refused.value.stored == LATE
    assert read_rows(warehouse, "daily_totals", drop=()) == before


def test_a_freshness_column_stored_as_text_is_compared_as_time(warehouse: Warehouse, tmp_path: Path) -> None:
    # A catalogue that declares the file's freshness column as text: ISO text compares as time.
    header = ["day", "note", FRESHNESS]

    def load(name: str, loaded: str, freshness: datetime) -> None:
        warehouse.replace_windows(
            write_csv(tmp_path / name, header, [["2026-01-05", name, loaded]]),
            LoadSpec(
                "notes",
                [Column(FRESHNESS, "text")],
                [day_window("2026-01-05")],
                "day",
                freshness_column=FRESHNESS,
                freshness=freshness,
            ),
        )

    load("late.csv", "2026-01-09 03:00:00", LATE)
    assert warehouse.table_columns("notes") is not None
    assert Column(FRESHNESS, "text") in (warehouse.table_columns("notes") or [])

    with pytest.raises(StaleLoadError) as refused:
        load("early.csv", "2026-01-08 03:00:00", EARLY)
    assert refused.value.stored == LATE


def test_a_freshness_needs_its_column_and_a_time_zone(tmp_path: Path, duckdb_url: str) -> None:
    window = [day_window("2026-01-05")]
    with pytest.raises(LoadSpecError, match="go together"):
        LoadSpec("activity", COLUMNS, window, "created_utc", freshness_column=FRESHNESS)
    with pytest.raises(LoadSpecError, match="go together"):
        LoadSpec("activity", COLUMNS, window, "created_utc", freshness=LATE)
    with pytest.raises(LoadSpecError, match="time-zone aware"):
        LoadSpec(
            "activity",
            COLUMNS,
            window,
            "created_utc",
            freshness_column=FRESHNESS,
            freshness=datetime(2026, 1, 9),
        )

    wh = Warehouse(duckdb_url)
    missing = LoadSpec("activity", COLUMNS, window, "created_utc", freshness_column=FRESHNESS, freshness=LATE)
    with pytest.raises(MissingColumnsError, match="freshness column `_data_load_time`"):
        wh.replace_windows(days(tmp_path, "a.csv", "2026-01-05", 1, "a"), missing)
    wh.dispose()
