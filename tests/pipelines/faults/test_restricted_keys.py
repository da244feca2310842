"""The minimum restricted-key permissions (docs/stripe-permissions.md) run the whole catalogue, and
each one of them is needed: without it a run fails at once with Stripe's 403 naming it."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest
from pipeline_settings import FAST_RETRIES, open_warehouse

from pipelines.automation import PAYOUT_COLUMNS
from pipelines.partitions import partition_key
from pipelines.project import build_definitions
from pipelines.sources import PayoutReportSource
from pipelines.sources.payout_report import paid_payouts
from pipelines.stripe.errors import PermissionDeniedError

from .conftest import Harness

NEWEST_DAY = "2026-11-09"  # the saved-query path runs for the newest complete day only
NEWEST_MONTH = "2026-10-01"
KEY = "rk_test_51Zq4Wm8Xt2Kv6Rn9Bp3Ly7Hc5Dj0a1b2"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "stripe-permissions.md"

MINIMUM = {
    "rak_report_type_read": "balance_change_from_activity_itemized_3",
    "rak_report_run_write": "balance_change_from_activity_itemized_3",
    "rak_file_read": "balance_summary_1",
    "rak_sigma_query_run_write": "fees_by_type",
    "rak_sigma_saved_query_read": "daily_activity_by_category",
    "rak_account_read": "the connected accounts sensor",
    "data_queries_read": "net_volume_by_currency",
    "data_reports_read": "balance_summary_v2",
}
"""Each permission of the minimum set, and what needs it (an asset, or the sensor)."""


def _connected_accounts(harness: Harness) -> list[str]:
    """Evaluate the connected accounts sensor with the key; returns the accounts it found."""
    defs = build_definitions(
        harness.catalog,
        {"stripe": harness.stripe(api_key=KEY), "warehouse": harness.warehouse},
        retry_policy=FAST_RETRIES,
    )
    sensor = defs.resolve_sensor_def("stripe_connected_accounts")
    with dg.build_sensor_context(instance=harness.instance, resources=defs.resources) as context:
        tick = sensor(context)
    [request] = tick.dynamic_partitions_requests
    accounts = sorted(request.partition_keys)
    harness.instance.add_dynamic_partitions(request.partitions_def_name, accounts)
    return accounts


def test_the_documented_minimum_is_the_set_these_tests_grant() -> None:
    documented = set(re.findall(r"`((?:rak|data)_\w+)`", DOCS.read_text()))
    assert set(MINIMUM) <= documented


def test_a_key_with_the_minimum_permissions_runs_every_asset_of_the_catalogue(harness: Harness) -> None:
    harness.register_key(KEY, sorted(MINIMUM))
    accounts = _connected_accounts(harness)

    for spec in harness.catalog.sources:
        partitions = [partition_key(a, NEWEST_DAY) for a in accounts] if spec.per_account else [NEWEST_DAY]
        if spec.period == "month":
            partitions = [NEWEST_MONTH]
        if isinstance(spec, PayoutReportSource):  # a payout of the payouts landed above
            paid = paid_payouts(open_warehouse(harness.warehouse).rows(spec.payouts_from, PAYOUT_COLUMNS))
            assert paid, spec.payouts_from
            harness.instance.add_dynamic_partitions(spec.partitions_name, paid[:1])
            partitions = paid[:1]
        for partition in partitions:
            attempt = harness.run(spec.name, partition, api_key=KEY)
            assert attempt.success, f"{spec.name} {partition}: {attempt.messages}"
    assert harness.stats()["responses"].get("403", 0) == 0
    assert harness.leaks() == []


@pytest.mark.parametrize("missing", sorted(MINIMUM))
def test_without_one_permission_the_run_fails_once_with_a_403_naming_it(
    missing: str,
    harness: Harness,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness.register_key(KEY, sorted(set(MINIMUM) - {missing}))
    named = (
        rf"does not have the required permissions for this endpoint on account 'acct_\w+'\. "
        rf"Having the '{missing}' permission would allow this request to continue\. "
        rf"\(HTTP 403(, code \w+)?, request_id req_\w+\)"
    )

    if missing == "rak_account_read":
        with pytest.raises(PermissionDeniedError) as denied:
            _connected_accounts(harness)
        assert re.search(named, str(denied.value))
    else:
        attempt = harness.run(MINIMUM[missing], NEWEST_DAY, api_key=KEY)
        assert not attempt.success
        assert re.search(named, attempt.messages), attempt.messages
        assert attempt.step_restarts == 0
    assert harness.stats()["responses"]["403"] == 1  # refused once, never retried
    captured = capfd.readouterr()
    assert harness.leaks(captured.out, captured.err, caplog.text) == []
