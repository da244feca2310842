"""A year of everything: ``python -m bench.backfill`` (``make bench-backfill``).

Every catalogue asset is backfilled over the newest complete days (a year, or the catalogue's whole
history when it is shorter) the way production does it: a gRPC code server, the webserver and
``dagster-daemon run`` on a Dagster instance with PostgreSQL run, event-log and schedule storage
(deploy/dagster.yaml), the daemon turning the backfill into ranged runs under the assets' backfill
policy and starting them through the run queue, a PostgreSQL warehouse, and the Stripe emulator at
its default scale and run delay with its clock set so every day of the window is complete.

The backfill goes in two steps, as in production: first every timed asset (daily, monthly and
per connected account), then the per-payout report over the payouts the first step landed.

Printed, never asserted, each figure beside its goal:

* Stripe jobs per asset, from the Stripe run id each landed partition records, checked against the
  emulator's own count of created runs (``GET /_emulator/stats``);
* Dagster runs, the wall time of each step and of the whole backfill;
* peak resident memory of each run's processes: the run worker and its step processes, read from
  ``/proc/<pid>/status`` (``VmHWM``, the process's own high-water mark) while they live.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "deploy"))

import dagster as dg  # noqa: E402
from dagster._core.execution.backfill import BulkActionStatus  # noqa: E402
from deployment import LAUNCH_BACKFILL, postgres_env, start_deployment, write_instance_yaml  # noqa: E402
from postgres_server import fresh_database, server_url  # noqa: E402
from project_services import BIN, Services, dagster_env, wait_until  # noqa: E402

from pipelines.backfill import load_definitions, plan_backfill, submit_backfill  # noqa: E402
from pipelines.catalog import load_catalog  # noqa: E402
from pipelines.partitions import CONNECTED_ACCOUNTS  # noqa: E402
from pipelines.sources import PayoutReportSource  # noqa: E402
from pipelines.sources.payout_report import paid_payouts  # noqa: E402
from pipelines.translator import asset_key  # noqa: E402
from pipelines.warehouse import Warehouse  # noqa: E402
from stripe_emulator.config import EmulatorConfig  # noqa: E402

API_KEY = "sk_test_51Yr4Bf7Kq2Wm9Xc3Tn6Pv8Ls1Dh5Gj0Ra7Ue4Zbkfl"
BACKFILL_TAG = "dagster/backfill"
YEAR = 365
JOBS_PER_YEAR_GOAL = 13  # splittable reports: max_days_per_run 31 => 12-13 chunks a year
WALL_GOAL_SECONDS = 600.0  # the whole year on the emulator at its default scale
FINISHED = {
    BulkActionStatus.COMPLETED,
    BulkActionStatus.COMPLETED_SUCCESS,
    BulkActionStatus.COMPLETED_FAILED,
    BulkActionStatus.FAILED,
    BulkActionStatus.CANCELED,
}


@dataclass
class Step:
    """One submitted backfill and how long the daemon took to finish it."""

    label: str
    backfill_ids: list[str]
    seconds: float = 0.0


@dataclass
class MemorySampler:
    """Samples ``/proc`` for the code server's run workers and their step processes.

    The default run launcher starts each run worker as a child of the code server (a
    ``multiprocessing`` spawn); with the multiprocess executor each step is a child of the run
    worker (the in-process executor runs the steps in the run worker itself). ``VmHWM`` is each
    process's own peak, so a sample late in a process's life sees its whole peak; only a process
    that lives less than one interval can be missed.
    """

    code_server: int
    interval: float = 0.25
    worker_peak: dict[int, float] = field(default_factory=dict)
    step_peak: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Sample in a background thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def _sample(self) -> None:
        parents: dict[int, int] = {}
        peaks: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            pid = int(entry.name)
            parents[pid] = int(fields.get("PPid", "0").strip() or 0)
            if "VmHWM" in fields:
                peaks[pid] = int(fields["VmHWM"].split()[0]) / 1024
        workers = {pid for pid, parent in parents.items() if parent == self.code_server and pid in peaks}
        # The code server's multiprocessing resource tracker is a child too, at a few MiB: not a run.
        workers = {pid for pid in workers if peaks[pid] > 50}
        for pid, peak in peaks.items():
            if pid in workers:
                self.worker_peak[pid] = max(self.worker_peak.get(pid, 0.0), peak)
            elif parents.get(pid) in workers:
                worker = parents[pid]
                self.step_peak[worker] = max(self.step_peak.get(worker, 0.0), peak)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the year's backfill and print its figures; the exit status is 0 when it succeeded."""
    args = _parser().parse_args(argv)
    # Stopped early (Ctrl-C, or a SIGTERM, also when started in the background), the services are
    # stopped and the two databases dropped on the way out.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    load_time = _data_load_time()
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as scratch:
        workdir = Path(scratch)
        postgres = server_url()
        with (
            fresh_database(postgres) as dagster_db,
            fresh_database(postgres) as warehouse_db,
            Services(workdir / "logs") as services,
        ):
            return _bench(args, workdir, load_time, dagster_db, warehouse_db, services)


