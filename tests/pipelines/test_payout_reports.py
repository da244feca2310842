"""Per-payout reports: one partition per paid payout, found in the landed payouts table, so a
treasurer can reconcile a single bank deposit."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster_runs import Materialize, failure_messages
from pipeline_settings import open_warehouse

from pipelines.catalog import load_catalog
from pipelines.errors import CatalogError
from pipelines.resources import WarehouseResource
from pipelines.sources import PayoutReportSource

BY_ID = "payout_reconciliation_by_id_itemized_4"
PAYOUTS = "payouts_itemized_3"
SENSOR = "stripe_payouts"


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.SensorResult | dg.SkipReason:
    sensor = defs.resolve_sensor_def(SENSOR)
    with dg.build_sensor_context(instance=instance, resources=defs.resources, definitions=defs) as context:
        return sensor(context)


def _by_payout(warehouse: WarehouseResource, table: str, column: str) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for row in open_warehouse(warehouse).rows(table, [column, "balance_transaction_id", "net", "_partition"]):
        found.setdefault(row[column], []).append(row)
    return found


def test_landed_paid_payouts_become_partitions_and_each_report_reconciles_one_deposit(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    materialize: Materialize,
    warehouse: WarehouseResource,
    control: httpx.Client,
) -> None:
    assert isinstance(_tick(defs, instance), dg.SkipReason)  # nothing landed yet
    assert materialize(PAYOUTS, ("2026-11-06", "2026-11-08")).success

    first = _tick(defs, instance)
    assert isinstance(first, dg.SensorResult)
    [add] = first.dynamic_partitions_requests
    payouts = list(add.partition_keys)
    landed = {row["payout_id"]: row for row in open_warehouse(warehouse).rows(PAYOUTS, ["payout_id", "net"])}
    assert payouts and set(payouts) == set(landed)
    assert {(r.partition_key, r.run_key) for r in first.run_requests} == {
        (p, f"{BY_ID}:{p}") for p in payouts
    }
    instance.add_dynamic_partitions(add.partitions_def_name, payouts)

    runs_before = control.get("/stats").json()["runs_created"]["report_run"]
    one, other = payouts[0], payouts[1]
    for payout in (one, other, one):  # the first payout again: replaced, not duplicated
        result = materialize(BY_ID, payout)
        assert result.success, failure_messages(result)
    [materialization] = result.asset_materializations_for_node(f"stripe__{BY_ID}")
    assert materialization.partition == one
    assert "window" not in materialization.metadata  # a payout is not a span of time
    assert control.get("/stats").json()["runs_created"]["report_run"] == runs_before + 3

    by_payout = _by_payout(warehouse, BY_ID, "automatic_payout_id")
    assert set(by_payout) == {one, other}
    for payout, rows in by_payout.items():
        assert {r["_partition"] for r in rows} == {payout}
        ids = [r["balance_transaction_id"] for r in rows]
        assert len(ids) == len(set(ids))
        # The deposit: what the payout took from the balance is what its transactions added.
        assert sum(Decimal(r["net"]) for r in rows) == -Decimal(landed[payout]["net"]), payout

    # The same transactions as the interval report shows for that payout.
    assert materialize("payout_reconciliation_itemized_5", ("2026-11-06", "2026-11-08")).success
    interval = _by_payout(warehouse, "payout_reconciliation_itemized_5", "automatic_payout_id")
    assert sorted(r["balance_transaction_id"] for r in interval[one]) == sorted(
        r["balance_transaction_id"] for r in by_payout[one]
    )

    second = _tick(defs, instance)
    assert isinstance(second, dg.SensorResult)
    assert not second.dynamic_partitions_requests  # every payout is already a partition
    assert {r.partition_key for r in second.run_requests} == set(payouts) - {one, other}


def _catalogue(tmp_path: Path, entries: str):  # type: ignore[no-untyped-def]
    (tmp_path / "reports.yaml").write_text("reports:\n" + entries)
    return load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")


def test_a_payout_entry_reads_the_catalogues_payouts_table(tmp_path: Path) -> None:
    catalog = _catalogue(
        tmp_path,
        "  - report_type: payouts.itemized.3\n    table: bank_payouts\n"
        "  - report_type: payout_reconciliation.by_id.itemized.4\n",
    )
    source = catalog.get(BY_ID)

    assert isinstance(source, PayoutReportSource)
    assert source.payouts_from == "bank_payouts"
    assert source.payout_parameters("po_1")["payout"] == "po_1"
    assert "interval_start" not in source.payout_parameters("po_1")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            "  - report_type: payout_reconciliation.by_id.itemized.4\n",
            "line 2: reports[0] (payout_reconciliation.by_id.itemized.4): needs `payouts_from`",
        ),
        (
            "  - report_type: payouts.itemized.3\n  - report_type: payout_reconciliation.by_id.itemized.4\n"
            "    payouts_from: payouts_itemised_3\n",
            "names no payouts.itemized.3 entry; did you mean `payouts_itemized_3`?",
        ),
        (
            "  - report_type: payouts.itemized.3\n  - report_type: payout_reconciliation.by_id.itemized.4\n"
            "    period: month\n",
            "one partition per payout, not per day or month; drop `period`",
        ),
        (
            "  - report_type: payouts.itemized.3\n    payouts_from: payouts_itemized_3\n",
            "`payouts_from` is for per-payout report types",
        ),
    ],
)
def test_payout_entry_mistakes_name_the_line(tmp_path: Path, entries: str, message: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(message)):
        _catalogue(tmp_path, entries)
