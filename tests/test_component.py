"""StripeReportsComponent: pip-installed into a Dagster project and configured in a ``defs.yaml``,
the way dagster-sling's and dagster-dlt's components are."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest
from dg_projects import load_project, write_project
from pipeline_settings import API_KEY

from stripe_emulator.server import EmulatorServer

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TYPE = "pipelines.component.StripeReportsComponent"
DAY = "2026-11-08"


def _error(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """What the user reads: the error and the errors it wraps."""
    texts, error = [], excinfo.value
    while error is not None:
        texts.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


def _spec(defs: dg.Definitions, *key: str) -> dg.AssetSpec:
    assets = defs.get_assets_def(dg.AssetKey(list(key)))
    return assets.specs_by_key[assets.key]


INLINE = f"""\
    type: {TYPE}
    attributes:
      catalog:
        defaults:
          owners: [team:finance]
        reports:
          - report_type: balance.summary.1
          - report_type: payouts.itemized.3
            group: payouts
            tags: {{tier: gold}}
      stripe:
        api_key_env: ACME_STRIPE_KEY
      warehouse:
        url: duckdb:///warehouse.duckdb
      translator:
        key_prefix: acme/raw
        group: stripe_raw
        owners: [data@acme.test]
        tags: {{tier: bronze, source: stripe}}
        kinds: [finance]
    """


def test_inline_entries_become_assets_shaped_by_the_translator_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = load_project(tmp_path, monkeypatch, INLINE)

    summary = _spec(defs, "acme", "raw", "stripe", "balance_summary_1")
    payouts = _spec(defs, "acme", "raw", "stripe", "payouts_itemized_3")
    assert summary.kinds == {"stripe", "duckdb", "finance"}
    assert (summary.group_name, payouts.group_name) == ("stripe_raw", "payouts")
    assert summary.owners == ["team:finance", "data@acme.test"]
    assert summary.tags["tier"] == "bronze" and payouts.tags["tier"] == "gold"
    assert payouts.tags["source"] == "stripe"
    columns = {c.name: c.description for c in payouts.metadata["dagster/column_schema"].columns}
    assert columns["payout_id"] == "The payout (po_...) this row describes."
    assert all(columns.values())
    stripe = defs.resources["stripe"]
    assert isinstance(stripe.api_key, dg.EnvVar) and stripe.api_key == "ACME_STRIPE_KEY"
    # The same assembly as the project's own definitions: sensors and schedules come along.
    assert "stripe_reports_freshness" in {s.name for s in defs.sensors or []}
    assert "stripe_daily" in {s.name for s in defs.schedules or []}


def test_a_misspelt_key_in_an_inline_entry_names_the_defs_yaml_and_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(Exception) as excinfo:
        load_project(tmp_path, monkeypatch, INLINE.replace("group: payouts", "gruop: payouts"))

    assert re.search(
        r"defs/stripe/defs\.yaml, line 9: reports\[1\] \(payouts\.itemized\.3\): unknown key `gruop`; "
        r"did you mean `group`\?",
        _error(excinfo),
    )


def test_an_unknown_attribute_names_the_defs_yaml_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(Exception) as excinfo:
        load_project(tmp_path, monkeypatch, INLINE.replace("api_key_env:", "api_key_envv:"))

    assert re.search(r"attributes\.stripe\S*\.api_key_envv at \S*/defs/stripe/defs\.yaml:11", _error(excinfo))


def test_catalogue_files_are_read_beside_the_defs_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = load_project(
        tmp_path,
        monkeypatch,
        f"""\
        type: {TYPE}
        attributes:
          catalog:
            reports_file: catalogue/reports.yaml
            sql_dir: catalogue/sql
        """,
        {
            "catalogue/reports.yaml": "reports:\n  - report_type: balance.summary.1\n",
            "catalogue/sql/refunds.sql": """\
                -- partition_column: day
                select date_trunc('day', created) as day, count(*) as refunds
                from refunds
                where created >= :window_start and created < :window_end
                group by 1
                """,
        },
    )

    assert {a.key.path[-1] for a in defs.assets} == {"balance_summary_1", "refunds"}  # type: ignore[union-attr]


def test_a_missing_catalogue_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Exception) as excinfo:
        load_project(
            tmp_path, monkeypatch, f"type: {TYPE}\nattributes:\n  catalog:\n    reports_file: x.yaml\n"
        )

    assert re.search(r"defs\.yaml: catalog\.reports_file: \S*/stripe/x\.yaml does not exist", _error(excinfo))


def test_a_catalogue_given_both_inline_and_as_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs_yaml = INLINE.replace("    defaults:\n", "    reports_file: reports.yaml\n        defaults:\n", 1)
    with pytest.raises(Exception) as excinfo:
        load_project(tmp_path, monkeypatch, defs_yaml, {"reports.yaml": "reports: []\n"})

    assert "defs.yaml: catalog: set either `reports_file` or inline `defaults`/`reports`" in _error(excinfo)


def test_a_warehouse_url_from_the_environment_stays_a_secret_and_names_the_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs_yaml = INLINE.replace("ACME_STRIPE_KEY", "STRIPE_API_KEY")
    url = "postgresql+psycopg://loader:Xq7vR2mK9pLw@db.acme.test:5432/analytics"
    folder_defs = load_project(tmp_path, monkeypatch, defs_yaml)
    assert _spec(folder_defs, "acme", "raw", "stripe", "balance_summary_1").kinds >= {"duckdb"}

    monkeypatch.setenv("WAREHOUSE_URL", url)
    defs = dg.load_from_defs_folder(path_within_project=tmp_path / "src")

    kinds = _spec(defs, "acme", "raw", "stripe", "balance_summary_1").kinds
    assert kinds == {"stripe", "postgres", "finance"}
    warehouse = defs.resources["warehouse"]
    assert isinstance(warehouse.url, dg.EnvVar) and warehouse.url == "WAREHOUSE_URL"


# ---- acceptance: pip install into a fresh project, dg scaffold defs, materialize a day -----------


def _fresh_venv(path: Path) -> Path:
    """A venv of its own that sees this environment's installed dependencies, but not this package.

    A plain path line in a ``.pth`` file adds the site-packages directory without running the
    ``.pth`` files inside it, so the editable install of this checkout stays invisible.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _package_source(path: Path) -> Path:
    """This distribution's files as a source tree of their own (the checkout stays untouched by the build)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pipelines", "stripe_emulator"):
        shutil.copytree(ROOT / name, path / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, path / name)
    return path


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 240) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{argv[:4]} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


_MATERIALIZE = """\
import sys
import dagster as dg
from {package}.definitions import defs

