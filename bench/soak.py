"""Soak: 30 days of partitions under random transient faults, compared with a fault-free landing.

    python -m bench.soak [--days 30] [--fault-rate 0.10] [--seed 7]

One emulator serves both passes. First every asset's days are landed without faults into one
DuckDB warehouse; then, with about ``--fault-rate`` of API requests failing transiently (429 with
Stripe-Should-Retry, 500/502/503, dropped connections, responses lost after Stripe committed,
downloads cut short; seeded), the same runs land into another. Runs go as Dagster launches them:
the first days one run per day, the rest as ranged backfill runs, with the production retry policy
made quicker. Every table is then compared row for row (as multisets).

Prints the partitions, the faults that fired, the HTTP retries and re-fetched downloads the
client needed, Dagster's step retries, rows lost and duplicated, and the wall time. Exits 1 if a
row was lost or duplicated (or a run failed), 0 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import sqlalchemy as sa

from pipelines.assets import DEFAULT_RETRY_POLICY
from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import Catalog, load_catalog
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.translator import asset_key
from pipelines.warehouse import Warehouse
from stripe_emulator import EmulatorConfig
from stripe_emulator.server import EmulatorServer

API_KEY = "sk_test_51SoakBenchmarkKey000000000000000000soak"
DATA_LOAD_TIME = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)
ASSETS = (
    "balance_change_from_activity_itemized_3",
    "balance_summary_1",
    "payouts_itemized_3",
    "daily_activity_by_category",
)
SINGLE_DAYS = 10  # the first days run one per Dagster run (as daily schedules do), the rest ranged
RANGE_DAYS = 10  # days per ranged run (a backfill's runs)
LOAD_LINEAGE = ("_loaded_at", "_stripe_run_id")

# The production policy (3 retries, 30 s apart, growing) with seconds instead of minutes.
RETRY_POLICY = dg.RetryPolicy(
    max_retries=DEFAULT_RETRY_POLICY.max_retries,
    delay=0.2,
    backoff=DEFAULT_RETRY_POLICY.backoff,
    jitter=DEFAULT_RETRY_POLICY.jitter,
)

# Shares of the fault rate per kind over every API request (a bad day at Stripe and on the
# network), and downloads cut short on top of that for result files.
FAULT_MIX: dict[str, tuple[float, str, str, dict[str, Any]]] = {
    "http_429": (0.3, "*", "/v1/*", {"retry_after": 0.05}),
    "http_500": (0.1, "*", "/v1/*", {}),
    "http_502": (0.1, "*", "/v1/*", {}),
    "http_503": (0.1, "*", "/v1/*", {}),
    "drop_connection": (0.2, "*", "/v1/*", {}),
    "drop_after_commit": (0.2, "*", "/v1/*", {}),
    "truncate_download": (0.5, "GET", "/v1/files/*/contents", {}),
}


class RetryCounter(logging.Handler):
    """Counts the retries the Stripe client logs: requests repeated, result files fetched again."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.requests = 0
        self.downloads = 0
        self.by_reason: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "pipelines.stripe.client" and isinstance(record.args, tuple):
            # "Stripe %s %s failed with %s; retry %d of %d in %.2f s": the reason is the third argument.
            self.requests += 1
            self.by_reason[str(record.args[2]).split(" (")[0]] += 1
        elif record.name in ("pipelines.stripe.files", "pipelines.stripe.sigma"):
            self.downloads += 1


@dataclass(frozen=True)
class Pass:
    """What one pass over every asset's days did."""

    runs: int
    failed_runs: list[str]
    step_retries: int
    seconds: float


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak and print its figures; 1 if any row was lost or duplicated."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    counter = RetryCounter()
    client_logs = logging.getLogger("pipelines.stripe")
    client_logs.addHandler(counter)
    client_logs.propagate = False  # counted, not printed: a soak retries hundreds of times
    days = _days(args.days)
    config = EmulatorConfig(
        seed=args.seed,
        days=args.days + 30,
        data_load_time=DATA_LOAD_TIME,
        scale=120,
        connected_accounts=2,
        run_delay=0.05,
        rate_limit=1000.0,
        test_rate_limit=1000.0,
    )
    catalog = load_catalog()
    print(
        f"soak: {len(ASSETS)} assets x {len(days)} days ({days[0]} .. {days[-1]}), "
        f"{args.fault_rate:.0%} of API requests failing transiently"
    )
    started = time.perf_counter()
    with (
        EmulatorServer(config) as emulator,
        tempfile.TemporaryDirectory(prefix="soak-") as workdir,
        httpx.Client(base_url=f"{emulator.url}/_emulator", timeout=30) as control,
    ):
        clean_url = f"duckdb:///{Path(workdir) / 'fault_free.duckdb'}"
        faulty_url = f"duckdb:///{Path(workdir) / 'faults.duckdb'}"

        clean = _land_everything(catalog, emulator.url, clean_url, days)
        control.post("/reset").raise_for_status()
        for rule in _fault_rules(args.fault_rate, args.seed):
            control.post("/faults", json=rule).raise_for_status()
        retries_before = (counter.requests, counter.downloads)
        faulty = _land_everything(catalog, emulator.url, faulty_url, days)
        stats = control.get("/stats").json()

        lost, duplicated, tables = _compare(catalog, clean_url, faulty_url)
    wall = time.perf_counter() - started

    requests = sum(stats["requests"].values())
    fired = stats["faults_fired"]
    print(
        f"partitions:          {len(ASSETS) * len(days)} ({len(ASSETS)} assets x {len(days)} days) "
        f"in {faulty.runs} Dagster runs"
    )
    print(
        f"faults fired:        {sum(fired.values())} of {requests} API requests "
        f"({sum(fired.values()) / max(requests, 1):.1%}): "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(fired.items()))
    )
    print(
        f"HTTP retries:        {counter.requests - retries_before[0]} requests repeated by the client "
        f"({', '.join(f'{r} {n}' for r, n in counter.by_reason.most_common())}), "
        f"{counter.downloads - retries_before[1]} result files fetched again"
    )
    print(
        f"idempotent replays:  {stats['idempotent_replays']} (a retried create answered with the run "
        f"Stripe had already started); Stripe jobs created: {stats['runs_created']}"
    )
    print(
        f"429 responses:       {stats['responses'].get('429', 0)} ({fired.get('http_429', 0)} injected, "
        f"{stats['rate_limited']} from Stripe's rate limit)"
    )
    print(f"step retries:        {faulty.step_retries} (Dagster re-ran a step)")
    print(
        f"failed runs:         {len(faulty.failed_runs)}"
        + (f": {', '.join(faulty.failed_runs)}" if faulty.failed_runs else "")
    )
    for table, (rows, table_lost, table_duplicated) in sorted(tables.items()):
        print(f"  {table:45} {rows:7} rows, {table_lost} lost, {table_duplicated} duplicated")
    print(f"rows lost:           {lost}")
    print(f"rows duplicated:     {duplicated}")
    print(
        f"wall time:           {wall:.1f} s (fault-free pass {clean.seconds:.1f} s, "
        f"pass under faults {faulty.seconds:.1f} s)"
    )
    return 1 if lost or duplicated or faulty.failed_runs or clean.failed_runs else 0


