"""Closed periods' state: a month whose rows the warehouse keeps as they were when it was closed.

Two state tables in the warehouse's schema, beside the landed tables:

* ``_stripe_closed_periods`` — one row per close: table, account (``*``: every account, and the
  only value for platform tables), month (``YYYY-MM``), who closed it and when, its rows and
  per-currency totals at that moment. Reopening fills ``reopened_at``/``reopened_by``/
  ``reopen_reason`` on that row; closing again adds a new row, so the history stays.
* ``_stripe_close_variances`` — what Stripe's newest data says differently about a closed day: per
  row key (the unique column's value) an ``added``/``removed``/``changed`` row with its currency and
  amounts; for tables without a unique column, rows added/removed and the net amount per currency.
  Each landing of a closed day replaces that day's variance rows: they describe the latest answer.

A load (:meth:`Warehouse.replace_windows` with a :class:`ChangeSpec`) reads the open closes inside
its own transaction, under the table's lock (:class:`ChangeTracker`), so a close and a load never
interleave; closing and reopening are :class:`pipelines.warehouse.periods.Periods`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import quoted_name

from pipelines.warehouse.changes import (
    ChangeSet,
    ChangeSpec,
    Comparison,
    amount_column_of,
    checked_names,
    compare,
    compared_columns,
    drop,
    snapshot,
)
from pipelines.warehouse.errors import PeriodError
from pipelines.warehouse.identifiers import PARTITION_COLUMN
from pipelines.warehouse.introspection import existing_columns
from pipelines.warehouse.plan import LoadPlan

CLOSED_PERIODS_TABLE = "_stripe_closed_periods"
VARIANCES_TABLE = "_stripe_close_variances"
ALL_ACCOUNTS = "*"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_AMOUNT = sa.Numeric(38, 6)


def check_month(month: str) -> str:
    """``month`` if it is ``YYYY-MM``, else PeriodError."""
    if not isinstance(month, str) or not _MONTH.match(month):
        raise PeriodError(f"month {month!r} is not YYYY-MM (e.g. 2026-10)")
    return month


def month_of(window_key: str) -> str:
    """The month (``YYYY-MM``) a day's window key (``YYYY-MM-DD``) belongs to."""
    return window_key[:7]


@dataclass(frozen=True)
class PeriodTables:
    """The two state tables of one schema."""

    closes: sa.Table
    variances: sa.Table

    @classmethod
    def of(cls, schema: str | None) -> PeriodTables:
        """The state tables in ``schema``."""
        metadata = sa.MetaData()
        quoted_schema = quoted_name(schema, quote=True) if schema else None

        def column(name: str, type_: Any, **options: Any) -> sa.Column[Any]:
            return sa.Column(quoted_name(name, quote=True), type_, **options)

        closes = sa.Table(
            quoted_name(CLOSED_PERIODS_TABLE, quote=True),
            metadata,
            column("close_id", sa.Text, primary_key=True),
            column("table_name", sa.Text, nullable=False),
            column("account", sa.Text, nullable=False),
            column("month", sa.Text, nullable=False),
            column("closed_at", sa.DateTime, nullable=False),
            column("closed_by", sa.Text, nullable=False),
            column("rows", sa.BigInteger, nullable=False),
            column("amount_column", sa.Text),
            column("totals", sa.Text, nullable=False),
            column("reopened_at", sa.DateTime),
            column("reopened_by", sa.Text),
            column("reopen_reason", sa.Text),
            schema=quoted_schema,
        )
        variances = sa.Table(
            quoted_name(VARIANCES_TABLE, quote=True),
            metadata,
            column("close_id", sa.Text, nullable=False),
            column("table_name", sa.Text, nullable=False),
            column("account", sa.Text, nullable=False),
            column("month", sa.Text, nullable=False),
            column("partition", sa.Text, nullable=False),
            column("detected_at", sa.DateTime, nullable=False),
            column("loaded_by", sa.Text),
            column("change", sa.Text, nullable=False),
            column("row_key", sa.Text),
            column("currency", sa.Text),
            column("amount_before", _AMOUNT),
            column("amount_after", _AMOUNT),
            column("amount_change", _AMOUNT),
            column("rows", sa.BigInteger, nullable=False),
            schema=quoted_schema,
        )
        return cls(closes, variances)

    def ensure(self, conn: sa.Connection) -> None:
        """Create the tables where they do not exist yet."""
        for table in (self.closes, self.variances):
            if existing_columns(conn, table.schema, str(table.name)) is None:
                table.create(conn)

    def exist(self, conn: sa.Connection) -> bool:
        """Whether anything was ever closed in this schema."""
        return existing_columns(conn, self.closes.schema, CLOSED_PERIODS_TABLE) is not None


