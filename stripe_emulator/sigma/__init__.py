"""Sigma: Trino SQL over the generated data, as one account saw it at one ``data_load_time``.

``tables`` defines what Sigma shows (one view per table); ``runner`` parses, checks and rewrites a
query and writes its result CSV.
"""

from stripe_emulator.sigma.errors import SigmaSqlError
from stripe_emulator.sigma.runner import run_query, translate
from stripe_emulator.sigma.tables import SIGMA_TABLES, TABLE_NAMES, install_views

__all__ = ["SIGMA_TABLES", "TABLE_NAMES", "SigmaSqlError", "install_views", "run_query", "translate"]
