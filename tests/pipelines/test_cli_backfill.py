"""`stripe-reports backfill`: days of one asset as ranged runs, submitted to Dagster's daemon or run now.

Each ranged run lands its days with one Stripe job per chunk, and every day's materialization
carries that day's own numbers (its rows, its share of the file), the whole Stripe run's figures
as text.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from pipeline_settings import open_warehouse

from pipelines import cli
from pipelines.backfill import (
    BACKFILL_TAG,
    BackfillRequestError,
    plan_backfill,
    run_backfill,
    submit_backfill,
)
from pipelines.backfill import main as backfill_main
from pipelines.catalog import Catalog, load_catalog
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.translator import asset_key

ITEMIZED = "balance_change_from_activity_itemized_3"
NUMBERS = (dg.IntMetadataValue, dg.FloatMetadataValue)
RUN_FIGURES = {
    "records_in_stripe_file",
    "rows_inserted",
    "seconds_waiting_on_stripe",
    "seconds_downloading",
    "seconds_loading",
    "days_in_stripe_run",
}
FIRST, LAST = date(2026, 10, 7), date(2026, 11, 8)  # 33 days: a ranged run of 31, one of 2


@pytest.fixture(scope="module")
def offline_defs() -> dg.Definitions:
    """The project's definitions with a Stripe nobody calls: planning a backfill asks Dagster only."""
    stripe = StripeResource(api_key="sk_test_4Hq8Zr2Lm7Xp1Vb9Nc3Kd6Wf", api_base="http://127.0.0.1:9")
    return build_definitions(
        load_catalog(), {"stripe": stripe, "warehouse": WarehouseResource(url="duckdb://")}
    )


def _days(first: date, last: date) -> list[str]:
    return [date.fromordinal(d).isoformat() for d in range(first.toordinal(), last.toordinal() + 1)]


def test_an_in_process_backfill_lands_33_days_in_two_ranged_runs_of_one_report_run_each(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    control: httpx.Client,
    warehouse: WarehouseResource,
    catalog: Catalog,
) -> None:
    plan = plan_backfill(defs, ITEMIZED, FIRST, LAST, instance=instance)
    assert [(run[0], run[-1]) for run in plan.runs] == [
        ("2026-10-07", "2026-11-06"),
        ("2026-11-07", "2026-11-08"),
    ]

    tag, outcomes = run_backfill(defs, instance, plan)

    assert [o.success for o in outcomes] == [True, True], [o.describe() for o in outcomes]
    assert control.get("/stats").json()["runs_created"]["report_run"] == 2
    stored = open_warehouse(warehouse).row_counts(catalog.get(ITEMIZED).table)
    assert sorted(stored) == _days(FIRST, LAST)
    runs = instance.get_run_records(dg.RunsFilter(tags={BACKFILL_TAG: tag}))
    assert len(runs) == 2

    records = instance.fetch_materializations(asset_key(catalog.get(ITEMIZED)), limit=100).records
    by_day = {r.asset_materialization.partition: r.asset_materialization for r in records}  # type: ignore[union-attr]
    assert sorted(by_day) == _days(FIRST, LAST) and len(records) == 33
    # The plotted numbers are each day's own: its rows, and its share of the run's file by rows.
    assert {day: m.metadata["dagster/row_count"].value for day, m in by_day.items()} == stored
    first_run = [by_day[d] for d in _days(FIRST, date(2026, 11, 6))]
    summary = first_run[0].metadata["stripe_run"]
    assert isinstance(summary, dg.TextMetadataValue)
    assert all(m.metadata["stripe_run"] == summary for m in first_run)
    file_bytes = int(summary.value.split("file ")[1].split(" bytes")[0].replace(",", ""))
    shares = [int(m.metadata["file_bytes"].value) for m in first_run]  # type: ignore[arg-type]
    assert sum(shares) == file_bytes and len(set(shares)) > 1
    # Whole-run figures are text, never a number repeated on every day of the run.
    numbers = {k for m in first_run for k, v in m.metadata.items() if isinstance(v, NUMBERS)}
    assert {"dagster/row_count", "file_bytes"} <= numbers
    assert not numbers & RUN_FIGURES
    for figure in ("records", "rows inserted", "s waiting on Stripe", "s downloading", "s loading"):
        assert figure in summary.value


def test_a_submitted_backfill_is_an_asset_backfill_the_daemon_picks_up(
    offline_defs: dg.Definitions, instance: dg.DagsterInstance, catalog: Catalog
) -> None:
    plan = plan_backfill(offline_defs, f"stripe/{ITEMIZED}", FIRST, LAST, instance=instance)

    backfill_id = submit_backfill(offline_defs, instance, plan)

    [backfill] = instance.get_backfills()
    assert backfill.backfill_id == backfill_id
    assert backfill.status == BulkActionStatus.REQUESTED
    assert backfill.asset_selection == [asset_key(catalog.get(ITEMIZED))]
    target = backfill.asset_backfill_data.target_subset  # type: ignore[union-attr]
    assert sorted(target.get_partitions_subset(plan.key).get_partition_keys()) == _days(FIRST, LAST)
    assert instance.get_runs() == []  # nothing runs before the daemon takes it up


