"""Days before a report type's ``data_available_start``: skipped with Stripe's date, never failed.

The emulator's report types have data from 2026-07-13 (120 days before the tests' data_load_time);
a backfill over 2026-07-10..2026-07-14 crosses it.
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import httpx
from dagster_runs import Materialize, count_by_partition, failure_messages
from pipeline_settings import API_KEY

from pipelines.catalog import load_catalog
from pipelines.partitions import partitions_for
from pipelines.project import build_definitions
from pipelines.report_availability import apply_stripe_data_start
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.stripe import StripeSettings
from stripe_emulator.server import EmulatorServer

REPORT_DATA_START = "2026-07-13T00:00:00Z"
BEFORE = ["2026-07-10", "2026-07-11", "2026-07-12"]
VALID = ["2026-07-13", "2026-07-14"]


def _observations(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, str]]:
    found = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_OBSERVATION":
            observation = event.event_specific_data.asset_observation  # type: ignore[union-attr]
            found[observation.partition] = {k: v.value for k, v in observation.metadata.items()}
    return found


def test_the_emulator_publishes_when_each_report_type_has_data_from(control: httpx.Client) -> None:
    assert control.get("/state").json()["report_data_start"] == REPORT_DATA_START


def test_a_backfill_crossing_data_available_start_lands_the_valid_days_and_skips_the_others(
    materialize: Materialize, warehouse: WarehouseResource, control: httpx.Client
) -> None:
    result = materialize("balance_summary_1", (BEFORE[0], VALID[-1]))

    assert result.success, failure_messages(result)
    assert sorted(count_by_partition(warehouse, "balance_summary_1")) == VALID
    # One report run per valid day: nothing was asked of Stripe for the early ones.
    assert control.get("/stats").json()["runs_created"]["report_run"] == len(VALID)
    skipped = _observations(result)
    assert sorted(skipped) == BEFORE
    reason = skipped[BEFORE[0]]["skipped"]
    assert REPORT_DATA_START in reason
    assert "data_available_start of balance.summary.1" in reason
    assert skipped[BEFORE[0]]["data_available_start"] == REPORT_DATA_START


def test_a_ranged_itemized_backfill_crossing_it_is_one_report_run_over_the_valid_days(
    materialize: Materialize, warehouse: WarehouseResource, control: httpx.Client
) -> None:
    result = materialize("balance_change_from_activity_itemized_3", (BEFORE[0], VALID[-1]))

    assert result.success, failure_messages(result)
    assert sorted(count_by_partition(warehouse, "balance_change_from_activity_itemized_3")) == VALID
    assert control.get("/stats").json()["runs_created"]["report_run"] == 1
    assert sorted(_observations(result)) == BEFORE


def test_a_snapshot_on_the_first_day_of_data_is_loaded(
    materialize: Materialize, warehouse: WarehouseResource
) -> None:
    # An ending balance at the end of 2026-07-13 lies after data_available_start; the day before's does not.
    result = materialize("ending_balance_reconciliation_itemized_4", (BEFORE[-1], VALID[0]))

    assert result.success, failure_messages(result)
    assert sorted(count_by_partition(warehouse, "ending_balance_reconciliation_itemized_4")) == [VALID[0]]
    assert sorted(_observations(result)) == [BEFORE[-1]]


def test_at_definitions_time_report_entries_start_at_stripes_data(emulator: EmulatorServer) -> None:
    settings = StripeSettings(api_key=API_KEY, api_base=emulator.url, files_base=emulator.url)

    catalog, _, note = apply_stripe_data_start(load_catalog(), settings)

    first_keys = {
        s.name: partitions_for(s).get_partition_keys()[0] for s in catalog.sources if s.name in STARTS
    }
    assert first_keys == STARTS
    assert "balance_summary_1 starts at 2026-07-13, not 2026-01-01" in note
    assert "data from 2026-07-13T00:00:00Z" in note
    # Sigma queries keep their own start dates.
    assert catalog.get("daily_activity_by_category").start_date == date(2026, 1, 1)
    # Their daily schedule is one of its own: a job's assets share one partitions definition.
    defs = build_definitions(
        catalog, {"stripe": StripeResource(api_key=API_KEY), "warehouse": WarehouseResource()}
    )
    dg.Definitions.validate_loadable(defs)
    names = {s.name for s in defs.schedules or []}
    assert {"stripe_daily", "stripe_daily_from_20260713", "stripe_monthly"} <= names


def test_offline_the_catalogue_is_left_as_it_is_with_a_note() -> None:
    catalog = load_catalog()

    unchanged, _, note = apply_stripe_data_start(catalog, None)

    assert unchanged == catalog
    assert "not checked" in note and "STRIPE_API_KEY" in note


STARTS = {
    "balance_summary_1": "2026-07-13",
    "balance_change_from_activity_new_york": "2026-07-13",  # New York's 13th starts at 04:00Z
    "ending_balance_reconciliation_itemized_4": "2026-07-13",  # the 12th ends as the data starts: refused
    "balance_summary_monthly": "2026-08-01",  # July starts before the data
    "ending_balance_reconciliation_monthly": "2026-07-01",  # July's end is inside the data
}
