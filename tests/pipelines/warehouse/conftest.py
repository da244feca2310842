"""Warehouse URLs for the loader's tests: DuckDB, PostgreSQL (from tests/conftest.py) and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.warehouse import Warehouse


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    """A DuckDB database file of this test's own."""
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of this test's own (loaded through the portable path)."""
    return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on DuckDB and once on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[Warehouse]:
    """A Warehouse on ``warehouse_url``, schema ``stripe``."""
    with Warehouse(warehouse_url, schema="stripe") as wh:
        yield wh
