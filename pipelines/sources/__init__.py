"""Source kinds: what a catalogue entry is at Stripe, one class per kind.

    Source          the shared base: name, table, calendar, load settings, owners and tags
    ReportSource    a Reporting API report template (report runs, data_available_end)
    SigmaSource     a Sigma query in sql/ (query runs or a saved query, data_load_time)

A new kind is one new subclass: the landing, asset factory, checks and automation take any.
"""

from pipelines.sources.base import ConnectMode, JobRequest, Source
from pipelines.sources.report import ReportSource
from pipelines.sources.sigma_query import SigmaSource

__all__ = ["ConnectMode", "JobRequest", "ReportSource", "SigmaSource", "Source"]
