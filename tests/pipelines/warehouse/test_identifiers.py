"""Names from files and specs reach SQL only as checked, quoted identifiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import Column, IdentifierError, LoadSpec, Warehouse

from .support import COLUMNS, HEADER, activity_rows, day_window, read_rows, write_csv

DAY = day_window("2026-01-05")
INJECTIONS = [
    'amount"; DROP TABLE stripe.activity; --',
    "x' OR '1'='1",
    "Amount",
    "1abc",
    "a b",
    "",
    "a" * 64,
]


@pytest.fixture
def loaded(warehouse: Warehouse, tmp_path: Path) -> list[dict[str, object]]:
    warehouse.replace_windows(
        write_csv(tmp_path / "good.csv", HEADER, activity_rows("2026-01-05", 3)),
        LoadSpec("activity", COLUMNS, [DAY], "created_utc"),
    )
    return read_rows(warehouse, "activity", drop=())


@pytest.mark.parametrize("name", INJECTIONS)
def test_bad_header_name_is_refused(
    warehouse: Warehouse, tmp_path: Path, loaded: list[dict[str, object]], name: str
) -> None:
    path = write_csv(tmp_path / "evil.csv", ["id", "created_utc", name], [["x", "2026-01-05 01:00:00", "1"]])

    with pytest.raises(IdentifierError) as caught:
        warehouse.replace_windows(path, LoadSpec("activity", None, [DAY], "created_utc"))

    assert "evil.csv" in str(caught.value) and repr(name) in str(caught.value)
    assert read_rows(warehouse, "activity", drop=()) == loaded


@pytest.mark.parametrize("name", INJECTIONS)
def test_bad_table_name_is_refused(
    warehouse: Warehouse, tmp_path: Path, loaded: list[dict[str, object]], name: str
) -> None:
    path = write_csv(tmp_path / "good.csv", HEADER, activity_rows("2026-01-05", 1))
    with pytest.raises(IdentifierError, match="table name"):
        warehouse.replace_windows(path, LoadSpec(name, COLUMNS, [DAY], "created_utc"))
    with pytest.raises(IdentifierError):
        warehouse.qualified(name)
    with pytest.raises(IdentifierError):
        warehouse.row_counts(name)
    assert read_rows(warehouse, "activity", drop=()) == loaded


def test_bad_scope_lineage_and_declared_names_are_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "good.csv", HEADER, activity_rows("2026-01-05", 1))
    for spec in (
        LoadSpec("activity", COLUMNS, [DAY], "created_utc", scope={"acct; --": "x"}),
        LoadSpec("activity", COLUMNS, [DAY], "created_utc", lineage={'run"id': "x"}),
        LoadSpec("activity", [*COLUMNS, Column("bad name", "text")], [DAY], "created_utc"),
    ):
        with pytest.raises(IdentifierError):
            warehouse.replace_windows(path, spec)
    with pytest.raises(IdentifierError):
        warehouse.row_counts("activity", where={"x = x or 1": 1})
    assert warehouse.table_columns("activity") is None


def test_names_clashing_with_loader_columns_are_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    with_partition = write_csv(tmp_path / "p.csv", ["id", "_partition"], [["x", "2026-01-05"]])
    with pytest.raises(IdentifierError, match="reserved"):
        warehouse.replace_windows(with_partition, LoadSpec("t", None, [DAY], None))
    path = write_csv(tmp_path / "good.csv", HEADER, activity_rows("2026-01-05", 1))
    with pytest.raises(IdentifierError, match="clashes"):
        warehouse.replace_windows(path, LoadSpec("t", COLUMNS, [DAY], "created_utc", scope={"id": "x"}))


def test_bad_schema_name_is_refused(warehouse_url: str) -> None:
    with pytest.raises(IdentifierError, match="schema"):
        Warehouse(warehouse_url, schema="stripe; DROP SCHEMA public")


def test_reserved_words_are_fine_as_names(warehouse: Warehouse, tmp_path: Path) -> None:
    header = ["select", "order", "user", "from"]
    rows = [["1", "2026-01-05", "alice", "x,y"]]
    path = write_csv(tmp_path / "words.csv", header, rows)

    warehouse.replace_windows(path, LoadSpec("group", None, [DAY], "order"))

    stored = read_rows(warehouse, "group")
    assert [(r["select"], str(r["order"]), r["user"], r["from"]) for r in stored] == [
        (1, "2026-01-05", "alice", "x,y")
    ]
