"""What every source kind is: a catalogue entry whose windows one Stripe job per chunk turns into rows.

A kind (a Reporting API report template, a Sigma query, ...) is one subclass of :class:`Source`. It
owns everything that differs between kinds — its Stripe job, its freshness surface, how its rows are
split into windows, the facts shown on its asset and the wording of its checks — so the landing,
the asset factory, the checks and the automation work on any kind without asking which it is.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from pipelines.freshness import Freshness, FreshnessProbe
from pipelines.lineage import FRESHNESS_COLUMN, RUN_ID_COLUMN
from pipelines.partition_windows import PartitionWindow
from pipelines.settling import DEFAULT_SETTLING_DAYS
from pipelines.stripe import DownloadedFile, FinishedRun, StripeSession
from pipelines.stripe.runs import OnCreated
from pipelines.warehouse import Column, CsvFile

ConnectMode = Literal["per_account", "all_accounts"] | None
"""``per_account``: one partition (and one Stripe job) per connected account and day;
``all_accounts``: one job per chunk returns every connected account's rows, told apart by their
``connected_account`` column (:data:`ACCOUNT_ROW_COLUMN`)."""

ACCOUNT_ROW_COLUMN = "connected_account"
"""The column of an all-accounts report that names each row's connected account."""

DEFAULT_FRESH_BY = time(14, 0)
"""Stripe loads a UTC day's activity for Sigma by 12:00 UTC the next day and delivers scheduled
queries by about 14:00 UTC (docs.stripe.com/stripe-data/schedule-queries): a day missing after that
is late."""
Period = Literal["day", "month"]


class StripeRun(Protocol):
    """A finished Stripe job as a source kind returns it: v1 runs (``FinishedRun``), ``/v2`` runs
    (``DataRun``) or a kind's own; the landing only needs its id."""

    @property
    def id(self) -> str:
        """Stripe's id of the run (``frr_…``, ``qry_…``, ``qrun_…``, ``rrun_…``)."""
        ...


@dataclass(frozen=True)
class JobRequest:
    """One Stripe job to start: its window, its account, and how to name and announce it.

    ``idempotency_scope`` identifies the attempt (run id and retry number): a retried HTTP request
    reuses its Stripe job, a new attempt starts a new one. ``deadline_seconds`` bounds the wait for
    the job to finish.
    """

    source_name: str
    start: datetime
    end: datetime
    account: str | None
    idempotency_scope: str
    on_created: OnCreated
    log: logging.Logger | Any
    deadline_seconds: float | None = None
    #: The keys of the windows the job serves (a payout report names its payout by its key).
    window_keys: tuple[str, ...] = ()

    def idempotency_key(self, request: str) -> str:
        """The Idempotency-Key of this job, for the request described by ``request``."""
        material = "\x1f".join(
            [
                self.idempotency_scope,
                self.source_name,
                self.account or "",
                self.start.isoformat(),
                self.end.isoformat(),
                request,
            ]
        )
        return f"srp-{hashlib.sha256(material.encode()).hexdigest()[:48]}"


