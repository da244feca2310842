"""Everything the API remembers between requests, and the pool of workers executing runs."""

from __future__ import annotations

import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from stripe_emulator.app.objects import Run, SavedQuery, StoredFile, visible_to
from stripe_emulator.app.runs import execute_run
from stripe_emulator.app.stats import Stats
from stripe_emulator.conventions import IdempotencyStore, KeyStore, RateLimiter, resource_missing
from stripe_emulator.engine import Engine
from stripe_emulator.faults import FaultInjector
from stripe_emulator.timestamps import iso_utc, unix


class EmulatorState:
    """Everything the API remembers between requests, and the run worker pool.

    ``lock`` guards ``runs``, ``files``, ``saved_queries`` and ``generation``; ``generation`` grows at
    every reset so work begun before it is dropped.
    """

    def __init__(self, engine: Engine, faults: FaultInjector | None, base_url: str | None) -> None:
        self.engine = engine
        self.config = engine.config
        self.faults = faults or FaultInjector()
        self.base_url = base_url.rstrip("/") if base_url else None
        self.keys = KeyStore(self.config.api_keys)
        self.idempotency = IdempotencyStore()
        self.limiter = RateLimiter(live=self.config.rate_limit, test=self.config.test_rate_limit)
        self.stats = Stats()
        self.initial_data_load_time = engine.data_load_time
        self.connected_accounts = {account["id"]: account for account in engine.connected_accounts()}
        self.platform_account = engine.platform_account_id
        self._own_files_dir = self.config.files_dir is None
        self.files_dir = Path(self.config.files_dir or tempfile.mkdtemp(prefix="stripe-emulator-files-"))
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.generation = 0
        self.runs: dict[str, Run] = {}
        self.files: dict[str, StoredFile] = {}
        self.saved_queries: dict[str, SavedQuery] = {}
        self.scheduled_files: dict[str, str] = {}
        """File id of each scheduled query run's result, produced on first sight."""
        self.scheduled_lock = threading.Lock()
        """Held while a scheduled run's file is produced, so it is produced once."""
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="stripe-emulator-run")

    def close(self) -> None:
        """Stop the workers and delete result files the emulator created in a temporary directory."""
        with self.lock:
            self.generation += 1
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self._own_files_dir:
            shutil.rmtree(self.files_dir, ignore_errors=True)

    # -- runs ------------------------------------------------------------------------------

    def create_run(self, run: Run) -> None:
        """Store a new run and queue it for the workers (unless a run_stuck fault holds it)."""
        with self.lock:
            self.runs[run.id] = run
        self.stats.run_created(run.kind)
        if not any(rule.kind == "run_stuck" for rule in run.faults):
            self.pool.submit(execute_run, self, run)

    def visible_run(
        self, run_id: str, kind: str, account: str | None, object_name: str, livemode: bool = False
    ) -> Run:
        """The run ``run_id`` if ``account`` may see it with a key of this mode, else Stripe's 404."""
        with self.lock:
            run = self.runs.get(run_id)
        if (
            run is None
            or run.kind != kind
            or not visible_to(run.account, account)
            or run.livemode != livemode
        ):
            raise resource_missing(object_name, run_id)
        return run

    # -- control -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget runs, files, saved queries, idempotency keys, counters; restore faults and the clock."""
        with self.lock:
            self.generation += 1
            files = list(self.files.values())
            self.runs.clear()
            self.files.clear()
            self.saved_queries.clear()
            self.scheduled_files.clear()
        for stored in files:
            stored.path.unlink(missing_ok=True)
        self.idempotency.clear()
        self.faults.reset()
        self.limiter.reset()
        self.stats.reset()
        self.engine.reset_clock()

    def state_json(self) -> dict[str, Any]:
        """What ``GET /_emulator/state`` shows: the clock, the data range and object counts."""
        with self.lock:
            runs = list(self.runs.values())
            counts = {
                "report_runs": sum(run.kind == "report_run" for run in runs),
                "query_runs": sum(run.kind == "query_run" for run in runs),
                "saved_queries": len(self.saved_queries),
                "files": len(self.files),
            }
        counts["restricted_keys"] = self.keys.count()
        counts["fault_rules"] = len(self.faults.rules())
        data_load_time = self.engine.data_load_time
        return {
            "data_load_time": iso_utc(data_load_time),
            "data_load_time_unix": unix(data_load_time),
            "initial_data_load_time": iso_utc(self.initial_data_load_time),
            "data_start": iso_utc(self.engine.data_start),
            "report_data_start": iso_utc(self.engine.report_data_start),
            "data_end": iso_utc(self.engine.data_end),
            "platform_account": self.platform_account,
            "connected_accounts": sorted(self.connected_accounts),
            "counts": counts,
            "data_rows": self.engine.row_counts,
            "config": {
                "seed": self.config.seed,
                "days": self.config.days,
                "scale": self.config.scale,
                "run_delay": self.config.run_delay,
                "rate_limit": self.config.rate_limit,
                "test_rate_limit": self.config.test_rate_limit,
            },
        }
