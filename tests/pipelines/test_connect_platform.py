"""Connect at platform scale: a ``connected_account_*`` report run once per chunk for every account.

``connect: all_accounts`` makes an asset day-partitioned; one Stripe report run without
``parameters[connected_account]`` returns every connected account's rows, each naming its account in
``connected_account``. ``connect: per_account`` keeps one partition per account and day.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
from dagster_runs import failure_messages
from pipeline_settings import FAST_RETRIES, open_warehouse

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import load_catalog
from pipelines.errors import CatalogError
from pipelines.partitions import partitions_for, resolve
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from stripe_emulator.server import EmulatorServer

REPORT_TYPE = "connected_account_balance_change_from_activity.itemized.3"
NAME = "connect_activity"
FIRST, LAST = "2026-10-01", "2026-10-05"

CATALOGUE = f"""\
defaults:
  start_date: "2026-01-01"
reports:
  - report_type: {REPORT_TYPE}
    name: {NAME}
    connect: all_accounts
    max_days_per_run: 3
  - report_type: {REPORT_TYPE}
    name: connect_activity_per_account
    connect: per_account
"""


def _catalog(tmp_path: Path, text: str = CATALOGUE):  # type: ignore[no-untyped-def]
    (tmp_path / "reports.yaml").write_text(text)
    (tmp_path / "sql").mkdir(exist_ok=True)
    return load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")


def _report_runs(control: httpx.Client) -> int:
    return sum(n for kind, n in control.get("/stats").json()["runs_created"].items() if "report" in kind)


def _truth(emulator: EmulatorServer, tmp_path: Path, source, account: str) -> Counter[str]:  # type: ignore[no-untyped-def]
    """Stripe's rows for one account over the window, per day, computed by the emulator's engine."""
    [first] = resolve(partitions_for(source), [FIRST])
    [last] = resolve(partitions_for(source), [LAST])
    path = tmp_path / f"truth-{account}.csv"
    emulator.engine.run_report(
        source.report_type, source.parameters_for(first.start, last.end, account), path
    )
    with path.open(newline="") as handle:
        return Counter(row["created_utc"][:10] for row in csv.DictReader(handle))


def _landed(warehouse: WarehouseResource, table: str) -> Counter[tuple[str, str]]:
    wh = open_warehouse(warehouse)
    with wh.engine.connect() as connection:
        result = connection.execute(
            sa.text(f"SELECT connected_account, created_utc FROM {wh.qualified(table)}")
        )
        return Counter((str(account), str(created)[:10]) for account, created in result)


def test_an_all_accounts_backfill_is_one_report_run_per_chunk_for_every_account(
    tmp_path: Path,
    stripe: StripeResource,
    warehouse: WarehouseResource,
    emulator: EmulatorServer,
    control: httpx.Client,
    instance: dg.DagsterInstance,
) -> None:
    catalog = _catalog(tmp_path)
    defs = build_definitions(catalog, {"stripe": stripe, "warehouse": warehouse}, retry_policy=FAST_RETRIES)
    source = catalog.get(NAME)
    [asset] = [a for a in defs.assets if a.key.path[-1] == NAME]  # type: ignore[union-attr]
    assert isinstance(asset.partitions_def, dg.DailyPartitionsDefinition)  # type: ignore[union-attr]

    def backfill() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [asset],
            instance=instance,
            resources=defs.resources,
            tags={RANGE_START_TAG: FIRST, RANGE_END_TAG: LAST},
            raise_on_error=False,
        )

    before = _report_runs(control)
    result = backfill()
    assert result.success, failure_messages(result)
    # Five days, at most three per run: two runs, whatever the number of connected accounts.
    assert _report_runs(control) - before == 2

    accounts = [a["id"] for a in emulator.engine.connected_accounts()]
    assert len(accounts) >= 2
    landed = _landed(warehouse, source.table)
    for account in accounts:
        truth = _truth(emulator, tmp_path, source, account)
        assert sum(truth.values()) > 0, account
        assert {day: n for (a, day), n in landed.items() if a == account} == dict(truth)
    assert {a for a, _ in landed} <= set(accounts)

    result = backfill()
    assert result.success, failure_messages(result)
    assert _landed(warehouse, source.table) == landed  # replaced, never duplicated

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    per_account = checks["rows_per_connected_account"]
    assert per_account.passed
    counts = per_account.metadata["rows_by_account"].value  # type: ignore[union-attr]
    assert counts == {a: sum(n for (b, _), n in landed.items() if b == a) for a in accounts}


def test_per_account_entries_keep_one_partition_per_account_and_day(
    tmp_path: Path, stripe: StripeResource, warehouse: WarehouseResource
) -> None:
    catalog = _catalog(tmp_path)
    defs = build_definitions(catalog, {"stripe": stripe, "warehouse": warehouse}, retry_policy=FAST_RETRIES)
    [asset] = [a for a in defs.assets if a.key.path[-1] == "connect_activity_per_account"]  # type: ignore[union-attr]
    assert isinstance(asset.partitions_def, dg.MultiPartitionsDefinition)  # type: ignore[union-attr]
    source = catalog.get("connect_activity_per_account")
    assert "connected_account" in source.parameters_for(*_days(), "acct_x")
    assert "connected_account" not in catalog.get(NAME).parameters_for(*_days(), None)
    assert next(c.name for c in catalog.get(NAME).columns) == "connected_account"


def _days() -> tuple[datetime, datetime]:
    return datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "  - report_type: balance_change_from_activity.itemized.3\n    connect: all_accounts\n",
            "connected_account_*",
        ),
        (f"  - report_type: {REPORT_TYPE}\n    connect: every_account\n", "all_accounts"),
    ],
)
def test_all_accounts_is_refused_where_one_run_cannot_cover_every_account(
    tmp_path: Path, entry: str, message: str
) -> None:
    with pytest.raises(CatalogError, match=message) as raised:
        _catalog(tmp_path, "reports:\n" + entry)
    assert "reports.yaml" in str(raised.value)


def test_a_sigma_query_cannot_run_for_all_accounts_at_once(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "fees.sql").write_text(
        "-- connect: all_accounts\n-- partition_column: day\n"
        "select date_trunc('day', created) as day, count(*) as n from charges "
        "where created >= :window_start and created < :window_end group by 1\n"
    )
    with pytest.raises(CatalogError, match="per_account"):
        _catalog(tmp_path, "reports: []\n")


def test_connect_without_a_mode_picks_all_accounts_for_connected_account_types(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "fees.sql").write_text(
        "-- connect: true\n-- partition_column: day\n"
        "select date_trunc('day', created) as day, count(*) as n from charges "
        "where created >= :window_start and created < :window_end group by 1\n"
    )
    catalog = _catalog(
        tmp_path,
        "reports:\n"
        f"  - report_type: {REPORT_TYPE}\n    name: implied\n"
        f"  - report_type: {REPORT_TYPE}\n    name: asked\n    connect: true\n"
        f"  - report_type: {REPORT_TYPE}\n    name: named\n    connect: per_account\n"
        "  - report_type: balance.summary.1\n    connect: true\n"
        "  - report_type: payouts.itemized.3\n",
    )
    modes = {s.name: s.connect for s in catalog.sources}
    assert modes == {
        "implied": "all_accounts",  # without the account column every account's rows would be mixed
        "asked": "all_accounts",
        "named": "per_account",
        "balance_summary_1": "per_account",  # other reports run as one account (Stripe-Account)
        "payouts_itemized_3": None,
        "fees": "per_account",
    }
    assert next(c.name for c in catalog.get("implied").columns) == "connected_account"
