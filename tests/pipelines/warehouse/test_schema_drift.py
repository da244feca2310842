"""Files whose columns change over time: new columns are added, undeclared missing ones are NULL
(and reported as dropped), and data the table cannot hold fails before anything is deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import Column, LoadSpec, SchemaDriftError, Warehouse

from .support import day_window, read_rows, write_csv

BASE = [Column("id", "text"), Column("created_utc", "timestamp"), Column("amount", "bigint")]
DAY = day_window("2026-01-05")


def spec(columns: list[Column] | None, table: str = "drift") -> LoadSpec:
    return LoadSpec(table, columns, [DAY], "created_utc")


def test_new_column_in_file_is_added(warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse.replace_windows(
        write_csv(
            tmp_path / "v1.csv", ["id", "created_utc", "amount"], [["old", "2026-01-05 01:00:00", "1"]]
        ),
        LoadSpec("drift", BASE, [DAY], "created_utc", scope={"_account": "acct_a"}),
    )

    warehouse.replace_windows(
        write_csv(
            tmp_path / "v2.csv",
            ["id", "created_utc", "amount", "fee"],
            [["new", "2026-01-05 02:00:00", "2", "0.30"]],
        ),
        LoadSpec(
            "drift", [*BASE, Column("fee", "money")], [DAY], "created_utc", scope={"_account": "acct_b"}
        ),
    )

    columns = warehouse.table_columns("drift")
    assert columns is not None and Column("fee", "money") in columns
    fees = {row["id"]: row["fee"] for row in read_rows(warehouse, "drift")}
    assert fees["old"] is None
    assert str(fees["new"]) == "0.300"


def test_column_missing_from_file_is_null(warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse.replace_windows(
        write_csv(tmp_path / "v1.csv", ["id", "created_utc", "amount"], [["x", "2026-01-05 01:00:00", "7"]]),
        spec(BASE),
    )

    warehouse.replace_windows(
        write_csv(tmp_path / "v2.csv", ["created_utc", "id"], [["2026-01-05 03:00:00", "y"]]),
        spec(None),
    )

    assert [(row["id"], row["amount"]) for row in read_rows(warehouse, "drift")] == [("y", None)]


def test_the_result_reports_columns_a_later_file_no_longer_brings(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    first = warehouse.replace_windows(
        write_csv(
            tmp_path / "v1.csv",
            ["id", "created_utc", "amount", "fee"],
            [["x", "2026-01-05 01:00:00", "7", "0.25"]],
        ),
        LoadSpec(
            "drift",
            [*BASE, Column("fee", "money")],
            [DAY],
            "created_utc",
            scope={"_account": "acct_a"},
            lineage={"_stripe_run_id": "frr_1"},
        ),
    )
    assert first.dropped_columns == ()

    # The next file has lost amount and fee, and brings a new column, in its own order.
    later = warehouse.replace_windows(
        write_csv(tmp_path / "v2.csv", ["note", "created_utc", "id"], [["n", "2026-01-05 03:00:00", "y"]]),
        LoadSpec(
            "drift",
            None,
            [DAY],
            "created_utc",
            scope={"_account": "acct_a"},
            lineage={"_stripe_run_id": "frr_2"},
        ),
    )

    assert later.file_columns == ("note", "created_utc", "id")
    assert later.dropped_columns == ("amount", "fee")  # not the scope, lineage or loader columns
    assert later.table_columns == (
        *BASE,
        Column("fee", "money"),
        Column("_account", "text"),
        Column("_stripe_run_id", "text"),
        Column("_partition", "text"),
        Column("_loaded_at", "timestamp"),
        Column("note", "text"),
    )
    assert list(later.table_columns) == warehouse.table_columns("drift")


def test_incompatible_type_fails_before_anything_is_deleted(warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse.replace_windows(
        write_csv(tmp_path / "v1.csv", ["id", "created_utc", "amount"], [["x", "2026-01-05 01:00:00", "7"]]),
        spec(BASE),
    )
    before = read_rows(warehouse, "drift", drop=())
    columns_before = warehouse.table_columns("drift")
    # amount is now text, and the file brings a new column too: neither may reach the table.
    changed = [
        Column("id", "text"),
        Column("created_utc", "timestamp"),
        Column("amount", "text"),
        Column("extra", "text"),
    ]
    path = write_csv(
        tmp_path / "v2.csv",
        ["id", "created_utc", "amount", "extra"],
        [["y", "2026-01-05 02:00:00", "seven", "e"]],
    )

    with pytest.raises(SchemaDriftError) as caught:
        warehouse.replace_windows(path, spec(changed))

    error = caught.value
    assert (error.table, error.column, error.old_type, error.new_type) == (
        "stripe.drift",
        "amount",
        "bigint",
        "text",
    )
    assert "stripe.drift" in str(error) and "amount" in str(error) and "bigint" in str(error)
    assert read_rows(warehouse, "drift", drop=()) == before
    assert warehouse.table_columns("drift") == columns_before


def test_inferred_types_stay_stable(warehouse: Warehouse, tmp_path: Path) -> None:
    header = ["day", "currency", "transactions", "net"]
    warehouse.replace_windows(
        write_csv(tmp_path / "q1.csv", header, [["2026-01-05 00:00:00.000", "usd", "3", "1250"]]),
        LoadSpec("sigma", None, [DAY], "day"),
    )
    assert warehouse.table_columns("sigma") is not None
    types = {c.name: c.type for c in warehouse.table_columns("sigma") or []}
    assert types == {
        "day": "timestamp",
        "currency": "text",
        "transactions": "bigint",
        "net": "bigint",
        "_partition": "text",
        "_loaded_at": "timestamp",
    }

    # A day where a column is empty says nothing about its type: the table's type is kept.
    warehouse.replace_windows(
        write_csv(tmp_path / "q2.csv", header, [["2026-01-05 00:00:00.000", "usd", "", "99"]]),
        LoadSpec("sigma", None, [DAY], "day"),
    )
    assert {c.name: c.type for c in warehouse.table_columns("sigma") or []} == types
    assert [(r["transactions"], r["net"]) for r in read_rows(warehouse, "sigma")] == [(None, 99)]

    # Fractional values cannot go into the bigint column: a clear error, the old row stays.
    with pytest.raises(SchemaDriftError, match="net"):
        warehouse.replace_windows(
            write_csv(tmp_path / "q3.csv", header, [["2026-01-05 00:00:00.000", "usd", "1", "12.5"]]),
            LoadSpec("sigma", None, [DAY], "day"),
        )
    assert [(r["transactions"], r["net"]) for r in read_rows(warehouse, "sigma")] == [(None, 99)]


def test_compatible_change_loads_into_the_existing_type(warehouse: Warehouse, tmp_path: Path) -> None:
    text_amount = [Column("id", "text"), Column("created_utc", "timestamp"), Column("amount", "text")]
    warehouse.replace_windows(
        write_csv(
            tmp_path / "v1.csv", ["id", "created_utc", "amount"], [["x", "2026-01-05 01:00:00", "n/a"]]
        ),
        spec(text_amount),
    )

    warehouse.replace_windows(
        write_csv(
            tmp_path / "v2.csv", ["id", "created_utc", "amount"], [["y", "2026-01-05 01:00:00", "0042"]]
        ),
        spec(BASE),
    )

    assert {c.name: c.type for c in warehouse.table_columns("drift") or []}["amount"] == "text"
    assert [row["amount"] for row in read_rows(warehouse, "drift")] == ["0042"]  # kept exactly as written


def test_lineage_type_change_is_drift_too(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "v1.csv", ["id", "created_utc", "amount"], [["x", "2026-01-05 01:00:00", "7"]]
    )
    warehouse.replace_windows(path, LoadSpec("drift", BASE, [DAY], "created_utc", lineage={"_attempt": 1}))

    with pytest.raises(SchemaDriftError, match="_attempt"):
        warehouse.replace_windows(
            path, LoadSpec("drift", BASE, [DAY], "created_utc", lineage={"_attempt": "one"})
        )
    assert len(read_rows(warehouse, "drift")) == 1
