"""`make dev` in a real browser: the asset graph grouped, a partition launched from the UI landing
with its checks and row count, the row count plotted over days, the dbt models downstream, an
asset's freshness deadline and state, and why a schedule tick skips.

Screenshots of each view are saved under artifacts/ui/.
"""

from __future__ import annotations

import re

import pytest
from dagster_ui import (
    SCREENSHOTS,
    DevServer,
    asset_url,
    expand_all_groups,
    launch_partition_from_dialog,
    launch_ranged_run,
    wait_for_run,
)
from pipeline_settings import DATA_LOAD_TIME
from playwright.sync_api import Page, expect

from pipelines.catalog import load_catalog
from pipelines.checks import check_specs_for
from pipelines.partitions import partitions_for
from pipelines.sources import ReportSource, SigmaSource, Source
from pipelines.translator import asset_key
from pipelines.warehouse import Warehouse

# One worker runs the whole module, so one `make dev` serves every test of it.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("dagster_ui")]

ASSET = "balance_change_from_activity_itemized_3"
"""The asset launched from the UI: a report whose rows per day vary, so the plot has a shape."""

EARLIER_DAYS = 6
"""Days landed before the UI launch, as a sensor's ranged run would, so there is something to plot."""


@pytest.fixture(scope="module", autouse=True)
def screenshots() -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


def test_a_partition_launched_from_the_ui_lands_with_its_checks_and_row_count(
    dev_server: DevServer, page: Page
) -> None:
    spec = load_catalog().get(ASSET)
    path = asset_key(spec).path
    days = partitions_for(spec).get_partition_keys(current_time=DATA_LOAD_TIME)
    newest, earlier = days[-1], days[-1 - EARLIER_DAYS : -1]
    seeded = launch_ranged_run(dev_server.graphql, path, earlier[0], earlier[-1])
    assert wait_for_run(dev_server.graphql, seeded, dev_server.service) == "SUCCESS"

    page.goto(asset_url(dev_server.url, path))
    run_id = launch_partition_from_dialog(page, newest, screenshot=SCREENSHOTS / "launch-dialog.png")
    assert wait_for_run(dev_server.graphql, run_id, dev_server.service) == "SUCCESS"

    page.goto(f"{dev_server.url}/runs/{run_id}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    expect(page.get_by_text(f"partition: {newest}")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "run.png")

    # The partitions view: every landed day materialized, and the new day's row count is the
    # number of rows the warehouse holds for it.
    page.goto(asset_url(dev_server.url, path, "partitions"))
    expect(page.get_by_text(f"Materialized ({EARLIER_DAYS + 1})")).to_be_visible()
    page.get_by_text(newest, exact=True).first.click()
    expect(page.get_by_text("Materialized", exact=True).first).to_be_visible()
    row_count = page.get_by_role("row").filter(has_text="dagster/row_count")
    expect(row_count).to_be_visible()
    shown = int(re.sub(r"\D", "", row_count.inner_text().replace("dagster/row_count", "")))
    assert shown == _warehouse_rows(dev_server, spec, newest)
    page.screenshot(path=SCREENSHOTS / "partitions.png")

    # The checks evaluated inside the materialization all passed.
    page.goto(asset_url(dev_server.url, path, "checks"))
    for check in check_specs_for(spec, asset_key(spec)):
        page.get_by_text(check.name, exact=True).first.click()
        expect(page.get_by_text(check.description or check.name).first).to_be_visible()
        expect(page.get_by_text("Evaluation result")).to_be_visible()
        expect(page.get_by_text("Passed", exact=True)).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "asset-checks.png")

    # The row count plotted over the landed days.
    page.goto(asset_url(dev_server.url, path))
    page.get_by_role("button", name="Plots").click()
    plot_title = page.get_by_text("dagster/row_count", exact=True)
    expect(plot_title).to_be_visible()
    plot_title.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "row-count-plot.png")


def test_the_asset_graph_shows_every_asset_in_its_group(dev_server: DevServer, page: Page) -> None:
    catalog = load_catalog()
    page.goto(f"{dev_server.url}/asset-groups")
    for group in sorted({ReportSource.default_group, SigmaSource.default_group}):
        expect(page.locator(f'[data-tooltip="{group}"]')).to_be_visible()
    expand_all_groups(page)
    # Tall enough for both expanded groups at full detail; the graph is laid out anew on reload.
    page.set_viewport_size({"width": 1400, "height": 4000})
    page.reload()
    for spec in catalog.sources:
        expect(page.locator(f'[data-tooltip="{spec.name}"]')).to_be_visible()
    # Each node fills in its latest event, checks and partitions after the graph is drawn.
    expect(page.get_by_text(re.compile(r"^Loading"))).to_have_count(0, timeout=30_000)
    page.screenshot(path=SCREENSHOTS / "asset-graph.png")


