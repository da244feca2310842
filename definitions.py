"""Everything Dagster loads for this project (``dagster dev -w workspace.yaml`` or ``dg dev``).

Assets come from the catalogue — ``reports.yaml`` and ``sql/*.sql`` — through one factory; the
Stripe key and warehouse URL come from the environment (see README: Configuration). Built lazily,
when Dagster loads the code location, so importing this module costs nothing. When a key is set,
the ``sql/`` files are first checked against Stripe's schema (``GET /v2/data/schemas``), so a
misspelt column fails the load naming its file and line; offline the check is skipped with a note.
"""

import logging

import dagster as dg

from pipelines.catalog import load_catalog
from pipelines.cli import settings_from_env
from pipelines.contracts import check_catalog
from pipelines.project import build_definitions, resources_from_env
from pipelines.sources import DataReportSource


@dg.definitions
def defs() -> dg.Definitions:
    """The project's definitions."""
    catalog = load_catalog()
    reports = [s for s in catalog.sources if isinstance(s, DataReportSource)]
    logging.getLogger("stripe_reports").info(check_catalog(catalog.queries, settings_from_env(), reports))
    return build_definitions(catalog, resources_from_env())
