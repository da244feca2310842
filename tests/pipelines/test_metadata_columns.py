"""Metadata columns: an entry asks Stripe for ``payment_metadata[order_id]`` and the table holds
``payment_metadata__order_id``; keys that cannot land are catalogue errors naming their line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster_runs import Materialize, failure_messages
from pipeline_settings import open_warehouse

from pipelines.catalog import Catalog, CatalogError, load_catalog
from pipelines.metadata_columns import warehouse_name
from pipelines.resources import WarehouseResource
from pipelines.sources import ReportSource
from pipelines.warehouse.csv_file import read_header, rename_header

ENTRY = """reports:
  - report_type: balance_change_from_activity.itemized.3
    name: activity_with_order_ids
    columns:
      balance_transaction_id: text
      created_utc: timestamp
      currency: text
      net: money
      reporting_category: text
      description: text
      payment_metadata[order_id]: text
"""


def _load(tmp_path: Path, reports: str) -> Catalog:
    (tmp_path / "reports.yaml").write_text(reports)
    (tmp_path / "sql").mkdir(exist_ok=True)
    return load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    """One activity report with the shop's order id of each payment."""
    return _load(tmp_path, ENTRY)


def test_the_order_id_of_each_payment_lands_under_a_warehouse_name(
    materialize: Materialize, warehouse: WarehouseResource, catalog: Catalog
) -> None:
    source = catalog.get("activity_with_order_ids")
    assert [c.name for c in source.columns][-1] == "payment_metadata__order_id"

    result = materialize("activity_with_order_ids", "2026-11-08")

    assert result.success, failure_messages(result)
    rows = open_warehouse(warehouse).rows(
        "activity_with_order_ids", ["reporting_category", "description", "payment_metadata__order_id"]
    )
    orders = [
        r for r in rows if r["reporting_category"] == "charge" and r["description"].startswith("Order #")
    ]
    assert orders
    # The emulator's orders carry their order number as metadata; invoice payments carry none.
    assert all(r["payment_metadata__order_id"] == r["description"].removeprefix("Order #") for r in orders)
    others = [r for r in rows if not r["description"] or not r["description"].startswith("Order #")]
    assert {r["payment_metadata__order_id"] for r in others if r["reporting_category"] == "charge"} <= {None}


def test_stripe_is_asked_for_the_column_by_its_own_name(catalog: Catalog) -> None:
    source = catalog.get("activity_with_order_ids")
    assert isinstance(source, ReportSource)

    parameters = source.parameters_for(
        datetime(2026, 11, 8, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC), None
    )

    assert parameters["columns"][-1] == "payment_metadata[order_id]"


@pytest.mark.parametrize(
    ("name", "landed"),
    [
        ("payment_metadata[order_id]", "payment_metadata__order_id"),
        ("refund_metadata[Reason Code]", "refund_metadata__reason_code"),
        ("transfer_metadata[x-Team.ID]", "transfer_metadata__x_team_id"),
    ],
)
def test_keys_become_lower_case_identifiers(name: str, landed: str) -> None:
    assert warehouse_name(name) == landed


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("payment_metadata[]", "a metadata key is 1 to 40 characters"),
        (f"payment_metadata[{'k' * 41}]", "a metadata key is 1 to 40 characters"),
        ("payment_metadata[--]", "needs a letter or digit"),
        (
            "charge_metadata[order_id]",
            "write payment_metadata[key], refund_metadata[key] or transfer_metadata[key]",
        ),
    ],
)
def test_a_key_that_cannot_land_names_its_line(tmp_path: Path, column: str, message: str) -> None:
    with pytest.raises(CatalogError) as error:
        _load(tmp_path, ENTRY.replace("payment_metadata[order_id]", f'"{column}"'))
    assert "reports.yaml, line 11" in str(error.value)
    assert message in str(error.value)


def test_two_columns_landing_under_one_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as error:
        _load(tmp_path, ENTRY + "      payment_metadata[Order-ID]: text\n")
    assert "reports.yaml, line 12" in str(error.value)
    assert (
        "`payment_metadata[Order-ID]` and `payment_metadata[order_id]` would both land as the column "
        in str(error.value)
    )


def test_a_v2_entry_cannot_ask_for_metadata_columns(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="Set `api: v1`"):
        _load(tmp_path, ENTRY.replace("    name: activity_with_order_ids\n", "    name: x\n    api: v2\n"))


def test_renaming_a_header_keeps_every_record_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "result.csv"
    body = 'txn_1,"a, b",1\r\ntxn_2,"say ""hi""",\r\n'
    path.write_bytes(('\ufeffid,"payment_metadata[a,b]",net\r\n' + body).encode())

    rename_header(path, {"payment_metadata[a,b]": "payment_metadata__a_b"})

    assert read_header(path) == ("id", "payment_metadata__a_b", "net")
    assert path.read_bytes() == ("id,payment_metadata__a_b,net\r\n" + body).encode()