def _bench(
    args: argparse.Namespace,
    workdir: Path,
    load_time: datetime,
    dagster_db: str,
    warehouse_db: str,
    services: Services,
) -> int:
    home = workdir / "dagster_home"
    overrides: dict[str, Any] = {
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"dequeue_interval_seconds": 1},
        }
    }
    config = write_instance_yaml(home, overrides)
    if args.max_concurrent_runs:
        config["concurrency"]["runs"]["max_concurrent_runs"] = args.max_concurrent_runs
        config["concurrency"]["runs"]["tag_concurrency_limits"] = []
        write_instance_yaml(home, {**overrides, "concurrency": config["concurrency"]})
    pg = postgres_env(dagster_db)
    if args.shared_rate_limit:
        # As deploy/ does: every run on the machine paces its Stripe requests through one bucket.
        pg["STRIPE_RATE_LIMIT_DIR"] = str(home / "stripe-rate-limit")
    os.environ.update(pg)
    if args.executor:
        os.environ["STRIPE_REPORTS_EXECUTOR"] = args.executor

    print(f"emulator: generating {args.history_days} days at scale {args.scale} ...", flush=True)
    started = time.perf_counter()
    emulator_url = _start_emulator(services, workdir, load_time, args)
    print(f"  ready in {time.perf_counter() - started:.0f} s at data_load_time {load_time:%Y-%m-%dT%H:%MZ}")
    env = dagster_env(home, emulator_url=emulator_url, api_key=API_KEY, warehouse_url=warehouse_db, extra=pg)
    os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "STRIPE_API_KEY", "STRIPE_API_BASE")})
    os.environ.update({k: env[k] for k in ("STRIPE_FILES_BASE", "WAREHOUSE_URL")})
    deployment = start_deployment(services, env)
    defs = load_definitions(ROOT)
    instance = dg.DagsterInstance.from_config(str(home))
    sampler = MemorySampler(deployment.code_server.process.pid)
    try:
        graph = defs.resolve_asset_graph()
        assets = {key: graph.get(key).assets_def for key in graph.materializable_asset_keys}
        sources = {asset_key(source): source for source in load_catalog().sources}
        window = _window(assets, sources, args.days)
        print(f"window: {window[0]} .. {window[-1]} ({len(window)} days)", flush=True)
        accounts = _connected_accounts(emulator_url)
        instance.add_dynamic_partitions(CONNECTED_ACCOUNTS.name or "", accounts)

        sampler.start()
        total_started = time.perf_counter()
        timed = _launch_timed(deployment, defs, instance, assets, sources, window)
        deployment.start_daemon()
        _wait(deployment, instance, timed)
        payouts = _launch_payouts(defs, instance, assets, sources, warehouse_db)
        if payouts is not None:
            _wait(deployment, instance, payouts)
        total = time.perf_counter() - total_started
        sampler.stop()

        steps = [timed, *([payouts] if payouts else [])]
        stats = httpx.get(f"{emulator_url}/_emulator/stats", timeout=30).json()
        ok = _report(args, instance, assets, sources, window, accounts, steps, total, stats, sampler, config)
        return 0 if ok else 1
    finally:
        sampler.stop()
        instance.dispose()


def _data_load_time() -> datetime:
    """06:00 UTC of today (or yesterday, before then): yesterday is the newest complete day."""
    now = datetime.now(UTC)
    today = now.replace(hour=6, minute=0, second=0, microsecond=0)
    return today if now >= today else today - timedelta(days=1)