@dataclass(frozen=True)
class ClosedPeriod:
    """One close, as recorded."""

    close_id: str
    table: str
    account: str
    month: str
    closed_at: datetime
    closed_by: str
    rows: int
    totals: dict[str, Decimal]
    reopened_at: datetime | None = None
    reopened_by: str | None = None
    reopen_reason: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ClosedPeriod:
        """A close from its state-table row."""
        return cls(
            close_id=row["close_id"],
            table=row["table_name"],
            account=row["account"],
            month=row["month"],
            closed_at=row["closed_at"],
            closed_by=row["closed_by"],
            rows=int(row["rows"]),
            totals={k: Decimal(v) for k, v in json.loads(row["totals"]).items()},
            reopened_at=row["reopened_at"],
            reopened_by=row["reopened_by"],
            reopen_reason=row["reopen_reason"],
        )

    def describe(self) -> str:
        """One line for the command line and check descriptions (counts and totals only)."""
        who = "every account" if self.account == ALL_ACCOUNTS else self.account
        totals = ", ".join(f"{c} {a}" for c, a in sorted(self.totals.items())) or "no amounts"
        line = (
            f"{self.table} {self.month} ({who}): closed {self.closed_at:%Y-%m-%d %H:%M} UTC by "
            f"{self.closed_by}, {self.rows} rows, {totals}"
        )
        if self.reopened_at is not None:
            line += (
                f"; reopened {self.reopened_at:%Y-%m-%d %H:%M} UTC by {self.reopened_by}: "
                f"{self.reopen_reason}"
            )
        return line


@dataclass(frozen=True)
class Variance:
    """What Stripe's newest data says differently about one open close."""

    close: ClosedPeriod
    days: tuple[str, ...]
    rows: int
    amounts: dict[str, Decimal]

    def describe(self) -> str:
        """Counts and per-currency amounts, for a check's description."""
        amounts = ", ".join(f"{c} {a:+}" for c, a in sorted(self.amounts.items())) or "no amount change"
        who = "" if self.close.account == ALL_ACCOUNTS else f" {self.close.account}"
        return (
            f"{self.close.month}{who} (closed by {self.close.closed_by}): {self.rows} row(s) differ on "
            f"{len(self.days)} day(s) ({', '.join(self.days[:5])}{'…' if len(self.days) > 5 else ''}); "
            f"{amounts}"
        )


def open_closes(conn: sa.Connection, tables: PeriodTables, table: str, account: str | None) -> dict[str, str]:
    """Month → close id of the months of ``table`` closed for ``account`` (or for every account)."""
    if not tables.exist(conn):
        return {}
    closes = tables.closes
    accounts = [ALL_ACCOUNTS] if account is None else [ALL_ACCOUNTS, account]
    rows = conn.execute(
        sa.select(closes.c.month, closes.c.close_id).where(
            closes.c.table_name == table, closes.c.account.in_(accounts), closes.c.reopened_at.is_(None)
        )
    ).all()
    return {str(month): str(close_id) for month, close_id in rows}


def record_variances(
    conn: sa.Connection,
    tables: PeriodTables,
    comparison: Comparison,
    changes: ChangeSet,
    closed: Mapping[str, str],
    *,
    table: str,
    account: str | None,
    loaded_by: str | None,
) -> None:
    """Replace the variance rows of the closed windows ``closed`` (window key → close id) by what
    this load found, set-based: per row for a unique column, else per window and currency."""
    tables.ensure(conn)
    variances = tables.variances
    now = datetime.now(UTC).replace(tzinfo=None)
    who = account or ALL_ACCOUNTS
    for window, close_id in closed.items():
        conn.execute(
            sa.delete(variances).where(variances.c.close_id == close_id, variances.c.partition == window)
        )
    by_close: dict[str, list[str]] = {}
    for window, close_id in closed.items():
        by_close.setdefault(close_id, []).append(window)
    for close_id, windows in by_close.items():
        constants = {
            "close_id": close_id,
            "table_name": table,
            "account": who,
            "detected_at": now,
            "loaded_by": loaded_by,
        }
        if comparison.unique_column is not None:
            _row_variances(conn, variances, comparison, windows, constants)
        else:
            _window_variances(conn, variances, changes, windows, constants)


def _row_variances(
    conn: sa.Connection,
    variances: sa.Table,
    comparison: Comparison,
    windows: Sequence[str],
    constants: Mapping[str, Any],
) -> None:
    new, old = comparison.target, comparison.previous
    unique = comparison.unique_column
    assert unique is not None
    on = comparison.join_on(new, old)

    def amount(side: sa.Table) -> sa.ColumnElement[Any]:
        if comparison.amount_column is None:
            return sa.null()
        return sa.cast(side.c[comparison.amount_column], _AMOUNT)

    def currency(side: sa.Table) -> sa.ColumnElement[Any]:
        if comparison.currency_column is None:
            return sa.null()
        return sa.func.lower(sa.cast(side.c[comparison.currency_column], sa.Text))

    def insert(side: sa.Table, change: str, before: Any, after: Any, select_from: Any, *where: Any) -> None:
        partition = side.c[PARTITION_COLUMN]
        values = [
            *(sa.literal(value, variances.c[name].type) for name, value in constants.items()),
            sa.func.substr(partition, 1, 7),
            partition,
            sa.literal(change, sa.Text),
            sa.cast(side.c[unique], sa.Text),
            currency(side),
            before,
            after,
            sa.func.coalesce(after, 0) - sa.func.coalesce(before, 0),
            sa.literal(1, sa.BigInteger),
        ]
        names = [
            *constants,
            "month",
            "partition",
            "change",
            "row_key",
            "currency",
            "amount_before",
            "amount_after",
            "amount_change",
            "rows",
        ]
        query = sa.select(*values).select_from(select_from).where(partition.in_(windows), *where)
        conn.execute(sa.insert(variances).from_select(names, query))

    insert(
        new,
        "added",
        sa.null(),
        amount(new),
        new.outerjoin(old, on),
        comparison.new_rows,
        old.c[PARTITION_COLUMN].is_(None),
    )
    insert(
        old,
        "removed",
        amount(old),
        sa.null(),
        old.outerjoin(new, sa.and_(on, comparison.new_rows)),
        new.c[PARTITION_COLUMN].is_(None),
    )
    insert(
        new,
        "changed",
        amount(old),
        amount(new),
        new.join(old, on),
        comparison.new_rows,
        comparison.differs(new, old),
    )


