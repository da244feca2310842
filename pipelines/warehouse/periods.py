"""Closing and reopening months of landed tables, and reading what Stripe changed in them since.

    periods = Periods(warehouse)
    periods.close("balance_change_from_activity_itemized_3", "2026-10", closed_by="finance@example.com")
    periods.variances("balance_change_from_activity_itemized_3")   # what differs, per currency
    periods.reopen(..., "2026-10", reopened_by="finance@example.com", reason="late dispute")

The state lives in the warehouse beside the tables (:mod:`pipelines.warehouse.closed_periods`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from pipelines.warehouse.changes import DEFAULT_AMOUNT_COLUMNS, amount_column_of
from pipelines.warehouse.closed_periods import (
    ALL_ACCOUNTS,
    VARIANCES_TABLE,
    ClosedPeriod,
    PeriodTables,
    Variance,
    check_month,
)
from pipelines.warehouse.errors import PeriodError
from pipelines.warehouse.identifiers import PARTITION_COLUMN, check_identifier
from pipelines.warehouse.introspection import existing_columns
from pipelines.warehouse.warehouse import Warehouse


class Periods:
    """Closing, reopening and reading the closed months of a warehouse's tables."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        self._tables = PeriodTables.of(warehouse.schema)

    def close(
        self,
        table: str,
        month: str,
        *,
        closed_by: str,
        account: str | None = None,
        scope: Mapping[str, str] | None = None,
        amount_columns: Sequence[str] = DEFAULT_AMOUNT_COLUMNS,
        currency_column: str = "currency",
    ) -> ClosedPeriod:
        """Close ``month`` of ``table`` (for ``account``, whose rows ``scope`` selects; None: every
        account), recording its rows and per-currency totals now. PeriodError when it is closed already
        or the table does not exist."""
        check_identifier(table, "table name")
        check_month(month)
        if not closed_by:
            raise PeriodError("a close needs who closes it (closed_by)")
        who = account or ALL_ACCOUNTS
        with self._warehouse.table_transaction(table) as conn:
            columns = existing_columns(conn, self._warehouse.schema, table)
            if columns is None:
                raise PeriodError(
                    f"{self._display(table)} does not exist yet: land the month before closing it"
                )
            self._tables.ensure(conn)
            already = self._open(
                conn, table, month, [ALL_ACCOUNTS] if account is None else [account, ALL_ACCOUNTS]
            )
            if already:
                raise PeriodError(
                    f"already closed: {already[0].describe()}; reopen it first to close it again"
                )
            source = self._warehouse.source_table(conn, table)
            assert source is not None
            partition = source.c[PARTITION_COLUMN]
            scoped = [source.c[name] == value for name, value in (scope or {}).items()]
            in_month = sa.and_(partition.like(f"{month}-%"), *scoped)
            rows = int(conn.execute(sa.select(sa.func.count()).where(in_month)).scalar_one())
            amount = amount_column_of(columns, amount_columns)
            totals: dict[str, Decimal] = {}
            if amount is not None:
                total = sa.func.sum(source.c[amount])
                if currency_column in columns:
                    code = sa.func.lower(sa.cast(source.c[currency_column], sa.Text))
                    found = conn.execute(sa.select(code, total).where(in_month).group_by(code)).all()
                else:
                    found = [("", conn.execute(sa.select(total).where(in_month)).scalar())]
                for currency, value in found:
                    totals["" if currency is None else str(currency)] = Decimal(str(value or 0))
            closed = ClosedPeriod(
                close_id=uuid.uuid4().hex,
                table=table,
                account=who,
                month=month,
                closed_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
                closed_by=closed_by,
                rows=rows,
                totals=dict(sorted(totals.items())),
            )
            conn.execute(
                sa.insert(self._tables.closes).values(
                    close_id=closed.close_id,
                    table_name=table,
                    account=who,
                    month=month,
                    closed_at=closed.closed_at,
                    closed_by=closed_by,
                    rows=rows,
                    amount_column=amount,
                    totals=json.dumps({c: str(a) for c, a in closed.totals.items()}),
                )
            )
        return closed

    def reopen(
        self, table: str, month: str, *, reopened_by: str, reason: str, account: str | None = None
    ) -> list[ClosedPeriod]:
        """Reopen ``month`` of ``table``: every open close of it (``account``: only that account's),
        recording who, when and why. The next landing of its days replaces them as usual."""
        check_identifier(table, "table name")
        check_month(month)
        if not reason or not reason.strip():
            raise PeriodError("reopening a closed month needs a reason (--reason)")
        if not reopened_by:
            raise PeriodError("a reopen needs who reopens it (reopened_by)")
        with self._warehouse.table_transaction(table) as conn:
            if not self._tables.exist(conn):
                raise PeriodError(f"{self._display(table)} {month} is not closed")
            found = self._open(conn, table, month, [account] if account else None)
            if not found:
                every = self._open(conn, table, month, [ALL_ACCOUNTS]) if account else []
                hint = "; it is closed for every account: reopen it without --account" if every else ""
                raise PeriodError(
                    f"{self._display(table)} {month}{f' ({account})' if account else ''} is not closed{hint}"
                )
            now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
            closes = self._tables.closes
            conn.execute(
                sa.update(closes)
                .where(closes.c.close_id.in_([c.close_id for c in found]))
                .values(reopened_at=now, reopened_by=reopened_by, reopen_reason=reason.strip())
            )
        return [
            ClosedPeriod(
                **{**c.__dict__, "reopened_at": now, "reopened_by": reopened_by, "reopen_reason": reason}
            )
            for c in found
        ]

    def history(self, table: str | None = None) -> list[ClosedPeriod]:
        """Every close (reopened ones too), oldest first, of ``table`` or of every table."""
        with self._warehouse.engine.connect() as conn:
            if not self._tables.exist(conn):
                return []
            closes = self._tables.closes
            query = sa.select(closes).order_by(closes.c.closed_at, closes.c.close_id)
            if table is not None:
                query = query.where(closes.c.table_name == table)
            return [ClosedPeriod.from_row(row) for row in conn.execute(query).mappings()]

    def variances(self, table: str) -> list[Variance]:
        """For each open close of ``table`` that Stripe's newest landing disagrees with: the rows that
        differ and the amount change per currency (counts and totals only)."""
        with self._warehouse.engine.connect() as conn:
            if (
                not self._tables.exist(conn)
                or existing_columns(conn, self._warehouse.schema, VARIANCES_TABLE) is None
            ):
                return []
            closes, variances = self._tables.closes, self._tables.variances
            open_ = {
                row["close_id"]: ClosedPeriod.from_row(row)
                for row in conn.execute(
                    sa.select(closes).where(closes.c.table_name == table, closes.c.reopened_at.is_(None))
                ).mappings()
            }
            if not open_:
                return []
            rows = conn.execute(
                sa.select(
                    variances.c.close_id,
                    variances.c.partition,
                    variances.c.currency,
                    sa.func.sum(variances.c.rows),
                    sa.func.sum(variances.c.amount_change),
                )
                .where(variances.c.close_id.in_(list(open_)))
                .group_by(variances.c.close_id, variances.c.partition, variances.c.currency)
            ).all()
        days: dict[str, set[str]] = {}
        counts: dict[str, int] = {}
        amounts: dict[str, dict[str, Decimal]] = {}
        for close_id, partition, currency, count, change in rows:
            days.setdefault(close_id, set()).add(str(partition))
            counts[close_id] = counts.get(close_id, 0) + int(count or 0)
            if currency is not None and change is not None:
                per = amounts.setdefault(close_id, {})
                per[str(currency)] = per.get(str(currency), Decimal(0)) + Decimal(str(change))
        return [
            Variance(
                open_[c], tuple(sorted(days[c])), counts.get(c, 0), dict(sorted(amounts.get(c, {}).items()))
            )
            for c in sorted(days, key=lambda c: (open_[c].month, open_[c].account))
        ]

    def _open(
        self, conn: sa.Connection, table: str, month: str, accounts: Sequence[str] | None
    ) -> list[ClosedPeriod]:
        closes = self._tables.closes
        query = sa.select(closes).where(
            closes.c.table_name == table, closes.c.month == month, closes.c.reopened_at.is_(None)
        )
        if accounts is not None:
            query = query.where(closes.c.account.in_(list(accounts)))
        return [ClosedPeriod.from_row(row) for row in conn.execute(query).mappings()]

    def _display(self, table: str) -> str:
        schema = self._warehouse.schema
        return f"{schema}.{table}" if schema else table
