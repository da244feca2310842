"""Fresh Dagster projects for tests: the layout ``create-dagster project`` makes, and loading one."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import dagster as dg
import pytest


def write_project(root: Path, package: str) -> Path:
    """A fresh dg project, as ``create-dagster project`` lays it out; returns its package folder."""
    (root / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
            [project]
            name = "{package}"
            version = "0.1.0"
            requires-python = ">=3.11"

            [tool.dg]
            directory_type = "project"

            [tool.dg.project]
            root_module = "{package}"
            """)
    )
    folder = root / "src" / package
    (folder / "defs").mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "defs" / "__init__.py").write_text("")
    (folder / "definitions.py").write_text(
        textwrap.dedent("""\
            from pathlib import Path

            import dagster as dg


            @dg.definitions
            def defs() -> dg.Definitions:
                return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
            """)
    )
    return folder


def load_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, defs_yaml: str, files: dict[str, str] | None = None
) -> dg.Definitions:
    """The definitions of a project whose ``defs/stripe/`` holds ``defs_yaml`` and ``files`` (by path)."""
    package = "acme_" + re.sub(r"\W", "_", tmp_path.name)
    folder = write_project(tmp_path, package)
    component = folder / "defs" / "stripe"
    component.mkdir()
    (component / "defs.yaml").write_text(textwrap.dedent(defs_yaml))
    for name, text in (files or {}).items():
        path = component / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    return dg.load_from_defs_folder(path_within_project=folder)
