"""What a re-landing changed: rows added, removed and changed per window, and the net amount per
currency, computed by the database inside the load's transaction.

The rows the windows held are copied to a temporary table just before the replace deletes them;
after the insert, the new rows are compared with that copy. With a unique column a row is known by
it (same ``_partition`` and id: the same row; any compared column differing: a changed row). Without
one a row is known by all its compared values, as a multiset (a changed row is then one removed and
one added). Compared columns are the data columns: not ``_partition``, ``_loaded_at``, the load's
scope and lineage columns, its freshness column, nor columns this load added to the table. Only
counts and per-currency totals leave the database.

Rows whose unique value is NULL have no identity: they count as removed and added.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import quoted_name

from pipelines.warehouse.identifiers import LOADED_AT_COLUMN, PARTITION_COLUMN, check_identifier
from pipelines.warehouse.logical_types import LogicalType

DEFAULT_AMOUNT_COLUMNS = ("net", "net_amount", "amount", "gross")
"""Money columns a change set totals, the first a table has (Stripe's report and Sigma names)."""

_PREVIOUS = "_stripe_previous_rows"
_NUMERIC_KINDS = frozenset({"bigint", "double", "decimal"})


@dataclass(frozen=True)
class ChangeSpec:
    """Ask a load to report what it changed, and to keep closed periods as they are.

    * ``amount_columns``: candidates for the money column whose net change per currency is reported;
      the first numeric one the table has is used (none: rows only).
    * ``currency_column``: the column amounts are totalled by.
    * ``account``: the connected account of the load's scope (None: the platform), for closed periods.
    * ``loaded_by``: what the load came from (a Stripe run id), written on variance rows.
    * ``protect_closed``: windows of a closed month are compared but not replaced; their
      differences go to the variance table (:mod:`pipelines.warehouse.periods`).
    """

    amount_columns: Sequence[str] = DEFAULT_AMOUNT_COLUMNS
    currency_column: str = "currency"
    account: str | None = None
    loaded_by: str | None = None
    protect_closed: bool = True


@dataclass(frozen=True)
class WindowChanges:
    """What one window's re-landing changed."""

    rows_before: int
    added: int
    removed: int
    changed: int
    #: New total minus old total of the amount column, per currency (only currencies that moved).
    net_change: dict[str, Decimal] = field(default_factory=dict)
    #: The close id when the window's month is closed: the rows were kept, differences recorded.
    closed_by: str | None = None

    @property
    def unchanged(self) -> bool:
        """Whether the window holds exactly what it held before (as compared)."""
        return not (self.added or self.removed or self.changed or self.net_change)


@dataclass(frozen=True)
class ChangeSet:
    """Per window key, what a load changed; ``key`` says how rows were matched."""

    windows: dict[str, WindowChanges]
    key: str
    amount_column: str | None


def amount_column_of(columns: Mapping[str, LogicalType], candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` that ``columns`` hold as a number."""
    return next((c for c in candidates if c in columns and columns[c].kind in _NUMERIC_KINDS), None)


def compared_columns(target: sa.Table, excluded: Collection[str], unique_column: str | None) -> list[str]:
    """The data columns a comparison looks at, in table order."""
    skip = {PARTITION_COLUMN, LOADED_AT_COLUMN, *excluded}
    return [str(c.name) for c in target.columns if str(c.name) not in skip and c.name != unique_column]


def snapshot(conn: sa.Connection, target: sa.Table, rows: sa.ColumnElement[bool]) -> sa.Table:
    """Copy ``rows`` of ``target`` to a temporary table of the same columns (dropped by :func:`drop`)."""
    previous = sa.Table(
        quoted_name(_PREVIOUS, quote=True),
        sa.MetaData(),
        *(sa.Column(quoted_name(str(c.name), quote=True), c.type) for c in target.columns),
        prefixes=["TEMPORARY"],
    )
    previous.create(conn)
    names = [str(c.name) for c in target.columns]
    conn.execute(sa.insert(previous).from_select(names, sa.select(*(target.c[n] for n in names)).where(rows)))
    return previous


def drop(conn: sa.Connection, previous: sa.Table) -> None:
    """Drop the temporary copy."""
    previous.drop(conn)


@dataclass(frozen=True)
class Comparison:
    """The two sides of a comparison: the copy of the old rows and the new rows of the windows."""

    previous: sa.Table
    target: sa.Table
    new_rows: sa.ColumnElement[bool]
    scope: Mapping[str, Any]
    columns: Sequence[str]
    unique_column: str | None
    amount_column: str | None
    currency_column: str | None

    def join_on(self, new: sa.Table, old: sa.Table) -> sa.ColumnElement[bool]:
        """Same window and id (unique column), within the scope."""
        assert self.unique_column is not None
        return sa.and_(
            new.c[PARTITION_COLUMN] == old.c[PARTITION_COLUMN],
            new.c[self.unique_column] == old.c[self.unique_column],
            *(new.c[name] == value for name, value in self.scope.items()),
        )

    def differs(self, new: sa.Table, old: sa.Table) -> sa.ColumnElement[bool]:
        """Some compared column differs (NULL and NULL are equal)."""
        if not self.columns:
            return sa.false()
        return sa.or_(*(new.c[name].is_distinct_from(old.c[name]) for name in self.columns))


def compare(comparison: Comparison, conn: sa.Connection, keys: Sequence[str]) -> ChangeSet:
    """Count added, removed and changed rows and the net amount per currency of each window in ``keys``."""
    if comparison.unique_column is not None:
        added, removed, changed = _by_unique_column(comparison, conn)
        key = comparison.unique_column
    else:
        added, removed = _by_full_row(comparison, conn)
        changed = {}
        key = "full row"
    before = _counts(conn, comparison.previous, sa.true())
    new_totals = _totals(comparison, conn, comparison.target, comparison.new_rows)
    old_totals = _totals(comparison, conn, comparison.previous, sa.true())
    windows = {}
    for window in keys:
        net: dict[str, Decimal] = {}
        for name, currency in set(new_totals) | set(old_totals):
            if name != window:
                continue
            delta = new_totals.get((name, currency), Decimal(0)) - old_totals.get(
                (name, currency), Decimal(0)
            )
            if delta:
                net[currency] = delta
        windows[window] = WindowChanges(
            rows_before=before.get(window, 0),
            added=added.get(window, 0),
            removed=removed.get(window, 0),
            changed=changed.get(window, 0),
            net_change=dict(sorted(net.items())),
        )
    return ChangeSet(windows=windows, key=key, amount_column=comparison.amount_column)


def _by_unique_column(
    comparison: Comparison, conn: sa.Connection
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    new, old = comparison.target, comparison.previous
    on = comparison.join_on(new, old)
    partition_new, partition_old = new.c[PARTITION_COLUMN], old.c[PARTITION_COLUMN]
    added = conn.execute(
        sa.select(partition_new, sa.func.count())
        .select_from(new.outerjoin(old, on))
        .where(comparison.new_rows, partition_old.is_(None))
        .group_by(partition_new)
    ).all()
    removed = conn.execute(
        sa.select(partition_old, sa.func.count())
        .select_from(old.outerjoin(new, sa.and_(on, comparison.new_rows)))
        .where(partition_new.is_(None))
        .group_by(partition_old)
    ).all()
    changed = conn.execute(
        sa.select(partition_new, sa.func.count())
        .select_from(new.join(old, on))
        .where(comparison.new_rows, comparison.differs(new, old))
        .group_by(partition_new)
    ).all()
    return _as_counts(added), _as_counts(removed), _as_counts(changed)


def _row_identity(table: sa.Table | sa.Subquery, columns: Sequence[str]) -> list[sa.ColumnElement[Any]]:
    # Each value as (is null, text): plain equalities, so the database can hash-join whole rows,
    # where IS NOT DISTINCT FROM over every column would compare every pair of rows of a day.
    identity: list[sa.ColumnElement[Any]] = []
    for name in columns:
        column = table.c[name]
        identity.append(sa.case((column.is_(None), 1), else_=0))
        identity.append(sa.func.coalesce(sa.cast(column, sa.Text), ""))
    return identity


def _grouped(table: sa.Table, rows: sa.ColumnElement[bool], columns: Sequence[str], name: str) -> sa.Subquery:
    identity = _row_identity(table, columns)
    labelled = [expression.label(f"k{i}") for i, expression in enumerate(identity)]
    return (
        sa.select(table.c[PARTITION_COLUMN].label("p"), *labelled, sa.func.count().label("n"))
        .where(rows)
        .group_by(table.c[PARTITION_COLUMN], *identity)
        .subquery(name)
    )


def _by_full_row(comparison: Comparison, conn: sa.Connection) -> tuple[dict[str, int], dict[str, int]]:
    columns = comparison.columns
    new = _grouped(comparison.target, comparison.new_rows, columns, "new_rows")
    old = _grouped(comparison.previous, sa.true(), columns, "old_rows")
    width = 2 * len(columns)
    same = sa.and_(new.c.p == old.c.p, *(new.c[f"k{i}"] == old.c[f"k{i}"] for i in range(width)))

    def surplus(more: sa.Subquery, fewer: sa.Subquery) -> dict[str, int]:
        extra = more.c.n - sa.func.coalesce(fewer.c.n, 0)
        rows = conn.execute(
            sa.select(more.c.p, sa.func.sum(sa.case((extra > 0, extra), else_=0)))
            .select_from(more.outerjoin(fewer, same))
            .group_by(more.c.p)
        ).all()
        return {key: value for key, value in _as_counts(rows).items() if value}

    return surplus(new, old), surplus(old, new)


def _counts(conn: sa.Connection, table: sa.Table, rows: sa.ColumnElement[bool]) -> dict[str, int]:
    partition = table.c[PARTITION_COLUMN]
    return _as_counts(
        conn.execute(sa.select(partition, sa.func.count()).where(rows).group_by(partition)).all()
    )


def _totals(
    comparison: Comparison, conn: sa.Connection, table: sa.Table, rows: sa.ColumnElement[bool]
) -> dict[tuple[str, str], Decimal]:
    amount, currency = comparison.amount_column, comparison.currency_column
    if amount is None:
        return {}
    partition = table.c[PARTITION_COLUMN]
    total = sa.func.sum(table.c[amount])
    if currency is None:
        # No currency column: one total per window, under "".
        plain = conn.execute(sa.select(partition, total).where(rows).group_by(partition)).all()
        return {(str(key), ""): _decimal(value) for key, value in plain}
    code = sa.func.lower(sa.cast(table.c[currency], sa.Text))
    result = conn.execute(sa.select(partition, code, total).where(rows).group_by(partition, code)).all()
    return {(str(key), "" if name is None else str(name)): _decimal(value) for key, name, value in result}


def _as_counts(rows: Sequence[sa.Row[Any]]) -> dict[str, int]:
    return {str(key): int(count or 0) for key, count in rows}


def _decimal(value: object) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def checked_names(spec: ChangeSpec) -> None:
    """Refuse names in ``spec`` that are not plain identifiers (IdentifierError)."""
    for name in spec.amount_columns:
        check_identifier(name, "amount column")
    check_identifier(spec.currency_column, "currency column")
