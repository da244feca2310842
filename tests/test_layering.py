"""The package's shape: a core that knows nothing of Dagster, a Dagster layer on top, no import cycle.

Read from the source with ``ast`` (every import statement, at any depth), so a lazy import inside a
function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pipelines"

DAGSTER_LAYER = {
    "pipelines.alerts",
    "pipelines.assets",
    "pipelines.automation",
    "pipelines.backfill",
    "pipelines.checks",
    "pipelines.close",
    "pipelines.component",
    "pipelines.dbt",
    "pipelines.event_sensor",
    "pipelines.failed_runs",
    "pipelines.freshness_policies",
    "pipelines.metadata",
    "pipelines.monthly",
    "pipelines.mrr",
    "pipelines.partitions",
    "pipelines.project",
    "pipelines.resources",
    "pipelines.translator",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


MODULES = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _internal(module: str) -> set[str]:
    """The project modules ``module`` imports (a package import counts as importing its __init__)."""
    return {name for name in MODULES[module] if name in MODULES and name != module}


def test_only_the_dagster_layer_imports_dagster() -> None:
    importers = {
        module
        for module, names in MODULES.items()
        if any(name == "dagster" or name.startswith(("dagster.", "dagster_")) for name in names)
    }
    assert importers == DAGSTER_LAYER


@pytest.mark.parametrize("module", sorted(set(MODULES) - DAGSTER_LAYER))
def test_core_modules_reach_no_dagster_module_through_their_imports(module: str) -> None:
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(_internal(current))
    assert not seen & DAGSTER_LAYER


def test_no_import_cycle_in_the_package() -> None:
    # Depth-first search over the import graph; a back edge is a cycle.
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(_internal(module)):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])
    assert cycles == []
