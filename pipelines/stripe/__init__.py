"""A Stripe API client for the pipelines: Sigma query runs, Reporting API runs, saved queries, files.

Built on one ``httpx.Client`` per :class:`StripeClient`; every Stripe-specific convention (auth,
form encoding, idempotency keys, retries, error mapping) is handled there, and the runners on top
turn "create a job, wait for it, fetch its file" into single calls.
"""

from pipelines.stripe.client import StripeClient
from pipelines.stripe.clock import Clock, SystemClock
from pipelines.stripe.files import DownloadedFile, FileDownloader
from pipelines.stripe.polling import PollPolicy
from pipelines.stripe.reporting import ReportRunner, ReportType
from pipelines.stripe.retries import Backoff
from pipelines.stripe.runs import FinishedRun
from pipelines.stripe.saved_queries import Change, SavedQueries, SavedQuery
from pipelines.stripe.session import StripeSession, StripeSettings, open_session
from pipelines.stripe.sigma import SigmaRunner

__all__ = [
    "Backoff",
    "Change",
    "Clock",
    "DownloadedFile",
    "FileDownloader",
    "FinishedRun",
    "PollPolicy",
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
