"""Looking for an API key everywhere a run leaves text: Dagster's storage, logs and captured output."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from dagster._serdes import serialize_value

_PREFIX = re.compile(r"^[a-z]+_(?:test|live)_")


def fragments(key: str, length: int = 8) -> list[str]:
    """The key, and every ``length``-character run of its secret part.

    Stripe-style redaction keeps the kind prefix and the last four characters (``sk_test_****abcd``),
    so those are allowed; any 8 characters in a row from the rest are a leak, however the key was
    cut (a redaction that shows 16 trailing characters leaks). The test keys are random-looking,
    so no run of theirs occurs in ordinary text.
    """
    match = _PREFIX.match(key)
    body = key[match.end() if match else 0 : -4]
    runs = {body[i : i + length] for i in range(len(body) - length + 1)}
    return [key, *sorted(runs)]


def dagster_texts(instance: dg.DagsterInstance) -> Iterable[tuple[str, str]]:
    """Everything Dagster stored about its runs, as (where, text): runs with their config and tags,
    job and execution-plan snapshots, and every event of the event log."""
    for run in instance.get_runs():
        yield f"run {run.run_id}", serialize_value(run)
        if run.job_snapshot_id and instance.has_job_snapshot(run.job_snapshot_id):
            yield (
                f"job snapshot of {run.run_id}",
                serialize_value(instance.get_job_snapshot(run.job_snapshot_id)),
            )
        if run.execution_plan_snapshot_id:
            plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            yield f"execution plan of {run.run_id}", serialize_value(plan)
        for entry in instance.all_logs(run.run_id):
            yield f"event {entry.dagster_event_type or 'log'} of {run.run_id}", serialize_value(entry)


def stored_files(root: Path) -> Iterable[tuple[str, str]]:
    """Every file under ``root`` (Dagster's SQLite storage, compute logs), decoded leniently."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield str(path), path.read_bytes().decode("utf-8", errors="replace")


def leaks(keys: Iterable[str], texts: Iterable[tuple[str, str]]) -> list[str]:
    """Where any of ``keys`` (or its secret part) appears: an empty list when nothing leaked."""
    needles = [fragment for key in keys for fragment in fragments(key)]
    found = []
    for where, text in texts:
        found.extend(f"{where}: contains {needle[:12]}…" for needle in needles if needle in text)
    return found


def instance_leaks(keys: Iterable[str], instance: dg.DagsterInstance) -> list[str]:
    """Leaks in everything ``instance`` stored, through its API and on disk."""
    keys = list(keys)
    texts = [*dagster_texts(instance)]
    if instance.root_directory:
        texts.extend(stored_files(Path(instance.root_directory)))
    return leaks(keys, texts)
