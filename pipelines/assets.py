"""The asset factory: one Dagster asset per catalogue entry, of any source kind.

Every asset does the same thing — land its partitions, days at a time — so they come from one
factory; what differs between kinds lives in the source, and how an entry looks in Dagster lives in
the translator. A run (one day, or a ranged backfill run of up to a month) goes:

1. ask Stripe how far its data is loaded; days not yet complete are not touched;
2. per chunk of consecutive complete days: one Stripe job, one download, one transaction;
3. one materialization per day, with that day's rows, and the checks over what was loaded;
4. if some days were early, fail with the reason once the complete ones are in.

Errors decide their own retries (``retryable``): a transient one is raised as it is and Dagster's
retry policy runs the step again; a permanent one fails the step once, naming the catalogue entry.
"""

import warnings
from collections.abc import Iterator
from contextlib import closing
from itertools import groupby

import dagster as dg

from pipelines.catalog import Catalog
from pipelines.checks import loaded_results, refused_results
from pipelines.close import closed_period_result
from pipelines.errors import is_retryable
from pipelines.freshness import FreshnessProbe
from pipelines.landing import LandedChunk, Landing
from pipelines.metadata import partition_metadata, preview
from pipelines.partition_windows import chunks
from pipelines.partitions import resolve, run_partition_keys, skipped_observations
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.sources import Source
from pipelines.stripe.errors import RunDeadlineExceeded
from pipelines.translator import StripeReportsTranslator
from pipelines.warehouse import Warehouse
from pipelines.workdirs import run_workdir

STRIPE_POOL = "stripe_api"
"""Pool shared by every asset: its limit caps simultaneous Stripe jobs across all runs."""

MAX_DAYS_PER_RUN = 31
"""The most partitions one Dagster run covers in a backfill (Stripe chunks are never longer)."""

PERMANENT_FAILURE_TAG = "stripe/failure"
"""Run tag (value ``permanent``) on a run one of whose assets failed in a way no retry can mend."""

RETRYABLE_METADATA = "retryable"
DEFINITION_METADATA = "stripe/definition"
"""Failure metadata of a permanent failure: ``retryable`` False, and the entry's definition hash
(a later run can only succeed once the entry, or what it runs at Stripe, changes)."""

DEFAULT_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def build_assets(
    catalog: Catalog,
    retry_policy: dg.RetryPolicy = DEFAULT_RETRY_POLICY,
    translator: StripeReportsTranslator | None = None,
) -> list[dg.AssetsDefinition]:
    """One asset per entry of ``catalog``."""
    translator = translator or StripeReportsTranslator()
    return [build_asset(source, retry_policy, translator) for source in catalog.sources]


def build_asset(
    source: Source,
    retry_policy: dg.RetryPolicy = DEFAULT_RETRY_POLICY,
    translator: StripeReportsTranslator | None = None,
) -> dg.AssetsDefinition:
    """The asset that lands ``source``'s daily partitions in its warehouse table."""
    translator = translator or StripeReportsTranslator()
    spec = translator.get_asset_spec(source)
    with warnings.catch_warnings():
        # Ranged backfills are the point of this project; Dagster still labels backfill_policy beta.
        warnings.simplefilter("ignore", dg.BetaWarning)

        @dg.multi_asset(
            name=spec.key.to_python_identifier(),
            specs=[spec],
            check_specs=translator.get_check_specs(source),
            partitions_def=spec.partitions_def,
            # A backfill becomes ranged runs of up to a month; inside, one Stripe job per chunk of
            # `max_days_per_run` days (or per day, for sources that cannot be split).
            backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_DAYS_PER_RUN),
            retry_policy=retry_policy,
            pool=STRIPE_POOL,
        )
        def _asset(
            context: dg.AssetExecutionContext, stripe: StripeResource, warehouse: WarehouseResource
        ) -> Iterator[dg.AssetMaterialization | dg.AssetCheckResult]:
            yield from _materialize(context, source, spec.key, stripe, warehouse)

    return _asset


def _materialize(
    context: dg.AssetExecutionContext,
    source: Source,
    key: dg.AssetKey,
    stripe: StripeResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.AssetMaterialization | dg.AssetCheckResult]:
    landed: list[LandedChunk] = []
    early_reasons: list[str] = []
    try:
        partitions = resolve(context.assets_def.partitions_def, run_partition_keys(context, source))  # type: ignore[arg-type]
        with (
            warehouse.open() as wh,
            stripe.session() as session,
            run_workdir() as workdir,
        ):
            probe = FreshnessProbe(session)
            landing = Landing(
                source,
                session,
                wh,
                probe=probe,
                idempotency_scope=f"{context.run.run_id}:{context.retry_number}",
                workdir=workdir,
                log=context.log,
            )
            for _, account_partitions in groupby(partitions, key=lambda p: p.account):
                group = list(account_partitions)
                readiness = probe.readiness(source, group)
                if readiness.unavailable:
                    # Not a failure: no later run could load these, and the backfill's other days land.
                    context.log.warning(readiness.unavailable_reason())
                    yield from skipped_observations(key, readiness)
                if readiness.early:
                    early_reasons.append(readiness.early_reason())
                    context.log.warning(readiness.early_reason())
                freshness = probe.freshness(source, group[0].account)
                size = source.max_days_per_run if source.splittable else 1
                with closing(landing.land_all(list(chunks(readiness.ready, size)), freshness)) as results:
                    while True:
                        try:
                            result = next(results, None)
                        except Exception as error:
                            yield from refused_results(source, key, error)
                            raise
                        if result is None:
                            break
                        landed.append(result)
                        yield from _materializations(key, result, wh)
            if landed:
                yield from loaded_results(source, key, landed, wh)
                yield closed_period_result(source, key, wh)
    except Exception as error:
        if is_retryable(error):
            raise
        # The run says so too, for the UI's run filters and the failure alerts; the freshness sensor
        # reads the step's own metadata, which also names the definition that failed.
        context.instance.add_run_tags(context.run.run_id, {PERMANENT_FAILURE_TAG: "permanent"})
        raise _failure(source, error) from error
    if early_reasons:
        raise dg.Failure(
            description=" ".join(early_reasons),
            metadata={"loaded_partitions": sum(len(c.partitions) for c in landed)},
            allow_retries=False,
        )


def _materializations(
    key: dg.AssetKey, result: LandedChunk, wh: Warehouse
) -> Iterator[dg.AssetMaterialization]:
    """One materialization per partition the chunk landed, with its rows, lineage and preview."""
    for partition in result.partitions:
        yield dg.AssetMaterialization(
            asset_key=key,
            partition=partition.partition_key,
            metadata=partition_metadata(result, partition, wh, preview(wh, result.source.table, partition)),
        )


def _failure(source: Source, error: Exception) -> dg.Failure:
    """A failure Dagster will not retry, naming the entry and what Stripe (or the file) said."""
    metadata: dict[str, str | bool] = {
        "error_type": type(error).__name__,
        RETRYABLE_METADATA: False,
        DEFINITION_METADATA: source.definition_hash,
    }
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
    if source.origin:
        metadata["catalogue_entry"] = source.origin
        description = f"{description} [stripe/{source.name}, defined in {source.origin}]"
    return dg.Failure(description=description, metadata=metadata, allow_retries=False)
