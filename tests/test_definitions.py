"""The deployed definitions load, and every asset keeps the project's invariants."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines.assets import STRIPE_POOL
from pipelines.catalog import column_descriptions, load_catalog

ROOT = Path(__file__).resolve().parent.parent


def test_workspace_validates_with_dagsters_own_command() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "STRIPE_API_KEY": "sk_test_validate"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_dg_check_defs_passes() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dg")), "check", "defs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "STRIPE_API_KEY": "sk_test_validate"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_every_catalogue_entry_is_an_asset_with_pool_retries_partitions_and_checks() -> None:
    from definitions import defs as load_defs

    defs = load_defs()

    catalog = load_catalog()
    assets = {a.key: a for a in defs.assets}  # type: ignore[union-attr]
    assert len(assets) == len(catalog.sources)
    for spec in catalog.sources:
        asset = assets[dg.AssetKey(["stripe", spec.name])]
        assert asset.op.pool == STRIPE_POOL
        assert asset.op.retry_policy is not None
        assert asset.partitions_def is not None
        assert asset.backfill_policy is not None and asset.backfill_policy.max_partitions_per_run == 31
        assert any(check.name == "expected_columns" for check in asset.check_specs)
        assert asset.group_names_by_key[asset.key] in ("stripe_reports", "sigma_queries")
        assert asset.descriptions_by_key[asset.key]


def test_the_api_key_is_an_env_var_not_a_value() -> None:
    from definitions import defs as load_defs

    defs = load_defs()

    stripe = defs.resources["stripe"]
    assert isinstance(stripe.api_key, dg.EnvVar) and stripe.api_key == "STRIPE_API_KEY"


def test_sensors_and_schedules_cover_every_asset(instance: dg.DagsterInstance) -> None:
    from definitions import defs as load_defs

    defs = load_defs()

    covered = set()
    for sensor in defs.sensors or []:
        if sensor.asset_selection is not None:
            covered |= sensor.asset_selection.resolve(defs.resolve_asset_graph())
    assert covered == {a.key for a in defs.assets}  # type: ignore[union-attr]
    names = {s.name for s in defs.schedules or []}
    assert {"stripe_daily", "stripe_daily_america_new_york", "stripe_reconciliation_daily"} <= names


def test_any_iana_zone_gives_valid_schedule_names(tmp_path: Path) -> None:
    from pipelines.project import build_definitions
    from pipelines.resources import StripeResource, WarehouseResource

    (tmp_path / "reports.yaml").write_text(
        "reports:\n"
        "  - report_type: balance.summary.1\n    name: haiti\n    timezone: America/Port-au-Prince\n"
        "  - report_type: balance.summary.1\n    name: gmt_plus_5\n    timezone: Etc/GMT+5\n"
    )
    catalog = load_catalog(tmp_path / "reports.yaml", tmp_path / "no-sql")
    defs = build_definitions(
        catalog, {"stripe": StripeResource(api_key="sk_test_x"), "warehouse": WarehouseResource()}
    )

    dg.Definitions.validate_loadable(defs)
    names = {s.name for s in defs.schedules or []}
    assert {"stripe_daily_america_port_au_prince", "stripe_daily_etc_gmt_5"} <= names


def test_assets_carry_the_warehouses_kind_and_what_each_report_column_means(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from definitions import defs as load_defs

    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    defs = load_defs()

    for asset in defs.assets:  # type: ignore[union-attr]
        spec = asset.specs_by_key[asset.key]
        assert {"stripe", "duckdb"} <= spec.kinds
        schema = spec.metadata.get("dagster/column_schema")
        undescribed = [c.name for c in schema.columns if not c.description] if schema else []
        assert undescribed == [], spec.key


def test_every_column_of_every_known_report_type_has_a_description() -> None:
    described = column_descriptions()
    types = yaml.safe_load((ROOT / "pipelines" / "report_types.yaml").read_text())["report_types"]

    missing = {name: sorted(set(t["columns"]) - set(described)) for name, t in types.items()}
    assert {name: columns for name, columns in missing.items() if columns} == {}
