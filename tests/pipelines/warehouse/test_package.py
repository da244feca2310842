"""The package stands alone: its modules import each other without a cycle (lazy imports count),
and nothing from Dagster or from the rest of ``pipelines``."""

from __future__ import annotations

import ast
from pathlib import Path

import pipelines.warehouse as package

PACKAGE = "pipelines.warehouse"
SOURCE = Path(package.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (inside functions and ``TYPE_CHECKING`` too)."""
    names: set[str] = set()
    module = f"{PACKAGE}.{path.stem}" if path.stem != "__init__" else PACKAGE
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (path.stem == "__init__")]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            names.add(source)
            # `from pipelines.warehouse import csv_file` imports a submodule.
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports."""
    modules = {
        (PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"): path
        for path in SOURCE.glob("*.py")
    }
    return {name: imported_modules(path) & set(modules) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a path that returns to its start, or None."""
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> list[str] | None:
        if node in stack:
            return [*stack[stack.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            cycle = visit(target, [*stack, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_the_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph()

    assert f"{PACKAGE}.bulk" in graph and f"{PACKAGE}.duckdb_load" in graph
    assert f"{PACKAGE}.bulk" in graph[f"{PACKAGE}.duckdb_load"]  # the graph sees the imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_bulk_base_names_none_of_its_paths() -> None:
    imports = import_graph()[f"{PACKAGE}.bulk"]

    assert not imports & {f"{PACKAGE}.{name}" for name in ("duckdb_load", "postgres_load", "portable_load")}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_nothing_from_dagster_or_the_rest_of_pipelines_is_imported() -> None:
    for path in sorted(SOURCE.glob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            assert top != "dagster", f"{path.name} imports {name}"
            if top == "pipelines":
                assert name == PACKAGE or name.startswith(f"{PACKAGE}."), f"{path.name} imports {name}"
