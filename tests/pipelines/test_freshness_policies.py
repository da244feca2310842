"""Each entry's ``fresh_by`` deadline: a freshness policy on its asset, and a partition freshness
check the ``stripe_freshness_deadlines`` sensor evaluates — late when the previous day is missing
after the deadline, passing once it landed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import dagster as dg
import pytest

from pipelines.catalog import CatalogError, load_catalog
from pipelines.freshness_policies import FRESHNESS_SENSOR
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.translator import asset_key

REPORTS = """\
defaults: {fresh_by: "09:00"}
reports:
  - report_type: payouts.itemized.3
  - report_type: balance.summary.1
  - report_type: balance_change_from_activity.itemized.3
    name: activity_paris
    timezone: Europe/Paris
    fresh_by: 07:30
  - report_type: balance_change_from_activity.itemized.3
    name: activity_afternoon
    fresh_by: 15:45
"""


def _defs(tmp_path: Path, reports: str = REPORTS) -> tuple[dg.Definitions, dict[str, dg.AssetKey]]:
    (tmp_path / "reports.yaml").write_text(reports)
    (tmp_path / "sql").mkdir(exist_ok=True)
    catalog = load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")
    resources = {
        # Never called: freshness is judged from what Dagster recorded, not by asking Stripe.
        "stripe": StripeResource(api_key="sk_test_Tq83JdPw0xLr5Vb2Nc7Ke4Hs", api_base="http://127.0.0.1:9"),
        "warehouse": WarehouseResource(url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}"),
    }
    return build_definitions(catalog, resources), {s.name: asset_key(s) for s in catalog.sources}


def test_fresh_by_becomes_each_assets_freshness_policy_in_its_own_zone(tmp_path: Path) -> None:
    defs, keys = _defs(tmp_path)
    graph = defs.resolve_asset_graph()

    def policy(name: str) -> dg.FreshnessPolicy | None:
        return graph.get(keys[name]).freshness_policy

    payouts = policy("payouts_itemized_3")
    assert payouts.deadline_cron == "0 9 * * *" and payouts.timezone == "UTC"  # type: ignore[union-attr]
    assert payouts.lower_bound_delta == timedelta(days=1)  # type: ignore[union-attr]
    paris = policy("activity_paris")
    assert paris.deadline_cron == "30 7 * * *" and paris.timezone == "Europe/Paris"  # type: ignore[union-attr]
    # Unquoted in YAML, 15:45 is read as a number of minutes; it still means a quarter to four.
    assert policy("activity_afternoon").deadline_cron == "45 15 * * *"  # type: ignore[union-attr]


def test_without_fresh_by_the_previous_day_is_due_at_14_00_in_the_entrys_zone(tmp_path: Path) -> None:
    catalog_dir = tmp_path / "catalog"
    catalog_dir.mkdir()
    defs, keys = _defs(catalog_dir, "reports:\n  - report_type: payouts.itemized.3\n")

    policy = defs.resolve_asset_graph().get(keys["payouts_itemized_3"]).freshness_policy

    assert policy.deadline_cron == "0 14 * * *"  # type: ignore[union-attr]
    assert load_catalog(catalog_dir / "reports.yaml", catalog_dir / "sql").sources[0].fresh_by == time(14)


@pytest.mark.parametrize("value", ["'9am'", "'25:00'", "'09:60'", "true"])
def test_a_fresh_by_that_is_not_a_time_of_day_fails_naming_the_line(tmp_path: Path, value: str) -> None:
    (tmp_path / "reports.yaml").write_text(
        f"reports:\n  - report_type: payouts.itemized.3\n    fresh_by: {value}\n"
    )

    with pytest.raises(CatalogError, match=r"reports\.yaml, line 3: .*fresh_by: .*HH:MM"):
        load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")


def test_a_day_missing_after_its_deadline_is_late_and_a_landed_one_passes(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    defs, keys = _defs(tmp_path)
    payouts, summary = keys["payouts_itemized_3"], keys["balance_summary_1"]
    expected = _day_due_at_the_last_deadline(time(9))
    day_before = (datetime.fromisoformat(expected) - timedelta(days=1)).date().isoformat()
    # Both landed the day before; only payouts landed the day the latest 09:00 deadline asks for.
    for key, day in ((payouts, day_before), (summary, day_before), (payouts, expected)):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=day))

    sensor = defs.resolve_sensor_def(FRESHNESS_SENSOR)
    with dg.build_sensor_context(instance=instance, definitions=defs) as context:
        tick = sensor(context)
    requested = {k for request in _run_requests(tick) for k in request.asset_check_keys or ()}
    assert {payouts, summary} <= {k.asset_key for k in requested}

    checks = [c for c in defs.asset_checks or [] if set(c.check_keys) & requested]  # type: ignore[union-attr]
    result = dg.materialize(
        [*defs.assets, *checks],  # type: ignore[list-item]
        selection=dg.AssetSelection.checks(*requested),
        instance=instance,
        resources=defs.resources,
        raise_on_error=False,
    )

    verdicts = {e.asset_key: e for e in result.get_asset_check_evaluations()}
    assert verdicts[payouts].passed
    assert not verdicts[summary].passed
    assert verdicts[summary].severity == dg.AssetCheckSeverity.ERROR
    assert f"expected partition {expected} to have arrived" in (verdicts[summary].description or "")


def test_connect_assets_carry_the_policy_but_no_partition_check(tmp_path: Path) -> None:
    reports = (
        "reports:\n  - report_type: balance.summary.1\n    connect: per_account\n    fresh_by: '08:00'\n"
    )
    defs, keys = _defs(tmp_path, reports)
    key = next(iter(keys.values()))

    assert defs.resolve_asset_graph().get(key).freshness_policy.deadline_cron == "0 8 * * *"  # type: ignore[union-attr]
    check_keys = {k for c in defs.asset_checks or [] for k in c.check_keys}  # type: ignore[union-attr]
    assert dg.AssetCheckKey(key, "freshness_check") not in check_keys
    assert FRESHNESS_SENSOR not in {s.name for s in defs.sensors or []}


def _day_due_at_the_last_deadline(deadline: time) -> str:
    """The UTC day whose partition the latest passed ``deadline`` (UTC) asks for: the day before it."""
    now = datetime.now(UTC)
    last = now.replace(hour=deadline.hour, minute=deadline.minute, second=0, microsecond=0)
    if last > now:
        last -= timedelta(days=1)
    return (last - timedelta(days=1)).date().isoformat()


def _run_requests(tick: object) -> list[dg.RunRequest]:
    if isinstance(tick, dg.SensorResult):
        return list(tick.run_requests or [])
    if isinstance(tick, dg.RunRequest):
        return [tick]
    assert isinstance(tick, list), tick
    return tick


def test_a_month_is_due_on_the_1st_and_a_payouts_report_has_no_deadline(tmp_path: Path) -> None:
    reports = """\
reports:
  - report_type: payouts.itemized.3
  - report_type: balance.summary.1
    name: balance_summary_monthly
    period: month
    fresh_by: "10:00"
  - report_type: payout_reconciliation.by_id.itemized.4
    payouts_from: payouts_itemized_3
"""
    defs, keys = _defs(tmp_path, reports)
    graph = defs.resolve_asset_graph()
    check_keys = {k for c in defs.asset_checks or [] for k in c.check_keys}  # type: ignore[union-attr]

    monthly = graph.get(keys["balance_summary_monthly"]).freshness_policy
    assert monthly.deadline_cron == "0 10 1 * *"  # type: ignore[union-attr]
    assert dg.AssetCheckKey(keys["balance_summary_monthly"], "freshness_check") in check_keys
    by_payout = keys["payout_reconciliation_by_id_itemized_4"]
    assert graph.get(by_payout).freshness_policy is None
    assert dg.AssetCheckKey(by_payout, "freshness_check") not in check_keys