def _window_variances(
    conn: sa.Connection,
    variances: sa.Table,
    changes: ChangeSet,
    windows: Sequence[str],
    constants: Mapping[str, Any],
) -> None:
    rows: list[dict[str, Any]] = []
    for window in windows:
        found = changes.windows[window]
        base = {**constants, "month": month_of(window), "partition": window, "row_key": None}
        for change, count in (("added", found.added), ("removed", found.removed)):
            if count:
                rows.append(
                    {
                        **base,
                        "change": change,
                        "currency": None,
                        "amount_before": None,
                        "amount_after": None,
                        "amount_change": None,
                        "rows": count,
                    }
                )
        for code, delta in found.net_change.items():
            rows.append(
                {
                    **base,
                    "change": "net",
                    "currency": code,
                    "amount_before": None,
                    "amount_after": None,
                    "amount_change": delta,
                    "rows": 0,
                }
            )
    if rows:
        conn.execute(sa.insert(variances), rows)


class ChangeTracker:
    """One load's change set and closed windows, inside its transaction (see Warehouse._run).

    :meth:`start` runs just before the replace deletes the windows' rows (it copies them); then
    :meth:`finish` after the insert compares, records variances for closed windows and puts their
    rows back as they were.
    """

    def __init__(
        self,
        plan: LoadPlan,
        spec: ChangeSpec,
        tables: PeriodTables,
        comparison: Comparison,
        closed_months: Mapping[str, str],
    ) -> None:
        self._plan = plan
        self._spec = spec
        self._tables = tables
        self._comparison = comparison
        self.closed_months = dict(closed_months)

    @classmethod
    def start(cls, conn: sa.Connection, plan: LoadPlan, schema: str | None) -> ChangeTracker | None:
        """Copy the windows' rows and read their closes; None when the load asks for no change set."""
        spec = plan.spec.changes
        if spec is None:
            return None
        checked_names(spec)
        tables = PeriodTables.of(schema)
        closed = open_closes(conn, tables, plan.spec.table, spec.account) if spec.protect_closed else {}
        previous = snapshot(conn, plan.target, plan.window_rows())
        load = plan.spec
        excluded = {*load.scope, *load.lineage, *dict(plan.added)}
        if load.freshness_column is not None:
            excluded.add(load.freshness_column)
        comparison = Comparison(
            previous=previous,
            target=plan.target,
            new_rows=plan.window_rows(),
            scope=dict(load.scope),
            columns=compared_columns(plan.target, excluded, load.unique_column),
            unique_column=load.unique_column,
            amount_column=amount_column_of(plan.columns, spec.amount_columns),
            currency_column=spec.currency_column if spec.currency_column in plan.columns else None,
        )
        return cls(plan, spec, tables, comparison, closed)

    def finish(self, conn: sa.Connection, rows_by_window: dict[str, int]) -> ChangeSet:
        """Compare, keep closed windows as they were (``rows_by_window`` updated), drop the copy."""
        plan, comparison = self._plan, self._comparison
        keys = list(plan.split.keys)
        changes = compare(comparison, conn, keys)
        closed = {k: self.closed_months[month_of(k)] for k in keys if month_of(k) in self.closed_months}
        if closed:
            record_variances(
                conn,
                self._tables,
                comparison,
                changes,
                closed,
                table=plan.spec.table,
                account=self._spec.account,
                loaded_by=self._spec.loaded_by,
            )
            target, previous = plan.target, comparison.previous
            conn.execute(
                sa.delete(target).where(target.c[PARTITION_COLUMN].in_(list(closed)), *plan.scope_condition())
            )
            names = [str(c.name) for c in target.columns]
            conn.execute(
                sa.insert(target).from_select(
                    names,
                    sa.select(*(previous.c[n] for n in names)).where(
                        previous.c[PARTITION_COLUMN].in_(list(closed))
                    ),
                )
            )
            for key in closed:
                rows_by_window[key] = changes.windows[key].rows_before
        drop(conn, comparison.previous)
        return ChangeSet(
            windows={k: replace(w, closed_by=closed.get(k)) for k, w in changes.windows.items()},
            key=changes.key,
            amount_column=changes.amount_column,
        )
