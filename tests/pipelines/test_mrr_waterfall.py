"""The MRR waterfall lands by day, its flows add up, and each day begins where the previous ended."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster_runs import Materialize, failure_messages
from pipeline_settings import open_warehouse

from pipelines.catalog import Catalog
from pipelines.mrr import CONTINUITY, MRR_WATERFALL
from pipelines.resources import WarehouseResource
from pipelines.translator import asset_key

TABLE = "sigma_mrr_waterfall"
RANGE = ("2026-10-27", "2026-11-05")
DAYS = [f"2026-10-{d}" for d in range(27, 32)] + [f"2026-11-0{d}" for d in range(1, 6)]
COLUMNS = [
    "day",
    "local_month_start",
    "beginning_mrr",
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churn_mrr",
    "fx_adjustment_mrr",
    "ending_mrr",
    "beginning_subscribers",
    "new_subscribers",
    "reactivated_subscribers",
    "churned_subscribers",
    "ending_subscribers",
]


def _continuity(
    defs: dg.Definitions, catalog: Catalog, instance: dg.DagsterInstance
) -> dg.AssetCheckEvaluation:
    key = asset_key(catalog.get(MRR_WATERFALL))
    [check] = [c for c in defs.asset_checks if dg.AssetCheckKey(key, CONTINUITY) in c.check_keys]  # type: ignore[union-attr]
    job = dg.define_asset_job("mrr_continuity_job", selection=dg.AssetSelection.checks(check))
    with_job = dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=[job], resources=defs.resources
    )
    result = with_job.resolve_job_def("mrr_continuity_job").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert result.success, failure_messages(result)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return evaluations[CONTINUITY]


def _table(warehouse: WarehouseResource) -> list[dict[str, Any]]:
    wh = open_warehouse(warehouse)
    table = sa.table(TABLE, *(sa.column(c) for c in ["_partition", *COLUMNS]), schema=wh.schema)
    with wh.engine.connect() as connection:
        return [
            dict(r._mapping) for r in connection.execute(sa.select(*table.c).order_by(table.c._partition))
        ]


@pytest.fixture
def warehouse_url(duckdb_or_postgres_url: str) -> str:
    """Every test here runs on DuckDB and on PostgreSQL."""
    return duckdb_or_postgres_url


@pytest.fixture
def landed(materialize: Materialize) -> None:
    result = materialize(MRR_WATERFALL, RANGE)
    assert result.success, failure_messages(result)


def test_a_ranged_run_lands_one_row_per_day_with_the_waterfalls_columns(
    landed: None, warehouse: WarehouseResource
) -> None:
    rows = _table(warehouse)

    assert [r["_partition"] for r in rows] == DAYS
    assert [str(r["day"])[:10] for r in rows] == DAYS
    assert {str(r["local_month_start"])[:10] for r in rows} == {"2026-10-01", "2026-11-01"}
    assert all(r["beginning_mrr"] > 0 and r["beginning_subscribers"] > 0 for r in rows)
    assert sum(r["new_mrr"] for r in rows) > 0 and sum(r["churn_mrr"] for r in rows) > 0


def test_the_flows_add_up_to_the_ending_mrr_and_subscribers(
    landed: None, warehouse: WarehouseResource
) -> None:
    for r in _table(warehouse):
        assert r["ending_mrr"] == (
            r["beginning_mrr"]
            + r["new_mrr"]
            + r["reactivation_mrr"]
            + r["expansion_mrr"]
            - r["contraction_mrr"]
            - r["churn_mrr"]
            + r["fx_adjustment_mrr"]
        ), r["day"]
        assert r["ending_subscribers"] == (
            r["beginning_subscribers"]
            + r["new_subscribers"]
            + r["reactivated_subscribers"]
            - r["churned_subscribers"]
        ), r["day"]
        assert min(r["new_mrr"], r["reactivation_mrr"], r["churn_mrr"]) >= 0, r["day"]


def test_continuity_passes_on_the_emulators_data(
    landed: None, defs: dg.Definitions, catalog: Catalog, instance: dg.DagsterInstance
) -> None:
    evaluation = _continuity(defs, catalog, instance)

    assert evaluation.passed, evaluation.description
    assert evaluation.metadata["days_compared"].value == len(DAYS) - 1
    # The range crosses a month end: November begins where October ended.
    assert "day(s) begin where the previous day ended" in (evaluation.description or "")


def test_separate_daily_runs_are_continuous_too(
    materialize: Materialize, defs: dg.Definitions, catalog: Catalog, instance: dg.DagsterInstance
) -> None:
    for day in ("2026-10-31", "2026-11-01"):
        assert materialize(MRR_WATERFALL, day).success

    evaluation = _continuity(defs, catalog, instance)

    assert evaluation.passed, evaluation.description
    assert evaluation.metadata["days_compared"].value == 1


def test_continuity_fails_on_a_tampered_ending_naming_the_day_and_amounts(
    landed: None,
    defs: dg.Definitions,
    catalog: Catalog,
    instance: dg.DagsterInstance,
    warehouse: WarehouseResource,
) -> None:
    tampered = "2026-10-31"
    wh = open_warehouse(warehouse)
    table = sa.table(TABLE, sa.column("_partition"), sa.column("ending_mrr"), schema=wh.schema)
    with wh.engine.begin() as connection:
        [ending] = connection.execute(
            sa.select(table.c.ending_mrr).where(table.c._partition == tampered)
        ).one()
        connection.execute(
            sa.update(table).where(table.c._partition == tampered).values(ending_mrr=table.c.ending_mrr + 1)
        )

    evaluation = _continuity(defs, catalog, instance)

    assert not evaluation.passed
    assert evaluation.metadata["break_count"].value == 1
    [found] = evaluation.metadata["breaks"].value
    assert found == {
        "day": "2026-11-01",
        "column": "beginning_mrr",
        "value": str(ending),
        "previous_day": tampered,
        "previous_column": "ending_mrr",
        "previous_value": str(ending + 1),
    }
    assert f"2026-11-01 beginning_mrr is {ending} but {tampered} ending_mrr is {ending + 1}" in (
        evaluation.description or ""
    )


def test_continuity_with_nothing_loaded_says_so(
    defs: dg.Definitions, catalog: Catalog, instance: dg.DagsterInstance
) -> None:
    evaluation = _continuity(defs, catalog, instance)

    assert evaluation.passed and evaluation.metadata["days_compared"].value == 0
