"""What the Data API v2 describes: the analytical dataset's schemas and the Stripe-defined reports.

Schemas are the Sigma tables the v1 query runs read (same views, same engine), with their columns
typed from DuckDB. Reports are the emulator's v1 report types under their v2 names, without the
version suffix; each name runs the newest version (:func:`stripe_emulator.reports.newest_versions`)
with that version's *default* columns, since v2 runs take no ``columns`` parameter.

Choices where ``../shared/stripe-data-v2.md`` marks the surface UNCONFIRMED (change them here):

* Ids are deterministic, so they survive resets and restarts: ``schema_`` / ``report_`` and 24
  base62 characters derived from the name.
* ``columns[].type`` maps DuckDB's types onto the SDK's enum; ``datetime`` is never used (Sigma's
  timestamps are ``timestamp``); nested types (maps, lists) are ``varchar``.
* Report parameters are the v1 ones minus ``columns``: ``interval_start``/``interval_end``
  (``timestamp``, RFC 3339 strings on whole seconds), ``timezone``, ``currency``,
  ``connected_account`` (``string``), ``reporting_category`` and ``decimal_separator`` (``enum``),
  ``connected_accounts`` (``array`` of ``string``).
* A report run whose ``interval_end`` is later than the loaded data (``refreshed_at``) or whose
  ``interval_start`` is before the first data is refused with a 400, as v1 refuses it: a v2 client
  checks ``refreshed_at`` before running a window, and an early run fails loudly.
* ``default_sql`` and a run's ``sql`` are explanatory SQL comments: the emulator computes reports
  with its own report engine, not with SQL a client could run (Stripe allows "an explanatory
  message when the report's SQL cannot be exposed").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from stripe_emulator.app.v2_conventions import V2Error, invalid, parse_rfc3339, rfc3339
from stripe_emulator.engine import Engine
from stripe_emulator.reports import REPORTING_CATEGORIES, ReportTypeSpec, newest_versions
from stripe_emulator.timestamps import unix

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Which table a ``<name>_id`` column points at, for ``foreign_keys_to``/``foreign_keys_from``.
_FOREIGN_KEYS = {
    "customer_id": "customers",
    "charge_id": "charges",
    "invoice_id": "invoices",
    "subscription_id": "subscriptions",
    "subscription": "subscriptions",
    "subscription_item_id": "subscription_items",
    "price_id": "prices",
    "product_id": "products",
    "balance_transaction_id": "balance_transactions",
    "application_fee_id": "application_fees",
    "automatic_payout_id": "payouts",
    "account_id": "accounts",
}
_DESCRIPTIONS = {
    "balance_transactions": "Every change to the account's balance: charges, refunds, fees, payouts…",
    "charges": "Charges against payment methods, with their card details and refund state.",
    "customers": "Customers of the account.",
    "subscriptions": "Subscriptions and their current billing period.",
    "invoices": "Invoices, one-off and for subscriptions.",
    "payouts": "Payouts from the Stripe balance to a bank account.",
    "accounts": "The platform's connected accounts.",
    "connected_accounts": "The platform's connected accounts (the same rows as accounts).",
}


def stable_id(prefix: str, name: str) -> str:
    """``prefix_`` and 24 base62 characters derived from ``name``."""
    number = int.from_bytes(hashlib.sha256(f"{prefix}:{name}".encode()).digest()[:18], "big")
    chars = []
    for _ in range(24):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return f"{prefix}_{''.join(chars)}"


def column_type(duckdb_type: str) -> str:
    """A DuckDB type as one of the v2 column types (``bigint``, ``varchar``…)."""
    name = duckdb_type.upper()
    if name.startswith("DECIMAL"):
        return "decimal"
    if name.startswith("TIMESTAMP"):
        return "timestamp"
    return {
        "BIGINT": "bigint",
        "HUGEINT": "bigint",
        "UBIGINT": "bigint",
        "UINTEGER": "bigint",
        "INTEGER": "integer",
        "SMALLINT": "integer",
        "TINYINT": "integer",
        "USMALLINT": "integer",
        "UTINYINT": "integer",
        "DOUBLE": "double",
        "FLOAT": "double",
        "REAL": "double",
        "BOOLEAN": "boolean",
        "DATE": "date",
    }.get(name, "varchar")


@dataclass(frozen=True)
class ReportEntry:
    """A Stripe-defined report: its v2 name and id, and the v1 report type it runs."""

    id: str
    name: str
    spec: ReportTypeSpec

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        """The report's parameter specification (``include[]=parameters``)."""
        specs: dict[str, dict[str, Any]] = {}
        for name in sorted(self.spec.parameters - {"columns"}, key=_PARAMETER_ORDER.index):
            kind, description, extra = _PARAMETERS[name]
            specs[name] = {
                "type": kind,
                "required": name in self.spec.required,
                "description": description,
                "enum_details": {"allowed_values": list(extra)} if kind == "enum" else None,
                "array_details": {"element_type": "string", "enum_details": None}
                if kind == "array"
                else None,
            }
        return specs

    def default_sql(self) -> str:
        """What ``include[]=default_sql`` shows: why there is no SQL to show."""
        return (
            f"-- {self.name} is computed by the emulator's report engine (report type {self.spec.id}), "
            "not by SQL a query run could execute.\n"
            "-- Its rows are the same as the v1 report run's with the report type's default columns."
        )

    def run_sql(self, parameters: dict[str, Any]) -> str:
        """What ``include[]=sql`` shows on a run: the report and the parameters it ran with."""
        settings = ", ".join(f"{name} = {value!r}" for name, value in sorted(parameters.items()))
        return f"-- {self.name} (report type {self.spec.id}) with {settings or 'no parameters'}"

    def v1_parameters(self, raw: Any, *, data_start: datetime, loaded: datetime) -> dict[str, Any]:
        """Check a run's v2 ``parameters`` and translate them to the v1 report type's (400s on the way).

        ``data_start`` is the first moment with data and ``loaded`` the data_load_time: a window
        outside them is refused here with RFC 3339 times in the message.
        """
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise invalid("parameters must be an object", param="parameters")
        allowed = self.spec.parameters - {"columns"}
        for name in raw:
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise invalid(
                    f"Received unknown parameter: parameters.{name} "
                    f"(the report {self.name} accepts {known}).",
                    param=f"parameters.{name}",
                    code="parameter_unknown",
                )
        for name in sorted(self.spec.required):
            if raw.get(name) is None:
                raise invalid(
                    f"Missing required param: parameters.{name} (the report {self.name} requires it).",
                    param=f"parameters.{name}",
                    code="parameter_missing",
                )
        converted: dict[str, Any] = {}
        for name, value in raw.items():
            if value is None:
                continue
            converted[name] = self._convert(name, value)
        end = converted.get("interval_end")
        if end is not None and end > unix(loaded):
            raise invalid(
                f"parameters.interval_end ({raw['interval_end']}) is later than the data loaded so far "
                f"(refreshed_at {rfc3339(loaded)}); run the window once refreshed_at has reached its end.",
                param="parameters.interval_end",
            )
        start = converted.get("interval_start")
        if start is not None and start < unix(data_start):
            raise invalid(
                f"parameters.interval_start ({raw['interval_start']}) is before the first data "
                f"({rfc3339(data_start)}).",
                param="parameters.interval_start",
            )
        return converted

    def _convert(self, name: str, value: Any) -> Any:
        kind, _, extra = _PARAMETERS[name]
        param = f"parameters.{name}"
        if kind == "timestamp":
            moment = parse_rfc3339(value, param)
            if moment.microsecond:
                raise invalid(f"{param} must fall on a whole second; got {value!r}.", param=param)
            return unix(moment)
        if kind == "array":
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise invalid(f"{param} must be a list of strings.", param=param)
            return list(value)
        if not isinstance(value, str):
            raise invalid(f"{param} must be a string; got {value!r}.", param=param)
        if kind == "enum" and value not in extra:
            raise invalid(f"{param} must be one of {', '.join(extra)}; got {value!r}.", param=param)
        return value


