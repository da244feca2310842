"""A real PostgreSQL server for tests, and a fresh database on it per test.

The server is the one ``WAREHOUSE_URL`` names when that is a PostgreSQL URL; otherwise
``scripts/postgres.sh start`` provides one (installing PostgreSQL first on a machine without it).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "postgres.sh"
START_TIMEOUT = 900  # seconds; the first start may install PostgreSQL with apt-get


def server_url() -> str:
    """The SQLAlchemy URL of a running PostgreSQL server (started here if needed)."""
    configured = os.environ.get("WAREHOUSE_URL", "")
    if configured.startswith("postgresql"):
        return configured
    result = subprocess.run(
        [str(SCRIPT), "start"], capture_output=True, text=True, timeout=START_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{SCRIPT} start failed (exit {result.returncode}):\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """Create an empty database on ``server``, yield its URL, drop it afterwards."""
    url = sa.make_url(server)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
