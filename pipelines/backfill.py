"""Backfilling days of one asset from the command line, the way the UI's backfill does it.

    stripe-reports backfill ASSET --from YYYY-MM-DD --to YYYY-MM-DD [--account acct_...] [--in-process]
    python -m pipelines.backfill ASSET --from ... --to ...          (the same command)

``dagster asset materialize --partition-range`` only accepts assets whose backfill policy is
``single_run``; these assets make ranged runs of up to a month (``multi_run``), so a two-year
backfill is two dozen runs that each fail, retry and show on their own. This command asks Dagster
for exactly that:

* by default it submits an asset backfill to the Dagster instance (``DAGSTER_HOME``): the daemon
  (``dagster dev`` starts one, production runs ``dagster-daemon run``) launches it under the
  asset's backfill policy and the UI shows it under Runs → Backfills, as if launched there;
* with ``--in-process`` it runs the same ranged runs one after the other in this process, recorded
  in the same instance, and prints each run's outcome.

Either way each run covers up to ``max_partitions_per_run`` consecutive days and inside it one
Stripe job serves up to the entry's ``max_days_per_run`` days. A mistake in the request (an asset
that does not exist, days outside the asset's partitions, an unknown account) is refused before
anything is submitted, naming the asset's catalogue entry.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id
from dagster._time import get_current_timestamp

from pipelines.catalog import load_catalog
from pipelines.errors import PipelineError
from pipelines.partitions import (
    CONNECTED_ACCOUNTS,
    RANGE_END_TAG,
    RANGE_START_TAG,
    daily_partitions,
    partition_key,
)
from pipelines.project import build_definitions, resources_from_env

BACKFILL_TAG = "stripe_reports/backfill"
"""Tag on every run an in-process backfill makes: the runs of one command share its value."""

LOCAL_DAGSTER_HOME = Path("data") / "dagster_home"
"""The Dagster home ``make dev`` and ``make demo`` use, taken when ``DAGSTER_HOME`` is unset."""

DEFAULT_UI = "http://127.0.0.1:3000"
TITLE_MAX = 100  # Dagster's limit on a backfill's title


class BackfillRequestError(PipelineError):
    """A backfill asked for something the asset does not have; nothing was submitted or run."""

    retryable = False


@dataclass(frozen=True)
class BackfillPlan:
    """The partitions of one asset to backfill, and the ranged runs they make.

    ``runs`` holds each run's partition keys, consecutive days of one account, at most the asset's
    ``max_partitions_per_run`` each: what Dagster's backfill policy makes of ``partition_keys``.
    """

    asset: dg.AssetsDefinition
    first: date
    last: date
    accounts: tuple[str, ...]
    partition_keys: tuple[str, ...]
    runs: tuple[tuple[str, ...], ...]

    @property
    def key(self) -> dg.AssetKey:
        return self.asset.key

    def describe(self) -> str:
        """One line: the asset, its days (and accounts), how many partitions."""
        days = len(self.partition_keys) // max(len(self.accounts), 1)
        accounts = (
            f" for {len(self.accounts)} connected account(s) ({', '.join(self.accounts)})"
            if self.accounts
            else ""
        )
        return (
            f"{self.key.to_user_string()}, {self.first} .. {self.last} ({days} day{'s' if days != 1 else ''})"
            f"{accounts}: {len(self.partition_keys)} partition(s)"
        )


def plan_backfill(
    defs: dg.Definitions,
    asset: str,
    first: date,
    last: date,
    *,
    account: str | None = None,
    instance: dg.DagsterInstance,
    origins: Mapping[dg.AssetKey, str] | None = None,
) -> BackfillPlan:
    """The partitions ``first``..``last`` (inclusive) of ``asset`` and their ranged runs.

    ``asset`` is the asset's name (``payouts_itemized_3``) or its key (``stripe/payouts_itemized_3``).
    For an asset with one partition per connected account and day, ``account`` narrows the backfill
    to one account; without it, every account Dagster knows is backfilled. ``origins`` names each
    asset's catalogue entry for the error messages. Raises :class:`BackfillRequestError` when the
    asset, the days or the account do not exist.
    """
    assets_def = _find_asset(defs, asset)
    origin = (origins or {}).get(assets_def.key) or "the catalogue"
    name = assets_def.key.to_user_string()
    if first > last:
        raise BackfillRequestError(f"--from {first} is after --to {last}: give the earlier day first")
    partitions_def = assets_def.partitions_def
    if partitions_def is None:
        raise BackfillRequestError(f"{name} has no partitions to backfill")
    daily = daily_partitions(partitions_def)
    days = daily.get_partition_keys()
    if not days:
        raise BackfillRequestError(f"{name} has no days yet: its first day is {daily.start:%Y-%m-%d}")
    if first.isoformat() < days[0]:
        raise BackfillRequestError(
            f"--from {first}: the first day of {name} is {days[0]} (its start_date, {origin}, or the "
            f"first day Stripe reports on); backfill from {days[0]}"
        )
    if last.isoformat() > days[-1]:
        raise BackfillRequestError(
            f"--to {last}: the newest day of {name} is {days[-1]} (the last day that has ended in "
            f"{daily.timezone}); backfill to {days[-1]} at the latest"
        )
    chosen = [d for d in days if first.isoformat() <= d <= last.isoformat()]
    accounts = _accounts(partitions_def, name, account, instance)
    per_run = _max_partitions_per_run(assets_def)
    keys: list[str] = []
    runs: list[tuple[str, ...]] = []
    for acct in accounts:
        keys += [partition_key(acct, d) for d in chosen]
        for start in range(0, len(chosen), per_run):
            runs.append(tuple(partition_key(acct, d) for d in chosen[start : start + per_run]))
    named = tuple(a for a in accounts if a is not None)
    return BackfillPlan(assets_def, first, last, named, tuple(keys), tuple(runs))


def submit_backfill(defs: dg.Definitions, instance: dg.DagsterInstance, plan: BackfillPlan) -> str:
    """Submit ``plan`` to ``instance`` as an asset backfill for its daemon; returns the backfill id.

    The backfill is the one the UI's "Materialize → select partitions" launches: the daemon makes
    its runs under the asset's backfill policy, and the UI lists it under Runs → Backfills.
    """
    backfill_id = make_new_backfill_id()
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id,
        asset_graph=defs.resolve_asset_graph(),
        partition_names=list(plan.partition_keys),
        asset_selection=[plan.key],
        backfill_timestamp=get_current_timestamp(),
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=_title(plan),
        description=plan.describe(),
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill_id


def _title(plan: BackfillPlan) -> str:
    """The backfill's title in the UI; Dagster refuses titles over 100 characters, so a long asset
    key is shortened and the days, which tell backfills of one asset apart, are kept whole."""
    days = f" {plan.first} .. {plan.last}"
    room = TITLE_MAX - len("stripe-reports backfill ") - len(days)
    name = plan.key.to_user_string()
    if len(name) > room:
        name = name[: room - 1] + "…"
    return f"stripe-reports backfill {name}{days}"


@dataclass(frozen=True)
class RunOutcome:
    """One ranged run of an in-process backfill."""

    run_id: str
    partition_keys: tuple[str, ...]
    success: bool
    failure: str | None = None

    def describe(self) -> str:
        span = f"{self.partition_keys[0]} .. {self.partition_keys[-1]}"
        if self.success:
            return f"run {self.run_id}: {span} materialized"
        return f"run {self.run_id}: {span} failed: {self.failure}"


def run_backfill(
    defs: dg.Definitions, instance: dg.DagsterInstance, plan: BackfillPlan
) -> tuple[str, list[RunOutcome]]:
    """Run ``plan``'s ranged runs now, one after the other, recorded in ``instance``.

    A failed run does not stop the others (each replaces only its own days); the outcomes say
    which failed and why. Returns the value of the runs' :data:`BACKFILL_TAG` and the outcomes.
    """
    backfill_id = make_new_backfill_id()
    resources = dict(defs.resources or {})
    outcomes = []
    for keys in plan.runs:
        tags = {BACKFILL_TAG: backfill_id}
        options: dict[str, object] = {}
        if len(keys) == 1:
            options["partition_key"] = keys[0]
        else:
            tags |= {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
        result = dg.materialize(
            [plan.asset],
            instance=instance,
            resources=resources,
            tags=tags,
            raise_on_error=False,
            **options,  # type: ignore[arg-type]
        )
        outcomes.append(
            RunOutcome(result.run_id, keys, result.success, None if result.success else _failure(result))
        )
    return backfill_id, outcomes


def load_definitions(project_root: Path) -> dg.Definitions:
    """What Dagster loads for the project at ``project_root``: its ``definitions.py`` when there is
    one (the code location of ``workspace.yaml``), else the catalogue with resources from the
    environment."""
    module_file = project_root / "definitions.py"
    if not module_file.exists():
        return build_definitions(load_catalog(), resources_from_env())
    spec = importlib.util.spec_from_file_location("definitions", module_file)
    if spec is None or spec.loader is None:
        raise BackfillRequestError(f"{module_file} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded = module.defs
    return loaded() if callable(loaded) else loaded


def open_instance(environ: Mapping[str, str] = os.environ, cwd: Path | None = None) -> dg.DagsterInstance:
    """The Dagster instance the webserver and daemon use: ``DAGSTER_HOME``, else ``make dev``'s home.

    Raises :class:`BackfillRequestError` when neither exists: runs recorded in a throwaway
    instance would be invisible in the UI and unknown to the freshness sensors.
    """
    home = environ.get("DAGSTER_HOME")
    if home:
        return dg.DagsterInstance.from_config(home)
    local = (cwd or Path.cwd()) / LOCAL_DAGSTER_HOME
    if (local / "dagster.yaml").exists():
        return dg.DagsterInstance.from_config(str(local))
    raise BackfillRequestError(
        "DAGSTER_HOME is not set and there is no data/dagster_home here: set DAGSTER_HOME to the "
        "Dagster home your webserver and daemon use (make dev and make demo use data/dagster_home)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``stripe-reports backfill`` and ``python -m pipelines.backfill``."""
    args = _parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            # Backfill policies are labelled beta; the assets declare theirs on purpose.
            warnings.simplefilter("ignore", dg.BetaWarning)
            catalog = load_catalog()
            defs = load_definitions(Path.cwd())
            origins = {_key_of(defs, s.name): s.origin for s in catalog.sources if s.origin}
            with open_instance() as instance:
                plan = plan_backfill(
                    defs,
                    args.asset,
                    args.first,
                    args.last,
                    account=args.account,
                    instance=instance,
                    origins=origins,
                )
                if args.in_process:
                    return _run_now(defs, instance, plan)
                backfill_id = submit_backfill(defs, instance, plan)
    except (PipelineError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    ui = os.environ.get("DAGSTER_UI_URL") or f"http://127.0.0.1:{os.environ.get('DAGSTER_PORT', '3000')}"
    print(f"backfill {backfill_id} submitted: {plan.describe()}")
    print(
        f"The Dagster daemon launches it as ranged runs of up to {_max_partitions_per_run(plan.asset)} "
        f"days (dagster dev starts a daemon; otherwise run dagster-daemon): {ui}/runs/b/{backfill_id}"
    )
    return 0


def _run_now(defs: dg.Definitions, instance: dg.DagsterInstance, plan: BackfillPlan) -> int:
    print(f"running {plan.describe()}, as {len(plan.runs)} ranged run(s)")
    backfill_id, outcomes = run_backfill(defs, instance, plan)
    for outcome in outcomes:
        print(outcome.describe())
    failed = [o for o in outcomes if not o.success]
    print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} run(s) succeeded "
        f"(tag {BACKFILL_TAG}={backfill_id})"
    )
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stripe-reports backfill",
        description="Backfill days of one asset as ranged runs: submitted to the Dagster daemon, or run now.",
    )
    parser.add_argument("asset", help="asset name or key (stripe-reports catalog lists them)")
    parser.add_argument("--from", dest="first", required=True, type=_day, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", required=True, type=_day, help="last day (included), YYYY-MM-DD")
    parser.add_argument("--account", help="one connected account (acct_...) of a per-account asset")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the ranged runs now in this process instead of submitting a backfill to the daemon",
    )
    return parser


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2026-11-08") from None


