"""The MRR waterfall's continuity: each day begins where the previous day ended.

``sql/mrr_waterfall.sql`` lands one row per day with the day's beginning and ending MRR and
subscribers. A day's ``beginning_mrr`` is the MRR before it at the previous day's rates, which is
that day's ``ending_mrr``; so a month begins where the previous month ended. The ``mrr_continuity``
check reads the whole table and compares every two calendar-adjacent days it holds (a day not
loaded leaves its neighbours uncompared). It runs on its own, like the reconciliation check: from
the UI or the daily reconciliation schedule.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg

from pipelines.catalog import Catalog
from pipelines.resources import WarehouseResource
from pipelines.sources import Source
from pipelines.translator import StripeReportsTranslator
from pipelines.warehouse.identifiers import PARTITION_COLUMN

MRR_WATERFALL = "mrr_waterfall"
"""The catalogue entry (``sql/mrr_waterfall.sql``) the check applies to."""
CONTINUITY = "mrr_continuity"
_PAIRS = (("beginning_mrr", "ending_mrr"), ("beginning_subscribers", "ending_subscribers"))
_SHOWN = 10


def continuity_checks(
    catalog: Catalog, translator: StripeReportsTranslator
) -> list[dg.AssetChecksDefinition]:
    """The continuity check of the catalogue's ``mrr_waterfall`` entry, if it has one."""
    return [
        build_continuity_check(source, translator.get_asset_key(source))
        for source in catalog.sources
        if source.name == MRR_WATERFALL
    ]


def build_continuity_check(source: Source, key: dg.AssetKey) -> dg.AssetChecksDefinition:
    """``beginning_*`` of every day == ``ending_*`` of the day before, over the whole table."""
    columns = [PARTITION_COLUMN, *(name for pair in _PAIRS for name in pair)]

    @dg.asset_check(
        asset=key,
        name=CONTINUITY,
        description=(
            f"For every two consecutive days {source.table} holds, the later day's beginning_mrr and "
            "beginning_subscribers equal the earlier day's ending_mrr and ending_subscribers "
            "(so each month begins where the previous one ended)."
        ),
    )
    def mrr_continuity(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.open() as wh:
            if wh.table_columns(source.table) is None:
                return dg.AssetCheckResult(
                    passed=True, description=f"{source.table} holds no day yet", metadata={"days_compared": 0}
                )
            rows = wh.rows(source.table, columns)
        return _result(rows)

    return mrr_continuity


def _result(rows: list[dict[str, Any]]) -> dg.AssetCheckResult:
    by_day: dict[date, Any] = {}
    repeated: list[str] = []
    for row in rows:
        day = date.fromisoformat(str(row[PARTITION_COLUMN])[:10])
        if day in by_day:
            repeated.append(day.isoformat())
        by_day[day] = row
    breaks: list[dict[str, Any]] = []
    compared = 0
    for day in sorted(by_day):
        previous = by_day.get(day - timedelta(days=1))
        if previous is None:
            continue
        compared += 1
        current = by_day[day]
        for beginning, ending in _PAIRS:
            value, before = current[beginning], previous[ending]
            if _number(value) != _number(before):
                breaks.append(
                    {
                        "day": day.isoformat(),
                        "column": beginning,
                        "value": str(value),
                        "previous_day": (day - timedelta(days=1)).isoformat(),
                        "previous_column": ending,
                        "previous_value": str(before),
                    }
                )
    problems = [
        f"{b['day']} {b['column']} is {b['value']} but {b['previous_day']} {b['previous_column']} is "
        f"{b['previous_value']}"
        for b in breaks[:_SHOWN]
    ]
    problems += [f"{day} has more than one row" for day in repeated[:_SHOWN]]
    days = sorted(by_day)
    return dg.AssetCheckResult(
        passed=not problems,
        description=(
            f"{len(breaks) + len(repeated)} break(s): " + "; ".join(problems)
            if problems
            else f"{compared} day(s) begin where the previous day ended"
        ),
        metadata={
            "days_compared": compared,
            "days_held": len(days),
            "first_day": days[0].isoformat() if days else "",
            "last_day": days[-1].isoformat() if days else "",
            "breaks": dg.MetadataValue.json(breaks[:_SHOWN]),
            "break_count": len(breaks),
            "repeated_days": dg.MetadataValue.json(repeated[:_SHOWN]),
        },
    )


def _number(value: Any) -> Decimal | None:
    # The loader may type the column as an integer or a decimal; compare numbers, not their types.
    return None if value is None else Decimal(str(value))
