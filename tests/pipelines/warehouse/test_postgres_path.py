"""PostgreSQL specifics: COPY streaming, the partition index, readers during a load, the server script."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

import pipelines.warehouse.postgres_load as postgres_load
from pipelines.warehouse import LoadSpec, Warehouse

from .support import (
    COLUMNS,
    HEADER,
    ROOT,
    activity_rows,
    day_window,
    only,
    read_rows,
    start_load_process,
    typed,
    wait_for_line,
    write_csv,
)

pytestmark = pytest.mark.postgres
SPEC = LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc")


def test_file_streams_in_chunks(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiny chunks: records (and a multi-line field) are cut at arbitrary bytes between writes.
    monkeypatch.setattr(postgres_load, "CHUNK_BYTES", 97)
    rows = activity_rows("2026-01-05", 300)
    rows[7][7] = 'a field\nover two lines, with "quotes"'
    wh = Warehouse(postgres_url)

    result = wh.replace_windows(write_csv(tmp_path / "d.csv", HEADER, rows), SPEC)

    assert result.rows == 300
    assert only(read_rows(wh, "activity"), HEADER) == only(typed(rows), HEADER)
    wh.dispose()


def test_new_table_gets_a_partition_index(postgres_url: str, tmp_path: Path) -> None:
    wh = Warehouse(postgres_url)
    wh.replace_windows(write_csv(tmp_path / "d.csv", HEADER, activity_rows("2026-01-05", 2)), SPEC)
    with wh.engine.connect() as conn:
        indexes = (
            conn.execute(
                sa.text(
                    "select indexdef from pg_indexes where schemaname = 'stripe' and tablename = 'activity'"
                )
            )
            .scalars()
            .all()
        )
    assert any('("_partition")' in index or "(_partition)" in index for index in indexes)
    wh.dispose()


def test_readers_are_not_blocked_by_a_load(postgres_url: str, tmp_path: Path) -> None:
    wh = Warehouse(postgres_url)
    wh.replace_windows(write_csv(tmp_path / "v1.csv", HEADER, activity_rows("2026-01-05", 4)), SPEC)
    loader = start_load_process(
        postgres_url,
        "stripe",
        write_csv(tmp_path / "v2.csv", HEADER, activity_rows("2026-01-05", 9)),
        SPEC,
        hold=30,
    )
    try:
        wait_for_line(loader, "holding")
        # The load has deleted and inserted but not committed: a reader sees the old rows, at once.
        with wh.engine.connect() as conn:
            conn.execute(sa.text("set statement_timeout = '5s'"))
            count = conn.execute(sa.text(f"select count(*) from {wh.qualified('activity')}")).scalar()
        assert count == 4
    finally:
        loader.kill()
        loader.wait()
    wh.dispose()


@pytest.mark.skipif(
    os.environ.get("WAREHOUSE_URL", "").startswith("postgresql"),
    reason="the server comes from WAREHOUSE_URL, not from the script",
)
def test_server_script_is_idempotent(postgres_server: str) -> None:
    script = ROOT / "scripts" / "postgres.sh"
    again = subprocess.run([str(script), "start"], capture_output=True, text=True, timeout=120, check=False)
    url = subprocess.run([str(script), "url"], capture_output=True, text=True, timeout=30, check=False)
    status = subprocess.run([str(script), "status"], capture_output=True, text=True, timeout=30, check=False)

    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == url.stdout.strip() == postgres_server
    assert postgres_server.startswith("postgresql+psycopg://")
    assert status.returncode == 0 and "running" in status.stdout


def test_a_new_table_keeps_no_column_defaults_and_every_load_stores_its_own_lineage(
    postgres_url: str, tmp_path: Path
) -> None:
    # A first load gives the lineage columns to COPY as defaults of the table it created; they must
    # be gone at the commit, and a later load (which sends them with every record) stores its own.
    wh = Warehouse(postgres_url)
    spec = LoadSpec(
        "activity", COLUMNS, [day_window("2026-01-05")], "created_utc", lineage={"_stripe_run_id": "frr_1"}
    )
    wh.replace_windows(write_csv(tmp_path / "v1.csv", HEADER, activity_rows("2026-01-05", 3)), spec)
    with wh.engine.connect() as conn:
        defaults = conn.execute(
            sa.text(
                "select column_name from information_schema.columns where table_schema = 'stripe' "
                "and table_name = 'activity' and column_default is not null"
            )
        ).all()
    assert defaults == []

    later = LoadSpec(
        "activity", COLUMNS, [day_window("2026-01-06")], "created_utc", lineage={"_stripe_run_id": "frr_2"}
    )
    wh.replace_windows(write_csv(tmp_path / "v2.csv", HEADER, activity_rows("2026-01-06", 2)), later)

    rows = read_rows(wh, "activity", drop=())
    assert sorted((row["_partition"], row["_stripe_run_id"]) for row in rows) == [
        ("2026-01-05", "frr_1"),
        ("2026-01-05", "frr_1"),
        ("2026-01-05", "frr_1"),
        ("2026-01-06", "frr_2"),
        ("2026-01-06", "frr_2"),
    ]
    assert len({row["_loaded_at"] for row in rows}) == 2
    wh.dispose()
