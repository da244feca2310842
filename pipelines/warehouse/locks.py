"""Keeping concurrent loads of the same table from interleaving.

* PostgreSQL: a transaction-scoped advisory lock per table. Under READ COMMITTED a DELETE does not
  see rows another open transaction is inserting, so two loads of the same window would both keep
  their rows; the lock makes the second wait until the first has committed. Readers are not blocked.
* DuckDB: one process at a time may open a database file for writing. Opening is retried while
  another process holds the file, up to a time limit. Within a process, loads of the same table
  take a lock (DuckDB's optimistic concurrency would let two first loads both insert), and a
  transaction conflict with some other writer is retried.
* SQLite: transactions start with BEGIN IMMEDIATE (the write lock up front), and loads within a
  process take the same per-table lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event

from pipelines.warehouse.errors import WarehouseBusyError

T = TypeVar("T")

_registry_lock = threading.Lock()
_local_locks: dict[tuple[str, ...], threading.Lock] = {}


@contextmanager
def local_lock(*key: str) -> Iterator[None]:
    """Hold the process-wide lock named by ``key`` (created on first use)."""
    with _registry_lock:
        lock = _local_locks.setdefault(key, threading.Lock())
    with lock:
        yield


def advisory_lock(conn: sa.Connection, name: str) -> None:
    """Take PostgreSQL's transaction-scoped advisory lock for ``name`` (released at commit or rollback)."""
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(sa.literal(name), 0))))


def _is_busy_error(error: BaseException) -> bool:
    message = str(error).lower()
    # The second case: another thread of this process is closing the same file at this moment.
    return "could not set lock on file" in message or "unique file handle conflict" in message


def retry_busy_file(engine: sa.Engine, timeout: float, describe: str) -> None:
    """Make ``engine`` wait (up to ``timeout`` seconds) while another process holds the DuckDB file."""

    @event.listens_for(engine, "do_connect")
    def connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> Any:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                return dialect.connect(*cargs, **cparams)
            except Exception as error:
                if not _is_busy_error(error):
                    raise
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WarehouseBusyError(
                        f"{describe} is still locked by another process after {timeout:g} s "
                        f"(DuckDB allows one writing process per file): {error}"
                    ) from error
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 1.0)


def is_transaction_conflict(error: BaseException) -> bool:
    """Whether ``error`` is DuckDB refusing a write a concurrent transaction also made to the same data."""
    orig = getattr(error, "orig", error)
    return type(orig).__name__ == "TransactionException" and "conflict" in str(orig).lower()


def retry_conflicts(action: Callable[[], T], attempts: int = 5) -> T:
    """Run ``action``; run it again from scratch after a transaction conflict, up to ``attempts`` times."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except sa.exc.DBAPIError as error:
            if attempt == attempts or not is_transaction_conflict(error):
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def immediate_sqlite_transactions(engine: sa.Engine) -> None:
    """Make SQLite transactions real: DDL inside them, and the write lock taken at BEGIN.

    The sqlite3 module otherwise commits before DDL and begins lazily; this is the recipe from
    SQLAlchemy's SQLite documentation.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
