"""Asset checks: is what landed what Stripe promised, and do the reports agree with each other?

* ``expected_columns`` — every column the catalogue asks for came back from Stripe, and the table
  keeps the catalogue's types (Sigma queries: the table keeps every column the query returns).
* ``unique_<column>`` — no balance transaction appears twice within a day.
  Both run inside the materialization, over the days it loaded.
* ``reconciles_with_balance_summary`` — for every day both tables hold, the sum of ``net`` in
  balance_change_from_activity equals the ``activity`` line of balance.summary, per currency.
  It needs two assets, so it runs on its own: from the UI or the daily reconciliation schedule.
"""

from collections.abc import Sequence
from decimal import Decimal

import dagster as dg
import sqlalchemy as sa

from pipelines.catalog import Catalog, ReportSpec, Spec
from pipelines.landing import ACCOUNT_COLUMN, LandedChunk
from pipelines.resources import WarehouseResource
from pipelines.sigma_sql import FRESHNESS_COLUMN
from pipelines.warehouse import Warehouse

EXPECTED_COLUMNS = "expected_columns"
RECONCILIATION = "reconciles_with_balance_summary"
LINEAGE_COLUMNS = frozenset({"_partition", "_loaded_at", "_stripe_run_id", FRESHNESS_COLUMN, ACCOUNT_COLUMN})

ACTIVITY_REPORT = "balance_change_from_activity.itemized.3"
SUMMARY_REPORT = "balance.summary.1"
_SHOWN = 10


def unique_check_name(spec: Spec) -> str | None:
    """The name of the uniqueness check of ``spec``, if its rows have a unique id."""
    column = spec.unique_column if isinstance(spec, ReportSpec) else None
    return f"unique_{column}" if column else None


def check_specs_for(spec: Spec, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """The checks evaluated inside every materialization of ``spec``."""
    specs = [
        dg.AssetCheckSpec(
            EXPECTED_COLUMNS,
            asset=key,
            description=(
                "Stripe returned every requested column and the table keeps the catalogue's types."
                if isinstance(spec, ReportSpec)
                else "The table holds every column the query returns, and no column the query dropped."
            ),
        )
    ]
    unique = unique_check_name(spec)
    if unique:
        specs.append(
            dg.AssetCheckSpec(
                unique,
                asset=key,
                description=f"No {spec.unique_column} appears twice within a day.",  # type: ignore[union-attr]
            )
        )
    return specs


def evaluate_loaded(
    spec: Spec, key: dg.AssetKey, warehouse: Warehouse, landed: Sequence[LandedChunk]
) -> list[dg.AssetCheckResult]:
    """Evaluate the in-materialization checks over the chunks this run loaded."""
    results = [_expected_columns(spec, key, warehouse, landed)]
    if unique_check_name(spec):
        results.append(_unique(spec, key, warehouse, landed))
    return results


def _expected_columns(
    spec: Spec, key: dg.AssetKey, warehouse: Warehouse, landed: Sequence[LandedChunk]
) -> dg.AssetCheckResult:
    returned = list(landed[-1].columns)
    table = {c.name: c.type for c in warehouse.table_columns(spec.table) or []}
    problems: list[str] = []
    if isinstance(spec, ReportSpec):
        for column in spec.columns:
            if column.name not in returned:
                problems.append(f"Stripe did not return `{column.name}`")
            elif table.get(column.name) != column.type:
                problems.append(
                    f"`{column.name}` is {table.get(column.name) or 'missing'} in the table, "
                    f"the catalogue says {column.type}"
                )
    else:
        for name in returned:
            if name not in table:
                problems.append(f"`{name}` was returned but is not in the table")
        dropped = [n for n in table if n not in returned and n not in LINEAGE_COLUMNS]
        problems.extend(f"`{name}` is in the table but the query no longer returns it" for name in dropped)
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


def _unique(
    spec: Spec, key: dg.AssetKey, warehouse: Warehouse, landed: Sequence[LandedChunk]
) -> dg.AssetCheckResult:
    column = spec.unique_column  # type: ignore[union-attr]
    name = unique_check_name(spec) or ""
    duplicates: list[dict[str, object]] = []
    quote = warehouse.engine.dialect.identifier_preparer.quote
    for chunk in landed:
        account = chunk.partitions[0].account
        keys = [p.window.key for p in chunk.partitions]
        where = f"{quote('_partition')} IN :keys"
        params: dict[str, object] = {"keys": keys}
        if account is not None:
            where += f" AND {quote(ACCOUNT_COLUMN)} = :account"
            params["account"] = account
        statement = sa.text(
            f"SELECT {quote('_partition')}, {quote(column)}, COUNT(*) AS copies "  # noqa: S608 - quoted identifiers
            f"FROM {warehouse.qualified(spec.table)} WHERE {where} "
            f"GROUP BY {quote('_partition')}, {quote(column)} HAVING COUNT(*) > 1"
        ).bindparams(sa.bindparam("keys", expanding=True))
        with warehouse.engine.connect() as connection:
            for row in connection.execute(statement, params):
                duplicates.append({"partition": row[0], column: row[1], "copies": int(row[2])})
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=key,
        passed=not duplicates,
        description=(
            f"{len(duplicates)} {column} value(s) appear more than once within a day"
            if duplicates
            else f"every {column} appears once per day"
        ),
        metadata={
            "duplicates": dg.MetadataValue.json(duplicates[:_SHOWN]),
            "duplicate_count": len(duplicates),
        },
    )


def reconciliation_pairs(catalog: Catalog) -> list[tuple[ReportSpec, ReportSpec]]:
    """(activity, summary) report pairs that can be reconciled: same days, whole platform."""
    activity = [r for r in catalog.reports if r.report_type == ACTIVITY_REPORT and not r.connect]
    summary = [r for r in catalog.reports if r.report_type == SUMMARY_REPORT and not r.connect]
    return [
        (a, s)
        for a in activity
        for s in summary
        if a.timezone == s.timezone and not a.parameters and not s.parameters
    ]


def build_reconciliation_check(
    activity: ReportSpec, summary: ReportSpec, activity_key: dg.AssetKey, summary_key: dg.AssetKey
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
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        days = sorted(
            context.instance.get_materialized_partitions(activity_key)
            & context.instance.get_materialized_partitions(summary_key)
        )
        if not days:
            return dg.AssetCheckResult(
                passed=True, description="no day is loaded in both tables yet", metadata={"days_compared": 0}
            )
        wh = warehouse.get()
        activity_sums = _sums(wh, activity.table, "net", days, where=None)
        summary_sums = _sums(wh, summary.table, "net_amount", days, where=("category", "activity"))
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


def _sums(
    warehouse: Warehouse, table: str, amount: str, days: Sequence[str], *, where: tuple[str, str] | None
) -> dict[tuple[str, str], Decimal]:
    quote = warehouse.engine.dialect.identifier_preparer.quote
    condition = f"{quote('_partition')} IN :days"
    params: dict[str, object] = {"days": list(days)}
    if where is not None:
        condition += f" AND {quote(where[0])} = :value"
        params["value"] = where[1]
    statement = sa.text(
        f"SELECT {quote('_partition')}, {quote('currency')}, SUM({quote(amount)}) "  # noqa: S608 - quoted identifiers
        f"FROM {warehouse.qualified(table)} WHERE {condition} "
        f"GROUP BY {quote('_partition')}, {quote('currency')}"
    ).bindparams(sa.bindparam("days", expanding=True))
    with warehouse.engine.connect() as connection:
        return {
            (str(day), str(currency).lower()): Decimal(str(total or 0))
            for day, currency, total in connection.execute(statement, params)
        }
