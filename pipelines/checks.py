"""Asset checks: is what landed what Stripe promised, and do the reports agree with each other?

* ``expected_columns`` — every column the catalogue asks for came back from Stripe, and the table
  keeps the catalogue's types (Sigma queries: the table keeps every column the query returns).
* ``unique_<column>`` — no balance transaction appears twice in the table.
* ``rows_per_connected_account`` (``connect: all_accounts``) — every row names its connected
  account; the rows per account are its metadata.
  All three run inside the materialization. ``expected_columns`` reports what the load itself established
  (the loader refuses a file that lacks a declared column or repeats an id); the uniqueness check
  adds one grouped query over the whole table, since two days can disagree about one id.
* Reconciliation, for every day both tables hold, per currency (each needs two assets, so it runs
  on its own: from the UI or the daily reconciliation job):
  ``reconciles_with_balance_summary`` on balance_change_from_activity (Σ net = balance.summary's
  ``activity`` line) and on ending_balance_reconciliation (Σ net = the ``ending_balance`` line);
  ``reconciles_with_payouts`` on payout_reconciliation (each automatic payout's amount = Σ net of
  the transactions it settled); ``reconciles_with_sigma_balance_transactions`` on
  balance_change_from_activity (gross, fee and net = Sigma's balance_transactions totals, minor
  units converted). Totals are SQL in the warehouse; a failing check names the day, currency (and
  payout) and both amounts, nothing else of the rows.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from pipelines.catalog import Catalog
from pipelines.landing import LandedChunk
from pipelines.lineage import ACCOUNT_COLUMN
from pipelines.reconciliation import (
    Mismatch,
    by_lower_currency,
    difference_by_currency,
    mismatches,
    to_major_units,
)
from pipelines.resources import WarehouseResource
from pipelines.sources import ReportSource, Source
from pipelines.sources.base import ACCOUNT_ROW_COLUMN
from pipelines.warehouse import DuplicateRowsError, MissingColumnsError, Warehouse

EXPECTED_COLUMNS = "expected_columns"
RECONCILIATION = "reconciles_with_balance_summary"
PAYOUTS_RECONCILIATION = "reconciles_with_payouts"
SIGMA_RECONCILIATION = "reconciles_with_sigma_balance_transactions"
ACCOUNT_ROWS = "rows_per_connected_account"

ACTIVITY_REPORT = "balance_change_from_activity.itemized.3"
SUMMARY_REPORT = "balance.summary.1"
PAYOUTS_REPORT = "payouts.itemized.3"
PAYOUT_RECONCILIATION_REPORT = "payout_reconciliation.itemized.5"
ENDING_BALANCE_REPORT = "ending_balance_reconciliation.itemized.4"
SIGMA_TOTALS = "balance_transaction_totals"
"""The Sigma query (``sql/balance_transaction_totals.sql``) the activity report is reconciled with."""
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
    if source.connect == "all_accounts":
        specs.append(
            dg.AssetCheckSpec(
                ACCOUNT_ROWS,
                asset=key,
                description=f"Every row names its connected account ({ACCOUNT_ROW_COLUMN}); rows per "
                "account.",
            )
        )
    return specs


def _account_rows(source: Source, key: dg.AssetKey, warehouse: Warehouse) -> dg.AssetCheckResult:
    """Rows per connected account in an all-accounts table (one grouped query): the per-account view
    a per-account partitioning would have shown, without a partition per account."""
    counts = warehouse.row_counts(source.table, by=ACCOUNT_ROW_COLUMN)
    unnamed = counts.pop("", 0)
    return dg.AssetCheckResult(
        check_name=ACCOUNT_ROWS,
        asset_key=key,
        passed=not unnamed,
        description=(
            f"{unnamed} row(s) name no connected account in {ACCOUNT_ROW_COLUMN}"
            if unnamed
            else f"{sum(counts.values())} rows across {len(counts)} connected account(s)"
        ),
        metadata={
            "accounts": len(counts),
            "rows_without_account": unnamed,
            "rows_by_account": dg.MetadataValue.json(dict(sorted(counts.items()))),
        },
    )


def loaded_results(
    source: Source, key: dg.AssetKey, landed: Sequence[LandedChunk], warehouse: Warehouse
) -> list[dg.AssetCheckResult]:
    """The in-materialization checks over the chunks this run loaded.

    Uniqueness covers the whole table, not only the days loaded: each load already refused a file
    repeating an id and moved ids that changed day, so a value found twice here means two partitions
    disagree about it (named in the result); the query is one grouped, index-backed scan.
    """
    results = [_expected_columns(source, key, landed[-1])]
    if source.connect == "all_accounts":
        results.append(_account_rows(source, key, warehouse))
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
    """(activity, summary) report pairs that can be reconciled: same days, whole platform."""
    return _pairs(catalog, ACTIVITY_REPORT, SUMMARY_REPORT)


def reconciliation_checks(
    catalog: Catalog, key_of: Callable[[Source], dg.AssetKey]
) -> list[dg.AssetChecksDefinition]:
    """Every cross-report check the catalogue's entries allow, keyed by ``key_of`` (the translator's).

    Each pairs two whole-platform entries on the same days (same zone): activity with balance
    summary, payouts with payout reconciliation, ending balance reconciliation with balance summary,
    and the activity report with the Sigma ``balance_transaction_totals`` query.
    """
    checks = [
        build_reconciliation_check(activity, summary, key_of(activity), key_of(summary))
        for activity, summary in reconciliation_pairs(catalog)
    ]
    checks += [
        _check(PAYOUTS_RECONCILIATION, reconciliation, payouts, key_of, _payout_mismatches)
        for reconciliation, payouts in _pairs(catalog, PAYOUT_RECONCILIATION_REPORT, PAYOUTS_REPORT)
    ]
    checks += [
        _check(RECONCILIATION, ending, summary, key_of, _ending_balance_mismatches)
        for ending, summary in _pairs(catalog, ENDING_BALANCE_REPORT, SUMMARY_REPORT)
    ]
    sigma = [s for s in catalog.sources if s.name == SIGMA_TOTALS and not s.connect]
    for activity in _platform_reports(catalog, ACTIVITY_REPORT):
        for totals in sigma:
            if totals.timezone == activity.timezone:
                checks.append(_check(SIGMA_RECONCILIATION, activity, totals, key_of, _sigma_mismatches))
                break
    return checks


def build_reconciliation_check(
    activity: ReportSource, summary: ReportSource, activity_key: dg.AssetKey, summary_key: dg.AssetKey
) -> dg.AssetChecksDefinition:
    """Σ net of the activity report == balance.summary's activity line, per day and currency."""
    keys = {activity.name: activity_key, summary.name: summary_key}
    return _check(RECONCILIATION, activity, summary, lambda s: keys[s.name], _activity_mismatches)


