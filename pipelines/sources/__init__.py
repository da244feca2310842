"""Source kinds: what a catalogue entry is at Stripe, one class per kind.

    Source          the shared base: name, table, calendar, load settings, owners and tags
    ReportSource    a Reporting API report template (report runs, data_available_end)
    SigmaSource     a Sigma query in sql/ (query runs or a saved query, data_load_time)
    DataQuerySource   a sql/ query on Stripe's /v2/data Queries API (api: v2)
    DataReportSource  a report template on Stripe's /v2/data Reports API (api: v2)
    PayoutReportSource  a per-payout report template (parameters[payout]), one partition per payout

A new kind is one new subclass: the landing, asset factory, checks and automation take any.
"""

from pipelines.sources.base import ConnectMode, JobRequest, Source, StripeRun
from pipelines.sources.data_api import DataQuerySource, DataReportSource
from pipelines.sources.payout_report import PayoutReportSource
from pipelines.sources.report import ReportSource
from pipelines.sources.sigma_query import SigmaSource

__all__ = [
    "ConnectMode",
    "DataQuerySource",
    "DataReportSource",
    "JobRequest",
    "PayoutReportSource",
    "ReportSource",
    "SigmaSource",
    "Source",
    "StripeRun",
]
