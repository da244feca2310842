"""The Reporting API's engine side: Stripe's report types, their parameters, and a run's CSV.

:mod:`.types` is the registry of report types (ids, parameters, columns, defaults);
:mod:`.validation` checks a run's parameters as Stripe does; :mod:`.compute` builds the ledger
the reports read and writes a run's CSV.
"""

from stripe_emulator.reports.compute import install, run_report
from stripe_emulator.reports.types import (
    PAYOUT_CATEGORIES,
    REPORT_TYPES,
    REPORTING_CATEGORIES,
    ReportParameterError,
    ReportRequest,
    ReportType,
    ReportTypeSpec,
    UnknownReportType,
    newest_versions,
)
from stripe_emulator.reports.validation import PayoutLookup, validate

__all__ = [
    "PAYOUT_CATEGORIES",
    "REPORTING_CATEGORIES",
    "REPORT_TYPES",
    "PayoutLookup",
    "ReportParameterError",
    "ReportRequest",
    "ReportType",
    "ReportTypeSpec",
    "UnknownReportType",
    "install",
    "newest_versions",
    "run_report",
    "validate",
]
