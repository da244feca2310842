"""Any other SQLAlchemy dialect loads through the portable path; SQLite stands in for them here."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipelines.warehouse.portable_load as portable_load
from pipelines.warehouse import (
    Column,
    LoadSpec,
    MalformedFileError,
    RowsOutsideWindowsError,
    SchemaDriftError,
    Warehouse,
)

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

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*does \\*not\\* support Decimal")


@pytest.fixture
def sqlite(sqlite_url: str) -> Warehouse:
    return Warehouse(sqlite_url, schema=None)


def test_round_trip_across_batches(
    sqlite: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portable_load.PortableLoad, "batch_rows", 7)  # many batches, a partial last one
    rows = activity_rows("2026-01-05", 40) + activity_rows("2026-01-06", 12)
    path = write_csv(tmp_path / "d.csv", HEADER, rows)

    result = sqlite.replace_windows(
        path, LoadSpec("activity", COLUMNS, day_windows("2026-01-05", 2), "created_utc")
    )

    assert result.rows_by_window == {"2026-01-05": 40, "2026-01-06": 12}
    assert only(read_rows(sqlite, "activity"), HEADER) == only(typed(rows), HEADER)
    assert sqlite.table_columns("activity") is not None
    assert {c.name: c.type for c in sqlite.table_columns("activity") or []}["amount"] == "money"


def test_reload_replaces_only_its_window(sqlite: Warehouse, tmp_path: Path) -> None:
    spec = LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc")
    sqlite.replace_windows(write_csv(tmp_path / "d5.csv", HEADER, activity_rows("2026-01-05", 5)), spec)
    sqlite.replace_windows(
        write_csv(tmp_path / "d6.csv", HEADER, activity_rows("2026-01-06", 3)),
        LoadSpec("activity", COLUMNS, [day_window("2026-01-06")], "created_utc"),
    )

    sqlite.replace_windows(
        write_csv(tmp_path / "d5b.csv", HEADER, activity_rows("2026-01-05", 2, tag="b")), spec
    )

    assert sqlite.row_counts("activity") == {"2026-01-05": 2, "2026-01-06": 3}


def test_failures_roll_back_ddl_and_data(sqlite: Warehouse, tmp_path: Path) -> None:
    spec = LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc")
    sqlite.replace_windows(write_csv(tmp_path / "d.csv", HEADER, activity_rows("2026-01-05", 5)), spec)
    before = read_rows(sqlite, "activity", drop=())
    columns_before = sqlite.table_columns("activity")

    stray = write_csv(
        tmp_path / "stray.csv", HEADER, activity_rows("2026-01-05", 3) + activity_rows("2026-01-08", 2)
    )
    with pytest.raises(RowsOutsideWindowsError):
        sqlite.replace_windows(stray, spec)

    broken = tmp_path / "broken.csv"
    broken.write_text(
        ",".join([*HEADER, "new_column"]) + "\n" + "x,2026-01-05 01:00:00,abc,1,1,true,2026-01-05,,n\n"
    )
    with pytest.raises(MalformedFileError) as caught:
        sqlite.replace_windows(
            broken,
            LoadSpec(
                "activity",
                [*COLUMNS, Column("new_column", "text")],
                [day_window("2026-01-05")],
                "created_utc",
            ),
        )
    assert caught.value.line == 2

    drifted = write_csv(
        tmp_path / "drift.csv", ["id", "created_utc", "units"], [["x", "2026-01-05 01:00:00", "n/a"]]
    )
    with pytest.raises(SchemaDriftError):
        sqlite.replace_windows(drifted, LoadSpec("activity", None, [day_window("2026-01-05")], "created_utc"))

    assert read_rows(sqlite, "activity", drop=()) == before
    assert sqlite.table_columns("activity") == columns_before  # the added column was rolled back too


def test_sqlite_has_no_schemas(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="schema=None"):
        Warehouse(sqlite_url)