_PARAMETER_ORDER = (
    "interval_start",
    "interval_end",
    "timezone",
    "currency",
    "reporting_category",
    "decimal_separator",
    "connected_account",
    "connected_accounts",
)
_PARAMETERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "interval_start": ("timestamp", "Start of the window (inclusive), RFC 3339 on a whole second.", ()),
    "interval_end": ("timestamp", "End of the window (exclusive), RFC 3339 on a whole second.", ()),
    "timezone": ("string", "IANA time zone for the report's local time columns (default Etc/UTC).", ()),
    "currency": ("string", "Only rows in this three-letter currency.", ()),
    "reporting_category": (
        "enum",
        "Only rows of this reporting category.",
        tuple(sorted(REPORTING_CATEGORIES)),
    ),
    "decimal_separator": ("enum", "Decimal separator of amounts (default '.').", (".", ",")),
    "connected_account": ("string", "Only this connected account.", ()),
    "connected_accounts": ("array", "Only these connected accounts.", ()),
}


class Catalog:
    """The schemas and reports the Data API v2 lists, built once per engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reports: list[ReportEntry] = [
            ReportEntry(id=stable_id("report", name), name=name, spec=spec)
            for name, spec in sorted(newest_versions().items())
        ]

    @cached_property
    def _tables(self) -> dict[str, list[tuple[str, str]]]:
        return self.engine.sigma_columns()

    def report(self, *, report_id: str | None = None, name: str | None = None) -> ReportEntry | None:
        """The report with this id or name, or None."""
        for entry in self.reports:
            if entry.id == report_id or entry.name == name:
                return entry
        return None

    def report_json(self, entry: ReportEntry, include: frozenset[str]) -> dict[str, Any]:
        """A ``v2.data.report``; ``parameters`` and ``default_sql`` are null unless included."""
        return {
            "id": entry.id,
            "object": "v2.data.report",
            "name": entry.name,
            "description": entry.spec.name,
            "livemode": False,
            "default_sql": entry.default_sql() if "default_sql" in include else None,
            "parameters": entry.parameters if "parameters" in include else None,
        }

    def schema_names(self) -> list[str]:
        """Every table of the analytical dataset, alphabetically."""
        return sorted(self._tables)

    def schema_by_id(self, schema_id: str) -> str | None:
        """The table whose schema id is ``schema_id``, or None."""
        return next((name for name in self._tables if stable_id("schema", name) == schema_id), None)

    def schema_json(self, table: str, *, columns: bool, refreshed_at: datetime) -> dict[str, Any]:
        """A ``v2.data.schema``; ``columns`` is null unless asked for (the list's ``include``)."""
        return {
            "id": stable_id("schema", table),
            "object": "v2.data.schema",
            "name": table,
            "description": _DESCRIPTIONS.get(table, f"The {table} table of the analytical dataset."),
            "extended_description": None,
            "dataset": "analytical",
            "livemode": False,
            "refreshed_at": rfc3339(refreshed_at),
            "columns": self._columns(table) if columns else None,
            "relevant_reports": [
                {"id": entry.id, "name": entry.name, "description": entry.spec.name}
                for entry in self.reports
                if _relevant(table, entry.spec)
            ],
        }

    def _columns(self, table: str) -> list[dict[str, Any]]:
        result = []
        for column, duckdb_type in self._tables[table]:
            target = _FOREIGN_KEYS.get(column)
            to = (
                [{"column": "id", "schema": stable_id("schema", target)}]
                if target in self._tables and target != table
                else []
            )
            result.append(
                {
                    "name": column,
                    "type": column_type(duckdb_type),
                    "description": f"The {column.replace('_', ' ')} of the {table} row.",
                    "is_primary_key": column == "id",
                    "foreign_keys_to": to,
                    "foreign_keys_from": self._referencing(table) if column == "id" else [],
                }
            )
        return result

    def _referencing(self, table: str) -> list[dict[str, str]]:
        return [
            {"column": column, "schema": stable_id("schema", other)}
            for other in sorted(self._tables)
            if other != table
            for column, _ in self._tables[other]
            if _FOREIGN_KEYS.get(column) == table
        ]


def _relevant(table: str, spec: ReportTypeSpec) -> bool:
    if table == "balance_transactions":
        return not spec.connect
    if table == "payouts":
        return not spec.connect and spec.kind in ("payouts", "reconciliation")
    if table in ("accounts", "connected_accounts"):
        return spec.connect
    return False


def unknown_report(reference: dict[str, Any]) -> V2Error:
    """The 404 for a report reference that names no report."""
    label = reference.get("id") or reference.get("name")
    return V2Error(
        404, f"No such report: '{label}'", param="report.id" if "id" in reference else "report.name"
    )
