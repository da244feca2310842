"""dbt downstream of the landed tables: examples/dbt_finance's models are assets after the stripe
assets, and what they compute from a landed report adds up to the report (on DuckDB and PostgreSQL)."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster_runs import Materialize, failure_messages
from sqlalchemy.pool import NullPool

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import Catalog
from pipelines.dbt import DbtProjectError, build_dbt_definitions, dbt_definitions_from_env, profile_env

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "dbt_finance"
RANGE = ("2026-11-02", "2026-11-05")
LANDED = (
    "balance_change_from_activity_itemized_3",
    "payouts_itemized_3",
    "payout_reconciliation_itemized_5",
    "mrr_waterfall",
)


def _key(path: str) -> dg.AssetKey:
    return dg.AssetKey(path.split("/"))


def _select(url: str, sql: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _run(defs: dg.Definitions, job: str, instance: dg.DagsterInstance, **kwargs: Any) -> None:
    result = defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False, **kwargs)
    assert result.success, failure_messages(result)
    assert result.dagster_run.job_name == job


def test_the_graph_reads_stripe_assets_then_dbt_models(catalog: Catalog) -> None:
    defs = build_dbt_definitions(PROJECT, "duckdb:///data/warehouse.duckdb", catalog=catalog)
    graph = defs.resolve_asset_graph()

    parents = {
        key.to_user_string(): sorted(p.to_user_string() for p in graph.get(key).parent_keys)
        for key in graph.get_all_asset_keys()
        if key.path[0] == "finance"
    }
    assert parents == {
        "finance/daily_net_volume_by_currency": ["stripe/balance_change_from_activity_itemized_3"],
        "finance/payout_transactions": [
            "stripe/payout_reconciliation_itemized_5",
            "stripe/payouts_itemized_3",
        ],
        "finance/payouts_matched": ["stripe/payout_reconciliation_itemized_5", "stripe/payouts_itemized_3"],
        "finance/mrr_by_month": ["stripe/mrr_waterfall"],
    }
    daily = graph.get(_key("finance/daily_net_volume_by_currency"))
    assert daily.partitions_def == dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC")
    assert graph.get(_key("finance/payouts_matched")).partitions_def is None
    assert {job.name for job in defs.jobs or []} == {"finance_dbt", "finance_dbt_daily"}
    # dbt's tests are the models' asset checks.
    assert dg.AssetCheckKey(_key("finance/payouts_matched"), "unique_payouts_matched_payout_id") in {
        key for node in [graph.get(_key("finance/payouts_matched"))] for key in node.check_keys
    }


def test_no_dbt_project_is_loaded_unless_the_setting_names_one(catalog: Catalog) -> None:
    assert not list(dbt_definitions_from_env(catalog, environ={}).assets or [])
    with pytest.raises(DbtProjectError, match=r"WAREHOUSE_DBT_PROJECT=/nowhere: no dbt_project\.yml"):
        dbt_definitions_from_env(catalog, environ={"WAREHOUSE_DBT_PROJECT": "/nowhere"})


def test_a_source_table_no_entry_lands_fails_the_load_naming_the_file(
    catalog: Catalog, tmp_path: Path
) -> None:
    project = tmp_path / "dbt_finance"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    sources = project / "models" / "sources.yml"
    sources.write_text(sources.read_text() + "      - name: payouts_itemised_3\n")

    with pytest.raises(DbtProjectError) as raised:
        build_dbt_definitions(project, "duckdb:///data/warehouse.duckdb", catalog=catalog)

    message = str(raised.value)
    assert "models/sources.yml: source stripe.payouts_itemised_3" in message
    assert "no catalogue entry lands" in message and "payouts_itemized_3" in message
    assert raised.value.retryable is False


def test_the_profile_gets_the_warehouse_from_its_url_the_password_as_a_dbt_secret() -> None:
    env = profile_env("postgresql+psycopg://finance:Zq8vLw2xRt@db.internal:6543/ledger", "stripe")

    assert env == {
        "DBT_WAREHOUSE_TARGET": "postgres",
        "DBT_WAREHOUSE_PG_HOST": "db.internal",
        "DBT_WAREHOUSE_PG_PORT": "6543",
        "DBT_WAREHOUSE_PG_USER": "finance",
        "DBT_WAREHOUSE_PG_DATABASE": "ledger",
        "DBT_ENV_SECRET_WAREHOUSE_PG_PASSWORD": "Zq8vLw2xRt",
        "DBT_WAREHOUSE_SOURCE_SCHEMA": "stripe",
    }
    assert profile_env("duckdb:///data/warehouse.duckdb", "stripe")["DBT_WAREHOUSE_DUCKDB_PATH"] == str(
        (Path.cwd() / "data" / "warehouse.duckdb").resolve()
    )
    with pytest.raises(
        DbtProjectError, match="DuckDB or PostgreSQL warehouses; WAREHOUSE_URL is a sqlite URL"
    ):
        profile_env("sqlite:///warehouse.db", "stripe")


@pytest.fixture
def warehouse_url(duckdb_or_postgres_url: str) -> str:
    """The end-to-end test runs on DuckDB and on PostgreSQL."""
    return duckdb_or_postgres_url


def test_models_built_after_landing_add_up_to_the_reports_they_read(
    materialize: Materialize,
    defs: dg.Definitions,
    catalog: Catalog,
    instance: dg.DagsterInstance,
    warehouse_url: str,
) -> None:
    for name in LANDED:
        result = materialize(name, RANGE)
        assert result.success, failure_messages(result)
    everything = dg.Definitions.merge(defs, build_dbt_definitions(PROJECT, warehouse_url, catalog=catalog))

    _run(everything, "finance_dbt_daily", instance, tags={RANGE_START_TAG: RANGE[0], RANGE_END_TAG: RANGE[1]})
    _run(everything, "finance_dbt", instance)

    # Net volume per day and currency is the activity report's sum of net for that day.
    report = _select(
        warehouse_url,
        "select _partition as day, currency, count(*) as transactions, sum(net) as net "
        "from stripe.balance_change_from_activity_itemized_3 group by 1, 2",
    )
    model = _select(
        warehouse_url, "select day, currency, transactions, net from finance.daily_net_volume_by_currency"
    )
    expected = {(r["day"], r["currency"]): (r["transactions"], Decimal(r["net"])) for r in report}
    assert {(str(r["day"]), r["currency"]): (r["transactions"], Decimal(r["net"])) for r in model} == expected
    assert len({day for day, _ in expected}) == 4 and len(expected) > 4

    # Every payout is matched by the transactions it settled, to the cent.
    payouts = _select(warehouse_url, "select * from finance.payouts_matched")
    assert payouts and all(p["transaction_count"] > 0 and p["unmatched_amount"] == 0 for p in payouts)
    [settled] = _select(warehouse_url, "select count(*) as n from stripe.payout_reconciliation_itemized_5")
    assert sum(p["transaction_count"] for p in payouts) == settled["n"]

    # A month of MRR begins on its first landed day's beginning and ends on its last day's ending.
    waterfall = {
        str(r["day"]): r
        for r in _select(
            warehouse_url, "select day, beginning_mrr, ending_mrr from stripe.sigma_mrr_waterfall"
        )
    }
    [november] = _select(warehouse_url, "select * from finance.mrr_by_month")
    assert november["days_landed"] == 4
    assert november["beginning_mrr"] == waterfall[RANGE[0]]["beginning_mrr"]
    assert november["ending_mrr"] == waterfall[RANGE[1]]["ending_mrr"]

    # Re-running one day replaces that day: nothing is duplicated.
    _run(everything, "finance_dbt_daily", instance, partition_key="2026-11-03")
    again = _select(
        warehouse_url, "select day, currency, transactions, net from finance.daily_net_volume_by_currency"
    )
    assert sorted(map(repr, again)) == sorted(map(repr, model))
