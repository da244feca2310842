"""Driving Dagster's UI the way a user does (clicks, dialogs, what is on screen), plus the GraphQL
calls the UI itself makes, for setting the scene and waiting on runs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect
from project_services import ROOT, DagsterGraphQL, Service, wait_until

SCREENSHOTS = ROOT / "artifacts" / "ui"
REPOSITORY = {"repositoryLocationName": "stripe_reports", "repositoryName": "__repository__"}
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass(frozen=True)
class DevServer:
    """`make dev` as a user gets it: the UI at ``url``, and what it was started against."""

    url: str
    graphql: DagsterGraphQL
    emulator_url: str
    warehouse_url: str
    service: Service


_LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

_RUN_STATUS = "query Status($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def asset_url(base: str, path: Sequence[str], view: str | None = None) -> str:
    """The asset's page, or one of its tabs (``partitions``, ``checks`` …)."""
    url = f"{base}/assets/{'/'.join(path)}"
    return f"{url}?view={view}" if view else url


def launch_ranged_run(graphql: DagsterGraphQL, path: Sequence[str], first: str, last: str) -> str:
    """One run over the days ``first``..``last``, as a sensor's ranged run request launches it."""
    result = graphql.query(
        _LAUNCH_RUN,
        {
            "params": {
                "selector": {
                    **REPOSITORY,
                    "jobName": "__ASSET_JOB",
                    "assetSelection": [{"path": list(path)}],
                },
                "executionMetadata": {
                    "tags": [
                        {"key": "dagster/asset_partition_range_start", "value": first},
                        {"key": "dagster/asset_partition_range_end", "value": last},
                    ]
                },
            }
        },
    )["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return str(result["run"]["runId"])


def wait_for_run(graphql: DagsterGraphQL, run_id: str, server: Service, timeout: float = 180) -> str:
    """The run's final status, once it has one."""
    statuses: list[str] = []

    def finished() -> bool:
        statuses.append(graphql.query(_RUN_STATUS, {"id": run_id})["runOrError"]["status"])
        return statuses[-1] in FINISHED

    wait_until(finished, server, timeout=timeout, what=f"run {run_id}", interval=1.0)
    return statuses[-1]


def expand_all_groups(page: Page) -> None:
    """The lineage graph's settings menu → "Expand all groups" (remembered by the browser)."""
    page.get_by_role("button", name="settings", exact=True).click()
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.keyboard.press("Escape")


def launch_partition_from_dialog(page: Page, partition: str, screenshot: Path | None = None) -> str:
    """On an asset's page: Materialize… → type the partition → Launch 1 run. Returns the run id
    from the "Launched run" toast."""
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Partition selection")).to_be_visible()
    # The dialog offers the latest 90 days first; the partition may be older than that.
    show_all = dialog.get_by_text("Show all partitions")
    if show_all.count():
        show_all.click()
    # The placeholder is an example selection while nothing is selected, or says nothing matches.
    field = dialog.get_by_placeholder(re.compile(r"^(No matching partitions|ex: )"))
    field.fill(partition)
    field.press("Enter")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    launch = dialog.get_by_role("button", name="Launch 1 run")
    expect(launch).to_be_enabled()
    if screenshot is not None:
        dialog.screenshot(path=screenshot)
    launch.click()
    view = page.locator("a[href^='/runs/']", has_text="View")
    expect(view).to_be_visible()
    href = view.get_attribute("href") or ""
    return href.rsplit("/", 1)[-1]
