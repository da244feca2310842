"""A Stripe API client for the pipelines: Sigma query runs, Reporting API runs, saved queries, files,
and the Data API (``/v2/data``: query runs, report runs, reports, schemas).

Built on one ``httpx.Client`` per :class:`StripeClient`; every Stripe-specific convention (auth,
form or JSON encoding, idempotency keys, retries, error mapping) is handled there, and the runners
on top turn "create a job, wait for it, fetch its file" into single calls.
"""

from pipelines.stripe.client import DEFAULT_DATA_API_VERSION, StripeClient
from pipelines.stripe.clock import Clock, SystemClock
from pipelines.stripe.data_api import DataQueryRunner, DataReportRunner, DataReports, DataSchemas
from pipelines.stripe.data_objects import DataReport, DataRun, DataSchema, ReportParameter
from pipelines.stripe.files import DownloadedFile, DownloadSource, FileDownloader, IncompleteDownload
from pipelines.stripe.polling import PollPolicy
from pipelines.stripe.reporting import ReportRunner, ReportType
from pipelines.stripe.retries import Backoff
from pipelines.stripe.runs import FinishedRun
from pipelines.stripe.saved_queries import Change, SavedQueries, SavedQuery
from pipelines.stripe.session import StripeSession, StripeSettings, open_session
from pipelines.stripe.sigma import SigmaRunner

__all__ = [
    "DEFAULT_DATA_API_VERSION",
    "Backoff",
    "Change",
    "Clock",
    "DataQueryRunner",
    "DataReport",
    "DataReportRunner",
    "DataReports",
    "DataRun",
    "DataSchema",
    "DataSchemas",
    "DownloadSource",
    "DownloadedFile",
    "FileDownloader",
    "FinishedRun",
    "IncompleteDownload",
    "PollPolicy",
    "ReportParameter",
    "ReportRunner",
    "ReportType",
    "SavedQueries",
    "SavedQuery",
    "SigmaRunner",
    "StripeClient",
    "StripeSession",
    "StripeSettings",
    "SystemClock",
    "open_session",
]
