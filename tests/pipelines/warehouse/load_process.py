"""Run one load in its own process (concurrency and crash tests).

    python load_process.py URL SCHEMA CSV_PATH SPEC_JSON [--hold SECONDS]

Prints ``loading`` just before the load starts and ``done ROWS`` at the end. With ``--hold`` the
load prints ``holding`` when everything but the commit is done (table created, windows deleted,
rows inserted), then waits before committing (``--hold`` seconds, or until ``--release`` exists), so
the test can act on an open transaction: start a competing load, or kill this process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipelines.warehouse import Column, LoadSpec, Warehouse, Window


def main() -> None:
    """Parse the arguments and run the load."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("schema")
    parser.add_argument("csv_path")
    parser.add_argument("spec")
    parser.add_argument("--hold", type=float, default=None)
    parser.add_argument("--release", default=None)
    args = parser.parse_args()
    raw = json.loads(args.spec)
    spec = LoadSpec(
        table=raw["table"],
        columns=None if raw["columns"] is None else [Column(name, type_) for name, type_ in raw["columns"]],
        windows=[
            Window(key, datetime.fromisoformat(start), datetime.fromisoformat(end))
            for key, start, end in raw["windows"]
        ],
        split_column=raw["split_column"],
        scope=raw["scope"],
        lineage=raw["lineage"],
    )
    wh = Warehouse(args.url, schema=args.schema)
    if args.hold is not None:
        deadline = args.hold
        release = Path(args.release) if args.release else None
        inserted: list[bool] = []

        @sa.event.listens_for(wh.engine, "after_cursor_execute")
        def after_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            # The windows' delete: the rows go in after it (INSERT, or COPY on PostgreSQL's
            # driver connection, which SQLAlchemy does not see), before the commit.
            if statement.lstrip().upper().startswith(("INSERT INTO", "DELETE FROM")):
                inserted.append(True)

        # SQLAlchemy's commit event fires just before the database commit: the load's transaction
        # has done all its work and is still open.
        @sa.event.listens_for(wh.engine, "commit")
        def before_commit(conn: Any) -> None:
            if inserted:
                print("holding", flush=True)
                until = time.monotonic() + deadline
                while time.monotonic() < until and not (release and release.exists()):
                    time.sleep(0.02)

    print("loading", flush=True)
    result = wh.replace_windows(args.csv_path, spec)
    print(f"done {result.rows}", flush=True)
    wh.dispose()


if __name__ == "__main__":
    sys.exit(main())