def _start_emulator(services: Services, workdir: Path, load_time: datetime, args: argparse.Namespace) -> str:
    url_file = workdir / "emulator.url"
    command = [str(BIN / "stripe-emulator"), "serve", "--port", "0", "--days", str(args.history_days)]
    command += ["--data-load-time", load_time.isoformat().replace("+00:00", "Z")]
    command += ["--scale", str(args.scale), "--print-url-file", str(url_file), "--log-level", "WARNING"]
    if args.run_delay is not None:
        command += ["--run-delay", str(args.run_delay)]
    service = services.start("stripe-emulator", command, os.environ)
    wait_until(url_file.exists, service, timeout=900, what="the emulator to write its URL")
    return url_file.read_text().strip()


def _connected_accounts(emulator_url: str) -> list[str]:
    """The platform's connected accounts, as the stripe_connected_accounts sensor would add them."""
    response = httpx.get(f"{emulator_url}/v1/accounts", params={"limit": 100}, auth=(API_KEY, ""), timeout=30)
    response.raise_for_status()
    return sorted(account["id"] for account in response.json()["data"])


def _window(
    assets: Mapping[dg.AssetKey, dg.AssetsDefinition], sources: Mapping[dg.AssetKey, Any], days: int
) -> list[str]:
    """The newest ``days`` complete days every daily asset has (fewer if the catalogue starts later)."""
    from pipelines.partitions import daily_partitions

    common: set[str] | None = None
    for key, source in sources.items():
        if isinstance(source, PayoutReportSource) or getattr(source, "period", "day") != "day":
            continue
        keys = set(daily_partitions(assets[key].partitions_def).get_partition_keys())  # type: ignore[arg-type]
        common = keys if common is None else common & keys
    return sorted(common or ())[-days:]


