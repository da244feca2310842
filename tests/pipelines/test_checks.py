"""Asset checks pass on what Stripe delivered and fail when the data is tampered with."""

from __future__ import annotations

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
from dagster_runs import Materialize, failure_messages
from pipeline_settings import open_warehouse

from pipelines.resources import WarehouseResource

BCFA = "balance_change_from_activity_itemized_3"
SUMMARY = "balance_summary_1"
DAYS = ("2026-11-07", "2026-11-08")


@pytest.fixture
def warehouse_url(duckdb_or_postgres_url: str) -> str:
    """Every test here runs on DuckDB and on PostgreSQL."""
    return duckdb_or_postgres_url


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _fault(control: httpx.Client, **rule: object) -> None:
    control.post("/faults", json={"method": "POST", "path": "/v1/reporting/report_runs", "nth": [1], **rule})


def test_column_and_uniqueness_checks_pass_on_stripes_data(materialize: Materialize) -> None:
    result = materialize(BCFA, DAYS)

    checks = _checks(result)
    assert checks["expected_columns"].passed
    assert checks["unique_balance_transaction_id"].passed


def test_expected_columns_fails_when_stripe_drops_a_column(
    materialize: Materialize, control: httpx.Client
) -> None:
    _fault(control, kind="remove_column", column="fee")

    result = materialize(BCFA, DAYS[1])

    check = _checks(result)["expected_columns"]
    assert not check.passed
    assert "Stripe did not return `fee`" in (check.description or "")


def test_expected_columns_fails_when_the_table_type_was_changed(
    materialize: Materialize, warehouse: WarehouseResource
) -> None:
    assert materialize(BCFA, DAYS[0]).success
    wh = open_warehouse(warehouse)
    with wh.engine.begin() as connection:
        connection.execute(sa.text(f'ALTER TABLE {wh.qualified(BCFA)} ALTER COLUMN "net" TYPE TEXT'))

    result = materialize(BCFA, DAYS[1])

    check = _checks(result)["expected_columns"]
    assert not check.passed
    assert "`net` is text in the table, the catalogue says money" in (check.description or "")


def test_uniqueness_fails_when_a_transaction_arrives_twice(
    materialize: Materialize, control: httpx.Client
) -> None:
    _fault(control, kind="duplicate_row", line=3)

    result = materialize(BCFA, DAYS[1])

    check = _checks(result)["unique_balance_transaction_id"]
    assert not check.passed
    assert check.metadata["duplicate_count"].value == 1
    [duplicate] = check.metadata["duplicates"].value
    assert duplicate["partition"] == DAYS[1] and duplicate["copies"] == 2


def _reconcile(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.AssetCheckEvaluation:
    result = defs.resolve_job_def("stripe_reconciliation").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert result.success, failure_messages(result)
    # The job runs every reconciliation (tests/pipelines/test_reconciliation.py); this is the
    # activity report's with the balance summary.
    [evaluation] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path[-1] == BCFA and e.check_name == "reconciles_with_balance_summary"
    ]
    return evaluation


def test_activity_reconciles_with_the_balance_summary_every_day_and_currency(
    defs: dg.Definitions, instance: dg.DagsterInstance, materialize: Materialize
) -> None:
    assert materialize(BCFA, DAYS).success
    assert materialize(SUMMARY, DAYS).success

    evaluation = _reconcile(defs, instance)

    assert evaluation.passed, evaluation.metadata
    assert evaluation.metadata["days_compared"].value == 2


def test_reconciliation_fails_on_a_tampered_amount(
    defs: dg.Definitions, instance: dg.DagsterInstance, materialize: Materialize, warehouse: WarehouseResource
) -> None:
    assert materialize(BCFA, DAYS).success
    assert materialize(SUMMARY, DAYS).success
    wh = open_warehouse(warehouse)
    with wh.engine.begin() as connection:
        [(transaction, currency)] = connection.execute(
            sa.text(
                f"SELECT balance_transaction_id, currency FROM {wh.qualified(BCFA)} "
                "WHERE _partition = :day ORDER BY balance_transaction_id LIMIT 1"
            ),
            {"day": DAYS[0]},
        )
        connection.execute(
            sa.text(f"UPDATE {wh.qualified(BCFA)} SET net = net + 1 WHERE balance_transaction_id = :id"),
            {"id": transaction},
        )

    evaluation = _reconcile(defs, instance)

    assert not evaluation.passed
    [mismatch] = evaluation.metadata["mismatches"].value
    assert (mismatch["day"], mismatch["currency"]) == (DAYS[0], currency)


def test_reconciliation_with_nothing_loaded_says_so(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    evaluation = _reconcile(defs, instance)
    assert evaluation.passed and evaluation.metadata["days_compared"].value == 0


def test_reconciliation_reads_the_days_the_warehouse_holds_not_dagsters_memory(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    materialize: Materialize,
    warehouse: WarehouseResource,
    tmp_path,
) -> None:
    assert materialize(BCFA, DAYS).success
    assert materialize(SUMMARY, DAYS).success
    # The same Dagster home, now pointed at another warehouse that holds one day of the activity only.
    other = WarehouseResource(url=f"duckdb:///{tmp_path / 'other.duckdb'}")
    switched = dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        resources={**defs.resources, "warehouse": other},
    )
    assert materialize(BCFA, DAYS[0], resources=switched.resources).success

    evaluation = _reconcile(switched, instance)

    assert evaluation.passed
    assert evaluation.metadata["days_compared"].value == 0


def test_uniqueness_covers_the_whole_table_and_names_both_partitions(
    materialize: Materialize, warehouse: WarehouseResource
) -> None:
    assert materialize(BCFA, DAYS).success
    wh = open_warehouse(warehouse)
    with wh.engine.begin() as connection:
        # Day one claims a transaction of day two, as a load from before a correction would.
        [(moved,)] = connection.execute(
            sa.text(f"SELECT balance_transaction_id FROM {wh.qualified(BCFA)} WHERE _partition = :d LIMIT 1"),
            {"d": DAYS[1]},
        )
        connection.execute(
            sa.text(
                f"UPDATE {wh.qualified(BCFA)} SET balance_transaction_id = :id "
                "WHERE balance_transaction_id = "
                f"(SELECT min(balance_transaction_id) FROM {wh.qualified(BCFA)} WHERE _partition = :d)"
            ),
            {"id": moved, "d": DAYS[0]},
        )

    result = materialize(BCFA, "2026-11-06")

    assert result.success, failure_messages(result)
    check = _checks(result)["unique_balance_transaction_id"]
    assert not check.passed
    assert f"{moved} in {DAYS[0]}, {DAYS[1]}" in (check.description or "")