# ---- the comparisons: totals by SQL in the warehouse, compared in pipelines.reconciliation --------


@dataclass(frozen=True)
class _Comparison:
    """What a reconciliation check compares, in words, and how (``compare(warehouse, days)``)."""

    description: str
    groups: str
    compare: Callable[[Warehouse, list[str]], tuple[list[Mismatch], dict[str, Any]]]


def _summary_line_mismatches(
    source: Source, summary: Source, line: str, label: str, description: str
) -> _Comparison:
    """``source``'s sum of ``net`` per day and currency against balance.summary's ``line`` line."""

    def compare(wh: Warehouse, days: list[str]) -> tuple[list[Mismatch], dict[str, Any]]:
        ours = wh.grouped_totals(source.table, ["net"], group_by=["currency"], window_keys=days)
        theirs = wh.grouped_totals(
            summary.table, ["net_amount"], group_by=["currency"], window_keys=days, where={"category": line}
        )
        found = mismatches(
            by_lower_currency(ours, 1),
            by_lower_currency(theirs, 1),
            key_names=("day", "currency"),
            labels=[(label, f"summary_{line}")],
        )
        difference = f"{label}_minus_summary_{line}"
        return found, {"difference_by_currency": difference_by_currency(found, difference)}

    return _Comparison(description, "day/currency pair(s)", compare)


def _activity_mismatches(activity: Source, summary: Source) -> _Comparison:
    return _summary_line_mismatches(
        activity,
        summary,
        "activity",
        "activity_net",
        f"For every day both {activity.table} and {summary.table} hold, the sum of `net` per currency "
        "equals balance.summary's `activity` line.",
    )


def _ending_balance_mismatches(ending: Source, summary: Source) -> _Comparison:
    return _summary_line_mismatches(
        ending,
        summary,
        "ending_balance",
        "transactions_net",
        f"For every day both {ending.table} and {summary.table} hold, the sum of `net` of the "
        "transactions making up the balance at the end of the day equals balance.summary's "
        "`ending_balance` line, per currency.",
    )


