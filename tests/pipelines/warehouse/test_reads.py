"""What the Dagster layer reads back without writing SQL: a window's first rows and sums per window
and group, with every value bound and names checked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.warehouse import Column, IdentifierError, LoadSpec, Warehouse

from .support import day_windows, write_csv

COLUMNS = [
    Column("day", "date"),
    Column("category", "text"),
    Column("currency", "text"),
    Column("net_amount", "money"),
]
HEADER = [c.name for c in COLUMNS]
# A scope value that would break (or rewrite) any statement it were pasted into.
ODD_ACCOUNT = "acct_'; DROP TABLE stripe.summary; --"
ROWS = {
    "acct_1": [
        ["2026-01-05", "activity", "usd", "0.1"],
        ["2026-01-05", "activity", "usd", "0.2"],
        ["2026-01-05", "activity", "eur", "1.005"],
        ["2026-01-05", "it's a fee", "usd", "-0.125"],
        ["2026-01-06", "activity", "usd", "-5"],
        ["2026-01-06", "activity", "usd", ""],
        ["2026-01-07", "activity", "usd", "100"],
    ],
    ODD_ACCOUNT: [["2026-01-05", "activity", "usd", "7"], ["2026-01-05", "activity", "usd", "3"]],
}


@pytest.fixture
def summary(warehouse: Warehouse, tmp_path: Path) -> Warehouse:
    for index, (account, rows) in enumerate(ROWS.items()):
        warehouse.replace_windows(
            write_csv(tmp_path / f"summary_{index}.csv", HEADER, rows),
            LoadSpec("summary", COLUMNS, day_windows("2026-01-05", 3), "day", scope={"_account": account}),
        )
    return warehouse


def test_totals_per_window_and_group_are_exact(summary: Warehouse) -> None:
    totals = summary.totals(
        "summary",
        "net_amount",
        group_by="currency",
        window_keys=["2026-01-05", "2026-01-06"],
        where={"_account": "acct_1"},
    )

    assert totals == {
        ("2026-01-05", "usd"): Decimal("0.175"),  # 0.1 + 0.2 - 0.125, not 0.17500000000000002
        ("2026-01-05", "eur"): Decimal("1.005"),
        ("2026-01-06", "usd"): Decimal("-5"),  # the NULL amount adds nothing
    }
    assert all(type(total) is Decimal for total in totals.values())


def test_totals_filter_by_bound_values(summary: Warehouse) -> None:
    by_category = summary.totals(
        "summary",
        "net_amount",
        group_by="currency",
        window_keys=["2026-01-05"],
        where={"_account": "acct_1", "category": "it's a fee"},
    )
    odd = summary.totals(
        "summary",
        "net_amount",
        group_by="currency",
        window_keys=["2026-01-05"],
        where={"_account": ODD_ACCOUNT},
    )
    every_account = summary.totals(
        "summary", "net_amount", group_by="_account", window_keys=["2026-01-05"], where={"currency": "usd"}
    )

    assert by_category == {("2026-01-05", "usd"): Decimal("-0.125")}
    assert odd == {("2026-01-05", "usd"): Decimal("10")}
    assert every_account == {
        ("2026-01-05", "acct_1"): Decimal("0.175"),
        ("2026-01-05", ODD_ACCOUNT): Decimal("10"),
    }
    assert summary.row_counts("summary") == {"2026-01-05": 6, "2026-01-06": 2, "2026-01-07": 1}  # still there


def test_totals_of_what_is_not_there(summary: Warehouse) -> None:
    def totals(table: str = "summary", amount: str = "net_amount", **options: object) -> object:
        return summary.totals(table, amount, group_by="currency", window_keys=["2026-01-05"], **options)  # type: ignore[arg-type]

    assert totals("no_such_table") == {}
    assert totals(where={"no_such_column": "x"}) == {}
    assert totals(where={"_account": "acct_9"}) == {}
    assert summary.totals("summary", "net_amount", group_by="currency", window_keys=[]) == {}
    with pytest.raises(ValueError, match="no column fee"):
        totals(amount="fee")
    with pytest.raises(IdentifierError):
        totals(amount="net_amount) FROM x; --")
    with pytest.raises(IdentifierError):
        totals(where={"category = category OR 1": 1})


def test_preview_shows_one_window_within_its_scope(summary: Warehouse) -> None:
    rows = summary.preview("summary", "2026-01-05", {"_account": "acct_1"}, limit=10)

    assert sorted((r["category"], r["currency"], r["net_amount"]) for r in rows) == [
        ("activity", "eur", Decimal("1.005")),
        ("activity", "usd", Decimal("0.1")),
        ("activity", "usd", Decimal("0.2")),
        ("it's a fee", "usd", Decimal("-0.125")),
    ]
    assert {(r["day"], r["_partition"], r["_account"]) for r in rows} == {
        (date(2026, 1, 5), "2026-01-05", "acct_1")
    }
    assert set(rows[0]) == {*HEADER, "_account", "_partition", "_loaded_at"}


def test_preview_limits_and_binds(summary: Warehouse) -> None:
    assert len(summary.preview("summary", "2026-01-05", {"_account": "acct_1"}, limit=2)) == 2
    assert len(summary.preview("summary", "2026-01-05")) == 5  # 6 rows in every account; 5 by default
    assert summary.preview("summary", "2026-01-05", limit=0) == []
    odd = summary.preview("summary", "2026-01-05", {"_account": ODD_ACCOUNT})
    assert sorted(row["net_amount"] for row in odd) == [Decimal("3"), Decimal("7")]
    assert summary.preview("summary", "2026-01-05' OR '1'='1") == []
    assert summary.preview("summary", "2026-01-08", {"_account": "acct_1"}) == []


def test_preview_of_what_is_not_there(summary: Warehouse) -> None:
    assert summary.preview("no_such_table", "2026-01-05") == []
    assert summary.preview("summary", "2026-01-05", {"no_such_column": "x"}) == []
    with pytest.raises(IdentifierError):
        summary.preview("summary; --", "2026-01-05")
    with pytest.raises(IdentifierError):
        summary.preview("summary", "2026-01-05", {"_account = _account OR 1": "x"})
