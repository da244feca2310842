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
    """Rows, table and warehouse, window, Stripe run and freshness of one partition.

    Numbers are the day's own, so the UI's plots over partitions show one value per day: its rows
    and its share of the Stripe file's bytes. What belongs to the whole Stripe run (the file's
    records, the rows inserted, the seconds spent waiting, downloading and loading) is one text
    entry, ``stripe_run``, which the UI shows but does not plot.
    """
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
        "file_bytes": day_file_bytes(chunk, partition),
        "stripe_run": dg.MetadataValue.text(stripe_run_summary(chunk)),
    }
    if not partition.timed:
        del metadata["window"]  # a payout's partition is its key, not a span of time
    if partition.account is not None:
        metadata["connected_account"] = partition.account
    if preview is not None:
        metadata["preview"] = dg.MetadataValue.md(preview)
    metadata.update(change_metadata(chunk, partition))
    return metadata


def change_metadata(chunk: LandedChunk, partition: PartitionWindow) -> dict[str, Any]:
    """What this landing changed in the day and whether the day is settled.

    Numbers, so the asset's plots over partitions show how much each day moved after its first
    landing: ``rows_added``/``rows_removed``/``rows_changed`` and ``net_change_<currency>`` (a float
    for the plot; ``net_change`` holds the exact decimals). ``settled`` is true once the landing
    used Stripe data past the day's settling period; ``closed_period`` names the close that kept the
    day's rows as they were.
    """
    metadata: dict[str, Any] = {
        "settled": chunk.settled(partition),
        "settling_days": chunk.source.settling_days,
    }
    changes = chunk.changes(partition)
    if changes is None:
        return metadata
    metadata.update(
        {
            "rows_before": changes.rows_before,
            "rows_added": changes.added,
            "rows_removed": changes.removed,
            "rows_changed": changes.changed,
            "net_change": dg.MetadataValue.json({c: str(a) for c, a in changes.net_change.items()}),
        }
    )
    for currency, amount in changes.net_change.items():
        if currency.isalpha():
            metadata[f"net_change_{currency}"] = float(amount)
    if changes.closed_by is not None:
        metadata["closed_period"] = changes.closed_by
    return metadata


def day_file_bytes(chunk: LandedChunk, partition: PartitionWindow) -> int:
    """The day's share of the Stripe file's bytes: the file's size times the day's share of its rows.

    A one-day run's day gets the whole file; days of a ranged run share it by rows (evenly when the
    file held no rows), and the shares add up to the file's size.
    """
    days = chunk.partitions
    total_rows = sum(chunk.rows(p) for p in days)
    weights = [chunk.rows(p) for p in days] if total_rows else [1] * len(days)
    total = sum(weights)
    # Cumulative rounding: each day gets floor(cumulative share) minus what earlier days got, so
    # the days sum to exactly the file's size.
    index = next(i for i, p in enumerate(days) if p.partition_key == partition.partition_key)
    before = sum(weights[:index])
    return (chunk.file_bytes * (before + weights[index])) // total - (chunk.file_bytes * before) // total


def stripe_run_summary(chunk: LandedChunk) -> str:
    """What the whole Stripe run did, for every day it served: one line of text."""
    days = len(chunk.partitions)
    return (
        f"{chunk.stripe_run_id}: {iso_utc(chunk.interval_start)} → {iso_utc(chunk.interval_end)} "
        f"({days} day{'' if days == 1 else 's'}); file {chunk.file_bytes:,} bytes, "
        f"{chunk.load.records_in_file:,} records, {chunk.load.rows_inserted:,} rows inserted; "
        f"{chunk.seconds_waiting_on_stripe:.3f} s waiting on Stripe, "
        f"{chunk.seconds_downloading:.3f} s downloading, {chunk.seconds_loading:.3f} s loading"
    )


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
