"""Reconciliation checks: the reports agree with each other and with Sigma on Stripe's data, and a
report whose file Stripe got wrong fails its check with the day, currency, payout and amounts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import dagster as dg
import httpx
import pytest
from dagster_runs import Materialize, failure_messages

from pipelines.reconciliation import Mismatch, to_major_units

BCFA = "balance_change_from_activity_itemized_3"
SUMMARY = "balance_summary_1"
PAYOUTS = "payouts_itemized_3"
PAYOUT_RECONCILIATION = "payout_reconciliation_itemized_5"
ENDING = "ending_balance_reconciliation_itemized_4"
SIGMA = "balance_transaction_totals"
DAY = "2026-11-08"
TAMPERED = "987654.321"
CHECKS = {
    (BCFA, "reconciles_with_balance_summary"),
    (BCFA, "reconciles_with_sigma_balance_transactions"),
    (ENDING, "reconciles_with_balance_summary"),
    (PAYOUT_RECONCILIATION, "reconciles_with_payouts"),
}


def _reconcile(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    result = defs.resolve_job_def("stripe_reconciliation").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert result.success, failure_messages(result)
    return {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}


def _land(materialize: Materialize, *names: str) -> None:
    for name in names:
        result = materialize(name, DAY)
        assert result.success, failure_messages(result)


def test_every_reconciliation_passes_on_stripes_data(
    defs: dg.Definitions, instance: dg.DagsterInstance, materialize: Materialize
) -> None:
    _land(materialize, BCFA, SUMMARY, PAYOUTS, PAYOUT_RECONCILIATION, ENDING, SIGMA)

    checks = _reconcile(defs, instance)

    assert set(checks) >= CHECKS
    for name in CHECKS:
        assert checks[name].passed, (name, checks[name].description)
        assert checks[name].metadata["days_compared"].value == 1
    # The emulator's accounts are paid out daily: the day's payouts were compared one by one.
    assert checks[(PAYOUT_RECONCILIATION, "reconciles_with_payouts")].metadata["payouts_compared"].value > 0


def test_a_net_amount_stripe_got_wrong_fails_every_check_it_breaks_with_the_amounts(
    defs: dg.Definitions, instance: dg.DagsterInstance, materialize: Materialize, control: httpx.Client
) -> None:
    _land(materialize, SUMMARY, PAYOUTS, SIGMA)
    # The next three report files (activity, payout reconciliation, ending balance) each have the
    # `net` of their first record changed.
    rule = {"kind": "change_value", "method": "POST", "path": "/v1/reporting/report_runs"}
    control.post(
        "/faults", json={**rule, "nth": [1, 2, 3], "column": "net", "value": TAMPERED}
    ).raise_for_status()
    _land(materialize, BCFA, PAYOUT_RECONCILIATION, ENDING)

    checks = _reconcile(defs, instance)

    for name in CHECKS:
        assert not checks[name].passed, name
        [mismatch] = checks[name].metadata["mismatches"].value
        assert mismatch["day"] == DAY
        # The description names the same group and amounts as the metadata.
        assert Mismatch(
            {k: v for k, v in mismatch.items() if k in ("day", "payout_id", "currency")},
            {k: Decimal(v) for k, v in mismatch.items() if k not in ("day", "payout_id", "currency")},
        ).describe() in (checks[name].description or "")

    [payout] = checks[(PAYOUT_RECONCILIATION, "reconciles_with_payouts")].metadata["mismatches"].value
    assert payout["payout_id"].startswith("po_")
    assert (
        Decimal(payout["payout_amount_minus_transactions_net"])
        == Decimal(payout["payout_amount"]) - Decimal(payout["transactions_net"])
        != 0
    )
    by_currency = checks[(PAYOUT_RECONCILIATION, "reconciles_with_payouts")].metadata[
        "difference_by_currency"
    ]
    assert by_currency.value == {payout["currency"]: payout["payout_amount_minus_transactions_net"]}

    [ending] = checks[(ENDING, "reconciles_with_balance_summary")].metadata["mismatches"].value
    assert set(ending) == {
        "day",
        "currency",
        "transactions_net",
        "summary_ending_balance",
        "transactions_net_minus_summary_ending_balance",
    }
    # Only net was changed: Sigma's amounts and fees still equal the file's gross and fee.
    [sigma] = checks[(BCFA, "reconciles_with_sigma_balance_transactions")].metadata["mismatches"].value
    assert set(sigma) == {"day", "currency", "activity_net", "sigma_net", "activity_net_minus_sigma_net"}


def test_reconciliation_checks_stay_out_of_an_ordinary_daily_run(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    schedule = defs.resolve_schedule_def("stripe_daily")
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(2026, 11, 10, 6, 0, tzinfo=UTC),
        resources=defs.resources,
        repository_def=defs.get_repository_def(),
    ) as context:
        requests = schedule.evaluate_tick(context).run_requests or []
    [request] = [r for r in requests if r.asset_selection == [dg.AssetKey(["stripe", BCFA])]]
    # The run the daemon launches: the schedule's job narrowed to the request's selection.
    job = (
        defs.get_repository_def()
        .get_job(schedule.job_name)
        .get_subset(
            asset_selection=set(request.asset_selection or []),
            asset_check_selection=None if request.asset_check_keys is None else set(request.asset_check_keys),
        )
    )

    result = job.execute_in_process(
        instance=instance, partition_key=request.partition_key, raise_on_error=False
    )

    assert result.success, failure_messages(result)
    skipped = [e.user_message for e in instance.all_logs(result.run_id) if "Skipping step" in e.user_message]
    assert skipped == []
    evaluated = {e.check_name for e in result.get_asset_check_evaluations()}
    assert "unique_balance_transaction_id" in evaluated
    assert not evaluated & {name for _, name in CHECKS}


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [(1234, "usd", "12.34"), (1234, "JPY", "1234"), (1234, "kwd", "1.234"), (-5, "eur", "-0.05")],
)
def test_minor_units_become_major_units_by_stripes_currency_decimals(
    minor: int, currency: str, major: str
) -> None:
    assert to_major_units(Decimal(minor), currency) == Decimal(major)
