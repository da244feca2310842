"""The asset factory: one Dagster asset per catalogue entry.

Every asset does the same thing — land its partitions, days at a time — so they come from one
factory. A run (one day, or a ranged backfill run of up to a month) goes:

1. ask Stripe how far its data is loaded; days not yet complete are not touched;
2. per chunk of consecutive complete days: one Stripe job, one download, one transaction;
3. one materialization per day, with that day's rows, and the checks over what was loaded;
4. if some days were early, fail with the reason once the complete ones are in.
"""

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path

import dagster as dg

from pipelines.catalog import Catalog, ReportSpec, SigmaQuerySpec, Spec
from pipelines.checks import EXPECTED_COLUMNS, check_specs_for, evaluate_loaded, unique_check_name
from pipelines.landing import LandedChunk, Landing, MissingColumnsError
from pipelines.metadata import partition_metadata, preview
from pipelines.partitions import chunks, partitions_for, resolve
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.stripe.errors import (
    AuthenticationError,
    IdempotencyError,
    InvalidRequestError,
    PermissionDeniedError,
    RunDeadlineExceeded,
    RunFailedError,
)
from pipelines.warehouse import DuplicateRowsError, SchemaDriftError

STRIPE_POOL = "stripe_api"
"""Pool shared by every asset: its limit caps simultaneous Stripe jobs across all runs."""

MAX_DAYS_PER_RUN = 31
"""The most partitions one Dagster run covers in a backfill (Stripe chunks are never longer)."""

GROUPS = {"report": "stripe_reports", "sigma": "sigma_queries"}

DEFAULT_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# Errors a retry cannot fix: wrong key or permissions, a request Stripe refuses, SQL Sigma rejects,
# a table whose types the data no longer fits, a report file that breaks its own contract (a requested
# column missing, a record twice). They fail once, clearly, with Stripe's message.
_PERMANENT = (
    AuthenticationError,
    PermissionDeniedError,
    InvalidRequestError,
    IdempotencyError,
    RunDeadlineExceeded,
    SchemaDriftError,
    MissingColumnsError,
    DuplicateRowsError,
)


def asset_key(spec: Spec) -> dg.AssetKey:
    """``stripe/<name>`` for every report and Sigma query."""
    return dg.AssetKey(["stripe", spec.name])


def build_assets(
    catalog: Catalog, retry_policy: dg.RetryPolicy = DEFAULT_RETRY_POLICY
) -> list[dg.AssetsDefinition]:
    """One asset per report and per Sigma query of ``catalog``."""
    return [build_asset(spec, retry_policy) for spec in catalog.specs]


def build_asset(spec: Spec, retry_policy: dg.RetryPolicy = DEFAULT_RETRY_POLICY) -> dg.AssetsDefinition:
    """The asset that lands ``spec``'s daily partitions in its warehouse table."""
    key = asset_key(spec)
    with warnings.catch_warnings():
        # Ranged backfills are the point of this project; Dagster still labels backfill_policy beta.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _define_asset(spec, key, retry_policy)


def _define_asset(spec: Spec, key: dg.AssetKey, retry_policy: dg.RetryPolicy) -> dg.AssetsDefinition:
    @dg.asset(
        key=key,
        group_name=GROUPS[spec.kind],
        description=spec.description,
        partitions_def=partitions_for(spec),
        # A backfill becomes ranged runs of up to a month; inside, one Stripe job per chunk of
        # `max_days_per_run` days (or per day, for reports that cannot be split).
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_DAYS_PER_RUN),
        retry_policy=retry_policy,
        pool=STRIPE_POOL,
        kinds={"stripe"},
        # Each day is materialized explicitly with its own metadata, so ranged runs plot per day.
        output_required=False,
        check_specs=check_specs_for(spec, key),
        metadata=_definition_metadata(spec),
        tags={"stripe/source": "reporting_api" if isinstance(spec, ReportSpec) else "sigma"},
    )
    def _asset(
        context: dg.AssetExecutionContext, stripe: StripeResource, warehouse: WarehouseResource
    ) -> Iterator[dg.AssetMaterialization | dg.AssetCheckResult]:
        yield from _materialize(context, spec, key, stripe, warehouse)

    return _asset


