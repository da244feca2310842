"""Which window each row of a file belongs to (the split rule), in SQL and in Python."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any, Literal

import sqlalchemy as sa

from pipelines.warehouse.errors import LoadSpecError
from pipelines.warehouse.logical_types import LogicalType
from pipelines.warehouse.spec import LoadSpec, Window


@dataclass(frozen=True)
class SplitRule:
    """Assigns rows to window keys.

    ``single``: every row belongs to the one window. ``range``: a UTC timestamp column, the window
    whose ``[start, end)`` contains the value. ``value``: a date or text column, the window whose key
    equals the value.
    """

    mode: Literal["single", "range", "value"]
    column: str | None
    windows: tuple[Window, ...]
    bounds: tuple[tuple[datetime, datetime, str], ...] = ()  # range: naive UTC, sorted by start
    values: tuple[tuple[Any, str], ...] = ()  # value: (column value, key)

    @classmethod
    def for_spec(cls, spec: LoadSpec, column_type: LogicalType | None) -> SplitRule:
        """The rule for ``spec``, given the type the split column is stored as."""
        windows = tuple(spec.windows)
        if spec.split_column is None:
            return cls("single", None, windows)
        kind = column_type.kind if column_type is not None else None
        if kind == "timestamp":
            bounds = tuple(sorted((_naive_utc(w.start), _naive_utc(w.end), w.key) for w in windows))
            for (_, previous_end, previous_key), (start, _, key) in itertools.pairwise(bounds):
                if start < previous_end:
                    raise LoadSpecError(
                        f"load of {spec.table}: windows {previous_key} and {key} overlap, so rows between "
                        f"{start} and {previous_end} would belong to both"
                    )
            return cls("range", spec.split_column, windows, bounds=bounds)
        if kind == "date":
            values: list[tuple[Any, str]] = []
            for window in windows:
                try:
                    values.append((date.fromisoformat(window.key), window.key))
                except ValueError:
                    raise LoadSpecError(
                        f"load of {spec.table}: split column {spec.split_column} holds dates, so window "
                        f"keys must be dates (YYYY-MM-DD), not {window.key!r}"
                    ) from None
            return cls("value", spec.split_column, windows, values=tuple(values))
        if kind == "text":
            return cls("value", spec.split_column, windows, values=tuple((w.key, w.key) for w in windows))
        raise LoadSpecError(
            f"load of {spec.table}: split column {spec.split_column} is {column_type}; it must be a "
            "timestamp, date or text column"
        )

    @property
    def keys(self) -> tuple[str, ...]:
        """The window keys, in the spec's order."""
        return tuple(window.key for window in self.windows)

    def sql(self, column: sa.ColumnElement[Any] | None) -> sa.ColumnElement[str]:
        """An expression giving each row's window key, NULL for rows outside every window."""
        if self.mode == "single":
            return sa.cast(sa.literal(self.windows[0].key, sa.Text), sa.Text)
        assert column is not None
        if self.mode == "range":
            whens = [
                (
                    sa.and_(column >= sa.literal(start, sa.DateTime), column < sa.literal(end, sa.DateTime)),
                    sa.literal(key, sa.Text),
                )
                for start, end, key in self.bounds
            ]
        else:
            whens = [(column == sa.literal(value), sa.literal(key, sa.Text)) for value, key in self.values]
        # The cast gives the CASE a type even where the database cannot infer it from parameters.
        return sa.cast(sa.case(*whens, else_=sa.null()), sa.Text)

    def assign(self, value: Any) -> str | None:
        """The window key of a row whose split column holds ``value`` (None when outside every window)."""
        if self.mode == "single":
            return self.windows[0].key
        if value is None:
            return None
        if self.mode == "range":
            index = bisect.bisect_right(self._starts, value) - 1
            if index >= 0 and value < self.bounds[index][1]:
                return self.bounds[index][2]
            return None
        return self._keys_by_value.get(value)

    @cached_property
    def _starts(self) -> list[datetime]:
        return [start for start, _, _ in self.bounds]

    @cached_property
    def _keys_by_value(self) -> dict[Any, str]:
        return dict(self.values)

    def describe(self) -> str:
        """The windows, briefly, for error messages."""
        if self.mode == "range":
            return f"[{self.bounds[0][0]}, {self.bounds[-1][1]}) UTC in {len(self.bounds)} window(s)"
        keys = self.keys
        shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
        return f"keys {shown}"


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
