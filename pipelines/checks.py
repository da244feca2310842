"""Asset checks: is what landed what Stripe promised, and do the reports agree with each other?

* ``expected_columns`` — every column the catalogue asks for came back from Stripe, and the table
  keeps the catalogue's types (Sigma queries: the table keeps every column the query returns).
* ``unique_<column>`` — no balance transaction appears twice in the table.
  Both run inside the materialization. ``expected_columns`` reports what the load itself established
  (the loader refuses a file that lacks a declared column or repeats an id); the uniqueness check
  adds one grouped query over the whole table, since two days can disagree about one id.
* ``reconciles_with_balance_summary`` — for every day both tables hold, the sum of ``net`` in
  balance_change_from_activity equals the ``activity`` line of balance.summary, per currency.
  It needs two assets, so it runs on its own: from the UI or the daily reconciliation schedule.
"""

from collections.abc import Sequence
from decimal import Decimal

import dagster as dg

from pipelines.catalog import Catalog
from pipelines.landing import LandedChunk
from pipelines.lineage import ACCOUNT_COLUMN
from pipelines.resources import WarehouseResource
from pipelines.sources import ReportSource, Source
from pipelines.warehouse import DuplicateRowsError, MissingColumnsError, Warehouse

EXPECTED_COLUMNS = "expected_columns"
RECONCILIATION = "reconciles_with_balance_summary"

ACTIVITY_REPORT = "balance_change_from_activity.itemized.3"
SUMMARY_REPORT = "balance.summary.1"
_SHOWN = 10


def unique_check_name(source: Source) -> str | None:
    """The name of the uniqueness check of ``source``, if its rows have a unique id."""
    return f"unique_{source.unique_column}" if source.unique_column else None


