"""Itemized reports' metadata columns: ``payment_metadata[key]`` shows the payment's metadata."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator_settings import Rows
from test_reports import ACTIVITY, RECONCILIATION, day

Report = Callable[..., tuple[list[str], Rows]]
COLUMNS = ["balance_transaction_id", "reporting_category", "description", "payment_metadata[order_id]"]


def _run(report: Report, report_type: str, **parameters: Any) -> tuple[list[str], Rows]:
    return report(report_type, {**day("2026-03-10"), "columns": COLUMNS, **parameters})


def test_orders_carry_their_order_number_and_invoice_payments_none(report: Report) -> None:
    header, rows = _run(report, ACTIVITY)

    assert header == COLUMNS
    charges = [r for r in rows if r["reporting_category"] == "charge"]
    orders = [r for r in charges if r["description"].startswith("Order #")]
    invoiced = [r for r in charges if not r["description"].startswith("Order #")]
    assert orders and invoiced
    # The order's metadata is the number its description shows.
    assert all(r["payment_metadata[order_id]"] == r["description"].removeprefix("Order #") for r in orders)
    assert all(r["payment_metadata[order_id]"] == "" for r in invoiced)


def test_a_refund_shows_the_metadata_of_the_payment_it_refunds(report: Report) -> None:
    _, rows = report(
        ACTIVITY, {**day("2026-02-25", days=20), "columns": COLUMNS, "reporting_category": "refund"}
    )

    assert rows and any(r["payment_metadata[order_id]"] for r in rows)


def test_keys_a_payment_does_not_have_and_other_metadata_columns_are_empty(report: Report) -> None:
    columns = ["balance_transaction_id", "payment_metadata[no such key]", "refund_metadata[reason]"]
    header, rows = report(RECONCILIATION, {**day("2026-03-10"), "columns": columns})

    assert header == columns and rows
    assert {r["payment_metadata[no such key]"] for r in rows} == {""}
    assert {r["refund_metadata[reason]"] for r in rows} == {""}
