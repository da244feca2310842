"""Month-end close against the emulator: a closed month is never overwritten by a later landing,
its differences are recorded and fail ``closed_period_unchanged`` with the amounts per currency,
and after a reopen (with a reason) the next landing replaces it."""

from __future__ import annotations

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
from dagster_runs import Materialize
from pipeline_settings import open_warehouse

from pipelines.cli import main
from pipelines.close import CLOSE_MONTH_JOB, CLOSE_MONTH_OP, CLOSED_PERIOD_CHECK
from pipelines.resources import WarehouseResource
from pipelines.warehouse import Periods

BCFA = "balance_change_from_activity_itemized_3"
CONNECT = "connected_account_daily_activity"  # per account: one account closes alone
CONNECT_TABLE = "sigma_connected_account_daily_activity"
ALL_ACCOUNTS = "connected_account_balance_change_from_activity_itemized_3"
DAY, MONTH = "2026-11-09", "2026-11"


def _blank_payouts(warehouse: WarehouseResource, table: str = BCFA, **where: str) -> int:
    rows = open_warehouse(warehouse).row_counts(table, where={"automatic_payout_id": None, **where})
    return rows.get(DAY, 0)


def _runs(warehouse: WarehouseResource, account: str) -> set[str]:
    """The Stripe runs an account's rows of the day came from."""
    wh = open_warehouse(warehouse)
    return set(wh.row_counts(CONNECT_TABLE, by="_stripe_run_id", where={"_account": account}))


def _rows_per_account(warehouse: WarehouseResource) -> dict[str, dict[str, int]]:
    """The all-accounts table's rows per connected account, per Stripe run they came from."""
    wh = open_warehouse(warehouse)
    return {
        account: wh.row_counts(ALL_ACCOUNTS, by="_stripe_run_id", where={"connected_account": account})
        for account in wh.row_counts(ALL_ACCOUNTS, by="connected_account")
    }


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == CLOSED_PERIOD_CHECK]
    return evaluation


