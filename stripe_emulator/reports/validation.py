"""Checking a report run's parameters as Stripe does, and resolving them into a request."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from stripe_emulator.reports.types import (
    REPORT_TYPES,
    REPORTING_CATEGORIES,
    ReportParameterError,
    ReportRequest,
    ReportTypeSpec,
    UnknownReportType,
)
from stripe_emulator.timestamps import from_unix, unix

PayoutLookup = Callable[[str, str], "datetime | None"]
"""``lookup(payout_id, account)``: when the account's automatic payout was created, None if it has none."""


def validate(
    report_type: str,
    parameters: Mapping[str, Any],
    *,
    account: str | None,
    platform: str,
    connected_accounts: Iterable[str],
    data_available_start: datetime,
    data_available_end: datetime,
    payouts: PayoutLookup | None = None,
) -> ReportRequest:
    """Check a run's parameters like Stripe does, and resolve them for :func:`run_report`.

    ``account`` is the account the run is made as (a connected account id, or None for the
    platform, whose id is ``platform``); ``connected_accounts`` are the platform's connected accounts.
    ``payouts`` finds the payout a ``payout_reconciliation.by_id`` run names.
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
    owner = account if account is not None else platform
    payout: str | None = None
    if spec.kind == "by_payout":
        payout, end = _payout(parameters, owner, payouts, available_end)
    else:
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
    elif spec.kind != "by_payout" and end <= available_start:
        raise ReportParameterError(
            "parameters[interval_end] must be after data_available_start "
            f"({available_start}) for report type "
            f"{spec.id}; got {end}.",
            "parameters[interval_end]",
        )
    if spec.kind != "by_payout" and end > available_end:
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
        payout=payout,
    )


def _payout(
    parameters: Mapping[str, Any], account: str, payouts: PayoutLookup | None, available_end: int
) -> tuple[str, int]:
    """The payout a by-payout run names, if the account has it and it has been paid by now."""
    payout = _string(parameters, "payout")
    created = payouts(payout, account) if payouts is not None and payout is not None else None
    if payout is None or created is None or unix(created) > available_end:
        raise ReportParameterError(f"No such payout: '{payout}'", "parameters[payout]")
    return payout, unix(created)


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
