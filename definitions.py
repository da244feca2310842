"""Everything Dagster loads for this project (``dagster dev -w workspace.yaml`` or ``dg dev``).

Assets come from the catalogue — ``reports.yaml`` and ``sql/*.sql`` — through one factory; the
Stripe key and warehouse URL come from the environment (see README: Configuration). Built lazily,
when Dagster loads the code location, so importing this module costs nothing.
"""

import dagster as dg

from pipelines.catalog import load_catalog
from pipelines.project import build_definitions, resources_from_env


@dg.definitions
def defs() -> dg.Definitions:
    """The project's definitions."""
    return build_definitions(load_catalog(), resources_from_env())
