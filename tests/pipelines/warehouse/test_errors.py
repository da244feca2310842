"""Every loader error carries its own retry decision: only a database file busy in another process
is worth retrying; everything else fails the same way on every retry, a load asked for wrongly
included (LoadSpecError, not a bare ValueError)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import pipelines.warehouse as warehouse
import pipelines.warehouse.errors as errors
from pipelines.warehouse import (
    Column,
    LoadSpec,
    LoadSpecError,
    SourceRowCountError,
    Warehouse,
    WarehouseBusyError,
    WarehouseError,
    Window,
)

from .support import COLUMNS, HEADER, activity_rows, day_window, day_windows, write_csv


def every_error_class() -> list[type[WarehouseError]]:
    found: list[type[WarehouseError]] = []
    pending: list[type[WarehouseError]] = [WarehouseError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_only_a_busy_database_or_a_file_its_source_miscounted_is_retryable() -> None:
    classes = every_error_class()

    assert WarehouseBusyError in classes and len(classes) >= 8
    assert {cls.__name__: cls.retryable for cls in classes} == {
        cls.__name__: cls in (WarehouseBusyError, SourceRowCountError) for cls in classes
    }


def test_every_error_is_exported_and_drawn_in_the_hierarchy() -> None:
    for cls in every_error_class():
        assert getattr(warehouse, cls.__name__) is cls
        assert cls.__name__ in (errors.__doc__ or "")


def test_a_load_asked_for_wrongly_fails_once_with_a_load_spec_error(tmp_path: Path, duckdb_url: str) -> None:
    wh = Warehouse(duckdb_url)
    path = write_csv(tmp_path / "day.csv", HEADER, activity_rows("2026-01-05", 2))
    overlapping = [
        day_window("2026-01-05"),
        Window("late", datetime(2026, 1, 5, 12, tzinfo=UTC), datetime(2026, 1, 7, tzinfo=UTC)),
    ]
    dates = write_csv(tmp_path / "dates.csv", ["day", "n"], [["2026-01-05", "1"]])
    cases: dict[str, Callable[[], object]] = {
        "overlapping windows": lambda: wh.replace_windows(
            path, LoadSpec("activity", COLUMNS, overlapping, "created_utc")
        ),
        "split column of an unusable type": lambda: wh.replace_windows(
            path, LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "units")
        ),
        "non-date keys on a date split": lambda: wh.replace_windows(
            dates, LoadSpec("dates", None, [Window("jan", *bounds("2026-01-05"))], "day")
        ),
        "no window": lambda: LoadSpec("activity", COLUMNS, [], "created_utc"),
        "repeated window keys": lambda: LoadSpec(
            "activity", COLUMNS, [day_window("2026-01-05")] * 2, "created_utc"
        ),
        "two windows without a split column": lambda: LoadSpec(
            "activity", COLUMNS, day_windows("2026-01-05", 2), None
        ),
        "a window without a key": lambda: Window("", *bounds("2026-01-05")),
        "a naive window": lambda: Window("2026-01-05", datetime(2026, 1, 5), datetime(2026, 1, 6)),
        "an empty window": lambda: Window("2026-01-05", *reversed(bounds("2026-01-05"))),
        "an unknown column type": lambda: Column("amount", "currency"),
        "row_counts by no column": lambda: wh.row_counts("activity", by="nope"),
        "totals of no column": lambda: wh.totals(
            "activity", "nope", group_by="currency", window_keys=["2026-01-05"]
        ),
        "a negative preview": lambda: wh.preview("activity", "2026-01-05", limit=-1),
    }
    wh.replace_windows(path, LoadSpec("activity", COLUMNS, [day_window("2026-01-05")], "created_utc"))

    for case, attempt in cases.items():
        with pytest.raises(LoadSpecError) as refused:
            attempt()
        assert isinstance(refused.value, ValueError), case  # callers catching ValueError still do
        assert refused.value.retryable is False, case
    assert wh.row_counts("activity") == {"2026-01-05": 2}
    wh.dispose()


def bounds(day: str) -> tuple[datetime, datetime]:
    window = day_window(day)
    return window.start, window.end
