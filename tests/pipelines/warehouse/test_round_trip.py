"""A file goes in, the same values come out, with lineage, on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pipelines.warehouse import Column, LoadSpec, Warehouse

from .support import COLUMNS, HEADER, activity_rows, day_window, day_windows, read_rows, typed, write_csv


def test_every_type_round_trips(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = activity_rows("2026-01-05", 30)
    rows += [
        # Money keeps three places; bigint beyond a double's 2**53; text that needs every kind of quoting.
        [
            "edge_1",
            "2026-01-05 23:59:59.123456",
            "-0.005",
            str(2**62 + 1),
            "1e-300",
            "true",
            "2026-01-05",
            'comma, "quote" and\nnewline ünïcödé',
        ],
        [
            "edge_2",
            "2026-01-05 00:00:00",
            "1234567890.125",
            "-9223372036854775808",
            "-2.5",
            "false",
            "2026-01-05",
            "   leading and trailing spaces   ",
        ],
        ["edge_3", "2026-01-05 12:00:00", "", "", "", "", "", ""],
    ]
    path = write_csv(tmp_path / "activity.csv", HEADER, rows)

    result = warehouse.replace_windows(
        path, LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc")
    )

    stored = read_rows(warehouse, "activity", drop=("_loaded_at", "_partition"))
    assert stored == sorted_like(typed(rows), stored)
    assert result.rows == len(rows)
    assert result.rows_by_window == {"2026-01-05": len(rows)}
    assert result.bytes == path.stat().st_size
    assert result.table == "activity"


def test_quoted_empty_field_is_null(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text('id,created_utc,amount\n"",2026-01-05 01:00:00,""\nx,2026-01-05 02:00:00,1.5\n')
    columns = [Column("id", "text"), Column("created_utc", "timestamp"), Column("amount", "money")]

    warehouse.replace_windows(path, LoadSpec("quoted", columns, [day_window("2026-01-05")], "created_utc"))

    values = {(row["id"], row["amount"]) for row in read_rows(warehouse, "quoted")}
    assert values == {(None, None), ("x", typed([["x", "2026-01-05 02:00:00", "1.5"]], columns)[0]["amount"])}


def test_byte_order_mark_and_crlf_line_endings(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = activity_rows("2026-01-05", 4)
    rows[1][7] = "a field\r\nwith a CRLF inside"
    plain = write_csv(tmp_path / "plain.csv", HEADER, rows)
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"))

    warehouse.replace_windows(path, LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc"))

    stored = read_rows(warehouse, "activity", drop=("_loaded_at", "_partition"))
    assert stored == sorted_like(typed(rows), stored)


def test_byte_order_mark_is_not_part_of_the_first_column_name(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfday,currency,net\r\n2026-01-05,usd,1250\r\n2026-01-05,eur,-3\r\n")

    # Types inferred: the table's columns come from the file's header.
    result = warehouse.replace_windows(path, LoadSpec("sigma", None, [day_window("2026-01-05")], "day"))

    assert result.file_columns == ("day", "currency", "net")
    assert [c.name for c in warehouse.table_columns("sigma") or []][:3] == ["day", "currency", "net"]
    stored = read_rows(warehouse, "sigma", drop=("_loaded_at", "_partition"))
    assert [(str(r["day"]), r["currency"], r["net"]) for r in stored] == [
        ("2026-01-05", "eur", -3),
        ("2026-01-05", "usd", 1250),
    ]


def test_lineage_scope_and_partition_columns_are_stored(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = activity_rows("2026-01-05", 4) + activity_rows("2026-01-06", 3)
    path = write_csv(tmp_path / "activity.csv", HEADER, rows)
    data_load_time = datetime(2026, 1, 7, 3, 0, tzinfo=UTC)
    before = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)

    result = warehouse.replace_windows(
        path,
        LoadSpec(
            "activity",
            COLUMNS,
            day_windows("2026-01-05", 2),
            "created_utc",
            scope={"_account": "acct_1"},
            lineage={"_stripe_run_id": "frr_123", "_data_load_time": data_load_time},
        ),
    )

    assert result.file_columns == tuple(HEADER)
    assert result.table_columns == (
        *COLUMNS,
        Column("_account", "text"),
        Column("_stripe_run_id", "text"),
        Column("_data_load_time", "timestamp"),
        Column("_partition", "text"),
        Column("_loaded_at", "timestamp"),
    )
    assert list(result.table_columns) == warehouse.table_columns("activity")  # what the table says
    assert result.dropped_columns == ()
    stored = read_rows(warehouse, "activity", drop=())
    assert {row["_partition"] for row in stored if row["id"].startswith("a_2026-01-05")} == {"2026-01-05"}
    assert {row["_partition"] for row in stored if row["id"].startswith("a_2026-01-06")} == {"2026-01-06"}
    assert {row["_account"] for row in stored} == {"acct_1"}
    assert {row["_stripe_run_id"] for row in stored} == {"frr_123"}
    assert {row["_data_load_time"] for row in stored} == {data_load_time.replace(tzinfo=None)}
    loaded_at = {row["_loaded_at"] for row in stored}
    assert len(loaded_at) == 1 and before <= loaded_at.pop() <= datetime.now(UTC).replace(tzinfo=None)


def test_table_columns_and_row_counts(warehouse: Warehouse, tmp_path: Path) -> None:
    assert warehouse.table_columns("activity") is None
    assert warehouse.row_counts("activity") == {}
    path = write_csv(
        tmp_path / "a.csv", HEADER, activity_rows("2026-01-05", 5) + activity_rows("2026-01-06", 2)
    )

    warehouse.replace_windows(
        path,
        LoadSpec(
            "activity", COLUMNS, day_windows("2026-01-05", 2), "created_utc", scope={"_account": "acct_1"}
        ),
    )

    columns = warehouse.table_columns("activity")
    assert columns is not None
    assert columns[: len(COLUMNS)] == COLUMNS
    assert {c.name: c.type for c in columns[len(COLUMNS) :]} == {
        "_account": "text",
        "_partition": "text",
        "_loaded_at": "timestamp",
    }
    assert warehouse.row_counts("activity") == {"2026-01-05": 5, "2026-01-06": 2}
    assert warehouse.row_counts("activity", where={"_account": "acct_1"}) == {
        "2026-01-05": 5,
        "2026-01-06": 2,
    }
    assert warehouse.row_counts("activity", where={"_account": "acct_2"}) == {}
    assert warehouse.row_counts("activity", by="value_date") == {"2026-01-05": 5, "2026-01-06": 2}


def test_qualified_name_is_quoted(warehouse: Warehouse) -> None:
    quote = warehouse.engine.dialect.identifier_preparer.quote_identifier
    assert warehouse.qualified("payouts") == f"{quote('stripe')}.{quote('payouts')}"


def test_header_only_file_empties_its_window(warehouse: Warehouse, tmp_path: Path) -> None:
    spec = LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc")
    warehouse.replace_windows(write_csv(tmp_path / "full.csv", HEADER, activity_rows("2026-01-05", 5)), spec)

    result = warehouse.replace_windows(write_csv(tmp_path / "empty.csv", HEADER, []), spec)

    assert result.rows == 0 and result.rows_by_window == {"2026-01-05": 0}
    assert read_rows(warehouse, "activity") == []


def sorted_like(
    expected: list[dict[str, object]], stored: list[dict[str, object]]
) -> list[dict[str, object]]:
    """``expected`` in the order of ``stored`` (matched by id), so a mismatch shows the differing row."""
    by_id = {row["id"]: row for row in expected}
    ordered = [by_id.pop(row["id"]) for row in stored if row["id"] in by_id]
    return ordered + list(by_id.values())


def test_money_beyond_a_doubles_precision_round_trips_exactly(warehouse: Warehouse, tmp_path: Path) -> None:
    # 16 to 18 significant digits: a double keeps about 15.9, so money read as a float comes back
    # changed (9999999999999.999 would be 10000000000000.000).
    amounts = [
        "9999999999999.999",
        "123456789012345.678",
        "-987654321098765.432",
        "9007199254740.993",
        "0.001",
    ]
    rows = activity_rows("2026-01-05", len(amounts))
    for row, amount in zip(rows, amounts, strict=True):
        row[2] = amount

    spec = LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc")
    warehouse.replace_windows(write_csv(tmp_path / "big_money.csv", HEADER, rows), spec)

    assert sorted(row["amount"] for row in read_rows(warehouse, "activity")) == sorted(
        Decimal(a) for a in amounts
    )
    totals = warehouse.totals("activity", "amount", group_by="value_date", window_keys=["2026-01-05"])
    assert totals == {("2026-01-05", "2026-01-05"): sum((Decimal(a) for a in amounts), Decimal(0))}
