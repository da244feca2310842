"""Stripe's report types: their ids, parameters, columns and default columns, and run requests.

Report types are Stripe's side of the contract: ids, names, the parameters each accepts and
requires, every column it can produce and the default set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from stripe_emulator.datagen import RAW_SCHEMA

PAYOUT_CATEGORIES = ("payout", "payout_reversal")
# fmt: off
REPORTING_CATEGORIES = frozenset({
    "advance", "advance_funding", "anticipation_repayment", "charge", "charge_failure",
    "connect_collection_transfer", "connect_reserved_funds", "contribution", "dispute", "dispute_reversal",
    "fee", "financing_paydown", "financing_paydown_reversal", "financing_payout", "financing_payout_reversal",
    "issuing_authorization_hold", "issuing_authorization_release", "issuing_dispute", "issuing_transaction",
    "network_cost", "obligation", "other_adjustment", "partial_capture_reversal", "payout", "payout_reversal",
    "platform_earning", "platform_earning_refund", "refund", "refund_failure", "risk_reserved_funds", "tax",
    "topup", "topup_reversal", "transfer", "transfer_reversal",
})
# fmt: on
LEDGER = f"{RAW_SCHEMA}.report_ledger"
"""The table the reports read: every balance transaction with what it refers to."""
METADATA_COLUMN = re.compile(r"^(payment|refund|transfer)_metadata\[[^\[\]\"]{1,40}\]$")


class ReportParameterError(ValueError):
    """A report run's parameters are invalid (Stripe answers 400); ``param`` names the culprit."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class UnknownReportType(LookupError):
    """No report type has this id (Stripe answers 404)."""

    def __init__(self, report_type: str) -> None:
        super().__init__(f"No such report type: '{report_type}'")
        self.report_type = report_type


@dataclass(frozen=True)
class ReportType:
    """A report type as the API shows it, with the data currently available for it."""

    id: str
    name: str
    version: int
    data_available_start: datetime
    data_available_end: datetime
    default_columns: list[str] | None
    parameters: frozenset[str]
    required: frozenset[str]


@dataclass(frozen=True)
class ReportTypeSpec:
    """The fixed description of a report type: what it computes, accepts and can show."""

    id: str
    name: str
    kind: str  # balance | activity | payouts | reconciliation | ending | by_payout
    summary: bool
    connect: bool
    columns: tuple[str, ...]
    default_columns: tuple[str, ...]
    parameters: frozenset[str]
    required: frozenset[str]

    @property
    def version(self) -> int:
        """The number at the end of the id."""
        return int(self.id.rsplit(".", 1)[1])

    def accepts_column(self, column: str) -> bool:
        """Whether ``parameters[columns]`` may name ``column``."""
        return column in self.columns or (not self.summary and bool(METADATA_COLUMN.match(column)))


@dataclass(frozen=True)
class ReportRequest:
    """Validated parameters of one run, ready to compute."""

    spec: ReportTypeSpec
    interval_start: datetime | None
    interval_end: datetime
    timezone: str
    currency: str | None
    reporting_category: str | None
    columns: tuple[str, ...]
    accounts: tuple[str, ...]
    decimal_separator: str
    payout: str | None = None
    """The payout a ``payout_reconciliation.by_id`` run itemizes."""


# ----------------------------------------------------------------------------------------------
# The registry

# fmt: off
ADDRESS_PARTS = ("line1", "line2", "city", "state", "postal_code", "country")  # of every address column
_CUSTOMER_COLUMNS = (
    "customer_id", "customer_email", "customer_name", "customer_description",
    *(f"customer_shipping_address_{part}" for part in ADDRESS_PARTS),
    *(f"customer_address_{part}" for part in ADDRESS_PARTS),
    *(f"shipping_address_{part}" for part in ADDRESS_PARTS),
    *(f"card_address_{part}" for part in ADDRESS_PARTS),
)
_PAYMENT_COLUMNS = (
    "charge_id", "payment_intent_id", "charge_created_utc", "charge_created", "invoice_id", "invoice_number",
    "subscription_id", "payment_method_type", "is_link", "card_brand", "card_funding", "card_country",
    "statement_descriptor", "dispute_reason", "connected_account_id", "connected_account_name",
    "connected_account_country", "connected_account_direct_charge_id",
)
_TRANSACTION_COLUMNS = (
    "balance_transaction_id", "created_utc", "created", "available_on_utc", "available_on", "currency",
    "gross", "fee", "net", "reporting_category", "source_id", "description", "customer_facing_amount",
    "customer_facing_currency", "regulatory_tag",
)
_AUTOMATIC_PAYOUT = (
    "automatic_payout_id", "automatic_payout_effective_at_utc", "automatic_payout_effective_at",
)