def test_a_per_account_backfill_covers_each_known_account_or_the_one_named(
    offline_defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    instance.add_dynamic_partitions("stripe_connected_accounts", ["acct_1Qa", "acct_2Rb"])
    name = "connected_account_daily_activity"

    every = plan_backfill(offline_defs, name, FIRST, LAST, instance=instance)
    one = plan_backfill(offline_defs, name, FIRST, LAST, account="acct_2Rb", instance=instance)

    assert every.accounts == ("acct_1Qa", "acct_2Rb") and len(every.runs) == 4
    assert one.accounts == ("acct_2Rb",) and len(one.partition_keys) == 33
    assert one.runs[0][0] == "acct_2Rb|2026-10-07" and one.runs[-1][-1] == "acct_2Rb|2026-11-08"
    with pytest.raises(
        BackfillRequestError, match=r"acct_2Rc: not a connected account .* did you mean 'acct_2Rb'"
    ):
        plan_backfill(offline_defs, name, FIRST, LAST, account="acct_2Rc", instance=instance)


def test_the_shipped_connect_report_is_backfilled_for_every_account_in_day_runs(
    offline_defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    instance.add_dynamic_partitions("stripe_connected_accounts", ["acct_1Qa", "acct_2Rb"])
    name = "connected_account_balance_change_from_activity_itemized_3"

    plan = plan_backfill(offline_defs, name, FIRST, LAST, instance=instance)

    # Two 31-day chunks whatever the number of accounts: each run returns every account's rows.
    assert plan.accounts == () and len(plan.partition_keys) == 33 and len(plan.runs) == 2
    assert plan.runs[0][0] == "2026-10-07" and plan.runs[-1][-1] == "2026-11-08"
    with pytest.raises(BackfillRequestError, match="is not partitioned per connected account"):
        plan_backfill(offline_defs, name, FIRST, LAST, account="acct_2Rb", instance=instance)


def test_an_asset_whose_key_is_too_long_for_a_whole_title_is_submitted_with_its_days_in_the_title(
    offline_defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    instance.add_dynamic_partitions("stripe_connected_accounts", ["acct_1Qa"])
    name = "connected_account_balance_change_from_activity_itemized_3"
    plan = plan_backfill(offline_defs, name, FIRST, LAST, instance=instance)

    submit_backfill(offline_defs, instance, plan)

    [backfill] = instance.get_backfills()
    assert backfill.title is not None and len(backfill.title) <= 100
    assert backfill.title.startswith("stripe-reports backfill stripe/connected_account_balance")
    assert backfill.title.endswith(" 2026-10-07 .. 2026-11-08")


@pytest.mark.parametrize(
    ("asset", "first", "last", "account", "message"),
    [
        (
            "balance_change_from_activity_itemised_3",
            FIRST,
            LAST,
            None,
            "no asset named 'balance_change_from_activity_itemised_3'; "
            "did you mean 'balance_change_from_activity_itemized_3'?",
        ),
        (
            ITEMIZED,
            date(2025, 12, 1),
            LAST,
            None,
            "--from 2025-12-01: the first day of stripe/balance_change_from_activity_itemized_3 is "
            "2026-01-01 (its start_date, {origin}, or the first day Stripe reports on); "
            "backfill from 2026-01-01",
        ),
        (ITEMIZED, LAST, FIRST, None, "--from 2026-11-08 is after --to 2026-10-07"),
        (ITEMIZED, FIRST, date(2099, 1, 1), None, "--to 2099-01-01: the newest day of stripe/"),
        (ITEMIZED, FIRST, LAST, "acct_1Qa", "is not partitioned per connected account"),
    ],
)
def test_a_backfill_asking_for_what_the_asset_lacks_is_refused_before_anything_is_submitted(
    offline_defs: dg.Definitions,
    instance: dg.DagsterInstance,
    catalog: Catalog,
    asset: str,
    first: date,
    last: date,
    account: str | None,
    message: str,
) -> None:
    origins = {asset_key(s): s.origin for s in catalog.sources if s.origin}
    with pytest.raises(BackfillRequestError) as raised:
        plan_backfill(offline_defs, asset, first, last, account=account, instance=instance, origins=origins)

    assert message.format(origin=catalog.get(ITEMIZED).origin) in str(raised.value)
    assert raised.value.retryable is False
    assert instance.get_backfills() == []


def test_the_command_line_submits_to_the_dagster_home_and_says_where_to_follow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("DAGSTER_PORT", "3123")

    code = cli.main(["backfill", "payouts_itemized_3", "--from", "2026-10-01", "--to", "2026-10-31"])

    out, err = capfd.readouterr()
    assert code == 0, err
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [backfill] = instance.get_backfills()
    assert (
        f"backfill {backfill.backfill_id} submitted: stripe/payouts_itemized_3, 2026-10-01 .. 2026-10-31"
        in out
    )
    assert f"http://127.0.0.1:3123/runs/b/{backfill.backfill_id}" in out


def test_a_refused_backfill_exits_2_with_the_nearest_asset_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    code = backfill_main(["payouts_itemised_3", "--from", "2026-10-01", "--to", "2026-10-31"])

    assert code == 2
    assert capsys.readouterr().err == (
        "error: no asset named 'payouts_itemised_3'; did you mean 'payouts_itemized_3'?\n"
    )
