"""Everything Dagster loads for this project (``dagster dev -w workspace.yaml`` or ``dg dev``).

The defs folder ``pipelines/defs/`` holds one ``StripeReportsComponent`` (``stripe_reports/defs.yaml``),
the component any Dagster project installs with pip: assets come from the catalogue —
``reports.yaml`` and ``sql/*.sql`` — through one factory; the Stripe key and warehouse URL come from
the environment (see README: Configuration). Built lazily, when Dagster loads the code location, so
importing this module costs nothing. When a key is set, the ``sql/`` files are first checked against
Stripe's schema (``GET /v2/data/schemas``), so a misspelt column fails the load naming its file and
line; offline the check is skipped with a note. Run workers rebuild the definitions from what the
code server recorded, without asking Stripe again.
"""

import os
from pathlib import Path

import dagster as dg
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType


@dg.definitions
def defs() -> dg.Definitions:
    """The project's definitions: its defs folder (add other definitions with ``dg.Definitions.merge``)."""
    defs = _defs_folder(Path(__file__).parent)
    if not os.environ.get("WAREHOUSE_DBT_PROJECT"):
        return defs
    from pipelines.dbt import dbt_definitions_from_env  # dagster-dbt is imported only for a dbt project

    return dg.Definitions.merge(defs, dbt_definitions_from_env())


def _defs_folder(project: Path) -> dg.Definitions:
    """The defs folder's definitions. A run worker rebuilding them skips the catalogue of every
    installed component library (for the UI only; it imports each library, dagster-dbt's ~2.5 s)."""
    if DefinitionsLoadContext.get().load_type != DefinitionsLoadType.RECONSTRUCTION:
        return dg.load_from_defs_folder(path_within_project=project)
    tree = dg.ComponentTree.for_project(project)
    children = tree.find_root_decl().iterate_child_component_decls()
    return dg.Definitions.merge(*(tree.build_defs(child.loc) for child in children))
