"""``stripe-reports``: the project's command line, for what is not a Dagster run.

    stripe-reports catalog                  list the assets the catalogue defines
    stripe-reports saved-queries plan       show how Stripe's saved queries would change
    stripe-reports saved-queries apply      create/update them by name (never deletes)

Saved queries take no parameters, so a ``.sql`` file with a ``-- saved_query: <name>`` header is
saved rendered for "the last complete day before data_load_time"; its asset runs the saved query
for the newest day and the file's own SQL for any other window. Configuration comes from the
same environment variables as the Dagster code (``STRIPE_API_KEY``, ``STRIPE_API_BASE``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pipelines.catalog import load_catalog
from pipelines.errors import CatalogError
from pipelines.sigma_sql import render_latest_day
from pipelines.stripe import SavedQueries, StripeClient
from pipelines.stripe.client import DEFAULT_API_BASE
from pipelines.stripe.errors import StripeError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stripe-reports`` console script."""
    parser = argparse.ArgumentParser(prog="stripe-reports", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("catalog", help="list the assets the catalogue defines")
    saved = commands.add_parser("saved-queries", help="sync sql/ files that name a saved query")
    saved.add_argument("action", choices=["plan", "apply"])
    args = parser.parse_args(argv)
    try:
        if args.command == "catalog":
            return _catalog()
        return _saved_queries(apply=args.action == "apply")
    except (CatalogError, StripeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _catalog() -> int:
    catalog = load_catalog()
    for source in catalog.sources:
        split = "ranged" if source.splittable else "one run per day"
        fan_out = ", per connected account" if source.connect else ""
        key = "/".join([*source.key_prefix, source.name])
        print(f"{key:<65} {source.source_label:<44} {source.timezone:<18} {split}{fan_out}")
    return 0


def _saved_queries(*, apply: bool) -> int:
    key = os.environ.get("STRIPE_API_KEY")
    if not key:
        print("error: set STRIPE_API_KEY (a key with Sigma saved-query write permission)", file=sys.stderr)
        return 2
    local = {
        spec.saved_query: render_latest_day(spec.sql, spec.path)
        for spec in load_catalog().queries
        if spec.saved_query
    }
    if not local:
        print("No sql/ file names a saved query (header `-- saved_query: <name>`).")
        return 0
    with StripeClient(key, api_base=os.environ.get("STRIPE_API_BASE", DEFAULT_API_BASE)) as client:
        saved = SavedQueries(client)
        plan = saved.plan_sync(local)
        for change in plan:
            print(change.describe())
            if change.action in ("create", "update"):
                print(change.diff())
        pending = [c for c in plan if c.action != "unchanged"]
        if not apply:
            print(f"\n{len(pending)} change(s); run `stripe-reports saved-queries apply` to make them.")
            return 0
        ids = saved.apply(pending)
        for name, query_id in sorted(ids.items()):
            print(f"saved {name!r} as {query_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
