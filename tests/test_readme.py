"""README's examples work as written: its report entries and Sigma queries load on top of the shipped
catalogue, and its defs.yaml reference loads as the component."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dg_projects import load_project

from pipelines.catalog import load_catalog

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.DOTALL | re.MULTILINE)


def _report_entries() -> list[str]:
    return [block for block in _blocks("yaml") if block.lstrip().startswith("- report_type:")]


def _sigma_queries() -> list[str]:
    return [block for block in _blocks("sql") if ":window_start" in block]


def _defs_yamls() -> list[str]:
    return [block for block in _blocks("yaml") if block.startswith("type: pipelines.component.")]


def _shipped(entry: dict, entries: list[dict]) -> bool:
    return any(entry.items() <= shipped.items() for shipped in entries)


def test_the_readme_has_examples_of_each_kind() -> None:
    assert _report_entries() and _sigma_queries() and _defs_yamls()


def test_the_readmes_report_entries_and_queries_load_with_the_shipped_catalogue(tmp_path: Path) -> None:
    shipped = yaml.safe_load((ROOT / "reports.yaml").read_text())
    for block in _report_entries():
        # An example of a shipped entry (its keys set as shipped) already runs; others must load beside them.
        shipped["reports"] += [e for e in yaml.safe_load(block) if not _shipped(e, shipped["reports"])]
    (tmp_path / "reports.yaml").write_text(yaml.safe_dump(shipped, sort_keys=False))
    shutil.copytree(ROOT / "sql", tmp_path / "sql")
    for index, block in enumerate(_sigma_queries()):
        (tmp_path / "sql" / f"readme_{index}.sql").write_text(block)

    catalog = load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")

    names = {source.name for source in catalog.sources}
    assert names >= {"payouts_eur_paris", "readme_0"} | {s.name for s in load_catalog().sources}
    assert catalog.get("payouts_eur_paris").timezone == "Europe/Paris"


@pytest.mark.parametrize("index", range(len(_defs_yamls())))
def test_the_readmes_defs_yaml_loads_as_the_component(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"sql/{p.name}": p.read_text() for p in (ROOT / "sql").glob("*.sql")}
    files["reports.yaml"] = (ROOT / "reports.yaml").read_text()
    defs = load_project(tmp_path, monkeypatch, _defs_yamls()[index], files)

    assert len(list(defs.assets or [])) == len(load_catalog().sources)
    spec = defs.get_assets_def(dg.AssetKey(["stripe", "balance_summary_1"])).specs_by_key
    assert {"stripe", "duckdb"} <= next(iter(spec.values())).kinds
