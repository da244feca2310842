"""Types for files that come without them (Sigma results), judged from every row of the file; a column
with no value yet stays undecided until a file with values types it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import Column, LoadSpec, Warehouse
from pipelines.warehouse.csv_file import CsvFile
from pipelines.warehouse.inference import infer_types

from .support import day_window, read_rows, write_csv


def infer(tmp_path: Path, columns: dict[str, list[str]], sample_rows: int = 50_000) -> dict[str, str | None]:
    names = list(columns)
    rows = list(zip(*columns.values(), strict=True))
    csv_file = CsvFile(write_csv(tmp_path / "sample.csv", names, rows))
    return {
        name: None if t is None else str(t) for name, t in infer_types(csv_file, names, sample_rows).items()
    }


def test_each_type_is_recognised(tmp_path: Path) -> None:
    assert infer(
        tmp_path,
        {
            "day": ["2026-01-05 00:00:00.000", "2026-01-06 00:00:00.000"],
            "date": ["2026-01-05", "2026-01-06"],
            "count": ["3", "-12"],
            "ratio": ["0.5", "3"],
            "flag": ["true", "FALSE"],
            "name": ["usd", "eur"],
            "empty": ["", ""],
        },
    ) == {
        "day": "timestamp",
        "date": "date",
        "count": "bigint",
        "ratio": "double",
        "flag": "boolean",
        "name": "text",
        "empty": None,
    }


def test_values_that_only_look_typed_stay_text(tmp_path: Path) -> None:
    assert infer(
        tmp_path,
        {
            "code": ["0042", "17"],  # a leading zero would be lost as a number
            "mixed": ["12", "n/a"],
            "not_a_date": ["2026-02-30", "2026-01-01"],
            "huge": ["123456789012345678901234", "1"],  # beyond bigint
        },
    ) == {"code": "text", "mixed": "text", "not_a_date": "text", "huge": "double"}


def test_only_the_sample_is_read(tmp_path: Path) -> None:
    assert infer(tmp_path, {"n": ["1", "2", "x"]}, sample_rows=2) == {"n": "bigint"}


def test_declared_columns_are_not_inferred(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "report.csv", ["id", "day", "n"], [["0042", "2026-01-05", "7"]])

    warehouse.replace_windows(
        path, LoadSpec("report", [Column("id", "text")], [day_window("2026-01-05")], "day")
    )

    assert {c.name: c.type for c in warehouse.table_columns("report") or []} == {
        "id": "text",
        "day": "date",
        "n": "bigint",
        "_partition": "text",
        "_loaded_at": "timestamp",
    }
    assert [(row["id"], row["n"]) for row in read_rows(warehouse, "report")] == [("0042", 7)]


# ---- typing that never traps a table ------------------------------------------------------------

SIGMA = ["day", "currency", "fee"]


def sigma(tmp_path: Path, name: str, day: str, fees: list[str]) -> Path:
    return write_csv(tmp_path / name, SIGMA, [[day, f"c{index}", fee] for index, fee in enumerate(fees)])


def sigma_load(wh: Warehouse, path: Path, day: str, columns: list[Column] | None = None) -> None:
    wh.replace_windows(path, LoadSpec("fees", columns, [day_window(day)], "day"))


def types(wh: Warehouse) -> dict[str, str]:
    return {column.name: column.type for column in wh.table_columns("fees") or []}


def test_a_column_empty_in_the_first_file_takes_the_type_of_the_first_values(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    sigma_load(warehouse, sigma(tmp_path, "d1.csv", "2026-01-05", ["", ""]), "2026-01-05")
    sigma_load(warehouse, sigma(tmp_path, "d2.csv", "2026-01-06", ["", ""]), "2026-01-06")
    assert types(warehouse)["fee"] == "text"  # nothing seen yet: undecided

    sigma_load(warehouse, sigma(tmp_path, "d3.csv", "2026-01-07", ["1.5", "2"]), "2026-01-07")

    assert types(warehouse)["fee"] == "double"
    assert sorted((row["_partition"], row["fee"]) for row in read_rows(warehouse, "fees")) == [
        ("2026-01-05", None),
        ("2026-01-05", None),
        ("2026-01-06", None),
        ("2026-01-06", None),
        ("2026-01-07", 1.5),
        ("2026-01-07", 2.0),
    ]
    # Typed for good: an empty day again keeps it, a day of whole numbers fits it.
    sigma_load(warehouse, sigma(tmp_path, "d1.csv", "2026-01-05", ["", ""]), "2026-01-05")
    sigma_load(warehouse, sigma(tmp_path, "d4.csv", "2026-01-08", ["3"]), "2026-01-08")
    assert types(warehouse)["fee"] == "double"
    totals = warehouse.totals("fees", "fee", group_by="day", window_keys=["2026-01-07", "2026-01-08"])
    assert {key: float(total) for key, total in totals.items()} == {
        ("2026-01-07", "2026-01-07"): 3.5,
        ("2026-01-08", "2026-01-08"): 3.0,
    }


def test_a_column_that_held_text_stays_text(warehouse: Warehouse, tmp_path: Path) -> None:
    sigma_load(warehouse, sigma(tmp_path, "d1.csv", "2026-01-05", ["n/a"]), "2026-01-05")

    sigma_load(warehouse, sigma(tmp_path, "d2.csv", "2026-01-06", ["17"]), "2026-01-06")
    sigma_load(warehouse, sigma(tmp_path, "d1b.csv", "2026-01-05", ["18"]), "2026-01-05")  # replaces the text

    assert types(warehouse)["fee"] == "text"
    assert sorted(row["fee"] for row in read_rows(warehouse, "fees")) == ["17", "18"]


def test_a_declared_type_settles_an_undecided_column(warehouse: Warehouse, tmp_path: Path) -> None:
    sigma_load(warehouse, sigma(tmp_path, "d1.csv", "2026-01-05", [""]), "2026-01-05")

    sigma_load(
        warehouse, sigma(tmp_path, "d2.csv", "2026-01-06", ["0.25"]), "2026-01-06", [Column("fee", "money")]
    )

    assert types(warehouse)["fee"] == "money"
    assert [str(row["fee"]) for row in read_rows(warehouse, "fees") if row["fee"] is not None] == ["0.250"]


def test_a_value_past_any_sample_types_the_column(warehouse: Warehouse, tmp_path: Path) -> None:
    # Whole numbers for 50,000 rows, then 1.5: inferred from every row, the column is a double.
    rows = [["2026-01-05", str(index)] for index in range(50_000)] + [["2026-01-05", "1.5"]]
    path = write_csv(tmp_path / "long.csv", ["day", "n"], rows)

    result = warehouse.replace_windows(path, LoadSpec("long", None, [day_window("2026-01-05")], "day"))

    assert result.rows == 50_001
    assert {c.name: c.type for c in result.table_columns}["n"] == "double"


@pytest.mark.filterwarnings("ignore:Dialect sqlite.*does \\*not\\* support Decimal")
def test_an_undecided_column_is_typed_on_the_portable_path_too(sqlite_url: str, tmp_path: Path) -> None:
    wh = Warehouse(sqlite_url, schema=None)
    sigma_load(wh, sigma(tmp_path, "d1.csv", "2026-01-05", [""]), "2026-01-05")

    sigma_load(wh, sigma(tmp_path, "d2.csv", "2026-01-06", ["1.5"]), "2026-01-06")

    assert types(wh)["fee"] == "double"
    assert sorted((row["_partition"], row["fee"]) for row in read_rows(wh, "fees")) == [
        ("2026-01-05", None),
        ("2026-01-06", 1.5),
    ]
    wh.dispose()
