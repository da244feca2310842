"""Materialization metadata: what a user reads on a partition in the Dagster UI."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from pipelines.landing import LandedChunk
from pipelines.lineage import ACCOUNT_COLUMN
from pipelines.partition_windows import PartitionWindow
from pipelines.timestamps import iso_utc
from pipelines.warehouse import Warehouse

PREVIEW_ROWS = 5


def partition_metadata(
    chunk: LandedChunk, partition: PartitionWindow, warehouse: Warehouse, preview: str | None
) -> dict[str, Any]:
    """Rows, table and warehouse, window, Stripe run, freshness, sizes and timings of one partition."""
    table = chunk.source.table
    metadata: dict[str, Any] = {
        "dagster/row_count": chunk.rows(partition),
        "dagster/table_name": f"{warehouse.schema}.{table}" if warehouse.schema else table,
        # Which warehouse holds it (password hidden): a Dagster home used with two warehouses
        # remembers materializations of both.
        "warehouse": warehouse.engine.url.render_as_string(hide_password=True),
        "window": f"{iso_utc(partition.start)} → {iso_utc(partition.end)}",
        "stripe_run_id": chunk.stripe_run_id,
        "data_load_time": dg.MetadataValue.timestamp(chunk.data_load_time),
        "file_bytes": chunk.file_bytes,
        # Every row accounted for: the file's records, the rows the database inserted (equal, or
        # nothing was committed), and those Stripe moved here from another day.
        "records_in_stripe_file": chunk.load.records_in_file,
        "rows_inserted": chunk.load.rows_inserted,
        "seconds_waiting_on_stripe": round(chunk.seconds_waiting_on_stripe, 3),
        "seconds_downloading": round(chunk.seconds_downloading, 3),
        "seconds_loading": round(chunk.seconds_loading, 3),
    }
    if len(chunk.partitions) > 1:
        # One ranged Stripe run served several days: sizes and timings are the run's, shared.
        metadata["stripe_run_window"] = f"{iso_utc(chunk.interval_start)} → {iso_utc(chunk.interval_end)}"
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
    scope = {ACCOUNT_COLUMN: partition.account} if partition.account is not None else None
    records = warehouse.preview(table, partition.window.key, scope, limit=rows)
    if not records:
        return None
    frame = pd.DataFrame.from_records(records)
    shown = frame[[c for c in frame.columns if not str(c).startswith("_")]]
    return shown.to_markdown(index=False)