definitions = defs()
key = dg.AssetKey(["stripe", "balance_summary_1"])
result = dg.materialize(
    [definitions.get_assets_def(key)], partition_key=sys.argv[1], resources=definitions.resources
)
assert result.success
print("kinds:", sorted(definitions.get_assets_def(key).specs_by_key[key].kinds))
"""


@pytest.mark.slow
def test_a_fresh_dagster_project_installs_the_package_scaffolds_the_component_and_lands_a_day(
    tmp_path: Path, emulator: EmulatorServer, control: httpx.Client
) -> None:
    python = _fresh_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "WAREHOUSE", "STRIPE"))}
    env.pop("PYTHONPATH", None)
    source = _package_source(tmp_path / "stripe-report-pipelines")
    pip = [str(BIN / "pip"), "--python", str(python), "install", "--quiet", "--no-index"]
    _run([*pip, "--no-deps", "--no-build-isolation", str(source)], tmp_path, env)
    project = tmp_path / "acme"
    project.mkdir()
    folder = write_project(project, "acme")

    dg_cli = "import sys; from dagster_dg_cli.cli import main; sys.argv[0] = 'dg'; main()"
    listed = _run([str(python), "-c", dg_cli, "list", "components"], project, env)
    _run([str(python), "-c", dg_cli, "scaffold", "defs", TYPE, "my_stripe"], project, env)

    assert TYPE in listed
    scaffolded = folder / "defs" / "my_stripe"
    assert {p.name for p in scaffolded.iterdir()} == {"defs.yaml", "reports.yaml", "sql"}
    assert f"type: {TYPE}" in (scaffolded / "defs.yaml").read_text()
    run_env = {**env, "STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": emulator.url}
    script = _MATERIALIZE.format(package="acme")
    output = _run([str(python), "-c", script, DAY], project / "src", run_env)
    assert "kinds: ['duckdb', 'stripe']" in output
    assert API_KEY[8:24] not in output
    with duckdb.connect(str(project / "src" / "data" / "warehouse.duckdb"), read_only=True) as db:
        days = db.execute("select _partition, count(*) from stripe.balance_summary_1 group by 1").fetchall()
    [(day, rows)] = days
    assert day == DAY and rows > 0
