"""Running the project's assets in-process against the emulator, the way Dagster runs them."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest
from dagster_runs import Materialize

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import Catalog
from pipelines.translator import asset_key


@pytest.fixture
def materialize(defs: dg.Definitions, catalog: Catalog, instance: dg.DagsterInstance) -> Materialize:
    """``materialize(name, "2026-11-08")`` or ``materialize(name, ("2026-10-01", "2026-10-31"))``.

    A tuple is a ranged run, as a backfill with the asset's backfill policy launches it.
    """
    assets = {a.key: a for a in defs.assets}  # type: ignore[union-attr]

    def run(name: str, partition: str | tuple[str, str], **kwargs: Any) -> dg.ExecuteInProcessResult:
        asset = assets[asset_key(catalog.get(name))]
        options: dict[str, Any] = {"instance": instance, "resources": defs.resources, "raise_on_error": False}
        if isinstance(partition, tuple):
            options["tags"] = {RANGE_START_TAG: partition[0], RANGE_END_TAG: partition[1]}
        else:
            options["partition_key"] = partition
        options.update(kwargs)
        return dg.materialize([asset], **options)

    return run


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def duckdb_or_postgres_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """For modules that run end to end on both warehouses: a DuckDB file, then a PostgreSQL database."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return str(request.getfixturevalue("postgres_url"))
