"""Partitions: one per day in the report's time zone, and per connected account for Connect fan-out.

Dagster owns the calendar (``DailyPartitionsDefinition`` handles time zones and 23/25-hour DST
days); this module only turns the partition keys of a run into the windows Stripe is asked for,
and groups consecutive days into the ranged chunks one Stripe job can serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import dagster as dg

from pipelines.catalog import Spec
from pipelines.warehouse import Window

CONNECTED_ACCOUNTS = dg.DynamicPartitionsDefinition(name="stripe_connected_accounts")
"""Connected accounts, discovered from Stripe by the accounts sensor."""

ACCOUNT_DIMENSION = "account"
DATE_DIMENSION = "date"


def partition_key(account: str | None, date_key: str) -> str:
    """The Dagster partition key of a day, for an account when the asset fans out per account."""
    if account is None:
        return date_key
    return str(dg.MultiPartitionKey({ACCOUNT_DIMENSION: account, DATE_DIMENSION: date_key}))


def partitions_for(spec: Spec) -> dg.PartitionsDefinition:
    """Daily partitions in the spec's zone, crossed with connected accounts for Connect fan-out."""
    daily = dg.DailyPartitionsDefinition(start_date=spec.start_date.isoformat(), timezone=spec.timezone)
    if spec.connect:
        return dg.MultiPartitionsDefinition({ACCOUNT_DIMENSION: CONNECTED_ACCOUNTS, DATE_DIMENSION: daily})
    return daily


def daily_partitions(partitions_def: dg.PartitionsDefinition) -> dg.TimeWindowPartitionsDefinition:
    """The day dimension of a (possibly multi-dimensional) partitions definition."""
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        partitions_def = partitions_def.get_partitions_def_for_dimension(DATE_DIMENSION)
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        raise TypeError(f"expected daily partitions, got {type(partitions_def).__name__}")
    return partitions_def


@dataclass(frozen=True)
class PartitionWindow:
    """A partition of a run, resolved to its connected account (if any) and its time window."""

    partition_key: str
    account: str | None
    window: Window

    @property
    def start(self) -> datetime:
        return self.window.start

    @property
    def end(self) -> datetime:
        return self.window.end


def resolve(partitions_def: dg.PartitionsDefinition, partition_keys: Sequence[str]) -> list[PartitionWindow]:
    """The windows of ``partition_keys``, ordered by account then time."""
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


def chunks(partitions: Sequence[PartitionWindow], max_days: int) -> list[list[PartitionWindow]]:
    """Split into runs of consecutive days of one account, each at most ``max_days`` long."""
    result: list[list[PartitionWindow]] = []
    for partition in partitions:
        current = result[-1] if result else None
        if (
            current is not None
            and len(current) < max_days
            and current[-1].account == partition.account
            and current[-1].end == partition.start
        ):
            current.append(partition)
        else:
            result.append([partition])
    return result
