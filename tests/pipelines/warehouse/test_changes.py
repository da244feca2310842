"""What a re-landing changed, computed inside the replace: rows added, removed and changed per day
and the net amount per currency; and closed months, which a re-landing never overwrites."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.warehouse import ChangeSpec, Column, LoadSpec, PeriodError, Periods, Warehouse

from .support import day_window, write_csv

COLUMNS = [
    Column("id", "text"),
    Column("created_utc", "timestamp"),
    Column("currency", "text"),
    Column("net", "money"),
    Column("payout", "text"),
]
HEADER = [c.name for c in COLUMNS]
DAY, OTHER_MONTH_DAY = "2026-10-31", "2026-11-01"


def _rows(day: str, count: int, payout: str | None = None, net: str = "10.00") -> list[list[object]]:
    return [
        [f"txn_{day}_{i}", f"{day} 0{i % 10}:00:00", "usd" if i % 2 else "eur", net, payout]
        for i in range(count)
    ]


def _load(
    wh: Warehouse,
    tmp_path: Path,
    rows: list[list[object]],
    days: tuple[str, ...] = (DAY,),
    unique: str | None = "id",
    scope: dict[str, str] | None = None,
    name: str = "activity",
):
    path = write_csv(tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.csv", HEADER, rows)
    account = (scope or {}).get("_account")
    return wh.replace_windows(
        path,
        LoadSpec(
            table=name,
            columns=COLUMNS,
            windows=[day_window(d) for d in days],
            split_column="created_utc",
            unique_column=unique,
            scope=scope or {},
            changes=ChangeSpec(account=account, loaded_by="frr_test"),
        ),
    )


def test_a_relanding_reports_rows_added_removed_and_changed_and_the_net_change_per_currency(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    first = _load(warehouse, tmp_path, _rows(DAY, 6))
    assert first.changes is not None
    assert first.changes.windows[DAY].added == 6 and first.changes.windows[DAY].rows_before == 0

    # Stripe later fills the payout on every row, drops the last one and adds two new ones.
    later = _rows(DAY, 5, payout="po_1") + [
        [f"txn_{DAY}_new{i}", f"{DAY} 12:00:00", "usd", "2.50", "po_1"] for i in range(2)
    ]
    again = _load(warehouse, tmp_path, later)

    changes = again.changes.windows[DAY]
    assert (changes.rows_before, changes.added, changes.removed, changes.changed) == (6, 2, 1, 5)
    # Removed txn_5 (usd 10.00), added two of usd 2.50.
    assert changes.net_change == {"usd": Decimal("-5.000")}
    assert again.changes.key == "id" and again.changes.amount_column == "net"


def test_without_a_unique_column_rows_are_compared_whole(warehouse: Warehouse, tmp_path: Path) -> None:
    _load(warehouse, tmp_path, _rows(DAY, 4) + _rows(DAY, 1), unique=None)  # one row twice

    again = _load(warehouse, tmp_path, _rows(DAY, 4, payout="po_9")[:1] + _rows(DAY, 4)[1:], unique=None)

    changes = again.changes.windows[DAY]
    # txn_0 changed (one removed, one added); the duplicate of txn_0 is gone (one more removed).
    assert (changes.added, changes.removed, changes.changed) == (1, 2, 0)
    assert changes.net_change == {"eur": Decimal("-10.000")}


def test_an_unchanged_relanding_reports_no_change(warehouse: Warehouse, tmp_path: Path) -> None:
    _load(warehouse, tmp_path, _rows(DAY, 3))
    assert _load(warehouse, tmp_path, _rows(DAY, 3)).changes.windows[DAY].unchanged


def _table(wh: Warehouse, name: str) -> list[dict]:
    with wh.engine.connect() as conn:
        table = wh.source_table(conn, name)
        return [dict(r) for r in conn.execute(sa.select(table)).mappings()]


def test_a_closed_month_is_never_overwritten_its_differences_are_recorded_until_reopened(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    _load(warehouse, tmp_path, _rows(DAY, 4) + _rows(OTHER_MONTH_DAY, 2), days=(DAY, OTHER_MONTH_DAY))
    periods = Periods(warehouse)
    closed = periods.close("activity", "2026-10", closed_by="finance@example.com")
    assert closed.rows == 4 and closed.totals == {"eur": Decimal("20.000"), "usd": Decimal("20.000")}
    with pytest.raises(PeriodError, match="already closed"):
        periods.close("activity", "2026-10", closed_by="someone")
    kept = sorted((r["id"], r["payout"]) for r in _table(warehouse, "activity") if r["_partition"] == DAY)

    later = _rows(DAY, 3, payout="po_7") + _rows(OTHER_MONTH_DAY, 2, payout="po_7")
    result = _load(warehouse, tmp_path, later, days=(DAY, OTHER_MONTH_DAY))

    assert result.changes.windows[DAY].closed_by == closed.close_id
    assert result.rows_by_window == {DAY: 4, OTHER_MONTH_DAY: 2}
    rows = _table(warehouse, "activity")
    assert sorted((r["id"], r["payout"]) for r in rows if r["_partition"] == DAY) == kept
    assert {r["payout"] for r in rows if r["_partition"] == OTHER_MONTH_DAY} == {"po_7"}  # open month
    [variance] = periods.variances("activity")
    assert variance.rows == 4 and variance.days == (DAY,)  # 3 changed + 1 removed
    assert variance.amounts == {"eur": Decimal(0), "usd": Decimal("-10.000")}
    # Landing again replaces the day's variance rows (the newest answer), never adds up.
    _load(warehouse, tmp_path, later, days=(DAY, OTHER_MONTH_DAY))
    assert periods.variances("activity")[0].rows == 4

    with pytest.raises(PeriodError, match="reason"):
        periods.reopen("activity", "2026-10", reopened_by="finance@example.com", reason=" ")
    periods.reopen("activity", "2026-10", reopened_by="finance@example.com", reason="late payouts")
    assert periods.variances("activity") == []
    _load(warehouse, tmp_path, later, days=(DAY, OTHER_MONTH_DAY))
    assert {r["payout"] for r in _table(warehouse, "activity")} == {"po_7"}
    [history] = periods.history("activity")
    assert history.reopen_reason == "late payouts" and history.closed_by == "finance@example.com"


def test_closing_every_account_covers_each_account_and_one_account_can_be_closed_alone(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    for account in ("acct_a", "acct_b"):
        _load(warehouse, tmp_path, _rows(DAY, 2), scope={"_account": account}, name="connect")
    periods = Periods(warehouse)
    periods.close("connect", "2026-10", closed_by="ops", account="acct_a", scope={"_account": "acct_a"})

    _load(warehouse, tmp_path, _rows(DAY, 2, payout="po_1"), scope={"_account": "acct_a"}, name="connect")
    _load(warehouse, tmp_path, _rows(DAY, 2, payout="po_1"), scope={"_account": "acct_b"}, name="connect")

    payouts = {(r["_account"], r["payout"]) for r in _table(warehouse, "connect")}
    assert payouts == {("acct_a", None), ("acct_b", "po_1")}
    with pytest.raises(PeriodError, match="already closed"):
        periods.close("connect", "2026-10", closed_by="ops", account="acct_a")
    periods.reopen("connect", "2026-10", reopened_by="ops", reason="fix", account="acct_a")

    everyone = periods.close("connect", "2026-10", closed_by="ops")
    assert everyone.rows == 4
    _load(warehouse, tmp_path, _rows(DAY, 1), scope={"_account": "acct_b"}, name="connect")
    assert len([r for r in _table(warehouse, "connect") if r["_account"] == "acct_b"]) == 2
    with pytest.raises(PeriodError, match="without --account"):
        periods.reopen("connect", "2026-10", reopened_by="ops", reason="x", account="acct_b")
