"""Materialization metadata: what a user reads on a partition in the Dagster UI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pipelines.landing import ACCOUNT_COLUMN, LandedChunk
from pipelines.partitions import PartitionWindow
from pipelines.warehouse import Warehouse

PREVIEW_ROWS = 5


def partition_metadata(
    chunk: LandedChunk, partition: PartitionWindow, table_name: str, preview: str | None
) -> dict[str, Any]:
    """Rows, window, Stripe run, freshness, sizes and timings of one landed partition."""
    metadata: dict[str, Any] = {
        "dagster/row_count": chunk.rows(partition),
        "dagster/table_name": table_name,
        "window": f"{_iso(partition.start)} → {_iso(partition.end)}",
        "stripe_run_id": chunk.stripe_run_id,
        "data_load_time": dg.MetadataValue.timestamp(chunk.data_load_time),
        "file_bytes": chunk.file_bytes,
        "seconds_waiting_on_stripe": round(chunk.seconds_waiting_on_stripe, 3),
        "seconds_downloading": round(chunk.seconds_downloading, 3),
        "seconds_loading": round(chunk.seconds_loading, 3),
    }
    if len(chunk.partitions) > 1:
        # One ranged Stripe run served several days: sizes and timings are the run's, shared.
        metadata["stripe_run_window"] = f"{_iso(chunk.interval_start)} → {_iso(chunk.interval_end)}"
        metadata["days_in_stripe_run"] = len(chunk.partitions)
    if partition.account is not None:
        metadata["connected_account"] = partition.account
    if preview is not None:
        metadata["preview"] = dg.MetadataValue.md(preview)
    return metadata


def preview(
    warehouse: Warehouse, table: str, partition: PartitionWindow, rows: int = PREVIEW_ROWS
) -> str | None:
    """The first rows of a partition as a Markdown table (pandas: a handful of rows, not the load)."""
    quote = warehouse.engine.dialect.identifier_preparer.quote
    condition = f"{quote('_partition')} = :key"
    params: dict[str, Any] = {"key": partition.window.key, "limit": rows}
    if partition.account is not None:
        condition += f" AND {quote(ACCOUNT_COLUMN)} = :account"
        params["account"] = partition.account
    statement = sa.text(
        f"SELECT * FROM {warehouse.qualified(table)} WHERE {condition} LIMIT :limit"  # noqa: S608 - quoted identifiers
    )
    with warehouse.engine.connect() as connection:
        frame = pd.read_sql(statement, connection, params=params)
    if frame.empty:
        return None
    shown = frame[[c for c in frame.columns if not str(c).startswith("_")]]
    return shown.to_markdown(index=False)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