@dataclass(frozen=True, kw_only=True)
class Source(ABC):
    """One catalogue entry, landed as one asset and one table, partitioned by ``period`` (a day or
    a calendar month) in ``timezone``.

    Load settings: ``columns`` declares the file's columns and types (``None``: typed from the
    data); ``split_column`` assigns each row to a day (``None``: a file fills exactly one day, so
    every day is its own Stripe job); ``unique_column`` may not repeat within a day.
    ``origin`` says where the entry is written (file and entry), for messages.
    """

    #: Short name of the kind, used in tags and the command line.
    kind: ClassVar[str]
    #: The Dagster asset group of entries that do not set one.
    default_group: ClassVar[str]
    #: The freshness sensor that drives this kind's assets.
    freshness_sensor: ClassVar[str]

    name: str
    table: str
    description: str
    timezone: str
    start_date: date
    max_days_per_run: int
    columns: tuple[Column, ...] | None = None
    split_column: str | None = None
    unique_column: str | None = None
    connect: ConnectMode = None
    origin: str = ""
    owners: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    group: str | None = None
    key_prefix: tuple[str, ...] = ("stripe",)
    #: Days after a day's end during which Stripe still changes its rows (see pipelines.settling).
    settling_days: int = DEFAULT_SETTLING_DAYS
    #: When the previous partition should be landed, local time in ``timezone`` (see DEFAULT_FRESH_BY).
    fresh_by: time = DEFAULT_FRESH_BY
    #: The calendar unit of one partition: a day, or a calendar month (both in ``timezone``).
    period: Period = "day"

    @property
    def definition_hash(self) -> str:
        """A digest of everything the entry declares (not where it is written): it changes exactly
        when editing the entry could change what its runs do."""
        declared = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "origin"}
        material = f"{type(self).__qualname__}{sorted(declared.items(), key=lambda item: item[0])!r}"
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    @property
    def per_account(self) -> bool:
        """Whether the asset fans out into one partition per connected account (``per_account``)."""
        return self.connect == "per_account"

    @property
    def splittable(self) -> bool:
        """Whether one ranged Stripe job can serve several daily partitions."""
        return self.split_column is not None

    def stripe_account(self, account: str | None) -> str | None:
        """The account to send as ``Stripe-Account`` for ``account``'s partitions (default: itself)."""
        return account

    # ---- Stripe ---------------------------------------------------------------------------------

    def freshness_key(self, account: str | None) -> Hashable:
        """Sources with equal keys read one freshness timestamp (default: per kind and account)."""
        return (self.kind, self.stripe_account(account))

    @abstractmethod
    def read_freshness(self, session: StripeSession, account: str | None) -> Freshness:
        """How far Stripe's data for this source is loaded."""

    def before_data_start(self, partition: PartitionWindow, freshness: Freshness) -> bool:
        """Whether ``partition`` begins before the first instant Stripe has data for (when Stripe
        says): such a window is refused by Stripe, so the partition is skipped, never failed."""
        return freshness.available_from is not None and partition.start < freshness.available_from

    @abstractmethod
    def run_job(self, session: StripeSession, probe: FreshnessProbe, request: JobRequest) -> StripeRun:
        """Start the Stripe job over ``request``'s window, wait for it, and return the finished run."""

    def download(self, session: StripeSession, run: Any, dest: Path, account: str | None) -> DownloadedFile:
        """Stream the run's result file to ``dest`` (default: a v1 ``FinishedRun``'s file, Files API)."""
        finished: FinishedRun = run
        return session.files.download(finished.file_id, dest, stripe_account=self.stripe_account(account))

    def result_freshness(
        self, result: CsvFile, run: Any, freshness: Freshness, window_end: datetime
    ) -> datetime:
        """The freshness the result's rows were computed at; raises if the result cannot be used.

        Default: the timestamp Stripe published before the run (reports are computed from it).
        """
        return freshness.loaded_until

    def expected_records(self, run: Any) -> int | None:
        """How many records Stripe says the result holds, when it says (the load must match it)."""
        return None

    def lineage(self, run: Any, data_load_time: datetime) -> dict[str, Any]:
        """Constant columns stored on every landed row (default: the run id and its freshness)."""
        return {RUN_ID_COLUMN: run.id, FRESHNESS_COLUMN: data_load_time}

    # ---- what Dagster shows ---------------------------------------------------------------------

    def facts(self) -> dict[str, str]:
        """Plain facts about the entry, shown on its asset (``stripe/<name>`` metadata)."""
        facts = {"table": self.table, "time_zone": self.timezone}
        if self.connect == "per_account":
            facts["connect"] = f"one partition per connected account and {self.period}"
        elif self.connect == "all_accounts":
            facts["connect"] = (
                f"one partition per {self.period}; each run returns every connected account's rows "
                f"(column {ACCOUNT_ROW_COLUMN})"
            )
        if self.period != "day":
            facts["period"] = f"one partition per calendar {self.period} in {self.timezone}"
        return facts

    @property
    def code(self) -> tuple[str, str] | None:
        """The code the entry runs at Stripe, as (language, text), if it has any."""
        return None

    @property
    @abstractmethod
    def expected_columns_description(self) -> str:
        """What the ``expected_columns`` check promises for this kind."""

    @property
    def source_label(self) -> str:
        """What the entry runs at Stripe, in a few words (for listings)."""
        return self.kind