DBT_MODELS = {
    "finance/daily_net_volume_by_currency": {"stripe/balance_change_from_activity_itemized_3"},
    "finance/payout_transactions": {"stripe/payout_reconciliation_itemized_5", "stripe/payouts_itemized_3"},
    "finance/payouts_matched": {"stripe/payout_reconciliation_itemized_5", "stripe/payouts_itemized_3"},
    "finance/mrr_by_month": {"stripe/mrr_waterfall"},
}
"""examples/dbt_finance's models (make dev loads it) and the stripe assets each one reads."""

_ASSET_DEPENDENCIES = "query { assetNodes { assetKey { path } dependencyKeys { path } } }"


def test_the_dbt_models_are_drawn_downstream_of_the_stripe_assets(dev_server: DevServer, page: Page) -> None:
    nodes = dev_server.graphql.query(_ASSET_DEPENDENCIES)["assetNodes"]
    upstream = {
        "/".join(node["assetKey"]["path"]): {"/".join(d["path"]) for d in node["dependencyKeys"]}
        for node in nodes
    }
    assert {key: parents for key, parents in upstream.items() if key.startswith("finance/")} == DBT_MODELS

    # The finance group's graph: each model, with the stripe assets it reads drawn upstream of it.
    page.set_viewport_size({"width": 1400, "height": 1200})
    page.goto(f"{dev_server.url}/locations/stripe_reports/asset-groups/finance")
    for model in DBT_MODELS:
        expect(page.locator(f'[data-tooltip="{model.split("/")[1]}"]')).to_be_visible()
    for parent in ("mrr_waterfall", "payouts_itemized_3"):
        expect(page.get_by_text(parent, exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Loading"))).to_have_count(0, timeout=30_000)
    page.screenshot(path=SCREENSHOTS / "dbt-models-downstream.png")


def test_sensors_and_schedules_are_listed_and_a_skipped_tick_says_why(
    dev_server: DevServer, page: Page
) -> None:
    from definitions import defs as load_defs

    defs = load_defs()

    page.goto(f"{dev_server.url}/automation")
    names = [s.name for s in defs.sensors or []] + [s.name for s in defs.schedules or []]
    for name in names:
        expect(page.get_by_text(name, exact=True)).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "automation.png")

    # Stripe's data stops at DATA_LOAD_TIME: any later morning's tick has no complete day to request.
    page.goto(f"{dev_server.url}/locations/stripe_reports/schedules/stripe_daily")
    page.get_by_role("button", name="Preview tick result").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog.get_by_text("Skipped", exact=True)).to_be_visible()
    expect(dialog).to_contain_text("Skip reason")
    expect(dialog).to_contain_text(f"is {DATA_LOAD_TIME:%Y-%m-%dT%H:%M:%S}Z")
    page.screenshot(path=SCREENSHOTS / "schedule-skip-reason.png")


def _warehouse_rows(dev_server: DevServer, spec: Source, day: str) -> int:
    warehouse = Warehouse(dev_server.warehouse_url)
    try:
        return warehouse.row_counts(spec.table)[day]
    finally:
        warehouse.engine.dispose()


_FRESHNESS = """
query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      internalFreshnessPolicy {
        __typename
        ... on CronFreshnessPolicy { deadlineCron timezone }
      }
      freshnessStatusInfo { freshnessStatus }
    }
  }
}
"""


def test_an_asset_shows_its_freshness_deadline_and_state(dev_server: DevServer, page: Page) -> None:
    spec = load_catalog().get(ASSET)
    path = asset_key(spec).path
    node = dev_server.graphql.query(_FRESHNESS, {"path": path})["assetNodeOrError"]
    # The catalogue's fresh_by, in the entry's zone, is the deadline Dagster evaluates.
    assert node["internalFreshnessPolicy"] == {
        "__typename": "CronFreshnessPolicy",
        "deadlineCron": f"{spec.fresh_by.minute} {spec.fresh_by.hour} * * *",
        "timezone": spec.timezone,
    }
    assert node["freshnessStatusInfo"] is not None

    # The asset's overview names the policy and its state (the daemon's freshness loop sets it).
    page.goto(asset_url(dev_server.url, path))
    expect(page.get_by_role("button", name=re.compile("Freshness policy"))).to_be_visible()
    expect(page.get_by_text("Freshness policy", exact=True).first).to_be_visible()
    expect(page.get_by_text(f"Deadline: At {spec.fresh_by:%I:%M %p} {spec.timezone}")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Loading"))).to_have_count(0, timeout=30_000)
    page.screenshot(path=SCREENSHOTS / "freshness.png")
