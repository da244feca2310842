"""The Reporting API: Stripe's report types, their parameters, and computing a run's CSV.

Report types are Stripe's side of the contract: ids, names, the parameters each accepts and
requires, every column it can produce and the default set. A run is one DuckDB query over a
ledger of balance transactions (joined once, at start, with the customers, charges, invoices,
disputes and payouts they refer to), written with ``COPY``.

Money is shown in major units with the currency's own number of decimals (``12.34`` USD, ``1234``
JPY); ``*_utc`` times are UTC and the other time columns are in the run's ``timezone``.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from stripe_emulator.datagen import RAW_SCHEMA
from stripe_emulator.timestamps import from_unix, naive_utc, unix

__all__ = [
    "REPORT_TYPES",
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
_LEDGER = f"{RAW_SCHEMA}.report_ledger"
_METADATA_COLUMN = re.compile(r"^(payment|refund|transfer)_metadata\[[^\[\]\"]{1,40}\]$")


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
    kind: str  # balance | activity | payouts | reconciliation | ending
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
        return column in self.columns or (not self.summary and bool(_METADATA_COLUMN.match(column)))


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


# ----------------------------------------------------------------------------------------------
# The registry

# fmt: off
_ADDRESS_PARTS = ("line1", "line2", "city", "state", "postal_code", "country")
_CUSTOMER_COLUMNS = (
    "customer_id", "customer_email", "customer_name", "customer_description",
    *(f"customer_shipping_address_{part}" for part in _ADDRESS_PARTS),
    *(f"customer_address_{part}" for part in _ADDRESS_PARTS),
    *(f"shipping_address_{part}" for part in _ADDRESS_PARTS),
    *(f"card_address_{part}" for part in _ADDRESS_PARTS),
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
# fmt: on


def _registry() -> dict[str, ReportTypeSpec]:
    specs: dict[str, ReportTypeSpec] = {}
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


# ----------------------------------------------------------------------------------------------
# Validation


def validate(
    report_type: str,
    parameters: Mapping[str, Any],
    *,
    account: str | None,
    platform: str,
    connected_accounts: Iterable[str],
    data_available_start: datetime,
    data_available_end: datetime,
) -> ReportRequest:
    """Check a run's parameters like Stripe does, and resolve them for :func:`run_report`.

    ``account`` is the account the run is made as (a connected account id, or None for the
    platform, whose id is ``platform``); ``connected_accounts`` are the platform's connected accounts.
    """
    spec = REPORT_TYPES.get(report_type)
    if spec is None:
        raise UnknownReportType(report_type)
    known = set(connected_accounts)
    for name in parameters:
        if name not in spec.parameters:
            raise ReportParameterError(
                f"Received unknown parameter: parameters[{name}]", f"parameters[{name}]"
            )
    for name in sorted(spec.required):
        if parameters.get(name) is None:
            raise ReportParameterError(
                f"Missing required param: parameters[{name}] (report type {spec.id} requires it).",
                f"parameters[{name}]",
            )
    if spec.connect and account is not None:
        raise ReportParameterError(
            f"The report type {spec.id} describes a platform's connected accounts; run it as the platform, "
            "without a Stripe-Account header.",
            "report_type",
        )

    available_start = unix(data_available_start)
    available_end = unix(data_available_end)
    end = _integer(parameters, "interval_end")
    start: int | None = None
    if "interval_start" in spec.required:
        start = _integer(parameters, "interval_start")
        if start < available_start:
            raise ReportParameterError(
                "parameters[interval_start] must be at least data_available_start "
                f"({available_start}) for report "
                f"type {spec.id}; got {start}.",
                "parameters[interval_start]",
            )
        if start >= end:
            raise ReportParameterError(
                f"parameters[interval_start] ({start}) must be before parameters[interval_end] ({end}).",
                "parameters[interval_start]",
            )
    elif end <= available_start:
        raise ReportParameterError(
            "parameters[interval_end] must be after data_available_start "
            f"({available_start}) for report type "
            f"{spec.id}; got {end}.",
            "parameters[interval_end]",
        )
    if end > available_end:
        raise ReportParameterError(
            f"parameters[interval_end] must be at most data_available_end ({available_end}) for report type "
            f"{spec.id}; got {end}. Data for later times is not available yet.",
            "parameters[interval_end]",
        )

    timezone = _string(parameters, "timezone") or "Etc/UTC"
    if timezone not in _timezones():
        raise ReportParameterError(
            f"Invalid timezone: {timezone!r} is not an IANA time zone name.", "parameters[timezone]"
        )
    currency = _string(parameters, "currency")
    if currency is not None:
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise ReportParameterError(f"Invalid currency: {currency}", "parameters[currency]")
        currency = currency.lower()
    category = _string(parameters, "reporting_category")
    if category is not None and category not in REPORTING_CATEGORIES:
        raise ReportParameterError(
            "Invalid reporting_category: "
            f"{category!r}. It must be one of {', '.join(sorted(REPORTING_CATEGORIES))}.",
            "parameters[reporting_category]",
        )
    separator = _string(parameters, "decimal_separator") or "."
    if separator not in {".", ","}:
        raise ReportParameterError(
            "parameters[decimal_separator] must be '.' or ','.", "parameters[decimal_separator]"
        )
    columns = _columns(spec, parameters.get("columns"))

    if spec.connect:
        chosen: list[str] = []
        single = _string(parameters, "connected_account")
        if single is not None:
            chosen.append(single)
        listed = parameters.get("connected_accounts")
        if listed is not None:
            if isinstance(listed, str) or not isinstance(listed, Sequence):
                raise ReportParameterError(
                    "parameters[connected_accounts] must be a list of account ids.",
                    "parameters[connected_accounts]",
                )
            chosen.extend(str(item) for item in listed)
        for item in chosen:
            if item not in known:
                param = (
                    "parameters[connected_account]" if item == single else "parameters[connected_accounts]"
                )
                raise ReportParameterError(f"No such connected account: '{item}'", param)
        accounts = tuple(dict.fromkeys(chosen)) if chosen else tuple(sorted(known))
    else:
        accounts = (account if account is not None else platform,)

    return ReportRequest(
        spec=spec,
        interval_start=from_unix(start) if start is not None else None,
        interval_end=from_unix(end),
        timezone=timezone,
        currency=currency,
        reporting_category=category,
        columns=columns,
        accounts=accounts,
        decimal_separator=separator,
    )


def _integer(parameters: Mapping[str, Any], name: str) -> int:
    value = parameters.get(name)
    if isinstance(value, bool):
        raise ReportParameterError(f"Invalid integer: {value}", f"parameters[{name}]")
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ReportParameterError(f"Invalid integer: {value}", f"parameters[{name}]") from error


def _string(parameters: Mapping[str, Any], name: str) -> str | None:
    value = parameters.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ReportParameterError(f"Invalid string: {value!r}", f"parameters[{name}]")
    return value


def _columns(spec: ReportTypeSpec, value: Any) -> tuple[str, ...]:
    if value is None:
        return spec.default_columns
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ReportParameterError(
            "parameters[columns] must be a non-empty list of column names.", "parameters[columns]"
        )
    columns = tuple(str(column) for column in value)
    unknown = [column for column in columns if not spec.accepts_column(column)]
    if unknown:
        raise ReportParameterError(
            f"Invalid column(s) for report type {spec.id}: {', '.join(unknown)}. "
            f"Valid columns are: {', '.join(spec.columns)}.",
            "parameters[columns]",
        )
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise ReportParameterError(
            f"Columns requested more than once: {', '.join(repeated)}.", "parameters[columns]"
        )
    return columns


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC", "Etc/UTC"}


# ----------------------------------------------------------------------------------------------
# Computing


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Build the ledger the reports read: every balance transaction with what it refers to."""
    customer = ", ".join(f"cu.address_{part} AS customer_address_{part}" for part in _ADDRESS_PARTS)
    charge = ", ".join(
        f"ch.{column}"
        for column in (
            "payment_intent_id",
            "payment_method_type",
            "card_brand",
            "card_funding",
            "card_country",
        )
    )
    # Application fees point at the connected account's charge, shown as the direct charge only.
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {_LEDGER} AS
        SELECT
            bt.id AS balance_transaction_id, bt._account AS account, bt.created, bt.available_on, bt.currency,
            bt.amount AS gross, bt.fee, bt.net, bt.reporting_category, bt.type, bt.source_id, bt.description,
            bt._customer_facing_amount AS customer_facing_minor,
            bt._customer_facing_currency AS customer_facing_currency,
            bt._automatic_payout_id AS automatic_payout_id, ap.arrival_date AS automatic_payout_effective_at,
            ap._trace_id AS automatic_payout_trace_id,
            ap._trace_id_status AS automatic_payout_trace_id_status,
            cu.id AS customer_id, cu.email AS customer_email, cu.name AS customer_name,
            cu.description AS customer_description, {customer},
            ch.id AS charge_id, ch.created AS charge_created, ch._is_link AS is_link,
            ch.statement_descriptor, {charge},
            inv.id AS invoice_id, inv._number AS invoice_number,
            {RAW_SCHEMA}.sidn('sub_', bt._subscription_u) AS subscription_id,
            dp.reason AS dispute_reason, bt._connected_account_id AS connected_account_id,
            direct.id AS connected_account_direct_charge_id,
            {RAW_SCHEMA}.sidn('py_', bt._destination_payment_u) AS destination_payment_id,
            po.id AS payout_id, po.arrival_date AS payout_effective_at, po.status AS payout_status,
            po.type AS payout_type, po.description AS payout_description,
            po.destination_id AS payout_destination_id, po._trace_id AS payout_trace_id,
            po._trace_id_status AS payout_trace_id_status
        FROM {RAW_SCHEMA}.balance_transactions AS bt
        LEFT JOIN {RAW_SCHEMA}.customers AS cu ON cu._u = bt._customer_u
        LEFT JOIN {RAW_SCHEMA}.charges AS ch ON ch._u = bt._charge_u AND bt.type <> 'application_fee'
        LEFT JOIN {RAW_SCHEMA}.charges AS direct ON direct._u = bt._charge_u AND bt.type = 'application_fee'
        LEFT JOIN {RAW_SCHEMA}.invoices AS inv ON inv._u = bt._invoice_u
        LEFT JOIN {RAW_SCHEMA}.disputes AS dp ON dp._u = bt._dispute_u
        LEFT JOIN {RAW_SCHEMA}.payouts AS ap ON ap.id = bt._automatic_payout_id
        LEFT JOIN {RAW_SCHEMA}.payouts AS po ON po.id = bt.source_id AND bt.type = 'payout'
        """  # noqa: S608 - only constant identifiers are interpolated
    )


def run_report(
    cursor: duckdb.DuckDBPyConnection, request: ReportRequest, out_path: Path, *, data_load_time: datetime
) -> tuple[int, list[str]]:
    """Compute a validated run into ``out_path`` (CSV with a header); returns (rows, columns)."""
    params: dict[str, Any] = {
        "accounts": list(request.accounts),
        "end": naive_utc(request.interval_end, "interval_end"),
        "path": str(out_path),
    }
    if request.interval_start is not None:
        params["start"] = naive_utc(request.interval_start, "interval_start")
    filters = ["list_contains($accounts, l.account)"]
    if request.currency is not None:
        filters.append("l.currency = $currency")
        params["currency"] = request.currency
    if request.reporting_category is not None:
        filters.append("l.reporting_category = $category")
        params["category"] = request.reporting_category
    spec = request.spec
    if spec.kind == "balance":
        sql = _balance_summary_sql(request, filters)
    else:
        filters.append(_KIND_FILTERS[spec.kind])
        if spec.summary:
            sql = _summary_sql(request, filters)
        else:
            sql, uses = _itemized_sql(request, filters)
            if "tz" in uses:
                params["tz"] = request.timezone
            if "dlt" in uses:
                params["dlt"] = naive_utc(data_load_time)
    cursor.execute("SET TimeZone = 'UTC'")
    written = cursor.execute(f"COPY ({sql}) TO $path (FORMAT csv, HEADER)", params).fetchone()
    return int(written[0]) if written else 0, list(request.columns)


_NOT_PAYOUT = "l.reporting_category NOT IN ('payout', 'payout_reversal')"
_KIND_FILTERS = {
    "activity": f"{_NOT_PAYOUT} AND l.created >= $start AND l.created < $end",
    "payouts": "l.reporting_category IN ('payout', 'payout_reversal') "
    "AND l.payout_effective_at >= $start AND l.payout_effective_at < $end",
    "reconciliation": f"{_NOT_PAYOUT} AND l.automatic_payout_effective_at >= $start "
    "AND l.automatic_payout_effective_at < $end",
    "ending": f"{_NOT_PAYOUT} AND l.created < $end "
    "AND (l.automatic_payout_effective_at IS NULL OR l.automatic_payout_effective_at >= $end)",
}
_ORDER = {
    "activity": "l.created, l.balance_transaction_id",
    "payouts": "l.payout_effective_at, l.payout_id",
    "reconciliation": "l.automatic_payout_effective_at, l.automatic_payout_id, l.created, "
    "l.balance_transaction_id",
    "ending": "l.created, l.balance_transaction_id",
}


def _money(expression: str, currency: str, separator: str) -> str:
    text = f"{RAW_SCHEMA}.major({expression}, {currency})"
    return f"replace({text}, '.', ',')" if separator == "," else text


def _utc(expression: str) -> str:
    return f"strftime({expression}, '%Y-%m-%d %H:%M:%S')"


def _local(expression: str) -> str:
    return f"strftime(timezone($tz, CAST({expression} AS TIMESTAMPTZ)), '%Y-%m-%d %H:%M:%S')"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _itemized_column(column: str, request: ReportRequest) -> str:
    """The SQL for one itemized column over the ledger ``l``, owner ``owner`` and counterparty ``cp``."""
    connect = request.spec.connect
    sep = request.decimal_separator
    payout_seen = "l.automatic_payout_effective_at < $dlt"
    times = {
        "created": "l.created",
        "available_on": "l.available_on",
        "charge_created": "l.charge_created",
        "effective_at": "l.payout_effective_at",
        "automatic_payout_effective_at": f"CASE WHEN {payout_seen} THEN l.automatic_payout_effective_at END",
        "payout_reversed_at": "CAST(NULL AS TIMESTAMP)",
    }
    if column.endswith("_utc") and column[: -len("_utc")] in times:
        return _utc(times[column[: -len("_utc")]])
    if column in times:
        return _local(times[column])
    if column in {"gross", "fee", "net"}:
        return _money(f"l.{column}", "l.currency", sep)
    special = {
        "customer_facing_amount": _money("l.customer_facing_minor", "l.customer_facing_currency", sep),
        "automatic_payout_id": f"CASE WHEN {payout_seen} THEN l.automatic_payout_id END",
        "payout_expected_arrival_date": "strftime(l.payout_effective_at, '%Y-%m-%d')",
        "trace_id": "l.payout_trace_id" if request.spec.kind == "payouts" else "l.automatic_payout_trace_id",
        "trace_id_status": (
            "l.payout_trace_id_status"
            if request.spec.kind == "payouts"
            else "l.automatic_payout_trace_id_status"
        ),
        "connected_account": "l.account",
        "connected_account_id": "l.account" if connect else "l.connected_account_id",
        "connected_account_name": "owner.business_name" if connect else "cp.business_name",
        "connected_account_country": "owner.country" if connect else "cp.country",
        "regulatory_tag": "CAST(NULL AS VARCHAR)",
    }
    if column in special:
        return special[column]
    if _METADATA_COLUMN.match(column) or column.startswith(
        ("customer_shipping_", "shipping_", "card_address_")
    ):
        return "CAST(NULL AS VARCHAR)"
    return f"l.{column}"


def _itemized_sql(request: ReportRequest, filters: list[str]) -> tuple[str, set[str]]:
    projections = [f"{_itemized_column(c, request)} AS {_quote(c)}" for c in request.columns]
    body = ", ".join(projections)
    uses = {name for name in ("tz", "dlt") if f"${name}" in body}
    sql = (
        f"SELECT {body} FROM {_LEDGER} AS l "  # noqa: S608 - registry names; values are bound
        f"LEFT JOIN {RAW_SCHEMA}.accounts AS owner ON owner.id = l.account "
        f"LEFT JOIN {RAW_SCHEMA}.accounts AS cp ON cp.id = l.connected_account_id "
        f"WHERE {' AND '.join(filters)} ORDER BY {_ORDER[request.spec.kind]}"
    )
    return sql, uses


def _summary_sql(request: ReportRequest, filters: list[str]) -> str:
    by_account = "connected_account" in request.columns
    keys = ["l.account AS connected_account"] if by_account else []
    group = ", ".join([*keys, "l.reporting_category", "l.currency"])
    sep = request.decimal_separator
    expressions = {
        "connected_account": "connected_account",
        "reporting_category": "reporting_category",
        "currency": "currency",
        "count": "count",
        "gross": _money("gross", "currency", sep),
        "fee": _money("fee", "currency", sep),
        "net": _money("net", "currency", sep),
    }
    body = ", ".join(f"{expressions[c]} AS {_quote(c)}" for c in request.columns)
    order = ", ".join(["connected_account"] if by_account else []) + (", " if by_account else "")
    return (
        f"SELECT {body} FROM (SELECT {group}, count(*) AS count, sum(l.gross) AS gross, sum(l.fee) AS fee, "  # noqa: S608 - registry names; values are bound
        f"sum(l.net) AS net FROM {_LEDGER} AS l WHERE {' AND '.join(filters)} GROUP BY ALL) "
        f"ORDER BY {order}reporting_category, currency"
    )


def _balance_summary_sql(request: ReportRequest, filters: list[str]) -> str:
    by_account = "connected_account" in request.columns
    account = "l.account AS connected_account, " if by_account else ""
    sep = request.decimal_separator
    lines = (
        (1, "starting_balance", "Starting balance", "starting"),
        (2, "activity", "Activity", "activity"),
        (3, "payouts", "Payouts", "payouts"),
        (4, "ending_balance", "Ending balance", "starting + activity + payouts"),
    )
    union = " UNION ALL ".join(
        f"SELECT {'connected_account, ' if by_account else ''}currency, {order} AS line, "  # noqa: S608 - registry names; values are bound
        f"'{category}' AS category, "
        f"'{description}' AS description, {amount} AS amount FROM sums"
        for order, category, description, amount in lines
    )
    expressions = {
        "connected_account": "connected_account",
        "category": "category",
        "currency": "currency",
        "description": "description",
        "net_amount": _money("amount", "currency", sep),
    }
    body = ", ".join(f"{expressions[c]} AS {_quote(c)}" for c in request.columns)
    return (
        f"WITH sums AS (SELECT {account}l.currency, "  # noqa: S608 - registry names; values are bound
        "coalesce(sum(l.net) FILTER (WHERE l.created < $start), 0) AS starting, "
        f"coalesce(sum(l.net) FILTER (WHERE l.created >= $start AND {_NOT_PAYOUT}), 0) AS activity, "
        f"coalesce(sum(l.net) FILTER (WHERE l.created >= $start AND NOT ({_NOT_PAYOUT})), 0) AS payouts "
        f"FROM {_LEDGER} AS l WHERE {' AND '.join(filters)} AND l.created < $end GROUP BY ALL) "
        f"SELECT {body} FROM ({union}) ORDER BY {'connected_account, ' if by_account else ''}currency, line"
    )