def _launch_timed(
    deployment: Any,
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    assets: Mapping[dg.AssetKey, dg.AssetsDefinition],
    sources: Mapping[dg.AssetKey, Any],
    window: list[str],
) -> Step:
    """One backfill of every daily and monthly asset over ``window`` (as the UI launches it), and
    one of the per-account asset over every connected account (as ``stripe-reports backfill`` does)."""
    ranges = []
    connect = []
    for key, source in sources.items():
        if isinstance(source, PayoutReportSource):
            continue
        if getattr(source, "connect", None):
            connect.append(key)
            continue
        keys = assets[key].partitions_def.get_partition_keys()  # type: ignore[union-attr]
        if getattr(source, "period", "day") == "month":
            keys = [k for k in keys if window[0][:7] <= k[:7] and _month_end(k) <= window[-1]]
        else:
            keys = [k for k in keys if window[0] <= k <= window[-1]]
        if keys:
            ranges.append(
                {"assetKey": {"path": key.path}, "partitions": {"range": {"start": keys[0], "end": keys[-1]}}}
            )
    launched = deployment.graphql.query(
        LAUNCH_BACKFILL, {"params": {"partitionsByAssets": ranges, "title": "a year of every asset"}}
    )["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"the backfill was refused: {launched}")
    ids = [launched["backfillId"]]
    for key in connect:
        plan = plan_backfill(
            defs,
            key.to_user_string(),
            date.fromisoformat(window[0]),
            date.fromisoformat(window[-1]),
            instance=instance,
        )
        ids.append(submit_backfill(defs, instance, plan))
    return Step("daily, monthly and per-account assets", ids)


def _month_end(key: str) -> str:
    first = date.fromisoformat(key[:7] + "-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - timedelta(days=1)).isoformat()


def _launch_payouts(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    assets: Mapping[dg.AssetKey, dg.AssetsDefinition],
    sources: Mapping[dg.AssetKey, Any],
    warehouse_url: str,
) -> Step | None:
    """The per-payout reports over every paid payout the first step landed (what the payout sensor
    adds as partitions), as one backfill."""
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id
    from dagster._time import get_current_timestamp

    from pipelines.automation import PAYOUT_COLUMNS

    ids = []
    warehouse = Warehouse(warehouse_url, schema=os.environ.get("WAREHOUSE_SCHEMA", "stripe"))
    try:
        for key, source in sources.items():
            if not isinstance(source, PayoutReportSource):
                continue
            paid = paid_payouts(warehouse.rows(source.payouts_from, PAYOUT_COLUMNS))
            instance.add_dynamic_partitions(source.partitions_name, paid)
            backfill_id = make_new_backfill_id()
            instance.add_backfill(
                PartitionBackfill.from_asset_partitions(
                    backfill_id=backfill_id,
                    asset_graph=defs.resolve_asset_graph(),
                    partition_names=paid,
                    asset_selection=[key],
                    backfill_timestamp=get_current_timestamp(),
                    tags={},
                    dynamic_partitions_store=instance,
                    all_partitions=False,
                    title=f"every paid payout of {source.name}",
                    description=None,
                    run_config=None,
                )
            )
            ids.append(backfill_id)
    finally:
        warehouse.dispose()
    return Step("per-payout reports", ids) if ids else None


def _wait(deployment: Any, instance: dg.DagsterInstance, step: Step) -> None:
    started = time.perf_counter()
    print(f"backfilling {step.label} ...", flush=True)

    def finished() -> bool:
        deployment.ensure_running()
        return all(
            (b := instance.get_backfill(backfill_id)) is not None and b.status in FINISHED
            for backfill_id in step.backfill_ids
        )

    wait_until(finished, deployment.daemon, timeout=7200, what=step.label, interval=2)
    step.seconds = time.perf_counter() - started
    print(f"  done in {step.seconds:.0f} s", flush=True)


def _report(
    args: argparse.Namespace,
    instance: dg.DagsterInstance,
    assets: Mapping[dg.AssetKey, dg.AssetsDefinition],
    sources: Mapping[dg.AssetKey, Any],
    window: list[str],
    accounts: list[str],
    steps: list[Step],
    total: float,
    stats: Mapping[str, Any],
    sampler: MemorySampler,
    config: Mapping[str, Any],
) -> bool:
    days = len(window)
    runs = {
        step.label: [
            r
            for bid in step.backfill_ids
            for r in instance.get_run_records(dg.RunsFilter(tags={BACKFILL_TAG: bid}))
        ]
        for step in steps
    }
    all_runs = [r for records in runs.values() for r in records]
    failed = [r for r in all_runs if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS]
    statuses = {s.label: instance.get_backfill(s.backfill_ids[0]).status.value for s in steps}  # type: ignore[union-attr]
    queue = config["concurrency"]["runs"]
    limits = [r["limit"] for r in queue.get("tag_concurrency_limits", []) if r["key"] == BACKFILL_TAG]
    backfill_limit = min(limits) if limits else "none"

    print("\n== a year of every asset through the Dagster daemon ==")
    print(
        f"{datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}, "
        f"dagster {metadata.version('dagster')}, "
        f"{os.cpu_count()} CPUs; emulator scale {args.scale}, {len(accounts)} connected accounts; "
        f"window {window[0]} .. {window[-1]} ({days} days); max_concurrent_runs "
        f"{queue['max_concurrent_runs']}, backfill runs limit "
        f"{backfill_limit}, "
        f"stripe_api pool {config['concurrency']['pools']['default_limit']}, "
        f"executor {os.environ.get('STRIPE_REPORTS_EXECUTOR', 'in_process')}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )

    print(f"\n{'asset':<58} {'kind':<11} {'partitions':>10} {'jobs':>6} {'per year':>8}  goal")
    total_jobs = 0
    for key in sorted(sources, key=lambda k: k.to_user_string()):
        source = sources[key]
        jobs, partitions = _stripe_jobs(instance, key)
        total_jobs += len(jobs)
        kind, goal = _goal(source, days, len(accounts), partitions)
        per_year = len(jobs) * YEAR / days / (len(accounts) if kind == "connect" else 1)
        shown = f"{per_year:8.1f}" if kind not in ("per-payout",) else f"{'-':>8}"
        print(f"{key.to_user_string():<58} {kind:<11} {partitions:>10} {len(jobs):>6} {shown}  {goal}")
    created = stats.get("runs_created", {})
    print(
        f"\nStripe jobs landed: {total_jobs}; the emulator created {sum(created.values())} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(created.items()))}); "
        f"idempotent replays: {stats.get('idempotent_replays', 0)}"
    )
    requests = sum(stats.get("requests", {}).values())
    limit = f"{EmulatorConfig().test_rate_limit:g}"
    pacing = "shared by every run" if args.shared_rate_limit else "off (--no-shared-rate-limit)"
    print(
        f"Stripe requests: {requests}, answered 429 by the emulator's {limit}/s test-mode limit: "
        f"{stats.get('rate_limited', 0)} (goal 0: no 429 storm); client rate limiter {pacing}"
    )

    print(f"\n{'step':<40} {'runs':>5} {'wall s':>8} {'run s median':>13} {'run s max':>10}")
    for step in steps:
        records = runs[step.label]
        durations = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
        print(
            f"{step.label:<40} {len(records):>5} {step.seconds:>8.0f} "
            f"{statistics.median(durations) if durations else 0:>13.1f} {max(durations, default=0):>10.1f}"
        )
    print(f"backfill status: {statuses}; failed runs: {len(failed)}")
    worker = list(sampler.worker_peak.values())
    stepp = list(sampler.step_peak.values())
    if worker:
        print(
            f"peak RSS per run (MiB, {len(worker)} run workers for {len(all_runs)} runs): run worker median "
            f"{statistics.median(worker):.0f}, max {max(worker):.0f}; step processes median "
            f"{statistics.median(stepp) if stepp else 0:.0f}, max {max(stepp, default=0):.0f}"
        )
    else:
        print("peak RSS per run: no run worker was seen in /proc (not Linux?)")

    print("\n== goals ==")
    per_year = total * YEAR / days
    print(
        f"whole backfill: {total:.0f} s for {days} days (goal: a year under {WALL_GOAL_SECONDS:.0f} s) "
        f"=> {per_year:.0f} s per year: {'met' if per_year < WALL_GOAL_SECONDS else 'MISSED'}"
    )
    splittable = [k for k, s in sources.items() if _goal(s, days, len(accounts), 0)[0] == "ranged"]
    worst = max((len(_stripe_jobs(instance, k)[0]) * YEAR / days for k in splittable), default=0.0)
    print(
        f"splittable reports: at most {worst:.1f} Stripe jobs per asset-year (goal <= {JOBS_PER_YEAR_GOAL}): "
        f"{'met' if worst <= JOBS_PER_YEAR_GOAL else 'MISSED'}"
    )
    return not failed and all(s == BulkActionStatus.COMPLETED_SUCCESS.value for s in statuses.values())


def _stripe_jobs(instance: dg.DagsterInstance, key: dg.AssetKey) -> tuple[set[str], int]:
    """The distinct Stripe runs the asset's landed partitions came from, and how many partitions landed."""
    records: list[Any] = []
    cursor = None
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key), limit=10_000, cursor=cursor
        )
        records += page.records
        if not page.has_more:
            break
        cursor = page.cursor
    jobs: set[str] = set()
    partitions: set[str] = set()
    for record in records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        partitions.add(materialization.partition or "")
        run_id = materialization.metadata.get("stripe_run_id")
        if run_id is not None:
            jobs.add(str(run_id.value))
    return jobs, len(partitions)


def _goal(source: Any, days: int, accounts: int, partitions: int) -> tuple[str, str]:
    """The kind of entry and the Stripe jobs it should make for the window."""
    chunks = math.ceil(days / 31)
    if isinstance(source, PayoutReportSource):
        return "per-payout", f"one per paid payout ({partitions})"
    if getattr(source, "period", "day") == "month":
        return "monthly", "one per month (12 a year)"
    if getattr(source, "connect", None):
        return (
            "connect",
            f"<= {JOBS_PER_YEAR_GOAL} per account-year ({chunks}+ for {accounts} accounts x {days} days)",
        )
    if getattr(source, "splittable", False):
        return "ranged", f"<= {JOBS_PER_YEAR_GOAL} per asset-year"
    return "per-day", "one per day (Stripe computes the report a day at a time)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=YEAR, help="days to backfill (default %(default)s)")
    parser.add_argument(
        "--history-days",
        type=int,
        default=YEAR + 31,
        help="days the emulator generates (default %(default)s)",
    )
    parser.add_argument("--scale", type=int, default=200, help="emulator scale (default 200, its own)")
    parser.add_argument("--run-delay", type=float, default=None, help="emulator run delay (default: its own)")
    parser.add_argument(
        "--executor",
        choices=("in_process", "multiprocess", "forkserver"),
        default=None,
        help="how runs execute their steps (default: the code location's, STRIPE_REPORTS_EXECUTOR)",
    )
    parser.add_argument(
        "--max-concurrent-runs",
        type=int,
        default=0,
        help="run queue limit, no separate backfill limit (default: deploy/dagster.yaml's limits)",
    )
    parser.add_argument(
        "--no-shared-rate-limit",
        dest="shared_rate_limit",
        action="store_false",
        help="runs pace only themselves (no STRIPE_RATE_LIMIT_DIR), to count the 429s that causes",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
