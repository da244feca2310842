"""Columns the landing adds to every row, beside the warehouse's own ``_partition`` and ``_loaded_at``."""

ACCOUNT_COLUMN = "_account"
"""The connected account a row belongs to (Connect fan-out tables only)."""

RUN_ID_COLUMN = "_stripe_run_id"
"""The Stripe report run or Sigma query run whose result the row came from."""

FRESHNESS_COLUMN = "_data_load_time"
"""How far Stripe's data was loaded when the row was computed (Sigma's data_load_time, or the
report type's data_available_end)."""
