"""Month-end close of catalogue entries: the one implementation behind ``stripe-reports close`` /
``reopen`` and the Dagster ``close_month`` job.

Closing a month records its rows and per-currency totals for each entry's table; from then on a
landing of one of its days keeps the rows as closed and records what Stripe's newer data says
differently (:mod:`pipelines.warehouse.periods`). A Connect entry closes every account's days
unless one account is named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.errors import CatalogError
from pipelines.lineage import ACCOUNT_COLUMN
from pipelines.sources import Source
from pipelines.warehouse import ClosedPeriod, Periods, Warehouse, WarehouseError


@dataclass(frozen=True)
class PeriodOutcome:
    """What closing or reopening did for one entry: the closes recorded, or why it could not."""

    source: Source
    closes: tuple[ClosedPeriod, ...] = ()
    error: str | None = None

    def describe(self) -> str:
        """One line per close, or the error, naming the entry."""
        if self.error is not None:
            return f"{self.source.name}: {self.error}"
        return "\n".join(close.describe() for close in self.closes)


def select_sources(sources: Sequence[Source], names: Sequence[str], *, every: bool) -> list[Source]:
    """The entries named (``every``: all of them), in catalogue order; CatalogError for an unknown
    name or for none at all."""
    if every:
        return list(sources)
    if not names:
        raise CatalogError("name the assets to close or reopen, or give --all")
    known = {source.name: source for source in sources}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise CatalogError(
            f"no asset named {', '.join(repr(n) for n in unknown)} in the catalogue "
            "(stripe-reports catalog lists them)"
        )
    return [source for source in sources if source.name in names]


def close_month(
    warehouse: Warehouse,
    sources: Sequence[Source],
    month: str,
    *,
    closed_by: str,
    account: str | None = None,
) -> list[PeriodOutcome]:
    """Close ``month`` for each of ``sources`` (``account``: only that connected account's rows)."""
    periods = Periods(warehouse)
    outcomes = []
    for source in sources:
        if account is not None and not source.per_account:
            outcomes.append(PeriodOutcome(source, error="--account applies to Connect assets only"))
            continue
        try:
            closed = periods.close(
                source.table,
                month,
                closed_by=closed_by,
                account=account,
                scope={ACCOUNT_COLUMN: account} if account is not None else None,
            )
        except WarehouseError as error:
            outcomes.append(PeriodOutcome(source, error=str(error)))
        else:
            outcomes.append(PeriodOutcome(source, closes=(closed,)))
    return outcomes


def reopen_month(
    warehouse: Warehouse,
    sources: Sequence[Source],
    month: str,
    *,
    reopened_by: str,
    reason: str,
    account: str | None = None,
) -> list[PeriodOutcome]:
    """Reopen ``month`` for each of ``sources``, recording who and why; its next landing replaces it."""
    periods = Periods(warehouse)
    outcomes = []
    for source in sources:
        try:
            reopened = periods.reopen(
                source.table, month, reopened_by=reopened_by, reason=reason, account=account
            )
        except WarehouseError as error:
            outcomes.append(PeriodOutcome(source, error=str(error)))
        else:
            outcomes.append(PeriodOutcome(source, closes=tuple(reopened)))
    return outcomes
