"""Computing a report run: one DuckDB query over the report ledger, written with ``COPY``.

The ledger is every balance transaction joined once, at start, with the customers, charges,
invoices, disputes and payouts it refers to. Money is shown in major units with the currency's own
number of decimals (``12.34`` USD, ``1234`` JPY); ``*_utc`` times are UTC and the other time
columns are in the run's ``timezone``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from stripe_emulator.datagen import RAW_SCHEMA
from stripe_emulator.reports.types import (
    ADDRESS_PARTS,
    LEDGER,
    METADATA_COLUMN,
    ReportRequest,
)
from stripe_emulator.timestamps import naive_utc


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Build the ledger the reports read: every balance transaction with what it refers to."""
    customer = ", ".join(f"cu.address_{part} AS customer_address_{part}" for part in ADDRESS_PARTS)
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
        CREATE OR REPLACE TABLE {LEDGER} AS
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
            ch._metadata AS payment_metadata,
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
    params: dict[str, Any] = {"accounts": list(request.accounts), "path": str(out_path)}
    if request.payout is None:
        params["end"] = naive_utc(request.interval_end, "interval_end")
    if request.interval_start is not None:
        params["start"] = naive_utc(request.interval_start, "interval_start")
    filters = ["list_contains($accounts, l.account)"]
    if request.currency is not None:
        filters.append("l.currency = $currency")
        params["currency"] = request.currency
    if request.reporting_category is not None:
        filters.append("l.reporting_category = $category")
        params["category"] = request.reporting_category
    if request.payout is not None:
        params["payout"] = request.payout
    spec = request.spec
    if spec.kind == "balance":
        sql = _balance_summary_sql(request, filters)
    else:
        filters.append(_KIND_FILTERS[spec.kind])
        if spec.summary:
            sql = _summary_sql(request, filters)
        else:
            sql, uses, keys = _itemized_sql(request, filters)
            params.update(keys)
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
    "by_payout": f"{_NOT_PAYOUT} AND l.automatic_payout_id = $payout",
}
_ORDER = {
    "activity": "l.created, l.balance_transaction_id",
    "payouts": "l.payout_effective_at, l.payout_id",
    "reconciliation": "l.automatic_payout_effective_at, l.automatic_payout_id, l.created, "
    "l.balance_transaction_id",
    "ending": "l.created, l.balance_transaction_id",
    "by_payout": "l.created, l.balance_transaction_id",
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
    if METADATA_COLUMN.match(column) or column.startswith(
        ("customer_shipping_", "shipping_", "card_address_")
    ):
        return "CAST(NULL AS VARCHAR)"
    return f"l.{column}"


def _itemized_sql(request: ReportRequest, filters: list[str]) -> tuple[str, set[str], dict[str, str]]:
    """The query, the run parameters it uses, and the JSON paths of its metadata keys (bound)."""
    projections = []
    keys: dict[str, str] = {}
    for column in request.columns:
        if column.startswith("payment_metadata[") and METADATA_COLUMN.match(column):
            name = f"metadata_key_{len(keys)}"
            keys[name] = '$."' + column[len("payment_metadata[") : -1] + '"'
            expression = f"json_extract_string(l.payment_metadata, ${name})"
        else:
            expression = _itemized_column(column, request)
        projections.append(f"{expression} AS {_quote(column)}")
    body = ", ".join(projections)
    uses = {name for name in ("tz", "dlt") if f"${name}" in body}
    sql = (
        f"SELECT {body} FROM {LEDGER} AS l "  # noqa: S608 - registry names; values are bound
        f"LEFT JOIN {RAW_SCHEMA}.accounts AS owner ON owner.id = l.account "
        f"LEFT JOIN {RAW_SCHEMA}.accounts AS cp ON cp.id = l.connected_account_id "
        f"WHERE {' AND '.join(filters)} ORDER BY {_ORDER[request.spec.kind]}"
    )
    return sql, uses, keys


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
        f"sum(l.net) AS net FROM {LEDGER} AS l WHERE {' AND '.join(filters)} GROUP BY ALL) "
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
        f"FROM {LEDGER} AS l WHERE {' AND '.join(filters)} AND l.created < $end GROUP BY ALL) "
        f"SELECT {body} FROM ({union}) ORDER BY {'connected_account, ' if by_account else ''}currency, line"
    )
