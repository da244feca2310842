"""Connect at platform scale: Stripe jobs, Dagster runs, wall time and memory of a backfill over
every connected account, and what each partitioning costs Dagster.

``python -m bench.connect`` (``make bench-connect``):

1. An emulator with 1,000 connected accounts serves a ``connect: all_accounts`` entry; a 30-day
   ranged backfill (one Dagster run, as the asset's backfill policy launches it) lands every
   account's rows. Printed: report runs Stripe created (the emulator's stats), Dagster runs, wall
   time, peak RSS, rows and accounts landed.
2. Partitions at 1,000 and 10,000 accounts x 365 days: account x day multi-partitions against day
   partitions (account as a column). Printed: partition count, and the seconds of one automation
   tick (``evaluate_automation_conditions`` with an eager condition, what the asset daemon runs)
   over an instance that knows the accounts.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx

from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import load_catalog
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.warehouse import Warehouse

API_KEY = "sk_test_51BenchConnect7Qw2Zr9Lx4Vt8Np3Kd6Hs1Jf5Gm0Cb"
DATA_LOAD_TIME = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)
FIRST, LAST = "2026-10-01", "2026-10-30"
NAME = "connect_activity"
CATALOGUE = f"""\
defaults:
  start_date: "2026-01-01"
  max_days_per_run: 31
reports:
  - report_type: connected_account_balance_change_from_activity.itemized.3
    name: {NAME}
    connect: all_accounts
"""
STARTUP_TIMEOUT = 900.0


@contextmanager
def _emulator(workdir: Path, accounts: int, scale: int) -> Iterator[str]:
    """``stripe-emulator serve`` with ``accounts`` connected accounts, in a process of its own."""
    url_file = workdir / "emulator.url"
    log_path = workdir / "emulator.log"
    command = [
        sys.executable,
        "-m",
        "stripe_emulator",
        "serve",
        "--port",
        "0",
        "--days",
        "60",
        "--scale",
        str(scale),
        "--connected-accounts",
        str(accounts),
        "--run-delay",
        "0.2",
        "--data-load-time",
        DATA_LOAD_TIME.isoformat(),
        "--print-url-file",
        str(url_file),
        "--log-level",
        "WARNING",
    ]
    started = time.perf_counter()
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        while not url_file.exists():
            if process.poll() is not None or time.perf_counter() - started > STARTUP_TIMEOUT:
                raise RuntimeError(f"the emulator did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        print(f"emulator: {accounts} connected accounts, ready in {time.perf_counter() - started:.1f} s")
        yield url_file.read_text().strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def backfill(accounts: int, scale: int) -> None:
    """A 30-day backfill of an all-accounts entry against an emulator with ``accounts`` accounts."""
    with tempfile.TemporaryDirectory() as tmp, _emulator(Path(tmp), accounts, scale) as url:
        root = Path(tmp)
        (root / "reports.yaml").write_text(CATALOGUE)
        (root / "sql").mkdir()
        catalog = load_catalog(root / "reports.yaml", root / "sql")
        warehouse = WarehouseResource(url=f"duckdb:///{root / 'warehouse.duckdb'}")
        stripe = StripeResource(api_key=API_KEY, api_base=url, files_base=url)
        defs = build_definitions(catalog, {"stripe": stripe, "warehouse": warehouse})
        [asset] = [a for a in defs.assets if a.key.path[-1] == NAME]  # type: ignore[union-attr]
        with (
            httpx.Client(base_url=f"{url}/_emulator", timeout=30) as control,
            dg.instance_for_test() as instance,
        ):
            started = time.perf_counter()
            result = dg.materialize(
                [asset],
                instance=instance,
                resources=defs.resources,
                tags={RANGE_START_TAG: FIRST, RANGE_END_TAG: LAST},
                raise_on_error=False,
            )
            wall = time.perf_counter() - started
            runs = control.get("/stats").json()["runs_created"]
            dagster_runs = len(instance.get_run_records())
        with Warehouse(warehouse.url) as wh:
            by_account = wh.row_counts(catalog.get(NAME).table, by="connected_account")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"backfill {FIRST}..{LAST}: success={result.success}; Stripe report runs={runs}; "
        f"Dagster runs={dagster_runs}; wall={wall:.1f} s; peak RSS={peak:.0f} MiB; "
        f"rows={sum(by_account.values())} over {len(by_account)} accounts (of {accounts})"
    )


def _tick_seconds(partitions_def: dg.PartitionsDefinition, accounts: int) -> tuple[int, float]:
    """Partition count, and one automation tick over an asset with ``partitions_def``."""

    @dg.asset(partitions_def=partitions_def, automation_condition=dg.AutomationCondition.eager())
    def connect_rows() -> None:
        """A stand-in for a Connect asset."""

    defs = dg.Definitions(assets=[connect_rows])
    with dg.instance_for_test() as instance:
        if isinstance(partitions_def, dg.MultiPartitionsDefinition):
            instance.add_dynamic_partitions("accounts", [f"acct_{i:016d}" for i in range(accounts)])
        with dg.partition_loading_context(dynamic_partitions_store=instance):
            count = partitions_def.get_num_partitions()
        dg.evaluate_automation_conditions(defs=defs, instance=instance)  # warm caches and imports
        started = time.perf_counter()
        dg.evaluate_automation_conditions(defs=defs, instance=instance)
        return count, time.perf_counter() - started


def partitions(account_counts: list[int], days: int) -> None:
    """Account x day multi-partitions against day partitions, for each account count."""
    start = datetime(2026, 11, 10, tzinfo=UTC).toordinal() - days
    first = datetime.fromordinal(start).date().isoformat()
    daily = dg.DailyPartitionsDefinition(start_date=first, end_date="2026-11-10")
    count, seconds = _tick_seconds(daily, 0)
    print(
        f"day partitions (account as a column), any account count: {count} partitions, tick {seconds:.2f} s"
    )
    for accounts in account_counts:
        multi = dg.MultiPartitionsDefinition(
            {"account": dg.DynamicPartitionsDefinition(name="accounts"), "date": daily}
        )
        count, seconds = _tick_seconds(multi, accounts)
        print(f"account x day, {accounts} accounts: {count} partitions, tick {seconds:.2f} s")


def main() -> None:
    """Run the backfill, then the partition measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--scale", type=int, default=200)
    parser.add_argument("--partition-accounts", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    backfill(args.accounts, args.scale)
    partitions(args.partition_accounts, args.days)


if __name__ == "__main__":
    main()
