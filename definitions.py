"""Everything Dagster loads for this project (``dagster dev -w workspace.yaml``).

Assets come from the catalogue — ``reports.yaml`` and ``sql/*.sql`` — through one factory; the
Stripe key and warehouse URL come from the environment (see README: Configuration).
"""

from pipelines.catalog import load_catalog
from pipelines.project import build_definitions, resources_from_env

defs = build_definitions(load_catalog(), resources_from_env())
