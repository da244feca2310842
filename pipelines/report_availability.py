"""Partitions Stripe can report on: report entries start no earlier than Stripe's data.

Each report type has a ``data_available_start``; Stripe refuses a window before it (a 400). When the
definitions load with a key set, one listing of report types (``GET /v1/reporting/report_types``)
moves each report entry's first partition to the first day (or month) Stripe can report on, so the
UI never offers one it cannot. Runs check the same again (the partitions of a ranged run before it
are skipped with Stripe's date), since the definitions may be older than the data. Offline, nothing
moves and a note says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pipelines.catalog import Catalog
from pipelines.sources import DataReportSource, PayoutReportSource, ReportSource, Source
from pipelines.stripe import StripeSettings, open_session
from pipelines.stripe.errors import StripeError
from pipelines.timestamps import iso_utc


def first_reportable(source: ReportSource, available_start: datetime) -> date:
    """The first partition's date (a day, or a month's first day) of ``source`` that Stripe can report
    on when its data starts at ``available_start``: a range must start at or after it, a snapshot
    (``interval: end``) end after it."""
    zone = ZoneInfo(source.timezone)
    local = available_start.astimezone(zone)
    day = local.date()
    if source.period == "month":
        month = day.replace(day=1)
        if source.interval == "end" or _midnight(month, zone) >= available_start:
            return month
        return (month + timedelta(days=32)).replace(day=1)
    if source.interval == "end" or _midnight(day, zone) >= available_start:
        return day
    return day + timedelta(days=1)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def start_at_stripe_data(
    catalog: Catalog, available_starts: Mapping[str, datetime]
) -> tuple[Catalog, list[str]]:
    """``catalog`` with each v1 report entry's ``start_date`` moved up to its report type's first
    reportable partition (``available_starts``: report type → ``data_available_start``), and a line
    per entry moved."""
    sources: list[Source] = []
    moved: list[str] = []
    for source in catalog.sources:
        if isinstance(source, ReportSource) and _movable(source):
            start = available_starts.get(source.report_type)
            first = first_reportable(source, start) if start is not None else source.start_date
            if start is not None and first > source.start_date:
                moved.append(
                    f"{source.name} starts at {first.isoformat()}, not {source.start_date.isoformat()}: "
                    f"Stripe's {source.report_type} has data from {iso_utc(start)}"
                )
                source = replace(source, start_date=first)
        sources.append(source)
    return replace(catalog, sources=tuple(sources)), moved


def _movable(source: Source) -> bool:
    # v2 reports have no report type listing; payouts are not days; connected accounts each have
    # their own data, read at run time.
    return (
        isinstance(source, ReportSource)
        and not isinstance(source, DataReportSource | PayoutReportSource)
        and not source.per_account
    )


def apply_stripe_data_start(
    catalog: Catalog,
    settings: StripeSettings | None,
    *,
    recorded: Mapping[str, datetime] | None = None,
) -> tuple[Catalog, dict[str, datetime] | None, str]:
    """:func:`start_at_stripe_data` with Stripe's ``data_available_start`` per report type: the
    moved catalogue, the starts it used (to record for a rebuild) and a note of what moved.

    ``recorded``: starts read when these definitions were first built (a run process rebuilding
    them), used without asking Stripe. Otherwise one listing of report types is read; without a
    key, or when Stripe cannot be read, the catalogue as it is, None and a note saying why."""
    if recorded is not None:
        starts: dict[str, datetime] = dict(recorded)
    elif settings is None:
        return catalog, None, "report start dates not checked against Stripe's data: no STRIPE_API_KEY"
    elif not any(_movable(s) for s in catalog.sources):
        return catalog, {}, "no report entry to check against Stripe's data_available_start"
    else:
        try:
            retries_off = replace(settings, max_network_retries=0, request_timeout_seconds=3.0)
            with open_session(retries_off) as session:
                starts = {t.id: t.data_available_start for t in session.reports.report_types()}
        except StripeError as error:
            return (
                catalog,
                None,
                f"report start dates not checked against Stripe's data: Stripe could not be read ({error})",
            )
    moved_catalog, moved = start_at_stripe_data(catalog, starts)
    if not moved:
        return catalog, starts, "every report entry starts within Stripe's data"
    return moved_catalog, starts, "report entries moved to Stripe's data_available_start: " + "; ".join(moved)
