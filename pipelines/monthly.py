"""The ``monthly_equals_daily`` check: a monthly balance summary agrees with its days.

A ``balance.summary.1`` entry with ``period: month`` asks Stripe for the month in one report run; the
daily entry of the same type asks for each day. Stripe computes both from the same ledger, so for
every month the monthly table holds and the daily table holds every day of, per currency:
``activity`` and ``payouts`` equal the sums of the days', ``starting_balance`` the first day's and
``ending_balance`` the last day's. Sums are exact decimals. It reads two assets, so it runs on its
own, from the UI or the reconciliation job, like the other cross-report checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg

from pipelines.catalog import Catalog
from pipelines.resources import WarehouseResource
from pipelines.sources import ReportSource, Source
from pipelines.translator import StripeReportsTranslator
from pipelines.warehouse import Warehouse

MONTHLY_EQUALS_DAILY = "monthly_equals_daily"
SUMMARY_REPORT = "balance.summary.1"
SUMMED = ("activity", "payouts")
_SHOWN = 10


def monthly_pairs(catalog: Catalog) -> list[tuple[ReportSource, ReportSource]]:
    """(monthly, daily) ``balance.summary.1`` entries on the same zone, backend and filters."""
    summaries = [
        s
        for s in catalog.sources
        if isinstance(s, ReportSource) and s.report_type == SUMMARY_REPORT and not s.connect
    ]
    pairs = []
    for monthly in (s for s in summaries if s.period == "month"):
        daily = [
            s
            for s in summaries
            if s.period == "day"
            and s.timezone == monthly.timezone
            and dict(s.parameters) == dict(monthly.parameters)
            and type(s) is type(monthly)
        ]
        if daily:
            pairs.append((monthly, daily[0]))
    return pairs


def monthly_checks(catalog: Catalog, translator: StripeReportsTranslator) -> list[dg.AssetChecksDefinition]:
    """One ``monthly_equals_daily`` check per monthly balance summary with a daily twin."""
    key = translator.get_asset_key
    return [
        build_monthly_check(monthly, daily, key(monthly), key(daily))
        for monthly, daily in monthly_pairs(catalog)
    ]


def build_monthly_check(
    monthly: Source, daily: Source, key: dg.AssetKey, daily_key: dg.AssetKey
) -> dg.AssetChecksDefinition:
    """The check on ``monthly`` against ``daily``, over every month both hold in full."""

    @dg.asset_check(
        asset=key,
        name=MONTHLY_EQUALS_DAILY,
        additional_deps=[daily_key],
        description=(
            f"For every month {monthly.table} holds and {daily.table} holds every day of, per currency: "
            "activity and payouts equal the sum of the days', starting_balance the first day's and "
            "ending_balance the last day's."
        ),
    )
    def monthly_equals_daily(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.open() as wh:
            return _compare(wh, monthly.table, daily.table)

    return monthly_equals_daily


def _days_of(month_key: str) -> list[str]:
    first = date.fromisoformat(month_key[:10])
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return [(first + timedelta(days=n)).isoformat() for n in range((following - first).days)]


def _totals(wh: Warehouse, table: str, category: str, keys: Sequence[str]) -> dict[tuple[str, str], Decimal]:
    return wh.totals(table, "net_amount", group_by="currency", window_keys=keys, where={"category": category})


def _compare(wh: Warehouse, monthly_table: str, daily_table: str) -> dg.AssetCheckResult:
    months = sorted(wh.row_counts(monthly_table))
    held_days = set(wh.row_counts(daily_table))
    complete = [m for m in months if set(_days_of(m)) <= held_days]
    incomplete = [m for m in months if m not in complete]
    differences: list[dict[str, Any]] = []
    days = [d for m in complete for d in _days_of(m)]
    for category in ("starting_balance", "ending_balance", *SUMMED):
        month_totals = _totals(wh, monthly_table, category, complete)
        day_totals = _totals(wh, daily_table, category, days)
        for month in complete:
            month_days = _days_of(month)
            currencies = {c for (p, c) in month_totals if p == month} | {
                c for (p, c) in day_totals if p in month_days
            }
            for currency in sorted(currencies):
                if category in SUMMED:
                    expected = sum(
                        (day_totals.get((d, currency), Decimal(0)) for d in month_days), Decimal(0)
                    )
                else:
                    day = month_days[0] if category == "starting_balance" else month_days[-1]
                    expected = day_totals.get((day, currency), Decimal(0))
                got = month_totals.get((month, currency), Decimal(0))
                if got != expected:
                    differences.append(
                        {
                            "month": month,
                            "currency": currency,
                            "category": category,
                            "monthly": str(got),
                            "from_days": str(expected),
                        }
                    )
    shown = [
        f"{d['month']} {d['currency']} {d['category']}: monthly {d['monthly']}, days {d['from_days']}"
        for d in differences[:_SHOWN]
    ]
    skipped = f"; not compared (days missing in {daily_table}): {', '.join(incomplete)}" if incomplete else ""
    return dg.AssetCheckResult(
        passed=not differences,
        description=(
            f"{len(differences)} difference(s): " + "; ".join(shown)
            if differences
            else f"{len(complete)} month(s) equal the sum of their days"
        )
        + skipped,
        metadata={
            "months_compared": len(complete),
            "months_not_compared": dg.MetadataValue.json(incomplete[:_SHOWN]),
            "differences": dg.MetadataValue.json(differences[:_SHOWN]),
            "difference_count": len(differences),
        },
    )
