"""A load killed mid-transaction (SIGKILL: no cleanup code runs) leaves the previous rows intact."""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from pipelines.warehouse import Column, LoadSpec, Warehouse

from .support import day_window, read_rows, start_load_process, wait_for_line, write_csv

COLUMNS = [Column("id", "text"), Column("created_utc", "timestamp"), Column("amount", "money")]
HEADER = [column.name for column in COLUMNS]
SPEC = LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc")


def rows(count: int, tag: str) -> list[list[str]]:
    # More rows than a DuckDB row group (122,880): the killed load has written whole row groups.
    return [
        [f"{tag}_{index}", f"2026-01-05 {index % 24:02d}:{index % 60:02d}:00", f"{index % 1000}.125"]
        for index in range(count)
    ]


def test_sigkill_mid_transaction_keeps_previous_rows(warehouse_url: str, tmp_path: Path) -> None:
    wh = Warehouse(warehouse_url)
    old = rows(50, "old")
    wh.replace_windows(write_csv(tmp_path / "old.csv", HEADER, old), SPEC)
    before = read_rows(wh, "activity", drop=())
    new = rows(130_000, "new")
    new_file = write_csv(tmp_path / "new.csv", HEADER, new)

    child = start_load_process(warehouse_url, "stripe", new_file, SPEC, hold=120)
    try:
        wait_for_line(child, "holding")  # deleted the old rows and inserted the new ones, not committed
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert read_rows(wh, "activity", drop=()) == before

    result = wh.replace_windows(new_file, SPEC)  # and the table is usable: a re-run completes

    assert result.rows == len(new)
    assert wh.row_counts("activity") == {"2026-01-05": len(new)}
    with wh.engine.connect() as conn:
        stored = conn.execute(sa.text(f"select id, amount from {wh.qualified('activity')}")).all()
    assert sorted((id_, Decimal(amount)) for id_, amount in stored) == sorted(
        (id_, Decimal(a)) for id_, _, a in new
    )
    wh.dispose()
