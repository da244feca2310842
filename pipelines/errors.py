"""Errors of the pipeline core (catalogue, SQL files, partitions, landing), each deciding its own retry.

Every error of this project carries a ``retryable`` trait; the Dagster layer reads it and nothing
else to choose between "retry the step" and "fail once, clearly"::

    PipelineError                 this package (retryable unless a class says otherwise)
    ├── CatalogError              reports.yaml, sql/ or report_types.yaml is invalid        never
    │   └── SigmaSqlError         a .sql file cannot become a Sigma query                   never
    ├── PartitionRangeError       a run asked for days the asset does not have              never
    └── StaleResultError          Stripe answered from data older than the window           retried
    pipelines.stripe.StripeError        per class (a 429 or 5xx yes, a bad key no)
    pipelines.warehouse.WarehouseError  never, except a database file busy in another process
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of the core's own errors."""

    retryable: bool = True


class CatalogError(PipelineError, ValueError):
    """The catalogue (reports.yaml, sql/ or report_types.yaml) is invalid; the message says where."""

    retryable = False


class SigmaSqlError(CatalogError):
    """A ``.sql`` file cannot be turned into a Sigma query; the message names the file and why."""


class PartitionRangeError(PipelineError):
    """A run asked for partitions its asset does not define (before its start date, say)."""

    retryable = False


class StaleResultError(PipelineError):
    """Stripe answered from data older than the window's end; the result was discarded.

    Retried: Stripe's data catches up, and the next attempt asks again.
    """


def is_retryable(error: BaseException) -> bool:
    """Whether retrying what raised ``error`` can succeed: its own ``retryable`` trait.

    Errors from outside this project (a dropped database connection, a full disk) carry no trait
    and count as transient.
    """
    return bool(getattr(error, "retryable", True))
