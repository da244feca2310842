"""The Dashboard's scheduled Sigma queries and their daily runs, some of which do not complete.

Stripe documents a scheduled run's ``status`` as ``completed`` for successful runs and
``canceled``, ``failed`` or ``timed_out`` otherwise (the ``scheduled_query_run`` object in the API
reference). Here the odd run of any query fails with an internal error, and the daily charges
export, the heaviest, times out on two days in six, fails on one and is canceled on another, so
any six days have runs of every status. Runs are daily, two
hours after their midnight UTC snapshot, from the Reporting API's first day on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from stripe_emulator.datagen.codes import KIND_SCHEDULED_RUN
from stripe_emulator.datagen.ids import stripe_id
from stripe_emulator.datagen.randomness import Draws, key
from stripe_emulator.timestamps import unix

SCHEDULED_QUERIES = (
    (
        "Daily balance activity",
        "select date_trunc('day', created) as day, currency, reporting_category, count(*) as transactions, "
        "sum(net) as net from balance_transactions "
        "where created >= data_load_time - interval '1' day and created < data_load_time "
        "group by 1, 2, 3 order by 1, 2, 3",
    ),
    ("Count all charges", "select count(*) as charges from charges"),
    (
        "MRR changes by month",
        "select date_trunc('month', event_timestamp) as month, currency, sum(mrr_change) as mrr_change "
        "from subscription_item_change_events group by 1, 2 order by 1, 2",
    ),
    (
        "Charges export",
        "select * from charges where created >= data_load_time - interval '1' day "
        "and created < data_load_time order by created",
    ),
)
"""(title, sql) of each scheduled query."""
EXPORT = 3
"""The position of the charges export, which sometimes times out or is canceled."""
RUN_HOUR = 2  # the runs happen this many hours after their midnight snapshot
RESULT_DAYS = 365  # how long a run's result stays available
FAILURE_SHARE = 0.03  # of any query's runs fail with an internal error
ERRORS = {
    "failed": "Query execution failed because of an internal error. Please retry the query.",
    "timed_out": "Query execution exceeded the maximum allowed time and was stopped.",
    "canceled": "Query execution was canceled.",
}
"""The ``error.message`` of runs that did not complete (Stripe does not document the wording)."""


def scheduled_query_runs(seed: int, first: datetime, now: datetime) -> list[dict[str, Any]]:
    """Every run from the midnight ``first`` until ``now`` (both tz-aware UTC), newest first.

    Completed runs have ``file: None``; the API produces their result file when first shown.
    """
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    runs: list[dict[str, Any]] = []
    draws = Draws(seed)
    for back in range((today - first).days + 1):
        snapshot = today - timedelta(days=back)
        created = snapshot + timedelta(hours=RUN_HOUR)
        if created > now or snapshot < first:
            continue
        day = unix(snapshot) // 86_400
        for position, (title, sql) in enumerate(SCHEDULED_QUERIES):
            payload = (day << 8) | position
            number = int(draws.id(KIND_SCHEDULED_RUN, np.array([payload], dtype=np.uint64))[0])
            status = _status(draws, payload, position, day)
            runs.append(
                {
                    "id": stripe_id("sqr_", number),
                    "object": "scheduled_query_run",
                    "created": unix(created),
                    "data_load_time": unix(snapshot),
                    "error": {"message": ERRORS[status]} if status in ERRORS else None,
                    "file": None,
                    "livemode": False,
                    "result_available_until": unix(created + timedelta(days=RESULT_DAYS)),
                    "sql": sql,
                    "status": status,
                    "title": title,
                }
            )
    return sorted(runs, key=lambda run: (run["created"], run["id"]), reverse=True)


def _status(draws: Draws, payload: int, position: int, day: int) -> str:
    # The export's outcome follows the week's load, the same every six days, so any week has all.
    if position == EXPORT and day % 6 in (0, 3):
        return "timed_out"
    if position == EXPORT and day % 6 == 5:
        return "canceled"
    if position == EXPORT and day % 6 == 1:
        return "failed"
    u = draws.uniform(key(KIND_SCHEDULED_RUN, np.array([payload], dtype=np.uint64)), "status")[0]
    return "failed" if u < FAILURE_SHARE else "completed"
