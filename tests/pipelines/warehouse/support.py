"""Shared pieces of the warehouse tests: CSV files, windows, and reading a table back as Python values."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipelines.warehouse import Column, LoadSpec, Warehouse, Window
from pipelines.warehouse.logical_types import parse_type

LOAD_PROCESS = Path(__file__).with_name("load_process.py")
ROOT = Path(__file__).resolve().parents[3]

# A report-shaped file: every logical type, split by a UTC timestamp column.
COLUMNS = [
    Column("id", "text"),
    Column("created_utc", "timestamp"),
    Column("amount", "money"),
    Column("units", "bigint"),
    Column("ratio", "double"),
    Column("settled", "boolean"),
    Column("value_date", "date"),
    Column("description", "text"),
]
HEADER = [column.name for column in COLUMNS]


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a CSV file the way Stripe does (RFC 4180 quoting, empty field for NULL)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if value is None else value for value in row] for row in rows)
    return path


def day_window(key: str) -> Window:
    """The UTC day ``key`` (YYYY-MM-DD) as a window."""
    start = datetime.combine(date.fromisoformat(key), datetime.min.time(), UTC)
    return Window(key, start, start + timedelta(days=1))


def day_windows(first: str, count: int) -> list[Window]:
    """``count`` consecutive UTC days from ``first``."""
    start = date.fromisoformat(first)
    return [day_window((start + timedelta(days=offset)).isoformat()) for offset in range(count)]


def activity_rows(day: str, count: int, tag: str = "a") -> list[list[str]]:
    """``count`` rows spread over the UTC day ``day``, every field as text, ids prefixed by ``tag``."""
    start = datetime.combine(date.fromisoformat(day), datetime.min.time())
    rows = []
    for index in range(count):
        moment = start + timedelta(seconds=index * 86_399 // max(count, 1))
        rows.append(
            [
                f"{tag}_{day}_{index:05d}",
                moment.strftime("%Y-%m-%d %H:%M:%S"),
                f"{(index * 7919) % 100000 / 1000 - 20:.3f}",
                str(index * 1_000_003 - 5),
                f"{index / 7:.6f}",
                "true" if index % 2 else "false",
                day,
                f'note {index}, with "quotes"' if index % 3 else "",
            ]
        )
    return rows


def typed(rows: Iterable[Sequence[str]], columns: Sequence[Column] = COLUMNS) -> list[dict[str, Any]]:
    """The values a warehouse should hold for these CSV rows, parsed independently of the loader."""
    parsers = {
        "text": str,
        "bigint": int,
        "double": float,
        "boolean": lambda text: text == "true",
        "date": date.fromisoformat,
        "timestamp": datetime.fromisoformat,
    }
    result = []
    for row in rows:
        values: dict[str, Any] = {}
        for column, text in zip(columns, row, strict=True):
            type_ = parse_type(column.type)
            if text == "":
                values[column.name] = None
            elif type_.kind == "decimal":
                values[column.name] = Decimal(text).quantize(Decimal(1).scaleb(-(type_.scale or 0)))
            else:
                values[column.name] = parsers[type_.kind](text)
        result.append(values)
    return result


def read_rows(wh: Warehouse, table: str, *, drop: Sequence[str] = ("_loaded_at",)) -> list[dict[str, Any]]:
    """Every row of ``table`` as Python values (typed on every dialect), sorted, without ``drop``."""
    columns = wh.table_columns(table)
    assert columns is not None, f"table {table} does not exist"
    source = sa.Table(
        table,
        sa.MetaData(),
        *(sa.Column(column.name, parse_type(column.type).to_sqlalchemy(), quote=True) for column in columns),
        schema=wh.schema,
    )
    with wh.engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(sa.select(source)).mappings()]
    for row in rows:
        for name in drop:
            row.pop(name, None)
    return sorted(rows, key=lambda row: json.dumps(row, default=str, sort_keys=True))


def only(rows: Iterable[Mapping[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """The rows restricted to ``names``, sorted the same way as ``read_rows``."""
    picked = [{name: row[name] for name in names} for row in rows]
    return sorted(picked, key=lambda row: json.dumps(row, default=str, sort_keys=True))


def spec_json(spec: LoadSpec) -> str:
    """``spec`` as JSON for ``load_process.py`` (lineage values must be JSON-serialisable)."""
    return json.dumps(
        {
            "table": spec.table,
            "columns": None if spec.columns is None else [[c.name, c.type] for c in spec.columns],
            "windows": [[w.key, w.start.isoformat(), w.end.isoformat()] for w in spec.windows],
            "split_column": spec.split_column,
            "scope": dict(spec.scope),
            "lineage": dict(spec.lineage),
        }
    )


def start_load_process(
    url: str,
    schema: str,
    csv_path: Path,
    spec: LoadSpec,
    *,
    hold: float | None = None,
    release: Path | None = None,
) -> subprocess.Popen[str]:
    """Run a load in a child process (it prints ``loading``, then ``done ROWS``). With ``hold``, it
    prints ``holding`` once everything but the commit is done, then waits ``hold`` seconds, or until
    the file ``release`` exists, before committing."""
    command = [sys.executable, str(LOAD_PROCESS), url, schema, str(csv_path), spec_json(spec)]
    if hold is not None:
        command += ["--hold", str(hold)]
    if release is not None:
        command += ["--release", str(release)]
    # The child imports `pipelines` from this checkout whether or not the project is installed.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_line(process: subprocess.Popen[str], expected: str) -> None:
    """Block until the child prints ``expected`` (fails if it exits first)."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == expected:
            return
    _, errors = process.communicate()
    raise AssertionError(f"child exited ({process.returncode}) before printing {expected!r}:\n{errors}")