_ACTIVITY_COLUMNS = (*_TRANSACTION_COLUMNS, *_AUTOMATIC_PAYOUT, *_CUSTOMER_COLUMNS, *_PAYMENT_COLUMNS)
_ACTIVITY_DEFAULT = (
    "balance_transaction_id", "created_utc", "created", "available_on_utc", "available_on", "currency",
    "gross", "fee", "net", "reporting_category", "source_id", "description", "customer_facing_amount",
    "customer_facing_currency", "automatic_payout_id", "automatic_payout_effective_at_utc",
    "automatic_payout_effective_at", "customer_id", "customer_email", "charge_id", "payment_intent_id",
    "invoice_id", "subscription_id", "payment_method_type", "card_brand", "card_country",
)
_PAYOUT_COLUMNS = (
    "payout_id", "effective_at_utc", "effective_at", "currency", "gross", "fee", "net", "reporting_category",
    "description", "payout_expected_arrival_date", "payout_status", "payout_reversed_at_utc",
    "payout_reversed_at", "payout_type", "payout_description", "payout_destination_id",
    "balance_transaction_id", "created_utc", "created", "available_on_utc", "available_on", "trace_id",
    "trace_id_status",
)
_PAYOUT_DEFAULT = (
    "payout_id", "effective_at_utc", "effective_at", "currency", "gross", "fee", "net", "reporting_category",
    "description", "payout_expected_arrival_date", "payout_status", "payout_type", "payout_destination_id",
)
_RECONCILIATION_COLUMNS = (
    *_AUTOMATIC_PAYOUT, *_TRANSACTION_COLUMNS, *_CUSTOMER_COLUMNS, *_PAYMENT_COLUMNS,
    "destination_payment_id", "trace_id", "trace_id_status",
)
_RECONCILIATION_DEFAULT = (
    *_AUTOMATIC_PAYOUT,
    "balance_transaction_id", "created_utc", "created", "available_on_utc", "currency", "gross", "fee", "net",
    "reporting_category", "source_id", "description", "customer_id", "charge_id", "payment_intent_id",
)
_ENDING_COLUMNS = (*_TRANSACTION_COLUMNS, *_CUSTOMER_COLUMNS, *_PAYMENT_COLUMNS)
_ENDING_DEFAULT = (
    "balance_transaction_id", "created_utc", "created", "available_on_utc", "currency", "gross", "fee", "net",
    "reporting_category", "source_id", "description", "customer_id", "charge_id", "payment_intent_id",
)
_BALANCE_COLUMNS = ("category", "currency", "description", "net_amount")
_SUMMARY_COLUMNS = ("reporting_category", "currency", "count", "gross", "fee", "net")

_RANGE = frozenset({"interval_start", "interval_end"})
_END = frozenset({"interval_end"})
_PAYOUT = frozenset({"payout"})
_ITEMIZED_OPTIONS = {"timezone", "currency", "reporting_category", "decimal_separator", "columns"}

