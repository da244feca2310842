"""Assets on Stripe's /v2/data API, end to end against the emulator, with v1's guarantees."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster_runs import failure_messages, rows
from pipeline_settings import FAST_RETRIES

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import load_catalog
from pipelines.compare import compare_window
from pipelines.contracts import check_catalog
from pipelines.errors import CatalogError
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.sources import DataReportSource
from pipelines.stripe import StripeSettings

DAY = "2026-11-08"
SQL = (
    "-- api: v2\n"
    "-- partition_column: day\n"
    "select date_trunc('day', created) as day, currency, count(*) as transactions, sum(net) as net\n"
    "from balance_transactions\n"
    "where created >= :window_start and created < :window_end\n"
    "group by 1, 2\n"
)
REPORTS = (
    "reports:\n"
    "  - report_type: balance.summary.1\n    name: summary_v2\n    api: v2\n"
    "  - report_type: balance.summary.1\n    name: summary_v1\n"
)


@pytest.fixture
def warehouse_url(duckdb_or_postgres_url: str) -> str:
    """Every test here runs on DuckDB and on PostgreSQL."""
    return duckdb_or_postgres_url


@pytest.fixture
def project(tmp_path: Path, stripe: StripeResource, warehouse: WarehouseResource) -> dg.Definitions:
    (tmp_path / "reports.yaml").write_text(REPORTS)
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "net_by_currency_v2.sql").write_text(SQL)
    (sql_dir / "net_by_currency_v1.sql").write_text(SQL.replace("-- api: v2\n", ""))
    catalog = load_catalog(tmp_path / "reports.yaml", sql_dir)
    return build_definitions(catalog, {"stripe": stripe, "warehouse": warehouse}, retry_policy=FAST_RETRIES)


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, partition: str | tuple[str, str]):
    asset = next(a for a in defs.assets if a.key.path[-1] == name)  # type: ignore[union-attr]
    options: dict[str, object] = {"partition_key": partition}
    if isinstance(partition, tuple):
        options = {"tags": {RANGE_START_TAG: partition[0], RANGE_END_TAG: partition[1]}}
    return dg.materialize(
        [asset],
        instance=instance,
        resources=defs.resources,
        raise_on_error=False,
        **options,  # type: ignore[arg-type]
    )


def _stats(control: httpx.Client) -> dict:
    return control.get("/stats").json()


def test_a_v2_query_lands_its_days_like_its_v1_twin(
    project: dg.Definitions, instance: dg.DagsterInstance, warehouse: WarehouseResource, control: httpx.Client
) -> None:
    v2 = _run(project, instance, "net_by_currency_v2", ("2026-11-06", DAY))
    v1 = _run(project, instance, "net_by_currency_v1", ("2026-11-06", DAY))

    assert v2.success and v1.success, failure_messages(v2) + failure_messages(v1)
    assert _stats(control)["runs_created"].get("query_run_v2") == 1  # one ranged run for three days
    left = sorted(r[:4] for r in rows(warehouse, "net_by_currency_v2"))
    right = sorted(r[:4] for r in rows(warehouse, "net_by_currency_v1"))
    assert left and left == right
    [materialization, *_] = v2.asset_materializations_for_node("stripe__net_by_currency_v2")
    assert materialization.metadata["stripe_run_id"].value.startswith("qrun_")


def test_a_v2_report_lands_the_same_rows_as_the_v1_report(
    project: dg.Definitions, instance: dg.DagsterInstance, warehouse: WarehouseResource
) -> None:
    assert _run(project, instance, "summary_v2", DAY).success
    assert _run(project, instance, "summary_v1", DAY).success

    assert sorted(rows(warehouse, "summary_v2")) == sorted(rows(warehouse, "summary_v1"))


def test_re_running_a_v2_day_replaces_it(
    project: dg.Definitions, instance: dg.DagsterInstance, warehouse: WarehouseResource
) -> None:
    assert _run(project, instance, "net_by_currency_v2", DAY).success
    first = rows(warehouse, "net_by_currency_v2")

    assert _run(project, instance, "net_by_currency_v2", DAY).success

    assert rows(warehouse, "net_by_currency_v2") == first


def test_an_expired_link_is_fetched_again_without_running_the_query_again(
    project: dg.Definitions, instance: dg.DagsterInstance, warehouse: WarehouseResource, control: httpx.Client
) -> None:
    control.post(
        "/faults",
        json={"kind": "expire_download", "method": "GET", "path": "/v2/data/query_runs/*", "times": 1},
    ).raise_for_status()

    result = _run(project, instance, "net_by_currency_v2", DAY)

    assert result.success, failure_messages(result)
    stats = _stats(control)
    assert stats["runs_created"].get("query_run_v2") == 1
    assert stats["faults_fired"].get("expire_download") == 1
    assert rows(warehouse, "net_by_currency_v2")


def test_a_day_stripe_has_not_refreshed_runs_no_query_and_says_why(
    project: dg.Definitions, instance: dg.DagsterInstance, warehouse: WarehouseResource, control: httpx.Client
) -> None:
    result = _run(project, instance, "net_by_currency_v2", "2026-11-10")

    assert not result.success
    assert "refreshed_at of Stripe's analytical dataset" in failure_messages(result)
    assert "query_run_v2" not in _stats(control)["runs_created"]


def test_invalid_sql_fails_once_with_stripes_message(
    tmp_path: Path,
    stripe: StripeResource,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    control: httpx.Client,
) -> None:
    (tmp_path / "reports.yaml").write_text("reports: []\n")
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "broken.sql").write_text(SQL.replace("sum(net)", "sum(no_such_column)"))
    defs = build_definitions(
        load_catalog(tmp_path / "reports.yaml", sql_dir),
        {"stripe": stripe, "warehouse": warehouse},
        retry_policy=FAST_RETRIES,
    )

    result = _run(defs, instance, "broken", DAY)

    assert not result.success
    assert "no_such_column" in failure_messages(result)
    assert sum(1 for e in result.all_events if e.event_type_value == "STEP_RESTARTED") == 0
    assert _stats(control)["runs_created"].get("query_run_v2") == 1


def test_comparing_a_window_on_both_backends_finds_no_difference(
    project: dg.Definitions, stripe: StripeResource, tmp_path: Path
) -> None:
    catalog_sources = {a.key.path[-1] for a in project.assets}  # type: ignore[union-attr]
    assert "summary_v2" in catalog_sources
    catalog = load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")
    start, end = datetime(2026, 11, 8, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC)
    with stripe.session() as session:
        for name in ("net_by_currency_v1", "summary_v1"):
            comparison = compare_window(catalog.get(name), session, start, end, tmp_path)
            assert comparison.identical, comparison.describe()
            assert comparison.v1_rows > 0


def test_the_freshness_sensor_on_v2_assets_runs_no_query(
    project: dg.Definitions, instance: dg.DagsterInstance, control: httpx.Client
) -> None:
    sensor = project.resolve_sensor_def("stripe_data_api_freshness")
    cursor = None
    # Ten minutes of ticks every 30 s, the emulator's clock moving with them.
    for _ in range(20):
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=project.resources, definitions=project
        ) as context:
            result = sensor(context)
        cursor = getattr(result, "cursor", None) or cursor
        control.post("/advance", json={"by_hours": 30 / 3600}).raise_for_status()

    created = _stats(control)["runs_created"]
    assert "query_run_v2" not in created and "report_run_v2" not in created


def test_the_catalogue_check_reads_stripes_schema_and_reports_without_running_anything(
    tmp_path: Path, stripe: StripeResource, control: httpx.Client
) -> None:
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "typo.sql").write_text(SQL.replace("sum(net)", "sum(nett)"))
    (tmp_path / "reports.yaml").write_text(REPORTS)
    catalog = load_catalog(tmp_path / "reports.yaml", sql_dir)
    settings = stripe.settings()
    reports = [s for s in catalog.sources if isinstance(s, DataReportSource)]

    with pytest.raises(
        CatalogError,
        match=r"sql/typo.sql, line 3: `balance_transactions` has no column `nett`; did you mean `net`\?",
    ):
        check_catalog(catalog.queries, settings, reports)

    (sql_dir / "typo.sql").write_text(SQL)
    assert "1 v2 report entry fit" in check_catalog(
        load_catalog(tmp_path / "reports.yaml", sql_dir).queries, settings, reports
    )
    assert control.get("/stats").json()["runs_created"] == {}


def test_offline_the_catalogue_check_is_skipped_with_a_note(tmp_path: Path) -> None:
    offline = StripeSettings(
        api_key="sk_test_offline", api_base="http://127.0.0.1:9", files_base="http://127.0.0.1:9"
    )

    note = check_catalog([], offline)

    assert note.startswith("data contracts not checked")


def test_v2_rate_limits_server_errors_and_dropped_connections_are_ridden_out_with_one_run(
    project: dg.Definitions, instance: dg.DagsterInstance, warehouse: WarehouseResource, control: httpx.Client
) -> None:
    for rule in (
        {"kind": "http_429", "method": "POST", "path": "/v2/data/query_runs", "nth": [1]},
        {"kind": "http_503", "method": "GET", "path": "/v2/data/query_runs/*", "nth": [1]},
        {"kind": "drop_connection", "method": "GET", "path": "/v2/data/schemas", "nth": [1]},
    ):
        control.post("/faults", json=rule).raise_for_status()

    result = _run(project, instance, "net_by_currency_v2", DAY)

    assert result.success, failure_messages(result)
    stats = _stats(control)
    assert stats["runs_created"].get("query_run_v2") == 1
    assert {"http_429", "http_503", "drop_connection"} <= set(stats["faults_fired"])
    assert rows(warehouse, "net_by_currency_v2")


def test_a_v2_run_that_fails_at_stripe_leaves_the_table_as_it_was(
    project: dg.Definitions, instance: dg.DagsterInstance, warehouse: WarehouseResource, control: httpx.Client
) -> None:
    assert _run(project, instance, "net_by_currency_v2", DAY).success
    before = rows(warehouse, "net_by_currency_v2")
    control.post(
        "/faults", json={"kind": "run_failed", "method": "POST", "path": "/v2/data/query_runs"}
    ).raise_for_status()

    result = _run(project, instance, "net_by_currency_v2", DAY)

    assert not result.success
    assert rows(warehouse, "net_by_currency_v2") == before


def test_a_v2_file_that_disagrees_with_stripes_row_count_is_not_loaded(
    project: dg.Definitions, instance: dg.DagsterInstance, warehouse: WarehouseResource, control: httpx.Client
) -> None:
    assert _run(project, instance, "net_by_currency_v2", DAY).success
    before = rows(warehouse, "net_by_currency_v2")
    # The served file repeats a record that Stripe's row_count does not count.
    control.post(
        "/faults", json={"kind": "duplicate_row", "method": "POST", "path": "/v2/data/query_runs", "line": 2}
    ).raise_for_status()

    result = _run(project, instance, "net_by_currency_v2", DAY)

    assert not result.success
    assert "but its source says" in failure_messages(result)
    assert rows(warehouse, "net_by_currency_v2") == before
