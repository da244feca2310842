"""When an asset is late, in Dagster's own terms: each entry's ``fresh_by`` deadline.

An entry promises its previous partition by ``fresh_by`` (local time in its zone, the catalogue's
default otherwise): yesterday's day by that time today, last month's month by that time on the 1st.
Dagster sees the promise twice, built from the same deadline:

* a ``FreshnessPolicy.cron`` on the asset — the UI's freshness state, evaluated by the daemon's
  freshness loop: the asset must have materialized in the period before the deadline;
* a time-partition freshness check per asset, evaluated by the ``stripe_freshness_deadlines``
  sensor — the precise verdict: the *expected partition* exists. The policy alone would call an
  asset fresh after a backfill of last year, which is why the check is the one alerts should follow.

Per-account (Connect) assets carry the policy only: Dagster's partition freshness check reads a time
dimension alone, and a day landed for one account says nothing of the others. Per-payout assets have
neither: a payout's report is due when the payout is, not at a time of day.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from pipelines.sources import Source

FRESHNESS_SENSOR = "stripe_freshness_deadlines"
"""The sensor that evaluates the freshness checks (stopped until turned on, like all automation)."""


def deadline_cron(source: Source) -> str:
    """The cron of ``source``'s deadline, in its own zone: daily, or the 1st of each month."""
    minute, hour = source.fresh_by.minute, source.fresh_by.hour
    day_of_month = "1" if source.period == "month" else "*"
    return f"{minute} {hour} {day_of_month} * *"


def freshness_policy(
    source: Source, partitions_def: dg.PartitionsDefinition | None = None
) -> dg.FreshnessPolicy | None:
    """The asset's freshness policy: materialized within one period before each deadline.

    None for assets not partitioned by time (one partition per payout): they land when Stripe pays
    out, which no clock can promise.
    """
    if partitions_def is not None and not _by_time(partitions_def):
        return None
    period = timedelta(days=28) if source.period == "month" else timedelta(days=1)
    return dg.FreshnessPolicy.cron(
        deadline_cron=deadline_cron(source), lower_bound_delta=period, timezone=source.timezone
    )


def build_freshness_checks(
    pairs: Sequence[tuple[Source, dg.AssetsDefinition]],
) -> list[dg.AssetChecksDefinition]:
    """One partition freshness check per asset partitioned by days or months alone (grouped by
    deadline and zone): per-account and per-payout assets have none.

    Each fails while the partition that should exist by the latest deadline has not landed, and
    says how late it is (``dagster/overdue_seconds``).
    """
    groups: dict[tuple[str, str], list[dg.AssetKey]] = {}
    for source, asset in pairs:
        if not isinstance(asset.partitions_def, dg.TimeWindowPartitionsDefinition):
            continue
        groups.setdefault((deadline_cron(source), source.timezone), []).append(asset.key)
    checks: list[dg.AssetChecksDefinition] = []
    with warnings.catch_warnings():
        # Dagster labels the partition checks superseded by FreshnessPolicy, which cannot say
        # whether the *expected partition* landed; both are used (see the module docstring).
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        for (cron, timezone), keys in sorted(groups.items()):
            checks.extend(
                dg.build_time_partition_freshness_checks(
                    assets=keys, deadline_cron=cron, timezone=timezone, severity=dg.AssetCheckSeverity.ERROR
                )
            )
    return checks


def _by_time(partitions_def: dg.PartitionsDefinition) -> bool:
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return any(
            isinstance(d.partitions_def, dg.TimeWindowPartitionsDefinition)
            for d in partitions_def.partitions_defs
        )
    return isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)


def build_freshness_checks_sensor(
    checks: Sequence[dg.AssetChecksDefinition], *, minimum_interval_seconds: int = 600
) -> dg.SensorDefinition:
    """The sensor that runs each freshness check once its deadline could have passed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name=FRESHNESS_SENSOR,
            minimum_interval_seconds=minimum_interval_seconds,
            default_status=dg.DefaultSensorStatus.STOPPED,
        )