def _close_job(
    defs: dg.Definitions, instance: dg.DagsterInstance, **config: object
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(CLOSE_MONTH_JOB)
    return job.execute_in_process(
        run_config={"ops": {CLOSE_MONTH_OP: {"config": {"month": MONTH, **config}}}},
        instance=instance,
        resources=defs.resources,
        raise_on_error=False,
    )


def test_a_closed_month_keeps_its_rows_fails_its_check_with_the_amounts_until_reopened(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    control: httpx.Client,
    materialize: Materialize,
    warehouse: WarehouseResource,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert materialize(BCFA, DAY).success
    blank = _blank_payouts(warehouse)
    assert blank > 0  # the day's payout does not exist yet at Stripe

    closed = _close_job(defs, instance, assets=[BCFA], closed_by="finance@example.com")
    assert closed.success
    [observation] = [
        e.asset_observation_data.asset_observation
        for e in closed.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    assert observation.metadata["rows_at_close"].value == open_warehouse(warehouse).row_counts(BCFA)[DAY]
    again = _close_job(defs, instance, assets=[BCFA])
    assert not again.success  # closing twice is refused, naming the close

    control.post("/advance", json={"by_hours": 24}).raise_for_status()  # the payout now exists
    relanded = materialize(BCFA, DAY)
    assert relanded.success
    assert _blank_payouts(warehouse) == blank  # the closed rows were kept
    check = _check(relanded)
    assert not check.passed
    description = check.description or ""
    assert f"{MONTH} (closed by finance@example.com)" in description and "usd +0.000" in description
    [variance] = check.metadata["variances"].value
    assert variance["days"] == [DAY] and variance["rows_differing"] == blank
    with open_warehouse(warehouse).engine.connect() as conn:
        changes = conn.execute(
            sa.text('select change, count(*) from stripe."_stripe_close_variances" group by change')
        ).all()
    assert dict(changes) == {"changed": blank}

    monkeypatch.setenv("WAREHOUSE_URL", warehouse.url)
    assert main(["reopen", BCFA, "--month", MONTH, "--reason", "payouts of the 9th arrived"]) == 0
    assert "reopened" in capsys.readouterr().out

    final = materialize(BCFA, DAY)
    assert final.success and _check(final).passed
    assert _blank_payouts(warehouse) < blank
    assert main(["closes", BCFA]) == 0
    assert "payouts of the 9th arrived" in capsys.readouterr().out


def test_the_commands_refuse_what_cannot_be_closed_or_reopened(
    monkeypatch: pytest.MonkeyPatch, warehouse: WarehouseResource, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", warehouse.url)
    with pytest.raises(SystemExit):
        main(["reopen", BCFA, "--month", MONTH])  # no reason
    assert main(["close", "balance_change", "--month", MONTH]) == 1
    assert "no asset named 'balance_change'" in capsys.readouterr().err
    assert main(["close", "--month", MONTH]) == 1
    assert "--all" in capsys.readouterr().err
    assert main(["close", BCFA, "--month", "2026-13"]) == 1
    assert "is not YYYY-MM" in capsys.readouterr().err
    assert main(["close", BCFA, "--month", MONTH]) == 1  # nothing landed yet
    assert "land the month before closing it" in capsys.readouterr().err
    assert main(["reopen", BCFA, "--month", MONTH, "--reason", "x"]) == 1
    assert "is not closed" in capsys.readouterr().err


def test_closing_a_connect_month_closes_every_account_unless_one_is_named(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    control: httpx.Client,
    materialize: Materialize,
    warehouse: WarehouseResource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sensor = defs.resolve_sensor_def("stripe_connected_accounts")
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as context:
        [request] = sensor(context).dynamic_partitions_requests
    instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    first, second = sorted(request.partition_keys)
    assert materialize(CONNECT, f"{first}|{DAY}").success
    landed = _runs(warehouse, first)
    assert landed

    monkeypatch.setenv("WAREHOUSE_URL", warehouse.url)
    assert main(["close", CONNECT, "--month", MONTH, "--account", first, "--by", "ops"]) == 0
    assert main(["close", BCFA, "--month", MONTH, "--account", first]) == 1  # not a Connect asset
    control.post("/advance", json={"by_hours": 24}).raise_for_status()
    assert materialize(CONNECT, f"{first}|{DAY}").success
    assert materialize(CONNECT, f"{second}|{DAY}").success  # its month is open: landed as usual
    assert _runs(warehouse, first) == landed  # closed: the rows of the first landing, kept
    assert _runs(warehouse, second)

    [close] = Periods(open_warehouse(warehouse)).history()
    assert close.account == first
    assert _close_job(defs, instance, assets=[CONNECT]).success  # every account now
    assert {c.account for c in Periods(open_warehouse(warehouse)).history()} == {first, "*"}


def test_closing_the_all_accounts_report_keeps_every_accounts_rows(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    control: httpx.Client,
    materialize: Materialize,
    warehouse: WarehouseResource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert materialize(ALL_ACCOUNTS, DAY).success
    landed = _rows_per_account(warehouse)
    assert len(landed) >= 2  # one run, every connected account's rows

    monkeypatch.setenv("WAREHOUSE_URL", warehouse.url)
    assert main(["close", ALL_ACCOUNTS, "--month", MONTH, "--account", next(iter(landed))]) == 1
    assert main(["close", ALL_ACCOUNTS, "--month", MONTH, "--by", "ops"]) == 0
    [close] = Periods(open_warehouse(warehouse)).history()
    assert close.account == "*"

    control.post("/advance", json={"by_hours": 24}).raise_for_status()
    relanded = materialize(ALL_ACCOUNTS, DAY)
    assert relanded.success
    assert _rows_per_account(warehouse) == landed  # every account's closed rows, from the first run
