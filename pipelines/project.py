"""Assembling the Dagster definitions from the catalogue, and resources from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from pipelines.alerts import build_failure_alert_sensor
from pipelines.assets import DEFAULT_RETRY_POLICY, build_assets
from pipelines.automation import (
    Target,
    build_accounts_sensor,
    build_daily_schedules,
    build_freshness_sensor,
    build_payouts_sensor,
    build_reconciliation_schedule,
    build_settling_sensor,
)
from pipelines.catalog import Catalog
from pipelines.checks import reconciliation_checks
from pipelines.close import build_close_month_job
from pipelines.event_sensor import build_event_sensor
from pipelines.freshness_policies import build_freshness_checks, build_freshness_checks_sensor
from pipelines.monthly import monthly_checks
from pipelines.mrr import continuity_checks
from pipelines.resources import DEFAULT_WAREHOUSE_URL, StripeResource, WarehouseResource
from pipelines.sources.payout_report import PAYOUTS_SENSOR
from pipelines.stripe.client import DEFAULT_API_BASE, DEFAULT_FILES_BASE
from pipelines.stripe.session import DEFAULT_JOBS_IN_FLIGHT, parse_jobs_in_flight
from pipelines.translator import StripeReportsTranslator


def resources_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The Stripe and warehouse resources, configured by environment variables.

    ``STRIPE_API_KEY`` (required at run time) and ``WAREHOUSE_URL`` (optional; may hold a password)
    stay ``EnvVar``s so their values never reach the UI; base URLs are plain settings.
    """
    return {
        "stripe": StripeResource(
            api_key=dg.EnvVar("STRIPE_API_KEY"),
            api_base=environ.get("STRIPE_API_BASE", DEFAULT_API_BASE),
            files_base=environ.get("STRIPE_FILES_BASE", environ.get("STRIPE_API_BASE", DEFAULT_FILES_BASE)),
            rate_limit_dir=environ.get("STRIPE_RATE_LIMIT_DIR") or None,
            jobs_in_flight=_jobs_in_flight(environ),
        ),
        "warehouse": WarehouseResource(
            url=dg.EnvVar("WAREHOUSE_URL") if environ.get("WAREHOUSE_URL") else DEFAULT_WAREHOUSE_URL,
            schema_name=environ.get("WAREHOUSE_SCHEMA", "stripe"),
        ),
    }


def _jobs_in_flight(environ: Mapping[str, str]) -> int:
    text = environ.get("STRIPE_JOBS_IN_FLIGHT", "").strip()
    return parse_jobs_in_flight(text, "STRIPE_JOBS_IN_FLIGHT") if text else DEFAULT_JOBS_IN_FLIGHT


def build_definitions(
    catalog: Catalog,
    resources: Mapping[str, Any],
    *,
    retry_policy: dg.RetryPolicy = DEFAULT_RETRY_POLICY,
    sensor_interval_seconds: int = 600,
    translator: StripeReportsTranslator | None = None,
) -> dg.Definitions:
    """Assets, checks, sensors, schedules and jobs for every entry of ``catalog``.

    ``translator`` decides how entries look in Dagster (keys, groups, tags...); subclass
    :class:`~pipelines.translator.StripeReportsTranslator` to change it.
    """
    translator = translator or StripeReportsTranslator()
    assets = build_assets(catalog, retry_policy, translator)
    targets = [Target(source, asset) for source, asset in zip(catalog.sources, assets, strict=True)]

    checks = reconciliation_checks(catalog, translator.get_asset_key)
    # A monthly summary against its days: another cross-asset check, run with the reconciliation.
    checks += monthly_checks(catalog, translator)
    by_sensor: dict[str, list[Target]] = {}
    for target in targets:
        by_sensor.setdefault(target.source.freshness_sensor, []).append(target)
    sensors = [
        build_payouts_sensor(group, minimum_interval_seconds=sensor_interval_seconds)
        if name == PAYOUTS_SENSOR
        else build_freshness_sensor(name, group, minimum_interval_seconds=sensor_interval_seconds)
        for name, group in by_sensor.items()
    ]
    if any(t.source.per_account for t in targets):
        sensors.append(build_accounts_sensor())
    sensors.append(build_settling_sensor(targets, minimum_interval_seconds=sensor_interval_seconds))
    sensors.append(build_event_sensor(targets))
    freshness_checks = build_freshness_checks([(t.source, t.asset) for t in targets])
    if freshness_checks:
        sensors.append(build_freshness_checks_sensor(freshness_checks))
    alerts = build_failure_alert_sensor()
    if alerts is not None:
        sensors.append(alerts)
    schedules: list[dg.ScheduleDefinition] = build_daily_schedules(targets)
    jobs = [build_close_month_job(catalog, [t.key for t in targets])]
    if checks:
        job, schedule = build_reconciliation_schedule(checks)
        jobs.append(job)
        schedules.append(schedule)
    return dg.Definitions(
        assets=assets,
        asset_checks=[*checks, *continuity_checks(catalog, translator), *freshness_checks],
        sensors=sensors,
        schedules=schedules,
        jobs=jobs,
        resources=dict(resources),
    )
