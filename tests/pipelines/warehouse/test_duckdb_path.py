"""DuckDB specifics: the file is free between loads, a file held by another process is waited for."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.warehouse import LoadSpec, Warehouse, WarehouseBusyError

from .support import COLUMNS, HEADER, activity_rows, day_window, only, read_rows, typed, write_csv

SPEC = LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc")

# Opens the database file (taking DuckDB's file lock), says so, holds it for argv[2] seconds.
HOLD_FILE = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
print("open", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""


def database_file(url: str) -> str:
    return str(sa.make_url(url).database)


def hold_file(url: str, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_FILE, database_file(url), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "open"
    return process


def test_file_is_not_held_between_loads(duckdb_url: str, tmp_path: Path) -> None:
    wh = Warehouse(duckdb_url)
    wh.replace_windows(write_csv(tmp_path / "d.csv", HEADER, activity_rows("2026-01-05", 3)), SPEC)

    # Another process can open the file (and would fail at once if it were still locked).
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, duckdb; connection = duckdb.connect(sys.argv[1]); "
            "print(connection.execute('select count(*) from stripe.activity').fetchone()[0])",
            database_file(duckdb_url),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "3"


def test_load_waits_while_another_process_holds_the_file(duckdb_url: str, tmp_path: Path) -> None:
    Warehouse(duckdb_url).replace_windows(
        write_csv(tmp_path / "d.csv", HEADER, activity_rows("2026-01-05", 3)), SPEC
    )
    holder = hold_file(duckdb_url, 1.0)
    started = time.monotonic()

    result = Warehouse(duckdb_url, busy_timeout=30).replace_windows(
        write_csv(tmp_path / "d2.csv", HEADER, activity_rows("2026-01-05", 5)), SPEC
    )

    waited = time.monotonic() - started
    holder.wait(timeout=10)
    assert result.rows == 5
    assert waited > 0.3  # it did have to wait for the other process
    assert only(read_rows(Warehouse(duckdb_url), "activity"), HEADER) == only(
        typed(activity_rows("2026-01-05", 5)), HEADER
    )


def test_busy_file_gives_a_clear_error_after_the_timeout(duckdb_url: str, tmp_path: Path) -> None:
    Warehouse(duckdb_url).replace_windows(
        write_csv(tmp_path / "d.csv", HEADER, activity_rows("2026-01-05", 3)), SPEC
    )
    holder = hold_file(duckdb_url, 30.0)
    try:
        with pytest.raises(WarehouseBusyError, match=r"locked by another process after 0\.5 s") as busy:
            Warehouse(duckdb_url, busy_timeout=0.5).replace_windows(
                write_csv(tmp_path / "d2.csv", HEADER, activity_rows("2026-01-05", 5)), SPEC
            )
        assert busy.value.retryable is True  # once the other process lets go, the same load succeeds
    finally:
        holder.kill()
        holder.wait()
    assert Warehouse(duckdb_url).row_counts("activity") == {"2026-01-05": 3}


def test_in_memory_database(tmp_path: Path) -> None:
    wh = Warehouse("duckdb:///:memory:")
    wh.replace_windows(write_csv(tmp_path / "d.csv", HEADER, activity_rows("2026-01-05", 4)), SPEC)
    assert wh.row_counts("activity") == {"2026-01-05": 4}


def _setting(warehouse: Warehouse, name: str) -> str:
    with warehouse.engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT current_setting(:name)"), {"name": name}).scalar())


def test_the_loader_bounds_duckdbs_buffer_pool_unless_the_url_says_otherwise(tmp_path: Path) -> None:
    bounded = Warehouse(f"duckdb:///{tmp_path / 'bounded.duckdb'}?threads=2")
    chosen = Warehouse(
        f"duckdb:///{tmp_path / 'chosen.duckdb'}?memory_limit=1GB&preserve_insertion_order=true"
    )

    # DuckDB reports its limit in MiB-based units: 48 MB is shown as 45.7 MiB.
    assert _setting(bounded, "memory_limit") == "45.7 MiB"
    assert _setting(bounded, "preserve_insertion_order") == "False"
    assert _setting(chosen, "memory_limit") == "953.6 MiB"
    assert _setting(chosen, "preserve_insertion_order") == "True"
