"""Dagster resources: the Stripe API and the warehouse, configured from the environment.

The API key and the warehouse URL (which may hold a password) arrive as ``EnvVar``s, so Dagster
shows the variable's name — never its value — in the UI, run config and event log. Both resources
only configure and open the core's own objects (:func:`pipelines.stripe.open_session`,
:class:`pipelines.warehouse.Warehouse`), which know nothing of Dagster.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from pydantic import Field
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from pipelines.stripe import PollPolicy, StripeSession, StripeSettings, open_session
from pipelines.stripe.client import DEFAULT_API_BASE, DEFAULT_DATA_API_VERSION, DEFAULT_FILES_BASE
from pipelines.stripe.session import DEFAULT_JOBS_IN_FLIGHT
from pipelines.warehouse import DEFAULT_WAREHOUSE_URL, Warehouse


class StripeResource(dg.ConfigurableResource):
    """Stripe's API: the key (an ``EnvVar``), where to reach it and how patiently to wait."""

    api_key: str = Field(description="Secret or restricted key; give it as EnvVar('STRIPE_API_KEY').")
    api_base: str = Field(default=DEFAULT_API_BASE, description="Base URL of the API.")
    files_base: str = Field(default=DEFAULT_FILES_BASE, description="Base URL of file downloads.")
    stripe_version: str | None = Field(
        default=None, description="Pin a Stripe-Version of v1 requests; account default if unset."
    )
    data_api_version: str = Field(
        default=DEFAULT_DATA_API_VERSION, description="Stripe-Version of /v2/data requests (a .preview)."
    )
    request_timeout_seconds: float = Field(default=30.0, description="Per-request network timeout.")
    max_network_retries: int = Field(default=4, description="Retries of one request on transient errors.")
    poll_initial_seconds: float = Field(default=0.05, description="First wait between polls of a run.")
    poll_max_seconds: float = Field(default=10.0, description="Longest wait between polls of a run.")
    run_deadline_seconds: float = Field(
        default=3600.0, description="Never wait longer than this for one Stripe run."
    )
    run_deadline_base_seconds: float = Field(
        default=600.0, description="Wait for a Stripe run this long, plus run_deadline_per_day_seconds a day."
    )
    run_deadline_per_day_seconds: float = Field(
        default=60.0, description="Extra wait per day of the run's window (a month: 10 + 31 minutes)."
    )
    download_attempts: int = Field(default=3, description="Attempts at downloading one result file.")
    rate_limit_dir: str | None = Field(
        default=None,
        description=(
            "Directory every run on this machine shares for pacing Stripe requests (e.g. under "
            "DAGSTER_HOME); unset: each process only backs off on 429s."
        ),
    )
    rate_limit_per_second: float | None = Field(
        default=None, description="Requests per second across this machine; unset: 80 live, 20 in test mode."
    )

    jobs_in_flight: int = Field(
        default=DEFAULT_JOBS_IN_FLIGHT,
        ge=1,
        description=(
            "Stripe jobs a run step keeps going at once when it lands many chunks (a backfill of a "
            "report Stripe computes a day at a time); 1 runs them one after the other."
        ),
    )

    def __repr__(self) -> str:
        # pydantic's default repr would print the key.
        return f"StripeResource(api_base={self.api_base!r}, files_base={self.files_base!r})"

    __str__ = __repr__

    def settings(self) -> StripeSettings:
        """The core's settings object for this configuration."""
        return StripeSettings(
            api_key=self.api_key,
            api_base=self.api_base,
            files_base=self.files_base,
            stripe_version=self.stripe_version,
            data_api_version=self.data_api_version,
            request_timeout_seconds=self.request_timeout_seconds,
            max_network_retries=self.max_network_retries,
            poll=PollPolicy(
                initial=self.poll_initial_seconds,
                maximum=self.poll_max_seconds,
                deadline=self.run_deadline_seconds,
            ),
            download_attempts=self.download_attempts,
            run_deadline_base_seconds=self.run_deadline_base_seconds,
            run_deadline_per_day_seconds=self.run_deadline_per_day_seconds,
            rate_limit_dir=self.rate_limit_dir,
            rate_limit_per_second=self.rate_limit_per_second,
            jobs_in_flight=self.jobs_in_flight,
        )

    @contextmanager
    def session(self) -> Iterator[StripeSession]:
        """An open client and its runners; closed when the block ends."""
        with open_session(self.settings()) as session:
            yield session


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse, by SQLAlchemy URL: DuckDB file by default, PostgreSQL or any dialect."""

    url: str = Field(default=DEFAULT_WAREHOUSE_URL, description="SQLAlchemy URL; EnvVar('WAREHOUSE_URL').")
    schema_name: str = Field(default="stripe", description="Schema that holds the landed tables.")

    def __repr__(self) -> str:
        # make_url hides the password; an unresolved EnvVar is only the variable's name.
        try:
            url = repr(make_url(self.url))
        except ArgumentError:
            url = "<from the environment>"
        return f"WarehouseResource(url={url}, schema_name={self.schema_name!r})"

    __str__ = __repr__

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        """The warehouse, with one engine for the block; disposed (connections closed) at its end.

        A DuckDB file's directory is created on first use.
        """
        url = make_url(self.url)
        if url.get_backend_name() == "duckdb" and url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        with Warehouse(self.url, schema=self.schema_name) as warehouse:
            yield warehouse
