"""Assets end to end: Dagster → HTTP → the Stripe emulator → download → a real DuckDB file."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
from dagster_runs import Materialize, count_by_partition, failure_messages, rows
from pipeline_settings import API_KEY, DATA_LOAD_TIME, FAST_RETRIES, open_warehouse

from pipelines.catalog import load_catalog
from pipelines.partitions import partitions_for, resolve
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.sigma_sql import render_for_window
from pipelines.sources import PayoutReportSource
from stripe_emulator.server import EmulatorServer

DAY = "2026-11-08"


@pytest.fixture
def warehouse_url(duckdb_or_postgres_url: str) -> str:
    """Every test here runs on DuckDB and on PostgreSQL."""
    return duckdb_or_postgres_url


def _engine_rows(
    emulator: EmulatorServer, tmp_path: Path, report_type: str, parameters: dict, account=None
) -> list[dict]:
    """What Stripe's side computes for a report, read straight from the emulator's engine."""
    path = tmp_path / f"expected-{report_type}.csv"
    emulator.engine.run_report(report_type, parameters, path, account=account)
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _runs_created(control: httpx.Client) -> dict[str, int]:
    return control.get("/stats").json()["runs_created"]


def test_a_sigma_query_lands_its_day_with_freshness_and_run_metadata(
    materialize: Materialize, warehouse: WarehouseResource, emulator: EmulatorServer, tmp_path: Path
) -> None:
    result = materialize("daily_activity_by_category", DAY)

    assert result.success, failure_messages(result)
    [event] = result.asset_materializations_for_node("stripe__daily_activity_by_category")
    metadata = {k: v.value for k, v in event.metadata.items()}
    loaded = rows(warehouse, "sigma_daily_activity_by_category")
    assert metadata["dagster/row_count"] == len(loaded) > 0
    assert metadata["stripe_run_id"].startswith("qry_")
    assert metadata["data_load_time"] == DATA_LOAD_TIME.timestamp()
    assert metadata["window"] == "2026-11-08T00:00:00Z → 2026-11-09T00:00:00Z"
    assert "reporting_category" in metadata["preview"]
    # The per-category counts add up to the day's balance transactions as Stripe's side counts them.
    count_file = tmp_path / "count.csv"
    emulator.engine.run_sigma(
        "select count(*) as n from balance_transactions "
        "where created >= timestamp '2026-11-08 00:00:00' and created < timestamp '2026-11-09 00:00:00'",
        count_file,
    )
    expected = int(count_file.read_text().splitlines()[1])
    columns = [
        c.name for c in open_warehouse(warehouse).table_columns("sigma_daily_activity_by_category") or []
    ]
    transactions = [r[columns.index("transactions")] for r in loaded] if "transactions" in columns else []
    assert sum(transactions) == expected


@pytest.mark.parametrize(
    ("name", "report_type"),
    [
        ("balance_change_from_activity_itemized_3", "balance_change_from_activity.itemized.3"),
        ("payout_reconciliation_itemized_5", "payout_reconciliation.itemized.5"),
    ],
)
def test_report_assets_land_stripes_rows_with_typed_columns(
    materialize: Materialize,
    warehouse: WarehouseResource,
    emulator: EmulatorServer,
    catalog,
    tmp_path: Path,
    name: str,
    report_type: str,
) -> None:
    result = materialize(name, DAY)

    assert result.success, failure_messages(result)
    spec = catalog.get(name)
    [window] = resolve(partitions_for(spec), [DAY])
    expected = _engine_rows(
        emulator, tmp_path, report_type, spec.parameters_for(window.start, window.end, None)
    )
    assert count_by_partition(warehouse, spec.table) == {DAY: len(expected)}
    assert len(expected) > 0
    types = {c.name: c.type for c in open_warehouse(warehouse).table_columns(spec.table) or []}
    assert types["net"] == "money" and types["created_utc"] == "timestamp"
    assert types["balance_transaction_id"] == "text"
    ids = {r[0] for r in rows(warehouse, spec.table)} | {r[3] for r in rows(warehouse, spec.table)}
    assert {r["balance_transaction_id"] for r in expected} <= ids


def test_re_running_a_partition_replaces_it_and_never_duplicates(
    materialize: Materialize, warehouse: WarehouseResource
) -> None:
    table = "balance_change_from_activity_itemized_3"
    assert materialize("balance_change_from_activity_itemized_3", "2026-11-07").success
    assert materialize("balance_change_from_activity_itemized_3", DAY).success
    first = rows(warehouse, table)

    again = materialize("balance_change_from_activity_itemized_3", DAY)

    assert again.success
    assert rows(warehouse, table) == first
    counts = count_by_partition(warehouse, table)
    assert set(counts) == {"2026-11-07", DAY} and all(counts.values())


def test_a_failing_query_shows_sigmas_message_and_leaves_the_table_as_it_was(
    tmp_path: Path,
    stripe: StripeResource,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    control: httpx.Client,
) -> None:
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    query = sql_dir / "charges_per_day.sql"
    template = (
        "-- partition_column: day\n"
        "select date_trunc('day', created) as day, count(*) as charges, sum({column}) as amount\n"
        "from charges where created >= :window_start and created < :window_end group by 1\n"
    )
    (tmp_path / "reports.yaml").write_text("reports: []\n")

    def run() -> dg.ExecuteInProcessResult:
        catalog = load_catalog(tmp_path / "reports.yaml", sql_dir)
        defs = build_definitions(
            catalog, {"stripe": stripe, "warehouse": warehouse}, retry_policy=FAST_RETRIES
        )
        return dg.materialize(
            list(defs.assets),
            instance=instance,
            partition_key=DAY,  # type: ignore[arg-type]
            resources=defs.resources,
            raise_on_error=False,
        )

    query.write_text(template.format(column="amount"))
    assert run().success
    before = rows(warehouse, "charges_per_day")
    runs_before = sum(_runs_created(control).values())

    query.write_text(template.format(column="amount_in_cents"))
    result = run()

    assert not result.success
    message = failure_messages(result)
    assert "amount_in_cents" in message  # Sigma's own words about the missing column
    assert "qry_" in message
    assert rows(warehouse, "charges_per_day") == before
    # A SQL error is permanent: the freshness probe and one query run, no retries.
    assert sum(_runs_created(control).values()) == runs_before + 2


def test_a_bad_api_key_fails_clearly_without_showing_the_key(
    emulator: EmulatorServer,
    control: httpx.Client,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    catalog,
) -> None:
    bad_key = "sk_live_9aZ0thisKeyIsNotValidAnywhere77"
    stripe = StripeResource(api_key=bad_key, api_base=emulator.url, files_base=emulator.url)
    defs = build_definitions(catalog, {"stripe": stripe, "warehouse": warehouse}, retry_policy=FAST_RETRIES)
    asset = next(a for a in defs.assets if a.key.path[-1] == "balance_summary_1")  # type: ignore[union-attr]

    result = dg.materialize(
        [asset], instance=instance, partition_key=DAY, resources=defs.resources, raise_on_error=False
    )

    assert not result.success
    message = failure_messages(result)
    assert "Invalid API Key provided" in message and "req_" in message
    logs = [r.user_message for r in instance.all_logs(result.run_id)]
    assert not any(bad_key in text for text in [message, *logs])
    # Permanent: tried once, not retried.
    assert len([e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]) == 0


def test_an_early_partition_loads_nothing_and_starts_no_stripe_job(
    materialize: Materialize, warehouse: WarehouseResource, control: httpx.Client
) -> None:
    assert materialize("balance_change_from_activity_itemized_3", DAY).success
    before = rows(warehouse, "balance_change_from_activity_itemized_3")
    runs_before = _runs_created(control)

    result = materialize("balance_change_from_activity_itemized_3", "2026-11-10")

    assert not result.success
    message = failure_messages(result)
    assert "loaded until 2026-11-10T06:00:00Z" in message
    assert "2026-11-10" in message and "nothing was loaded" in message
    assert _runs_created(control) == runs_before
    assert rows(warehouse, "balance_change_from_activity_itemized_3") == before
    assert not result.asset_materializations_for_node("stripe__balance_change_from_activity_itemized_3")


def test_a_range_with_early_days_lands_the_complete_ones_and_names_the_rest(
    materialize: Materialize, warehouse: WarehouseResource
) -> None:
    result = materialize("balance_change_from_activity_itemized_3", ("2026-11-07", "2026-11-11"))

    assert not result.success
    assert set(count_by_partition(warehouse, "balance_change_from_activity_itemized_3")) == {
        "2026-11-07",
        "2026-11-08",
        "2026-11-09",
    }
    assert "2026-11-10, 2026-11-11" in failure_messages(result)
    landed = result.asset_materializations_for_node("stripe__balance_change_from_activity_itemized_3")
    assert sorted(m.partition for m in landed) == ["2026-11-07", "2026-11-08", "2026-11-09"]


def test_a_dst_day_in_new_york_is_25_hours_of_stripe_data(
    materialize: Materialize, warehouse: WarehouseResource, emulator: EmulatorServer, catalog, tmp_path: Path
) -> None:
    result = materialize("balance_change_from_activity_new_york", "2026-11-01")

    assert result.success, failure_messages(result)
    [event] = result.asset_materializations_for_node("stripe__balance_change_from_activity_new_york")
    assert event.metadata["window"].value == "2026-11-01T04:00:00Z → 2026-11-02T05:00:00Z"
    everything = _engine_rows(
        emulator,
        tmp_path,
        "balance_change_from_activity.itemized.3",
        {
            "interval_start": int(datetime(2026, 10, 31, tzinfo=UTC).timestamp()),
            "interval_end": int(datetime(2026, 11, 3, tzinfo=UTC).timestamp()),
            "columns": ["balance_transaction_id", "created_utc"],
        },
    )
    in_window = [r for r in everything if "2026-11-01 04:00:00" <= r["created_utc"] < "2026-11-02 05:00:00"]
    assert count_by_partition(warehouse, "balance_change_from_activity_new_york") == {
        "2026-11-01": len(in_window)
    }
    wh = open_warehouse(warehouse)
    local_days = {r[2].date().isoformat() for r in rows(warehouse, "balance_change_from_activity_new_york")}
    assert [c.name for c in wh.table_columns("balance_change_from_activity_new_york") or []][2] == "created"
    assert local_days == {"2026-11-01"}


def test_a_per_account_query_lands_each_account_as_that_account_and_reloads_one_alone(
    defs: dg.Definitions,
    materialize: Materialize,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    emulator: EmulatorServer,
    catalog,
    tmp_path: Path,
) -> None:
    sensor = defs.resolve_sensor_def("stripe_connected_accounts")
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as context:
        tick = sensor(context)
    [request] = tick.dynamic_partitions_requests
    instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    accounts = sorted(request.partition_keys)
    assert len(accounts) == 2 and all(a.startswith("acct_") for a in accounts)

    name = "connected_account_daily_activity"
    spec = catalog.get(name)
    assert spec.per_account
    for account in accounts:
        assert materialize(name, f"{account}|{DAY}").success

    [window] = resolve(partitions_for(spec), [f"{accounts[0]}|{DAY}"])
    sql = render_for_window(spec.sql, window.start, window.end, freshness_column=False)
    wh = open_warehouse(warehouse)
    totals = {}
    for account in accounts:
        path = tmp_path / f"expected-{account}.csv"
        emulator.engine.run_sigma(sql, path, account=account)
        with path.open(newline="") as handle:
            expected = sum(int(r["transactions"]) for r in csv.DictReader(handle))
        assert expected > 0
        with wh.engine.connect() as connection:
            totals[account] = connection.execute(
                sa.text(f'SELECT sum("transactions") FROM {wh.qualified(spec.table)} WHERE "_account" = :a'),
                {"a": account},
            ).scalar_one()
        assert totals[account] == expected, account  # the account's own data, as Sigma shows it to it
    assert totals[accounts[0]] != totals[accounts[1]]
    other_before = wh.row_counts(spec.table, by="_stripe_run_id", where={"_account": accounts[1]})
    assert materialize(name, f"{accounts[0]}|{DAY}").success
    assert wh.row_counts(spec.table, by="_stripe_run_id", where={"_account": accounts[1]}) == other_before


def test_the_shipped_connect_report_lands_every_account_in_one_run_per_day(
    materialize: Materialize, warehouse: WarehouseResource, emulator: EmulatorServer, catalog, tmp_path: Path
) -> None:
    name = "connected_account_balance_change_from_activity_itemized_3"
    spec = catalog.get(name)
    assert spec.connect == "all_accounts"
    result = materialize(name, DAY)
    assert result.success, failure_messages(result)

    [window] = resolve(partitions_for(spec), [DAY])
    expected = _engine_rows(
        emulator, tmp_path, spec.report_type, spec.parameters_for(window.start, window.end, None)
    )
    per_account: dict[str, int] = {}
    for row in expected:
        per_account[row["connected_account"]] = per_account.get(row["connected_account"], 0) + 1
    assert len(per_account) >= 2
    wh = open_warehouse(warehouse)
    assert wh.row_counts(spec.table, by="connected_account") == per_account
    assert len(wh.row_counts(spec.table, by="_stripe_run_id")) == 1
    [check] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "rows_per_connected_account"
    ]
    assert check.passed


def test_every_asset_of_the_project_materializes_a_day(materialize: Materialize, catalog, defs) -> None:
    for spec in catalog.sources:
        if spec.per_account or isinstance(spec, PayoutReportSource):
            continue  # per-payout partitions come from landed payouts: test_payout_reports.py
        result = materialize(spec.name, DAY if spec.period == "day" else "2026-10-01")
        assert result.success, f"{spec.name}: {failure_messages(result)}"
        assert all(c.passed for c in result.get_asset_check_evaluations()), spec.name


def test_the_key_never_reaches_dagsters_event_log(
    materialize: Materialize, instance: dg.DagsterInstance
) -> None:
    result = materialize("daily_activity_by_category", DAY)
    assert result.success
    stored = "\n".join(repr(r) for r in instance.all_logs(result.run_id))
    assert API_KEY not in stored
    assert "balance_transactions" in stored or "daily_activity" in stored


def test_one_failing_step_of_a_run_keeps_the_other_steps_landed(
    tmp_path: Path, stripe: StripeResource, warehouse: WarehouseResource, instance: dg.DagsterInstance
) -> None:
    # Runs execute their steps one after the other in the run worker (the in-process executor): a
    # backfill run holding several assets must still land every asset whose own step succeeds.
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    template = (
        "-- partition_column: day\n"
        "select date_trunc('day', created) as day, count(*) as charges, sum({column}) as amount\n"
        "from charges where created >= :window_start and created < :window_end group by 1\n"
    )
    (sql_dir / "a_broken_query.sql").write_text(template.format(column="amount_in_cents"))
    (sql_dir / "b_charges_per_day.sql").write_text(template.format(column="amount"))
    (tmp_path / "reports.yaml").write_text("reports: []\n")
    defs = build_definitions(
        load_catalog(tmp_path / "reports.yaml", sql_dir),
        {"stripe": stripe, "warehouse": warehouse},
        retry_policy=FAST_RETRIES,
    )

    result = dg.materialize(
        list(defs.assets),
        instance=instance,
        partition_key=DAY,  # type: ignore[arg-type]
        resources=defs.resources,
        raise_on_error=False,
    )

    assert not result.success
    started = [event.step_key for event in result.all_events if event.is_step_start]
    failed = {event.step_key for event in result.all_events if event.is_step_failure}
    assert failed == {"stripe__a_broken_query"} and started[0] == "stripe__a_broken_query"
    assert "amount_in_cents" in failure_messages(result)
    assert count_by_partition(warehouse, "b_charges_per_day") == {DAY: 1}
    assert open_warehouse(warehouse).table_columns("a_broken_query") is None
