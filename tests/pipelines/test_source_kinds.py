"""A new kind of source is one class: the factory, landing, checks and automation take it unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import ClassVar

import dagster as dg
import httpx
from stub_stripe import API_BASE, FILES_BASE, StubStripe

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import Catalog, Defaults
from pipelines.freshness import Freshness, FreshnessProbe
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.sources import JobRequest, Source
from pipelines.stripe import FinishedRun, StripeSession, open_session
from pipelines.stripe.timestamps import from_unix
from pipelines.warehouse import Column, Warehouse

STUB = StubStripe()


@dataclass(frozen=True, kw_only=True)
class ExportSource(Source):
    """A made-up Stripe surface: ``POST /v1/toy/exports`` makes a CSV of a window at once."""

    kind: ClassVar[str] = "toy"
    default_group: ClassVar[str] = "toy_exports"
    freshness_sensor: ClassVar[str] = "toy_exports_freshness"

    def read_freshness(self, session: StripeSession, account: str | None) -> Freshness:
        body = session.client.request("GET", "/v1/toy/freshness")
        return Freshness(from_unix(body["loaded_until"]), "toy loaded_until")

    def run_job(self, session: StripeSession, probe: FreshnessProbe, request: JobRequest) -> FinishedRun:
        window = {"start": int(request.start.timestamp()), "end": int(request.end.timestamp())}
        export = session.client.request(
            "POST", "/v1/toy/exports", data=window, idempotency_key=request.idempotency_key(repr(window))
        )
        request.on_created(export["id"])
        now = datetime.now(UTC)
        return FinishedRun(export["id"], export["file"], None, now, now, "succeeded")

    @property
    def expected_columns_description(self) -> str:
        return "The export has its declared columns."


def _freshness(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"loaded_until": int(datetime(2026, 3, 10, 6, tzinfo=UTC).timestamp())})


def _export(request: httpx.Request) -> httpx.Response:
    rows = [
        "id,amount,created_utc",
        "exp_1,10.000,2026-03-07 01:00:00",
        "exp_2,20.000,2026-03-08 02:00:00",
        "exp_3,30.000,2026-03-09 03:00:00",
    ]
    file_id = STUB.add_file("\n".join(rows) + "\n")
    return httpx.Response(200, content=json.dumps({"id": "toy_1", "file": file_id}).encode())


class StubbedStripe(StripeResource):
    """The Stripe resource, its requests answered in-process by :data:`STUB`."""

    @contextmanager
    def session(self) -> Iterator[StripeSession]:
        with open_session(self.settings(), transport=STUB.transport()) as session:
            yield session


EXPORTS = ExportSource(
    name="toy_exports",
    table="toy_exports",
    description="A third kind of source.",
    timezone="UTC",
    start_date=date(2026, 3, 1),
    max_days_per_run=31,
    columns=(Column("id", "text"), Column("amount", "money"), Column("created_utc", "timestamp")),
    split_column="created_utc",
    unique_column="id",
    origin="test_source_kinds.py",
    owners=("team:finance",),
)


def test_a_third_kind_lands_a_ranged_backfill_through_the_unchanged_factory(tmp_path: Path) -> None:
    STUB.requests.clear()
    STUB.extra_routes.update({"GET /v1/toy/freshness": _freshness, "POST /v1/toy/exports": _export})
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    defs = build_definitions(
        Catalog(sources=(EXPORTS,), defaults=Defaults()),
        {
            "stripe": StubbedStripe(api_key="sk_test_toy", api_base=API_BASE, files_base=FILES_BASE),
            "warehouse": WarehouseResource(url=url),
        },
    )
    [asset] = defs.assets  # type: ignore[misc]

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [asset],  # type: ignore[list-item]
            instance=instance,
            resources=defs.resources,
            tags={RANGE_START_TAG: "2026-03-07", RANGE_END_TAG: "2026-03-09"},
        )

    assert result.success
    assert STUB.requests["POST /v1/toy/exports"] == 1
    assert sorted(m.partition for m in result.asset_materializations_for_node(asset.node_def.name)) == [
        "2026-03-07",
        "2026-03-08",
        "2026-03-09",
    ]
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"expected_columns": True, "unique_id": True, "closed_period_unchanged": True}
    with Warehouse(url) as warehouse:
        assert warehouse.row_counts("toy_exports") == {"2026-03-07": 1, "2026-03-08": 1, "2026-03-09": 1}
    assert asset.group_names_by_key[asset.key] == "toy_exports"
    assert asset.owners_by_key[asset.key] == ["team:finance"]
    # Its own freshness sensor; the sensors over every kind (settling, deadlines) take it unchanged.
    sensors = {s.name: s for s in defs.sensors or []}
    assert "toy_exports_freshness" in sensors
    assert asset.key in sensors["stripe_settling"].asset_selection.resolve([asset])
