"""Reading what a run did: its failure messages and the rows it left in the warehouse."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pipeline_settings import open_warehouse

from pipelines.resources import WarehouseResource

Materialize = Callable[..., dg.ExecuteInProcessResult]


def failure_messages(result: dg.ExecuteInProcessResult) -> str:
    """Every failure message of a run, joined: what a user reads in the run's log."""
    texts = []
    for event in result.all_events:
        if not event.is_failure:
            continue
        texts.append(event.message or "")
        if event.is_step_failure:
            data = event.step_failure_data
            if data.user_failure_data is not None and data.user_failure_data.description:
                texts.append(data.user_failure_data.description)
            if data.error is not None:
                texts.append(data.error.to_string())
    return "\n".join(texts)


def rows(warehouse: WarehouseResource, table: str, order_by: str = "") -> list[tuple[Any, ...]]:
    """All rows of a landed table without the load-time lineage columns, sorted."""
    wh = open_warehouse(warehouse)
    columns = [
        c.name for c in wh.table_columns(table) or [] if c.name not in ("_loaded_at", "_stripe_run_id")
    ]
    quote = wh.engine.dialect.identifier_preparer.quote
    select = ", ".join(quote(c) for c in columns)
    with wh.engine.connect() as connection:
        result = connection.execute(sa.text(f"SELECT {select} FROM {wh.qualified(table)}"))
        return sorted((tuple(r) for r in result), key=repr)


def count_by_partition(warehouse: WarehouseResource, table: str) -> dict[str, int]:
    return open_warehouse(warehouse).row_counts(table)
