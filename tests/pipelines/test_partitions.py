"""Partition keys to Stripe windows, and consecutive days to ranged chunks."""

from datetime import UTC, date, datetime

import dagster as dg

from pipelines.catalog import Defaults
from pipelines.partition_windows import chunks
from pipelines.partitions import partition_key, partitions_for, resolve
from pipelines.sources import SigmaSource


def _spec(timezone: str = "UTC", connect: str | None = None) -> SigmaSource:
    from pathlib import Path

    return SigmaSource(
        name="q",
        path=Path("q.sql"),
        sql="select 1",
        table="q",
        description="",
        split_column="day",
        timezone=timezone,
        start_date=date(2026, 1, 1),
        max_days_per_run=Defaults().max_days_per_run,
        connect=connect,  # type: ignore[arg-type]
    )


def test_utc_days_are_24_hour_windows() -> None:
    partitions_def = partitions_for(_spec())
    [p] = resolve(partitions_def, ["2026-03-08"])
    assert (p.start, p.end) == (datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))


def test_dst_days_follow_the_zone() -> None:
    partitions_def = partitions_for(_spec("America/New_York"))
    spring, autumn = resolve(partitions_def, ["2026-03-08", "2026-11-01"])
    # Aware datetimes in one zone subtract as wall clock: compare instants in UTC.
    assert (spring.end.astimezone(UTC) - spring.start.astimezone(UTC)).total_seconds() == 23 * 3600
    assert (autumn.end.astimezone(UTC) - autumn.start.astimezone(UTC)).total_seconds() == 25 * 3600
    assert spring.start.astimezone(UTC) == datetime(2026, 3, 8, 5, tzinfo=UTC)


def test_connect_partitions_cross_accounts_with_days() -> None:
    partitions_def = partitions_for(_spec(connect="per_account"))
    assert isinstance(partitions_def, dg.MultiPartitionsDefinition)
    key = partition_key("acct_1", "2026-03-02")
    [p] = resolve(partitions_def, [key])
    assert (p.account, p.window.key, p.partition_key) == ("acct_1", "2026-03-02", key)


def test_chunks_are_consecutive_days_of_one_account_capped_in_length() -> None:
    partitions_def = partitions_for(_spec(connect="per_account"))
    days = [f"2026-03-{d:02d}" for d in (1, 2, 3, 4, 5, 7)]
    keys = [partition_key(a, d) for a in ("acct_a", "acct_b") for d in days]
    result = chunks(resolve(partitions_def, keys), max_days=3)
    assert [[p.partition_key for p in c] for c in result] == [
        [partition_key("acct_a", d) for d in days[0:3]],
        [partition_key("acct_a", d) for d in days[3:5]],
        [partition_key("acct_a", days[5])],
        [partition_key("acct_b", d) for d in days[0:3]],
        [partition_key("acct_b", d) for d in days[3:5]],
        [partition_key("acct_b", days[5])],
    ]
