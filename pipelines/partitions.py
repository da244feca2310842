"""Partitions: one per day (or calendar month) in the source's time zone, and per connected account
for Connect fan-out.

Dagster owns the calendar (``DailyPartitionsDefinition`` and ``MonthlyPartitionsDefinition`` handle
time zones and 23/25-hour DST days); this module only turns the partition keys of a run into the
windows Stripe is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from pipelines.errors import PartitionRangeError
from pipelines.freshness import Readiness
from pipelines.partition_windows import PartitionWindow, key_window
from pipelines.sources import PayoutReportSource, Source
from pipelines.sources.payout_report import PAYOUTS_SENSOR as PAYOUTS_SENSOR_NAME
from pipelines.timestamps import iso_utc
from pipelines.warehouse import Window

CONNECTED_ACCOUNTS = dg.DynamicPartitionsDefinition(name="stripe_connected_accounts")
"""Connected accounts, discovered from Stripe by the accounts sensor."""

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

ACCOUNT_DIMENSION = "account"
DATE_DIMENSION = "date"


def partition_key(account: str | None, date_key: str) -> str:
    """The Dagster partition key of a day, for an account when the asset fans out per account."""
    if account is None:
        return date_key
    return str(dg.MultiPartitionKey({ACCOUNT_DIMENSION: account, DATE_DIMENSION: date_key}))


def partitions_for(source: Source) -> dg.PartitionsDefinition:
    """Daily (or monthly) partitions in the source's zone, crossed with connected accounts for
    Connect fan-out. A monthly asset's first month is the first that starts on or after
    ``start_date``."""
    if isinstance(source, PayoutReportSource):
        return payout_partitions(source)
    daily: dg.TimeWindowPartitionsDefinition
    if source.period == "month":
        daily = dg.MonthlyPartitionsDefinition(
            start_date=source.start_date.isoformat(), timezone=source.timezone
        )
    else:
        daily = dg.DailyPartitionsDefinition(
            start_date=source.start_date.isoformat(), timezone=source.timezone
        )
    if source.per_account:
        return dg.MultiPartitionsDefinition({ACCOUNT_DIMENSION: CONNECTED_ACCOUNTS, DATE_DIMENSION: daily})
    return daily


def payout_partitions(source: PayoutReportSource) -> dg.DynamicPartitionsDefinition:
    """One partition per payout, added by the payouts sensor from the landed payouts table."""
    return dg.DynamicPartitionsDefinition(name=source.partitions_name)


def daily_partitions(partitions_def: dg.PartitionsDefinition) -> dg.TimeWindowPartitionsDefinition:
    """The time dimension (days, or months) of a (possibly multi-dimensional) partitions definition."""
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        partitions_def = partitions_def.get_partitions_def_for_dimension(DATE_DIMENSION)
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        raise TypeError(f"expected daily partitions, got {type(partitions_def).__name__}")
    return partitions_def


def resolve(partitions_def: dg.PartitionsDefinition, partition_keys: Sequence[str]) -> list[PartitionWindow]:
    """The windows of ``partition_keys``, ordered by account then time (payouts: by key)."""
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        return [PartitionWindow(str(key), None, key_window(str(key))) for key in sorted(partition_keys)]
    daily = daily_partitions(partitions_def)
    resolved = []
    for key in partition_keys:
        if isinstance(partitions_def, dg.MultiPartitionsDefinition):
            by_name = partitions_def.get_partition_key_from_str(str(key)).keys_by_dimension
            account, date_key = by_name[ACCOUNT_DIMENSION], by_name[DATE_DIMENSION]
        else:
            account, date_key = None, key
        time_window = daily.time_window_for_partition_key(date_key)
        resolved.append(
            PartitionWindow(str(key), account, Window(date_key, time_window.start, time_window.end))
        )
    return sorted(resolved, key=lambda p: (p.account or "", p.start))


def run_partition_keys(context: dg.AssetExecutionContext, source: Source) -> list[str]:
    """The partition keys of the run, or a non-retryable error naming the entry when the run asked
    for days the asset does not have (a range before its start date, say)."""
    try:
        return list(context.partition_keys)
    except Exception as error:  # Dagster raises an internal CheckError for a range outside the asset
        tags = context.run.tags
        first = tags.get(RANGE_START_TAG, "?")
        last = tags.get(RANGE_END_TAG, "?")
        if isinstance(source, PayoutReportSource):
            raise PartitionRangeError(
                f"this run asks for payouts {first}..{last}, which are not partitions of "
                f"stripe/{source.name}: its partitions are the paid payouts the {PAYOUTS_SENSOR_NAME} "
                f"sensor found in {source.payouts_from}. Launch runs for the asset's own partitions."
            ) from error
        daily = daily_partitions(context.assets_def.partitions_def)  # type: ignore[arg-type]
        raise PartitionRangeError(
            f"this run asks for partitions {first}..{last}, which stripe/{source.name} does not have: "
            f"its days start at {daily.start:%Y-%m-%d} ({source.origin or 'catalogue'}: start_date) "
            "and end at the last complete day. Launch the backfill over the asset's own partitions."
        ) from error


def skipped_observations(key: dg.AssetKey, readiness: Readiness) -> list[dg.AssetObservation]:
    """One observation per partition skipped because it lies before Stripe's first data, so the
    partition's page says why it holds nothing."""
    if readiness.available_from is None:
        return []
    reason = readiness.unavailable_reason()
    return [
        dg.AssetObservation(
            asset_key=key,
            partition=partition.partition_key,
            metadata={
                "skipped": reason,
                "data_available_start": iso_utc(readiness.available_from),
            },
        )
        for partition in readiness.unavailable
    ]