# (id, name, kind, summary, columns, default columns, required, optional)
_TypeRow = tuple[str, str, str, bool, tuple[str, ...], tuple[str, ...], frozenset[str], set[str]]
_PLATFORM_TYPES: tuple[_TypeRow, ...] = (
    ("balance.summary.1", "Balance summary", "balance", True,
     _BALANCE_COLUMNS, _BALANCE_COLUMNS, _RANGE, {"timezone", "currency", "columns"}),
    ("balance_change_from_activity.summary.1", "Balance change from activity summary", "activity", True,
     _SUMMARY_COLUMNS, _SUMMARY_COLUMNS, _RANGE, {"timezone", "currency", "columns"}),
    ("balance_change_from_activity.itemized.3", "Itemized balance change from activity", "activity", False,
     _ACTIVITY_COLUMNS, _ACTIVITY_DEFAULT, _RANGE, _ITEMIZED_OPTIONS),
    ("payouts.summary.1", "Payouts summary", "payouts", True,
     _SUMMARY_COLUMNS, _SUMMARY_COLUMNS, _RANGE, {"currency", "columns"}),
    ("payouts.itemized.3", "Itemized payouts", "payouts", False,
     _PAYOUT_COLUMNS, _PAYOUT_DEFAULT, _RANGE, _ITEMIZED_OPTIONS),
    ("payout_reconciliation.summary.1", "Payout reconciliation summary", "reconciliation", True,
     _SUMMARY_COLUMNS, _SUMMARY_COLUMNS, _RANGE, {"timezone", "currency", "columns"}),
    ("payout_reconciliation.itemized.5", "Itemized payout reconciliation", "reconciliation", False,
     _RECONCILIATION_COLUMNS, _RECONCILIATION_DEFAULT, _RANGE, _ITEMIZED_OPTIONS),
    ("ending_balance_reconciliation.summary.1", "Ending balance reconciliation summary", "ending", True,
     _SUMMARY_COLUMNS, _SUMMARY_COLUMNS, _END, {"timezone", "currency", "columns"}),
    ("ending_balance_reconciliation.itemized.4", "Itemized ending balance reconciliation", "ending", False,
     _ENDING_COLUMNS, _ENDING_DEFAULT, _END, _ITEMIZED_OPTIONS),
)
# The transactions one automatic payout settled (docs.stripe.com/reports/payout-reconciliation):
# parameters[payout] instead of an interval. No connected-account variants.
_BY_PAYOUT_TYPES: tuple[_TypeRow, ...] = (
    ("payout_reconciliation.by_id.summary.1", "Payout reconciliation summary for a payout", "by_payout", True,
     _SUMMARY_COLUMNS, _SUMMARY_COLUMNS, _PAYOUT, {"columns"}),
    ("payout_reconciliation.by_id.itemized.4", "Itemized payout reconciliation for a payout", "by_payout",
     False,
     _RECONCILIATION_COLUMNS, _RECONCILIATION_DEFAULT, _PAYOUT,
     {"reporting_category", "timezone", "decimal_separator", "columns"}),
)
# fmt: on


def _registry() -> dict[str, ReportTypeSpec]:
    specs: dict[str, ReportTypeSpec] = {}
    for type_id, name, kind, summary, columns, default, required, optional in _BY_PAYOUT_TYPES:
        specs[type_id] = ReportTypeSpec(
            id=type_id,
            name=name,
            kind=kind,
            summary=summary,
            connect=False,
            columns=columns,
            default_columns=default,
            parameters=frozenset(required | optional),
            required=required,
        )
    for type_id, name, kind, summary, columns, default, required, optional in _PLATFORM_TYPES:
        specs[type_id] = ReportTypeSpec(
            id=type_id,
            name=name,
            kind=kind,
            summary=summary,
            connect=False,
            columns=columns,
            default_columns=default,
            parameters=frozenset(required | optional),
            required=required,
        )
        # Connect platforms: the same report over their connected accounts' balances.
        connect_id = f"connected_account_{type_id}"
        specs[connect_id] = ReportTypeSpec(
            id=connect_id,
            name=f"Connected account {name[0].lower()}{name[1:]}",
            kind=kind,
            summary=summary,
            connect=True,
            columns=("connected_account", *columns),
            default_columns=("connected_account", *default),
            parameters=frozenset(required | optional | {"connected_account", "connected_accounts"}),
            required=required,
        )
    return specs


REPORT_TYPES: dict[str, ReportTypeSpec] = _registry()


def newest_versions() -> dict[str, ReportTypeSpec]:
    """The newest version of each report type, by its id without the version suffix.

    The Data API v2 names reports that way (``payouts.itemized`` runs ``payouts.itemized.3``).
    """
    newest: dict[str, ReportTypeSpec] = {}
    for spec in REPORT_TYPES.values():
        name = spec.id.rsplit(".", 1)[0]
        if name not in newest or spec.version > newest[name].version:
            newest[name] = spec
    return newest