def _find_asset(defs: dg.Definitions, asset: str) -> dg.AssetsDefinition:
    by_name: dict[str, dg.AssetsDefinition] = {}
    for assets_def in defs.assets or ():
        if isinstance(assets_def, dg.AssetsDefinition) and assets_def.partitions_def is not None:
            by_name[assets_def.key.to_user_string()] = assets_def
            by_name.setdefault(assets_def.key.path[-1], assets_def)
    found = by_name.get(asset.strip("/"))
    if found is None:
        close = difflib.get_close_matches(asset, sorted(by_name), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else " (stripe-reports catalog lists them)"
        raise BackfillRequestError(f"no asset named {asset!r}{hint}")
    return found


def _key_of(defs: dg.Definitions, name: str) -> dg.AssetKey | None:
    try:
        return _find_asset(defs, name).key
    except BackfillRequestError:
        return None


def _accounts(
    partitions_def: dg.PartitionsDefinition, name: str, account: str | None, instance: dg.DagsterInstance
) -> list[str | None]:
    if not isinstance(partitions_def, dg.MultiPartitionsDefinition):
        if account is not None:
            raise BackfillRequestError(
                f"--account {account}: {name} is not partitioned per connected account"
            )
        return [None]
    known = sorted(instance.get_dynamic_partitions(CONNECTED_ACCOUNTS.name or ""))
    if account is None:
        if not known:
            raise BackfillRequestError(
                f"{name} has one partition per connected account and Dagster knows none yet: turn on "
                "the stripe_connected_accounts sensor (Automation), or pass --account"
            )
        return list(known)
    if account not in known:
        close = difflib.get_close_matches(account, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BackfillRequestError(
            f"--account {account}: not a connected account Dagster knows "
            f"({', '.join(known) or 'none yet: turn on the stripe_connected_accounts sensor'}){hint}"
        )
    return [account]


def _max_partitions_per_run(assets_def: dg.AssetsDefinition) -> int:
    policy = assets_def.backfill_policy
    return (policy.max_partitions_per_run if policy is not None else None) or 1


def _failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            if data.user_failure_data is not None and data.user_failure_data.description:
                return data.user_failure_data.description
            if data.error is not None:
                return data.error.message.strip()
    return "the run failed (see its log in the UI)"


if __name__ == "__main__":
    sys.exit(main())
