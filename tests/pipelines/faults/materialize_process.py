"""Materialize one partition of one asset in a process of its own, so that a test can kill it.

    STRIPE_API_KEY=... WAREHOUSE_URL=... python materialize_process.py DAGSTER_HOME API_BASE ASSET PARTITION
        [--hold-in-transaction]

The key and the warehouse URL come from the environment, as in production. The run is recorded in
a persistent Dagster instance under DAGSTER_HOME. Prints ``done SUCCESS`` (or ``done FAILURE``) at the
end. With ``--hold-in-transaction`` the warehouse load prints ``holding`` once it has deleted the
partition's rows and inserted the new ones, just before it would commit, and then waits: the test
kills the process inside the open transaction.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import dagster as dg
import sqlalchemy as sa

from pipelines.catalog import load_catalog
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from pipelines.translator import asset_key


def hold_before_warehouse_commits() -> None:
    """Block every warehouse transaction that deleted rows just before it commits."""
    deleting: set[int] = set()

    @sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
    def after_execute(conn: sa.Connection, cursor: Any, statement: str, *_: Any) -> None:
        # Dagster's own storage is SQLite; only the warehouse's replace is held.
        if conn.engine.dialect.name != "sqlite" and statement.lstrip().upper().startswith("DELETE FROM"):
            deleting.add(id(conn))

    @sa.event.listens_for(sa.engine.Engine, "commit")
    def before_commit(conn: sa.Connection) -> None:
        if id(conn) in deleting:
            print("holding", flush=True)
            while True:
                time.sleep(1)


def main() -> int:
    """Parse the arguments and run the materialization."""
    parser = argparse.ArgumentParser()
    parser.add_argument("dagster_home")
    parser.add_argument("api_base")
    parser.add_argument("asset")
    parser.add_argument("partition")
    parser.add_argument("--hold-in-transaction", action="store_true")
    args = parser.parse_args()
    if args.hold_in_transaction:
        hold_before_warehouse_commits()
    catalog = load_catalog()
    resources = {
        "stripe": StripeResource(
            api_key=dg.EnvVar("STRIPE_API_KEY"),
            api_base=args.api_base,
            files_base=args.api_base,
            request_timeout_seconds=60.0,
            poll_initial_seconds=0.05,
            poll_max_seconds=0.2,
        ),
        "warehouse": WarehouseResource(url=dg.EnvVar("WAREHOUSE_URL")),
    }
    defs = build_definitions(catalog, resources, retry_policy=dg.RetryPolicy(max_retries=0))
    key = asset_key(catalog.get(args.asset))
    asset = next(a for a in defs.assets if a.key == key)  # type: ignore[union-attr]
    with dg.DagsterInstance.local_temp(tempdir=args.dagster_home) as instance:
        print("started", flush=True)
        result = dg.materialize(
            [asset],
            instance=instance,
            partition_key=args.partition,
            resources=defs.resources,
            raise_on_error=False,
        )
    print(f"done {'SUCCESS' if result.success else 'FAILURE'}", flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