def check_specs_for(source: Source, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """The checks evaluated inside every materialization of ``source``."""
    specs = [dg.AssetCheckSpec(EXPECTED_COLUMNS, asset=key, description=source.expected_columns_description)]
    unique = unique_check_name(source)
    if unique:
        specs.append(
            dg.AssetCheckSpec(
                unique, asset=key, description=f"No {source.unique_column} appears twice within a day."
            )
        )
    return specs


def loaded_results(
    source: Source, key: dg.AssetKey, landed: Sequence[LandedChunk], warehouse: Warehouse
) -> list[dg.AssetCheckResult]:
    """The in-materialization checks over the chunks this run loaded.

    Uniqueness covers the whole table, not only the days loaded: each load already refused a file
    repeating an id and moved ids that changed day, so a value found twice here means two partitions
    disagree about it (named in the result); the query is one grouped, index-backed scan.
    """
    results = [_expected_columns(source, key, landed[-1])]
    name = unique_check_name(source)
    if name and source.unique_column:
        account = landed[-1].partitions[0].account
        scope = {ACCOUNT_COLUMN: account} if account is not None else None
        found = warehouse.duplicate_ids(source.table, source.unique_column, scope, limit=_SHOWN)
        moved = sum(sum(c.load.moved_from_other_windows.values()) for c in landed)
        results.append(
            dg.AssetCheckResult(
                check_name=name,
                asset_key=key,
                passed=not found,
                description=(
                    f"{len(found)}+ {source.unique_column} value(s) are held by more than one row: "
                    + "; ".join(f"{value} in {', '.join(parts)}" for value, parts in found)
                    if found
                    else f"every {source.unique_column} appears once in the whole table"
                    + (f" ({moved} moved here from another day by Stripe's corrections)" if moved else "")
                ),
                metadata={
                    "duplicate_count": len(found),
                    "duplicates": dg.MetadataValue.json(
                        [{source.unique_column: str(v), "partitions": parts} for v, parts in found]
                    ),
                    "moved_from_other_days": moved,
                },
            )
        )
    return results


def refused_results(source: Source, key: dg.AssetKey, error: BaseException) -> list[dg.AssetCheckResult]:
    """The check a refused result file fails, so the UI shows why nothing was loaded."""
    if isinstance(error, MissingColumnsError) and error.role == "declared":
        return [
            dg.AssetCheckResult(
                check_name=EXPECTED_COLUMNS,
                asset_key=key,
                passed=False,
                description="; ".join(f"Stripe did not return `{name}`" for name in error.missing)
                + f" ({error.path.name}); nothing was loaded",
                metadata={"missing_columns": dg.MetadataValue.json(list(error.missing))},
            )
        ]
    name = unique_check_name(source)
    if isinstance(error, DuplicateRowsError) and name:
        duplicates = [
            {"partition": window, error.column: str(value), "copies": copies}
            for window, value, copies in error.duplicates
        ]
        return [
            dg.AssetCheckResult(
                check_name=name,
                asset_key=key,
                passed=False,
                description=f"{len(duplicates)} {error.column} value(s) appear more than once within a "
                "day in Stripe's file; nothing was loaded",
                metadata={
                    "duplicates": dg.MetadataValue.json(duplicates[:_SHOWN]),
                    "duplicate_count": len(duplicates),
                },
            )
        ]
    return []


def _expected_columns(source: Source, key: dg.AssetKey, chunk: LandedChunk) -> dg.AssetCheckResult:
    returned = list(chunk.load.file_columns)
    table = {c.name: c.type for c in chunk.load.table_columns}
    problems: list[str] = []
    for column in source.columns or ():
        if table.get(column.name) != column.type:
            problems.append(
                f"`{column.name}` is {table.get(column.name) or 'missing'} in the table, "
                f"the catalogue says {column.type}"
            )
    if source.columns is None:
        problems.extend(
            f"`{name}` is in the table but the query no longer returns it"
            for name in chunk.load.dropped_columns
        )
    return dg.AssetCheckResult(
        check_name=EXPECTED_COLUMNS,
        asset_key=key,
        passed=not problems,
        description="; ".join(problems[:_SHOWN]) or "columns and types as expected",
        metadata={
            "returned_columns": dg.MetadataValue.json(returned),
            "table_columns": dg.MetadataValue.json(table),
        },
    )


def reconciliation_pairs(catalog: Catalog) -> list[tuple[ReportSource, ReportSource]]:
    """(activity, summary) report pairs that can be reconciled: same days, whole platform.

    Each activity report is reconciled with one summary (a check has one name per asset): the one
    on the same backend if there is one, else the first in the catalogue.
    """
    reports = [s for s in catalog.sources if isinstance(s, ReportSource) and not s.connect]
    summaries = [r for r in reports if r.report_type == SUMMARY_REPORT and not r.parameters]
    pairs = []
    for activity in reports:
        if activity.report_type != ACTIVITY_REPORT or activity.parameters:
            continue
        candidates = sorted(
            (s for s in summaries if s.timezone == activity.timezone),
            key=lambda s: type(s) is not type(activity),
        )
        if candidates:
            pairs.append((activity, candidates[0]))
    return pairs


def build_reconciliation_check(
    activity: ReportSource, summary: ReportSource, activity_key: dg.AssetKey, summary_key: dg.AssetKey
) -> dg.AssetChecksDefinition:
    """Σ net of the activity report == balance.summary's activity line, per day and currency."""

    @dg.asset_check(
        asset=activity_key,
        name=RECONCILIATION,
        additional_deps=[summary_key],
        description=(
            f"For every day both {activity.table} and {summary.table} hold, the sum of `net` per currency "
            "equals balance.summary's `activity` line."
        ),
    )
    def reconciles_with_balance_summary(
        warehouse: WarehouseResource,
    ) -> dg.AssetCheckResult:
        with warehouse.open() as wh:
            # The days the warehouse holds, not the days Dagster remembers materializing: the two
            # differ when the instance was used with another warehouse.
            days = sorted(set(wh.row_counts(activity.table)) & set(wh.row_counts(summary.table)))
            if not days:
                return dg.AssetCheckResult(
                    passed=True,
                    description="no day is loaded in both tables yet",
                    metadata={"days_compared": 0},
                )
            activity_sums = _by_currency(
                wh.totals(activity.table, "net", group_by="currency", window_keys=days)
            )
            summary_sums = _by_currency(
                wh.totals(
                    summary.table,
                    "net_amount",
                    group_by="currency",
                    window_keys=days,
                    where={"category": "activity"},
                )
            )
        mismatches = [
            {
                "day": day,
                "currency": currency,
                "activity_net": str(activity_sums.get((day, currency), Decimal(0))),
                "summary_activity": str(summary_sums.get((day, currency), Decimal(0))),
            }
            for day, currency in sorted(set(activity_sums) | set(summary_sums))
            if activity_sums.get((day, currency), Decimal(0)) != summary_sums.get((day, currency), Decimal(0))
        ]
        return dg.AssetCheckResult(
            passed=not mismatches,
            description=(
                f"{len(mismatches)} day/currency pair(s) disagree"
                if mismatches
                else f"{len(days)} day(s) reconcile in every currency"
            ),
            metadata={
                "days_compared": len(days),
                "first_day": days[0],
                "last_day": days[-1],
                "mismatches": dg.MetadataValue.json(mismatches[:_SHOWN]),
            },
        )

    return reconciles_with_balance_summary


def _by_currency(totals: dict[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
    # Currencies are lower case at Stripe; a report may still write them otherwise.
    merged: dict[tuple[str, str], Decimal] = {}
    for (day, currency), total in totals.items():
        key = (day, currency.lower())
        merged[key] = merged.get(key, Decimal(0)) + total
    return merged
