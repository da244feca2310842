"""Month-end close in Dagster: the ``close_month`` job and the ``closed_period_unchanged`` check.

* ``close_month`` — run config ``month`` (``YYYY-MM``), ``assets`` (names; empty: every asset),
  optionally ``account`` (one connected account) and ``closed_by``. Records each table's rows and
  per-currency totals for the month; from then on its days are never overwritten
  (:mod:`pipelines.closing`). Reopening is ``stripe-reports reopen``, with a reason.
* ``closed_period_unchanged`` — evaluated in every materialization: fails while Stripe's newest
  landing of a closed month's day differs from what was closed, naming the months and the amounts
  per currency; passes again once the difference is gone or the month is reopened on purpose.
"""

from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from pipelines.catalog import Catalog
from pipelines.closing import close_month, select_sources
from pipelines.resources import WarehouseResource
from pipelines.sources import Source
from pipelines.warehouse import Periods, Warehouse

CLOSED_PERIOD_CHECK = "closed_period_unchanged"
CLOSE_MONTH_JOB = "close_month"
CLOSE_MONTH_OP = "record_month_close"
_SHOWN = 10


def closed_period_check_spec(source: Source, key: dg.AssetKey) -> dg.AssetCheckSpec:
    """The check every materialization of ``source`` evaluates."""
    return dg.AssetCheckSpec(
        CLOSED_PERIOD_CHECK,
        asset=key,
        description=(
            f"No closed month of {source.table} differs from Stripe's newest data (a landing of a closed "
            "day keeps its rows and records the differences in _stripe_close_variances)."
        ),
    )


def closed_period_result(source: Source, key: dg.AssetKey, warehouse: Warehouse) -> dg.AssetCheckResult:
    """Pass, or fail naming each closed month that differs: days, rows and amounts per currency."""
    variances = Periods(warehouse).variances(source.table)
    if not variances:
        return dg.AssetCheckResult(
            check_name=CLOSED_PERIOD_CHECK,
            asset_key=key,
            passed=True,
            description="every closed month holds what Stripe's newest data says",
            metadata={"closed_months_differing": 0},
        )
    shown = "; ".join(v.describe() for v in variances[:_SHOWN])
    return dg.AssetCheckResult(
        check_name=CLOSED_PERIOD_CHECK,
        asset_key=key,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(variances)} closed month(s) differ from Stripe's newest data: {shown}. The closed rows "
            f"were kept; to take Stripe's data, `stripe-reports reopen {source.name} --month M --reason ...` "
            "and land the days again."
        ),
        metadata={
            "closed_months_differing": len(variances),
            "variances": dg.MetadataValue.json(
                [
                    {
                        "month": v.close.month,
                        "account": v.close.account,
                        "close_id": v.close.close_id,
                        "days": list(v.days),
                        "rows_differing": v.rows,
                        "amount_change": {c: str(a) for c, a in v.amounts.items()},
                    }
                    for v in variances[:_SHOWN]
                ]
            ),
        },
    )


class CloseMonthConfig(dg.Config):
    """Run config of ``close_month``."""

    month: str = Field(description="The month to close, YYYY-MM.")
    assets: list[str] = Field(default_factory=list, description="Asset names; empty: every asset.")
    account: str | None = Field(default=None, description="Only this connected account (Connect assets).")
    closed_by: str | None = Field(default=None, description="Who closes it (default: this run).")


def build_close_month_job(catalog: Catalog, keys: Sequence[dg.AssetKey]) -> dg.JobDefinition:
    """The ``close_month`` job over ``catalog``'s entries (``keys``: their asset keys, same order)."""
    by_name = dict(zip((s.name for s in catalog.sources), keys, strict=True))

    @dg.op(
        name=CLOSE_MONTH_OP,
        description="Closes a month of the named assets' tables (every asset when none is named).",
    )
    def _close(
        context: dg.OpExecutionContext, config: CloseMonthConfig, warehouse: WarehouseResource
    ) -> None:
        sources = select_sources(catalog.sources, config.assets, every=not config.assets)
        closed_by = config.closed_by or f"dagster run {context.run_id}"
        with warehouse.open() as wh:
            outcomes = close_month(wh, sources, config.month, closed_by=closed_by, account=config.account)
        failed = []
        for outcome in outcomes:
            if outcome.error is not None:
                failed.append(outcome.describe())
                continue
            for close in outcome.closes:
                context.log.info(close.describe())
                context.log_event(
                    dg.AssetObservation(
                        asset_key=by_name[outcome.source.name],
                        metadata={
                            "closed_month": close.month,
                            "closed_account": close.account,
                            "close_id": close.close_id,
                            "closed_by": close.closed_by,
                            "rows_at_close": close.rows,
                            "totals_at_close": dg.MetadataValue.json(
                                {c: str(a) for c, a in close.totals.items()}
                            ),
                        },
                    )
                )
        if failed:
            raise dg.Failure(
                description=f"{len(failed)} of {len(outcomes)} asset(s) not closed: " + "; ".join(failed),
                allow_retries=False,
            )

    @dg.job(
        name=CLOSE_MONTH_JOB,
        description=(
            "Month-end close: records rows and per-currency totals of a month; later landings of its "
            "days keep them and record Stripe's differences (closed_period_unchanged)."
        ),
    )
    def _job() -> None:
        _close()

    return _job
