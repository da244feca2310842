"""`make demo`: the whole product on one machine, with nothing to configure.

Starts the Stripe emulator on a free local port, points the project at it (only the base URL and
key differ from production), lands the last complete days of every asset into the warehouse (the
embedded DuckDB file data/warehouse.duckdb unless --warehouse names another) — one ranged Stripe job
per asset where the report allows it — runs the reconciliation check, builds the example dbt project
(examples/dbt_finance) on the landed tables, prints each table's rows per day and stops the emulator.
Runs are named after what they do (land_<asset>, finance_dbt_daily, finance_dbt) and recorded in
data/dagster_home, so `make dev` shows them afterwards.

    make demo DEMO_ARGS="--days 3 --warehouse postgresql+psycopg://user:pass@localhost/db"
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DAYS = 7
DBT_PROJECT = ROOT / "examples" / "dbt_finance"
# Dagster's per-event console log is for `dagster dev`; the demo prints its own summary.
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
DEMO_KEY = "sk_test_51DemoKeyForTheLocalEmulator00000"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The demo's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help=f"complete days to land per asset (default {DEFAULT_DAYS})",
    )
    parser.add_argument(
        "--warehouse",
        metavar="URL",
        default=None,
        help="SQLAlchemy URL of the warehouse (default: WAREHOUSE_URL, else warehouse.duckdb in --data)",
    )
    parser.add_argument("--no-dbt", action="store_true", help=f"do not build {DBT_PROJECT.relative_to(ROOT)}")
    parser.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=ROOT / "data",
        help="where the Dagster home (runs) and the logs go (default: data/)",
    )
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    data = args.data.resolve()
    home = data / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(ROOT / "deploy" / "dagster.local.yaml", home / "dagster.yaml")

    print("Starting the Stripe emulator (it generates the account's history first)...", flush=True)
    with _emulator(data) as url:
        os.environ.update(
            DAGSTER_HOME=str(home),
            STRIPE_API_KEY=DEMO_KEY,
            STRIPE_API_BASE=url,
            STRIPE_FILES_BASE=url,
            # Requests paced under Stripe's test-mode limit (25 a second), which the emulator enforces.
            STRIPE_RATE_LIMIT_DIR=str(home / "stripe-rate-limit"),
        )
        if args.warehouse:
            os.environ["WAREHOUSE_URL"] = args.warehouse
        elif not os.environ.get("WAREHOUSE_URL"):
            # The embedded default, beside the Dagster home (data/warehouse.duckdb, as `make dev` reads it).
            os.environ["WAREHOUSE_URL"] = f"duckdb:///{data / 'warehouse.duckdb'}"
        if args.no_dbt:
            os.environ.pop("WAREHOUSE_DBT_PROJECT", None)
        else:
            os.environ.setdefault("WAREHOUSE_DBT_PROJECT", str(DBT_PROJECT))
        return _run(args.days, data)


def _landing_jobs(defs: Any, targets: list[Any]) -> Any:
    """``land_<asset>`` jobs: the asset and the checks its own materialization evaluates."""
    import dagster as dg

    jobs = [
        dg.define_asset_job(
            f"land_{target.source.name}",
            selection=dg.AssetSelection.assets(target.key).without_checks()
            | dg.AssetSelection.checks(*target.own_checks),
            description=f"Land days of {target.key.to_user_string()} from Stripe into the warehouse.",
        )
        for target in targets
    ]
    return dg.Definitions.merge(defs, dg.Definitions(jobs=jobs))


def _run(days_wanted: int, data: Path) -> int:
    # Imported here so the environment above is what the definitions see.
    import dagster as dg

    from definitions import defs as load_defs

    print("Loading the definitions (the catalogue, and the dbt project's manifest)...", flush=True)
    defs = load_defs()
    from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG, Target, complete_partitions
    from pipelines.catalog import load_catalog
    from pipelines.checks import reconciliation_pairs
    from pipelines.freshness import FreshnessProbe
    from pipelines.partitions import CONNECTED_ACCOUNTS, partition_key
    from pipelines.resources import StripeResource
    from pipelines.translator import asset_key

    catalog = load_catalog()
    instance = dg.DagsterInstance.get()
    stripe = StripeResource(
        api_key=DEMO_KEY, api_base=os.environ["STRIPE_API_BASE"], files_base=os.environ["STRIPE_FILES_BASE"]
    )
    by_key = {key: a for a in defs.assets or [] for key in a.keys}  # type: ignore[union-attr]
    targets = [Target(spec, by_key[asset_key(spec)]) for spec in catalog.sources]
    defs = _landing_jobs(defs, targets)
    failures = 0
    started = time.monotonic()
    landed_days: dict[str, list[str]] = {}
    with stripe.session() as session:
        accounts = sorted(a["id"] for a in session.client.list("/v1/accounts"))
        instance.add_dynamic_partitions(CONNECTED_ACCOUNTS.name or "", accounts)
        print(f"Stripe emulator at {os.environ['STRIPE_API_BASE']}; {len(accounts)} connected accounts.\n")
        for target in targets:
            spec = target.source
            if isinstance(target.asset.partitions_def, dg.DynamicPartitionsDefinition):
                # One partition per payout, which its sensor adds from the landed payouts table.
                print(f"  skip   {spec.name}: partitioned by payout, not by day (see its sensor in make dev)")
                continue
            fresh = FreshnessProbe(session).freshness(spec)
            loaded_until, label = fresh.loaded_until, fresh.label
            days = complete_partitions(target, loaded_until)[-days_wanted:]
            landed_days[spec.name] = days
            print(f"  {spec.name}: {label} is {loaded_until:%Y-%m-%d %H:%MZ}", flush=True)
            if not days:
                print(f"  skip   {spec.name}: no complete period yet")
                continue
            job = defs.resolve_job_def(f"land_{spec.name}")
            for account in accounts if spec.per_account else [None]:
                first, last = partition_key(account, days[0]), partition_key(account, days[-1])
                result = job.execute_in_process(
                    instance=instance,
                    tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
                    run_config=QUIET,
                    raise_on_error=False,
                )
                status = "ok" if result.success else "FAILED"
                failures += not result.success
                who = f" [{account}]" if account else ""
                print(f"  {status:6} {job.name}{who}: {days[0]} .. {days[-1]}", flush=True)

    if reconciliation_pairs(catalog):
        job = defs.resolve_job_def("stripe_reconciliation")
        result = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False)
        for evaluation in result.get_asset_check_evaluations():
            verdict = "passed" if evaluation.passed else "FAILED"
            print(
                f"\n  check {evaluation.check_name} on {evaluation.asset_key.to_user_string()}: {verdict}"
                f" — {evaluation.description}"
            )
            failures += not evaluation.passed

    if os.environ.get("WAREHOUSE_DBT_PROJECT"):
        failures += _build_dbt(defs, instance, landed_days, QUIET, data / "dbt.log")
        print(f"  (dbt's log: {_shown(data / 'dbt.log')})")

    _print_row_counts(catalog, days_wanted)
    elapsed = time.monotonic() - started
    where = os.environ["WAREHOUSE_URL"]
    runs = _shown(data / "dagster_home")
    print(f"\nDone in {elapsed:.0f}s; warehouse: {_hide_password(where)}, runs: {runs}.")
    return 1 if failures else 0


def _build_dbt(
    defs: Any, instance: Any, landed_days: dict[str, list[str]], run_config: Any, log: Path
) -> int:
    """``dbt build`` through Dagster: the daily models for the landed days, then the others."""
    from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG

    print(f"\ndbt ({os.environ['WAREHOUSE_DBT_PROJECT']}):", flush=True)
    failures = 0
    job_names = {job.name for job in defs.jobs or []}
    days = landed_days.get("balance_change_from_activity_itemized_3") or []
    runs: list[tuple[str, dict[str, str]]] = []
    if "finance_dbt_daily" in job_names and days:
        runs.append(("finance_dbt_daily", {RANGE_START_TAG: days[0], RANGE_END_TAG: days[-1]}))
    runs.append(("finance_dbt", {}))
    for name, tags in runs:
        # dbt's own log lines go to the run's log in the UI and to dbt.log, not the terminal.
        with log.open("a") as out, contextlib.redirect_stdout(out):
            result = defs.resolve_job_def(name).execute_in_process(
                instance=instance, tags=tags, run_config=run_config, raise_on_error=False
            )
        failures += not result.success
        models = sorted(
            {e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key}
        )
        checks = result.get_asset_check_evaluations()
        passed = sum(c.passed for c in checks)
        window = f" {tags[RANGE_START_TAG]} .. {tags[RANGE_END_TAG]}" if tags else ""
        status = "ok" if result.success else "FAILED"
        built = ", ".join(models) or "nothing built"
        print(f"  {status:6} {name}{window}: {built} (dbt tests: {passed}/{len(checks)} passed)", flush=True)
    return failures


def _print_row_counts(catalog: Any, days_wanted: int) -> None:
    print(f"\nRows per day, by table (the newest {min(days_wanted, 7)} complete days):")
    from pipelines.warehouse import Warehouse

    # main() set WAREHOUSE_URL: --warehouse, the caller's, or the embedded default in --data.
    url, schema = os.environ["WAREHOUSE_URL"], os.environ.get("WAREHOUSE_SCHEMA", "stripe")
    with Warehouse(url, schema=schema) as warehouse:
        for spec in catalog.sources:
            if warehouse.table_columns(spec.table) is None:
                continue
            counts = warehouse.row_counts(spec.table)
            days = sorted(counts)[-min(days_wanted, 7) :]
            cells = "  ".join(f"{day[5:]}:{counts[day]:>5}" for day in days)
            print(f"  {warehouse.schema}.{spec.table:<62} {cells}")
        if os.environ.get("WAREHOUSE_DBT_PROJECT"):
            import sqlalchemy as sa

            print("\nRows per dbt model (schema finance):")
            inspector = sa.inspect(warehouse.engine)
            with warehouse.engine.connect() as connection:
                for name in sorted(inspector.get_table_names(schema="finance")):
                    count = connection.execute(
                        sa.select(sa.func.count()).select_from(sa.table(name, schema="finance"))
                    ).scalar_one()
                    print(f"  finance.{name:<60} {count:>6}")


def _shown(path: Path) -> str:
    """``path`` relative to the project when it is inside it, as the README names it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


class _emulator:
    """The emulator as its own process, like the real Stripe API would be."""

    def __init__(self, data: Path) -> None:
        self._log = data / "emulator.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        url_file = Path(tempfile.mkdtemp()) / "url"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        executable = Path(sys.executable).with_name("stripe-emulator")
        self._process = subprocess.Popen(
            [str(executable), "serve", "--port", str(port), "--print-url-file", str(url_file)],
            stdout=self._log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while not url_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the Stripe emulator did not start; see {self._log}")
            time.sleep(0.1)
        return url_file.read_text().strip()

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
