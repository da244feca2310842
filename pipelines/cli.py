"""``stripe-reports``: the project's command line, for what is not a Dagster run.

    stripe-reports catalog [--check]        list the assets; --check: names against what Stripe offers
    stripe-reports compare ASSET --day D    run one day on v1 and on /v2/data and compare the rows
    stripe-reports saved-queries plan       show how Stripe's saved queries would change
    stripe-reports saved-queries apply      create/update them by name (never deletes)
    stripe-reports close ASSET... --month M close a month (--all: every asset; --account: one account)
    stripe-reports reopen ASSET... --month M --reason R   reopen it, saying why
    stripe-reports closes [ASSET]           every close and reopen, oldest first
    stripe-reports backfill ASSET --from D --to D [--account acct_...] [--in-process]
                                            days of one asset as ranged runs (pipelines.backfill)

Saved queries take no parameters, so a ``.sql`` file with a ``-- saved_query: <name>`` header is
saved rendered for "the last complete day before data_load_time"; its asset runs the saved query
for the newest day and the file's own SQL for any other window. Configuration comes from the
same environment variables as the Dagster code (``STRIPE_API_KEY``, ``STRIPE_API_BASE``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.catalog import load_catalog
from pipelines.closing import close_month, reopen_month, select_sources
from pipelines.compare import compare_window
from pipelines.contracts import check_catalog
from pipelines.errors import CatalogError
from pipelines.sigma_sql import render_latest_day
from pipelines.stripe import SavedQueries, StripeSettings, open_session
from pipelines.stripe.client import DEFAULT_API_BASE
from pipelines.stripe.errors import StripeError
from pipelines.warehouse import DEFAULT_WAREHOUSE_URL, Periods, Warehouse
from pipelines.workdirs import run_workdir


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stripe-reports`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["backfill"]:
        return _backfill(argv[1:])
    parser = argparse.ArgumentParser(prog="stripe-reports", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "backfill", help="backfill days of one asset as ranged runs (stripe-reports backfill --help)"
    )
    catalog = commands.add_parser("catalog", help="list the assets the catalogue defines")
    catalog.add_argument(
        "--check",
        action="store_true",
        help="check sql/ tables and columns, report types, report columns and currencies against Stripe",
    )
    compare = commands.add_parser("compare", help="run one day of an entry on v1 and v2, compare the rows")
    compare.add_argument("asset", help="asset name (stripe-reports catalog lists them)")
    compare.add_argument("--day", required=True, type=date.fromisoformat, help="the day, YYYY-MM-DD")
    saved = commands.add_parser("saved-queries", help="sync sql/ files that name a saved query")
    saved.add_argument("action", choices=["plan", "apply"])
    _period_commands(commands)
    args = parser.parse_args(argv)
    try:
        if args.command in ("close", "reopen", "closes"):
            return _periods(args)
        if args.command == "catalog":
            return _catalog(check=args.check)
        if args.command == "compare":
            return _compare(args.asset, args.day)
        return _saved_queries(apply=args.action == "apply")
    except (CatalogError, StripeError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _backfill(args: Sequence[str]) -> int:
    """``stripe-reports backfill``: the command lives in the Dagster layer (``pipelines.backfill``),
    which this module does not import, so it runs in a Python process of its own."""
    return subprocess.run([sys.executable, "-m", "pipelines.backfill", *args], check=False).returncode


def _period_commands(commands: Any) -> None:
    for name, help_text in (
        ("close", "close a month: later landings of its days keep its rows and record Stripe's changes"),
        ("reopen", "reopen a closed month (with a reason): its next landing replaces it"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("assets", nargs="*", help="asset names (stripe-reports catalog lists them)")
        command.add_argument("--all", action="store_true", help="every asset of the catalogue")
        command.add_argument("--month", required=True, help="the month, YYYY-MM")
        command.add_argument("--account", help="only this connected account (Connect assets)")
        command.add_argument("--by", help="who does it (default: $USER)")
        if name == "reopen":
            command.add_argument("--reason", required=True, help="why the month is reopened")
    closes = commands.add_parser("closes", help="every close and reopen, oldest first")
    closes.add_argument("assets", nargs="*", help="asset names (default: every asset)")


def warehouse_from_env(environ: Mapping[str, str] = os.environ) -> Warehouse:
    """The warehouse the Dagster code uses (``WAREHOUSE_URL``, ``WAREHOUSE_SCHEMA``)."""
    return Warehouse(
        environ.get("WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL), schema=environ.get("WAREHOUSE_SCHEMA", "stripe")
    )


def _periods(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> int:
    sources = load_catalog().sources
    with warehouse_from_env(environ) as warehouse:
        if args.command == "closes":
            chosen = select_sources(sources, args.assets, every=not args.assets)
            tables = {source.table for source in chosen}
            history = [c for c in Periods(warehouse).history() if c.table in tables]
            for close in history:
                print(close.describe())
            if not history:
                print("No month has been closed.")
            return 0
        chosen = select_sources(sources, args.assets, every=args.all)
        who = args.by or environ.get("USER") or "stripe-reports"
        if args.command == "close":
            outcomes = close_month(warehouse, chosen, args.month, closed_by=who, account=args.account)
        else:
            outcomes = reopen_month(
                warehouse, chosen, args.month, reopened_by=who, reason=args.reason, account=args.account
            )
    for outcome in outcomes:
        print(outcome.describe(), file=sys.stderr if outcome.error else sys.stdout)
    return 1 if any(outcome.error for outcome in outcomes) else 0


def settings_from_env(environ: Mapping[str, str] = os.environ) -> StripeSettings | None:
    """The Stripe settings the command line uses (the Dagster code's variables), None without a key."""
    key = environ.get("STRIPE_API_KEY")
    if not key:
        return None
    api_base = environ.get("STRIPE_API_BASE", DEFAULT_API_BASE)
    return StripeSettings(
        api_key=key, api_base=api_base, files_base=environ.get("STRIPE_FILES_BASE", api_base)
    )


def _catalog(*, check: bool) -> int:
    catalog = load_catalog()
    for source in catalog.sources:
        split = "ranged" if source.splittable else "one run per day"
        fan_out = {"per_account": ", per connected account", "all_accounts": ", all connected accounts"}.get(
            source.connect or "", ""
        )
        key = "/".join([*source.key_prefix, source.name])
        print(f"{key:<65} {source.source_label:<44} {source.timezone:<18} {split}{fan_out}")
    if check:
        print(check_catalog(catalog.queries, settings_from_env(), catalog.reports))
    return 0


def _compare(asset: str, day: date) -> int:
    settings = settings_from_env()
    if settings is None:
        print("error: set STRIPE_API_KEY", file=sys.stderr)
        return 2
    source = load_catalog().get(asset)
    zone = ZoneInfo(source.timezone)
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    with open_session(settings) as session, run_workdir() as workdir:
        comparison = compare_window(source, session, start, end, workdir)
    print(f"{asset} {day}: v1 and v2 (/v2/data)")
    print(comparison.describe())
    return 0 if comparison.identical else 3


def _saved_queries(*, apply: bool) -> int:
    settings = settings_from_env()
    if settings is None:
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
    with open_session(settings) as session:
        saved = SavedQueries(session.client)
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
