"""Sigma: Trino SQL over the generated data, as one account saw it at one ``data_load_time``.

``runner`` takes a query through the other modules and writes its result CSV:

- ``dialect``: parsing as Trino, and the syntax Trino's grammar refuses;
- ``functions``: the functions a query may call (Trino's list, Stripe's helpers);
- ``types``, ``inference``: the Trino type of each expression;
- ``checks``: what Trino's analyzer refuses (names, operand and argument types);
- ``rewrite``, ``formats``: Trino's semantics where DuckDB's differ;
- ``errors``: Trino's wording and ``line L:C`` positions;
- ``tables``: the Sigma tables (views over the generated data) and their column types.
"""

from stripe_emulator.sigma.errors import SigmaSqlError
from stripe_emulator.sigma.runner import check, run_query, translate
from stripe_emulator.sigma.tables import SIGMA_TABLES, TABLE_NAMES, install_views

__all__ = ["SIGMA_TABLES", "TABLE_NAMES", "SigmaSqlError", "check", "install_views", "run_query", "translate"]
