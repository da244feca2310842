"""Dagster resources: the Stripe API and the warehouse, configured from the environment.

The API key and the warehouse URL (which may hold a password) arrive as ``EnvVar``s, so Dagster
shows the variable's name — never its value — in the UI, run config and event log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field
from sqlalchemy.engine import make_url

from pipelines.freshness import FreshnessProbe
from pipelines.stripe import FileDownloader, PollPolicy, ReportRunner, SigmaRunner, StripeClient
from pipelines.warehouse import Warehouse

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_FILES_BASE = "https://files.stripe.com"
DEFAULT_WAREHOUSE_URL = "duckdb:///data/warehouse.duckdb"


@dataclass(frozen=True)
class StripeSession:
    """One HTTP client and the runners built on it, for the length of a run or a sensor tick."""

    client: StripeClient
    sigma: SigmaRunner
    reports: ReportRunner
    files: FileDownloader
    freshness: FreshnessProbe


class StripeResource(dg.ConfigurableResource):
    """Stripe's API: the key (an ``EnvVar``), where to reach it and how patiently to wait."""

    api_key: str = Field(description="Secret or restricted key; give it as EnvVar('STRIPE_API_KEY').")
    api_base: str = Field(default=DEFAULT_API_BASE, description="Base URL of the API.")
    files_base: str = Field(default=DEFAULT_FILES_BASE, description="Base URL of file downloads.")
    stripe_version: str | None = Field(
        default=None, description="Pin a Stripe-Version; account default if unset."
    )
    request_timeout_seconds: float = Field(default=30.0, description="Per-request network timeout.")
    max_network_retries: int = Field(default=4, description="Retries of one request on transient errors.")
    poll_initial_seconds: float = Field(default=0.5, description="First wait between polls of a run.")
    poll_max_seconds: float = Field(default=10.0, description="Longest wait between polls of a run.")
    run_deadline_seconds: float = Field(
        default=3600.0, description="Give up on a Stripe run that has not finished after this long."
    )
    download_attempts: int = Field(default=3, description="Attempts at downloading one result file.")

    def __repr__(self) -> str:
        # pydantic's default repr would print the key.
        return f"StripeResource(api_base={self.api_base!r}, files_base={self.files_base!r})"

    __str__ = __repr__

    @contextmanager
    def session(self) -> Iterator[StripeSession]:
        """An open client and its runners; closed when the block ends."""
        poll = PollPolicy(
            initial=self.poll_initial_seconds,
            maximum=self.poll_max_seconds,
            deadline=self.run_deadline_seconds,
        )
        with StripeClient(
            self.api_key,
            api_base=self.api_base,
            files_base=self.files_base,
            stripe_version=self.stripe_version,
            timeout=self.request_timeout_seconds,
            max_network_retries=self.max_network_retries,
        ) as client:
            sigma = SigmaRunner(client, poll=poll)
            reports = ReportRunner(client, poll=poll)
            yield StripeSession(
                client=client,
                sigma=sigma,
                reports=reports,
                files=FileDownloader(client, attempts=self.download_attempts),
                freshness=FreshnessProbe(sigma, reports),
            )


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse, by SQLAlchemy URL: DuckDB file by default, PostgreSQL or any dialect."""

    url: str = Field(default=DEFAULT_WAREHOUSE_URL, description="SQLAlchemy URL; EnvVar('WAREHOUSE_URL').")
    schema_name: str = Field(default="stripe", description="Schema that holds the landed tables.")

    def __repr__(self) -> str:
        return f"WarehouseResource(url={make_url(self.url)!r}, schema_name={self.schema_name!r})"

    __str__ = __repr__

    def get(self) -> Warehouse:
        """A loader for this warehouse (DuckDB's file directory is created on first use)."""
        url = make_url(self.url)
        if url.get_backend_name() == "duckdb" and url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        return Warehouse(self.url, schema=self.schema_name)