def _payout_mismatches(reconciliation: Source, payouts: Source) -> _Comparison:
    def compare(wh: Warehouse, days: list[str]) -> tuple[list[Mismatch], dict[str, Any]]:
        # A payout is a debit of the balance (negative net); its amount is what it sweeps.
        paid = {
            key: tuple(-value for value in values)
            for key, values in wh.grouped_totals(
                payouts.table,
                ["net"],
                group_by=["payout_id", "currency"],
                window_keys=days,
                where={"reporting_category": "payout"},
            ).items()
        }
        swept = wh.grouped_totals(
            reconciliation.table, ["net"], group_by=["automatic_payout_id", "currency"], window_keys=days
        )
        # Transactions whose payout Stripe has not published yet carry no payout id.
        swept = {key: values for key, values in swept.items() if key[1]}
        # Manual payouts have no reconciliation rows; only automatic payouts are compared.
        reconciled = {key[:2] for key in swept}
        manual = sorted(key[1] for key in paid if key[:2] not in reconciled)
        paid = {key: values for key, values in paid.items() if key[:2] in reconciled}
        found = mismatches(
            by_lower_currency(paid, 2),
            by_lower_currency(swept, 2),
            key_names=("day", "payout_id", "currency"),
            labels=[("payout_amount", "transactions_net")],
        )
        return found, {
            "payouts_compared": len(reconciled),
            "payouts_without_transactions": dg.MetadataValue.json(manual[:_SHOWN]),
            "difference_by_currency": difference_by_currency(found, "payout_amount_minus_transactions_net"),
        }

    return _Comparison(
        f"For every day both {reconciliation.table} and {payouts.table} hold, each automatic payout's "
        "amount equals the sum of `net` of the transactions it settled (by automatic_payout_id), per "
        "currency.",
        "payout(s)",
        compare,
    )


def _sigma_mismatches(activity: Source, totals: Source) -> _Comparison:
    def compare(wh: Warehouse, days: list[str]) -> tuple[list[Mismatch], dict[str, Any]]:
        ours = wh.grouped_totals(
            activity.table, ["gross", "fee", "net"], group_by=["currency"], window_keys=days
        )
        minor = wh.grouped_totals(
            totals.table, ["amount", "fee", "net"], group_by=["currency"], window_keys=days
        )
        theirs = {
            key: tuple(to_major_units(value, key[1]) for value in values)
            for key, values in by_lower_currency(minor, 1).items()
        }
        found = mismatches(
            by_lower_currency(ours, 1),
            theirs,
            key_names=("day", "currency"),
            labels=[
                ("activity_gross", "sigma_amount"),
                ("activity_fee", "sigma_fee"),
                ("activity_net", "sigma_net"),
            ],
        )
        return found, {
            "difference_by_currency": difference_by_currency(found, "activity_net_minus_sigma_net")
        }

    return _Comparison(
        f"For every day both {activity.table} and {totals.table} hold, the activity report's gross, "
        "fee and net per currency equal Sigma's balance_transactions totals (minor units converted "
        "to major units by Stripe's currency decimals).",
        "day/currency pair(s)",
        compare,
    )


def _check(
    name: str,
    checked: Source,
    other: Source,
    key_of: Callable[[Source], dg.AssetKey],
    comparison_of: Callable[[Source, Source], _Comparison],
) -> dg.AssetChecksDefinition:
    """A check on ``checked`` comparing it with ``other`` over every day both tables hold.

    It needs two assets, so it runs on its own (the reconciliation job), not in a materialization.
    """
    comparison = comparison_of(checked, other)

    @dg.asset_check(
        asset=key_of(checked),
        name=name,
        additional_deps=[key_of(other)],
        description=comparison.description,
    )
    def _reconcile(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.open() as wh:
            # The days the warehouse holds, not the days Dagster remembers materializing: the two
            # differ when the instance was used with another warehouse.
            days = sorted(set(wh.row_counts(checked.table)) & set(wh.row_counts(other.table)))
            if not days:
                return dg.AssetCheckResult(
                    passed=True,
                    description=f"no day is loaded in both {checked.table} and {other.table} yet",
                    metadata={"days_compared": 0},
                )
            found, extra = comparison.compare(wh, days)
        description = (
            f"{len(found)} {comparison.groups} disagree: " + "; ".join(m.describe() for m in found[:_SHOWN])
            if found
            else f"{len(days)} day(s) reconcile in every currency"
        )
        return dg.AssetCheckResult(
            passed=not found,
            description=description,
            metadata={
                "days_compared": len(days),
                "first_day": days[0],
                "last_day": days[-1],
                "mismatch_count": len(found),
                "mismatches": dg.MetadataValue.json([m.as_json() for m in found[:_SHOWN]]),
                **{k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in extra.items()},
            },
        )

    return _reconcile


def _platform_reports(catalog: Catalog, report_type: str) -> list[ReportSource]:
    return [
        s
        for s in catalog.sources
        if isinstance(s, ReportSource) and not s.connect and s.report_type == report_type and not s.parameters
    ]


def _pairs(catalog: Catalog, checked_type: str, other_type: str) -> list[tuple[ReportSource, ReportSource]]:
    """(checked, other) pairs of whole-platform reports on the same days (or months).

    Each checked report is paired with one other (a check has one name per asset): the one on the
    same backend if there is one, else the first in the catalogue.
    """
    others = _platform_reports(catalog, other_type)
    pairs = []
    for checked in _platform_reports(catalog, checked_type):
        candidates = sorted(
            # Same zone and period: a month's rows only reconcile with the same month's.
            (s for s in others if s.timezone == checked.timezone and s.period == checked.period),
            key=lambda s: type(s) is not type(checked),
        )
        if candidates:
            pairs.append((checked, candidates[0]))
    return pairs