def _materialize(
    context: dg.AssetExecutionContext,
    spec: Spec,
    key: dg.AssetKey,
    stripe: StripeResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.AssetMaterialization | dg.AssetCheckResult]:
    partitions = resolve(context.assets_def.partitions_def, context.partition_keys)  # type: ignore[arg-type]
    wh = warehouse.get()
    table_name = f"{wh.schema}.{spec.table}" if wh.schema else spec.table
    landed: list[LandedChunk] = []
    early_reasons: list[str] = []
    with stripe.session() as session, tempfile.TemporaryDirectory(prefix="stripe-results-") as workdir:
        landing = Landing(
            spec,
            session,
            wh,
            idempotency_scope=f"{context.run.run_id}:{context.retry_number}",
            workdir=Path(workdir),
            log=context.log,
        )
        for _, account_partitions in groupby(partitions, key=lambda p: p.account):
            group = list(account_partitions)
            with _failing_clearly(spec):
                readiness = session.freshness.readiness(spec, group)
            if readiness.early:
                early_reasons.append(readiness.early_reason())
                context.log.warning(readiness.early_reason())
            size = spec.max_days_per_run if spec.splittable else 1
            for chunk in chunks(readiness.ready, size):
                try:
                    with _failing_clearly(spec):
                        result = landing.land(chunk, readiness.loaded_until)
                except dg.Failure as failure:
                    refused = _refused_file_check(spec, key, failure.__cause__)
                    if refused is not None:
                        yield refused
                    raise
                landed.append(result)
                for partition in chunk:
                    yield dg.AssetMaterialization(
                        asset_key=key,
                        partition=partition.partition_key,
                        metadata=partition_metadata(
                            result, partition, table_name, preview(wh, spec.table, partition)
                        ),
                    )
    if landed:
        yield from evaluate_loaded(spec, key, wh, landed)
    if early_reasons:
        raise dg.Failure(
            description=" ".join(early_reasons),
            metadata={"loaded_partitions": sum(len(c.partitions) for c in landed)},
            allow_retries=False,
        )


@contextmanager
def _failing_clearly(spec: Spec) -> Iterator[None]:
    """Turn errors a retry cannot fix into a non-retryable Dagster failure; let the rest retry."""
    try:
        yield
    except _PERMANENT as error:
        raise _failure(error) from error
    except RunFailedError as error:
        # A Sigma run fails on the SQL itself; a report run failing is rare at Stripe and worth a retry.
        if isinstance(spec, SigmaQuerySpec):
            raise _failure(error) from error
        raise


def _failure(error: Exception) -> dg.Failure:
    metadata: dict[str, str] = {"error_type": type(error).__name__}
    request_id = getattr(error, "request_id", None)
    if request_id:
        metadata["stripe_request_id"] = str(request_id)
    description = str(error)
    if isinstance(error, RunDeadlineExceeded):
        # The client's advice (retry with the same key) is for its own callers; a later Dagster run
        # of the partition asks Stripe again with a new job.
        description = (
            f"{error.run_kind} {error.run_id} was still {error.status!r} after waiting "
            f"{error.waited:.1f} s (the Stripe resource's run_deadline_seconds); nothing was loaded. "
            "The next run of this partition starts a new Stripe job for the same window."
        )
        metadata["stripe_run_id"] = error.run_id
    return dg.Failure(description=description, metadata=metadata, allow_retries=False)


def _refused_file_check(
    spec: Spec, key: dg.AssetKey, error: BaseException | None
) -> dg.AssetCheckResult | None:
    """The check a refused result file fails, so the UI shows why nothing was loaded."""
    if isinstance(error, MissingColumnsError):
        return dg.AssetCheckResult(
            check_name=EXPECTED_COLUMNS,
            asset_key=key,
            passed=False,
            description="; ".join(f"Stripe did not return `{name}`" for name in error.missing)
            + f" (report run {error.stripe_run_id}); nothing was loaded",
            metadata={"stripe_run_id": error.stripe_run_id},
        )
    name = unique_check_name(spec)
    if isinstance(error, DuplicateRowsError) and name:
        duplicates = [
            {"partition": window, error.column: str(value), "copies": copies}
            for window, value, copies in error.duplicates
        ]
        return dg.AssetCheckResult(
            check_name=name,
            asset_key=key,
            passed=False,
            description=f"{len(duplicates)} {error.column} value(s) appear more than once within a day "
            "in Stripe's file; nothing was loaded",
            metadata={"duplicates": dg.MetadataValue.json(duplicates), "duplicate_count": len(duplicates)},
        )
    return None


def _definition_metadata(spec: Spec) -> dict[str, object]:
    metadata: dict[str, object] = {"stripe/table": spec.table, "stripe/time_zone": spec.timezone}
    if isinstance(spec, ReportSpec):
        metadata["stripe/report_type"] = spec.report_type
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(c.name, c.type) for c in spec.columns]
        )
        if spec.split_column:
            metadata["stripe/split_column"] = spec.split_column
    elif isinstance(spec, SigmaQuerySpec):
        metadata["stripe/sql_file"] = f"sql/{spec.path.name}"
        metadata["stripe/sql"] = dg.MetadataValue.md(f"```sql\n{spec.sql.strip()}\n```")
        if spec.partition_column:
            metadata["stripe/partition_column"] = spec.partition_column
        if spec.saved_query:
            metadata["stripe/saved_query"] = spec.saved_query
    if spec.connect:
        metadata["stripe/connect"] = "one partition per connected account and day"
    return metadata
