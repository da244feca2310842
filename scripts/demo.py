"""`make demo`: the whole product on one machine, with nothing to configure.

Starts the Stripe emulator on a free local port, points the project at it (only the base URL and
key differ from production), materializes the last seven complete days of every asset into the
embedded DuckDB warehouse (data/warehouse.duckdb) — one ranged Stripe job per asset where the
report allows it — runs the reconciliation check, prints each table's rows per day and stops the
emulator. Runs are recorded in data/dagster_home, so `make dev` shows them afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAYS = 7
# Dagster's per-event console log is for `dagster dev`; the demo prints its own summary.
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
DEMO_KEY = "sk_test_51DemoKeyForTheLocalEmulator00000"


def main() -> int:
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    data = ROOT / "data"
    home = data / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(ROOT / "deploy" / "dagster.local.yaml", home / "dagster.yaml")

    with _emulator(data) as url:
        os.environ.update(
            DAGSTER_HOME=str(home),
            STRIPE_API_KEY=DEMO_KEY,
            STRIPE_API_BASE=url,
            STRIPE_FILES_BASE=url,
        )
        os.environ.pop("WAREHOUSE_URL", None)
        return _run()


def _run() -> int:
    # Imported here so the environment above is what the definitions see.
    import dagster as dg

    from definitions import defs as load_defs

    defs = load_defs()
    from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG, Target, complete_partitions
    from pipelines.catalog import load_catalog
    from pipelines.checks import reconciliation_pairs
    from pipelines.freshness import FreshnessProbe
    from pipelines.partitions import CONNECTED_ACCOUNTS, partition_key
    from pipelines.resources import StripeResource

    catalog = load_catalog()
    instance = dg.DagsterInstance.get()
    stripe = StripeResource(
        api_key=DEMO_KEY, api_base=os.environ["STRIPE_API_BASE"], files_base=os.environ["STRIPE_FILES_BASE"]
    )
    assets = {a.key.path[-1]: a for a in defs.assets}  # type: ignore[union-attr]
    failures = 0
    started = time.monotonic()
    with stripe.session() as session:
        accounts = sorted(a["id"] for a in session.client.list("/v1/accounts"))
        instance.add_dynamic_partitions(CONNECTED_ACCOUNTS.name or "", accounts)
        print(f"Stripe emulator at {os.environ['STRIPE_API_BASE']}; {len(accounts)} connected accounts.\n")
        for spec in catalog.sources:
            asset = assets[spec.name]
            fresh = FreshnessProbe(session).freshness(spec)
            loaded_until, label = fresh.loaded_until, fresh.label
            days = complete_partitions(Target(spec, asset), loaded_until)[-DAYS:]
            print(f"  {spec.name}: {label} is {loaded_until:%Y-%m-%d %H:%MZ}")
            for account in accounts if spec.connect else [None]:
                first, last = partition_key(account, days[0]), partition_key(account, days[-1])
                result = dg.materialize(
                    [asset],
                    instance=instance,
                    resources=defs.resources,
                    tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
                    run_config=QUIET,
                    raise_on_error=False,
                )
                status = "ok" if result.success else "FAILED"
                failures += not result.success
                who = f" [{account}]" if account else ""
                print(f"  {status:6} {spec.name}{who}: {days[0]} .. {days[-1]}")

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

    _print_row_counts(defs, catalog)
    elapsed = time.monotonic() - started
    print(f"\nDone in {elapsed:.0f}s; warehouse: data/warehouse.duckdb, runs: data/dagster_home.")
    return 1 if failures else 0


def _print_row_counts(defs, catalog) -> None:  # type: ignore[no-untyped-def]
    print("\nRows per day, by table (the newest 7 complete days):")
    with defs.resources["warehouse"].open() as warehouse:
        for spec in catalog.sources:
            counts = warehouse.row_counts(spec.table)
            days = sorted(counts)[-DAYS:]
            cells = "  ".join(f"{day[5:]}:{counts[day]:>5}" for day in days)
            print(f"  {warehouse.schema}.{spec.table:<62} {cells}")


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
