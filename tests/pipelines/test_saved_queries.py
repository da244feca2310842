"""sql/ files synced to Stripe saved queries, and the newest day run from the saved query."""

from __future__ import annotations

import dagster as dg
import httpx
import pytest
from dagster_runs import Materialize, rows
from pipeline_settings import API_KEY

from pipelines.cli import main
from pipelines.resources import WarehouseResource
from stripe_emulator.server import EmulatorServer

QUERY = "daily_activity_by_category"
TABLE = "sigma_daily_activity_by_category"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer, control: httpx.Client) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", emulator.url)


def _saved(emulator: EmulatorServer) -> list[dict]:
    response = httpx.get(f"{emulator.url}/v1/sigma/saved_queries", auth=(API_KEY, ""))
    return response.json()["data"]


def test_plan_shows_the_change_and_changes_nothing(cli_env, emulator, capsys) -> None:
    assert main(["saved-queries", "plan"]) == 0

    out = capsys.readouterr().out
    assert "create" in out.lower() and "Daily activity by category" in out
    assert "1 change(s)" in out
    assert _saved(emulator) == []


def test_apply_creates_by_name_and_a_second_apply_changes_nothing(cli_env, emulator, capsys) -> None:
    assert main(["saved-queries", "apply"]) == 0
    [saved] = _saved(emulator)
    assert saved["name"] == "Daily activity by category"
    assert "data_load_time" in saved["sql"]

    capsys.readouterr()
    assert main(["saved-queries", "plan"]) == 0
    assert "0 change(s)" in capsys.readouterr().out


def _query_run_sql(emulator: EmulatorServer, run_id: str) -> str:
    return httpx.get(f"{emulator.url}/v1/sigma/query_runs/{run_id}", auth=(API_KEY, "")).json()["sql"]


def test_the_newest_day_runs_the_saved_query_and_older_days_run_the_file(
    cli_env, emulator: EmulatorServer, materialize: Materialize, warehouse: WarehouseResource
) -> None:
    assert main(["saved-queries", "apply"]) == 0
    [saved] = _saved(emulator)

    newest = materialize(QUERY, "2026-11-09")
    older = materialize(QUERY, "2026-11-05")

    def run_id(result: dg.ExecuteInProcessResult) -> str:
        [event] = result.asset_materializations_for_node(f"stripe__{QUERY}")
        return event.metadata["stripe_run_id"].value

    assert newest.success and older.success
    assert _query_run_sql(emulator, run_id(newest)) == saved["sql"]
    assert "2026-11-05 00:00:00" in _query_run_sql(emulator, run_id(older))
    days = {r[0].date().isoformat() for r in rows(warehouse, TABLE)}
    assert days == {"2026-11-09", "2026-11-05"}


def test_without_a_key_the_command_says_what_to_set(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    assert main(["saved-queries", "plan"]) == 2
    assert "STRIPE_API_KEY" in capsys.readouterr().err