def _days(count: int) -> list[str]:
    newest = (DATA_LOAD_TIME - timedelta(days=1)).date()
    return [(newest - timedelta(days=offset)).isoformat() for offset in reversed(range(count))]


def _fault_rules(rate: float, seed: int) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "method": method,
            "path": path,
            "probability": rate * share,
            "seed": seed + index,
            **options,
        }
        for index, (kind, (share, method, path, options)) in enumerate(FAULT_MIX.items())
    ]


def _runs(days: list[str]) -> list[str | tuple[str, str]]:
    """Single-day runs for the first days, then ranged runs of up to RANGE_DAYS days."""
    single: list[str | tuple[str, str]] = list(days[:SINGLE_DAYS])
    rest = days[SINGLE_DAYS:]
    ranged = [(rest[i], rest[min(i + RANGE_DAYS, len(rest)) - 1]) for i in range(0, len(rest), RANGE_DAYS)]
    return [*single, *ranged]


def _land_everything(catalog: Catalog, api_base: str, warehouse_url: str, days: list[str]) -> Pass:
    stripe = StripeResource(
        api_key=API_KEY,
        api_base=api_base,
        files_base=api_base,
        request_timeout_seconds=10.0,
        poll_initial_seconds=0.05,
        poll_max_seconds=0.2,
        run_deadline_seconds=60.0,
    )
    defs = build_definitions(
        catalog,
        {"stripe": stripe, "warehouse": WarehouseResource(url=warehouse_url)},
        retry_policy=RETRY_POLICY,
    )
    assets = {a.key: a for a in defs.assets}  # type: ignore[union-attr]
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    started = time.perf_counter()
    runs, failed, step_retries = 0, [], 0
    with dg.DagsterInstance.ephemeral() as instance:
        for name in ASSETS:
            asset = assets[asset_key(catalog.get(name))]
            for partition in _runs(days):
                options: dict[str, Any] = {
                    "instance": instance,
                    "resources": defs.resources,
                    "run_config": quiet,
                }
                if isinstance(partition, tuple):
                    options["tags"] = {RANGE_START_TAG: partition[0], RANGE_END_TAG: partition[1]}
                else:
                    options["partition_key"] = partition
                result = dg.materialize([asset], raise_on_error=False, **options)
                runs += 1
                step_retries += sum(e.event_type_value == "STEP_RESTARTED" for e in result.all_events)
                if not result.success:
                    failed.append(f"{name} {partition}")
    return Pass(
        runs=runs, failed_runs=failed, step_retries=step_retries, seconds=time.perf_counter() - started
    )


def _compare(
    catalog: Catalog, clean_url: str, faulty_url: str
) -> tuple[int, int, dict[str, tuple[int, int, int]]]:
    """Rows lost and duplicated over all tables, and per table (rows expected, lost, duplicated)."""
    clean, faulty = Warehouse(clean_url), Warehouse(faulty_url)
    total_lost = total_duplicated = 0
    tables: dict[str, tuple[int, int, int]] = {}
    for name in ASSETS:
        table = catalog.get(name).table
        expected, landed = _rows(clean, table), _rows(faulty, table)
        lost = sum((expected - landed).values())
        duplicated = sum((landed - expected).values())
        tables[table] = (sum(expected.values()), lost, duplicated)
        total_lost += lost
        total_duplicated += duplicated
    clean.dispose()
    faulty.dispose()
    return total_lost, total_duplicated, tables


def _rows(wh: Warehouse, table: str) -> Counter[tuple[Any, ...]]:
    columns = sorted(c.name for c in wh.table_columns(table) or [] if c.name not in LOAD_LINEAGE)
    if not columns:
        return Counter()
    quote = wh.engine.dialect.identifier_preparer.quote
    with wh.engine.connect() as connection:
        select = f"SELECT {', '.join(quote(c) for c in columns)} FROM {wh.qualified(table)}"  # noqa: S608 - quoted identifiers
        result = connection.execute(sa.text(select))
        return Counter(tuple(row) for row in result)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is closed and the temporary files are gone; skipping interpreter finalization
    # spares a page of "leaked instance" warnings DuckDB's binding prints for objects that
    # libraries still cache at exit.
    os._exit(code)
