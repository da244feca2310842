"""Run and step processes rebuild the definitions from what the code server recorded, without Stripe."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType
from dagster._core.definitions.metadata.metadata_value import CodeLocationReconstructionMetadataValue
from dagster._core.definitions.repository_definition.repository_definition import RepositoryLoadData
from pipeline_settings import API_KEY

from pipelines.catalog import load_catalog
from stripe_emulator.server import EmulatorServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def keyed(emulator: EmulatorServer, control: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The project's definitions see the emulator's key; the load context is put back afterwards."""
    monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", emulator.url)
    monkeypatch.delenv("WAREHOUSE_DBT_PROJECT", raising=False)
    before = DefinitionsLoadContext._instance
    yield
    DefinitionsLoadContext.set(before)  # type: ignore[arg-type]


def _load(load_type: DefinitionsLoadType, recorded: dict[str, str] | None = None) -> dg.Definitions:
    from definitions import defs as load_defs

    data = RepositoryLoadData(cacheable_asset_data={}, reconstruction_metadata=recorded or {})
    DefinitionsLoadContext.set(DefinitionsLoadContext(load_type=load_type, repository_load_data=data))
    return load_defs()


def _starts(defs: dg.Definitions) -> dict[dg.AssetKey, str | None]:
    graph = defs.resolve_asset_graph()
    return {
        node.key: (node.partitions_def.get_first_partition_key() if node.partitions_def else None)  # type: ignore[attr-defined]
        for node in graph.asset_nodes
        if node.is_partitioned and isinstance(node.partitions_def, dg.TimeWindowPartitionsDefinition)
    }


def _requests(control: httpx.Client) -> dict[str, int]:
    return control.get("/stats").json()["requests"]


def test_a_rebuilt_code_location_asks_stripe_nothing_and_defines_the_same_assets(
    keyed: None, control: httpx.Client
) -> None:
    initial = _load(DefinitionsLoadType.INITIALIZATION)
    asked = _requests(control)
    recorded = {
        key: value
        for key, value in (initial.metadata or {}).items()
        if isinstance(value, CodeLocationReconstructionMetadataValue)
    }
    control.post("/reset").raise_for_status()

    rebuilt = _load(DefinitionsLoadType.RECONSTRUCTION, recorded)

    assert any("report_types" in route for route in asked)  # the code server did read Stripe
    assert _requests(control) == {}
    assert set(initial.resolve_all_asset_keys()) == set(rebuilt.resolve_all_asset_keys())
    starts = _starts(rebuilt)
    assert starts == _starts(initial)
    # The emulator's report types have data from 2026-07-13: the rebuilt partitions start there too.
    assert starts[dg.AssetKey(["stripe", "balance_summary_1"])] == "2026-07-13"


def test_without_a_record_a_rebuilt_code_location_checks_stripe_itself(
    keyed: None, control: httpx.Client
) -> None:
    _load(DefinitionsLoadType.RECONSTRUCTION, {})

    assert any("report_types" in route for route in _requests(control))


def test_jobs_run_their_steps_in_the_run_worker(keyed: None) -> None:
    defs = _load(DefinitionsLoadType.INITIALIZATION)

    job = defs.resolve_implicit_global_asset_job_def()

    assert job.executor_def.name == dg.in_process_executor.name


def test_a_rebuilt_code_location_imports_no_other_component_library() -> None:
    # dagster-dbt alone took ~2.5 s of every run worker's start, for a UI catalogue no run reads.
    script = (
        "import sys\n"
        "from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext as C, "
        "DefinitionsLoadType as T\n"
        "from dagster._core.definitions.repository_definition.repository_definition import "
        "RepositoryLoadData\n"
        "C.set(C(load_type=T.RECONSTRUCTION, repository_load_data=RepositoryLoadData({}, {})))\n"
        "import definitions\n"
        "print(len(definitions.defs().resolve_all_asset_keys()), 'dagster_dbt' in sys.modules)\n"
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("STRIPE_API_KEY", "WAREHOUSE_DBT_PROJECT")}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stderr[-2000:]
    count, imported = result.stdout.split()
    assert int(count) == len(load_catalog().sources)
    assert imported == "False"


@pytest.mark.parametrize("chosen", ["multiprocess", "forkserver"])
def test_the_environment_can_give_each_step_a_process_of_its_own(
    chosen: str, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_REPORTS_EXECUTOR", chosen)

    executor = _load(DefinitionsLoadType.INITIALIZATION).resolve_implicit_global_asset_job_def().executor_def

    assert executor.name == dg.multiprocess_executor.name
    # forkserver is the multiprocess executor configured to fork steps from a preloaded server.
    assert (executor is dg.multiprocess_executor) == (chosen == "multiprocess")


def test_the_environment_sets_the_shared_rate_limit_and_the_jobs_in_flight(
    keyed: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STRIPE_RATE_LIMIT_DIR", str(tmp_path / "bucket"))
    monkeypatch.setenv("STRIPE_JOBS_IN_FLIGHT", "2")

    stripe = _load(DefinitionsLoadType.INITIALIZATION).resources["stripe"]

    assert (stripe.rate_limit_dir, stripe.jobs_in_flight) == (str(tmp_path / "bucket"), 2)
    with stripe.session() as session:
        assert session.client.rate_limiter is not None


def test_without_those_variables_runs_pace_only_themselves_with_four_jobs_in_flight(
    keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_RATE_LIMIT_DIR", raising=False)
    monkeypatch.delenv("STRIPE_JOBS_IN_FLIGHT", raising=False)

    stripe = _load(DefinitionsLoadType.INITIALIZATION).resources["stripe"]

    assert (stripe.rate_limit_dir, stripe.jobs_in_flight) == (None, 4)
