"""Types for files that come without them (Sigma results), judged from a sample of the file."""

from __future__ import annotations

from pathlib import Path

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
