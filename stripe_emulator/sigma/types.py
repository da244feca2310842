"""Trino's types for the expressions of a query, as far as the strict checks need them.

Trino refuses a query whose operand types it will not coerce (``timestamp(3) >= varchar(10)``)
before running it; DuckDB, which runs the query here, would coerce and run it. To refuse the
same queries this module works out the Trino type of column references (from the Sigma views),
literals, casts, operators and the common functions. Whatever it cannot work out is ``None``,
and the checks let ``None`` through: an unknown type never rejects a query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

__all__ = ["TrinoType", "from_duckdb", "from_sql_type", "parse_type"]


@dataclass(frozen=True)
class TrinoType:
    """A Trino type: its base name, parameters (length, precision, element type) and zone."""

    name: str
    params: tuple[object, ...] = ()
    with_zone: bool = False

    def __str__(self) -> str:
        text = self.name
        if self.name in ("array", "map"):
            text += "(" + ", ".join(str(p) for p in self.params) + ")"
        elif self.params:
            text += "(" + ",".join(str(p) for p in self.params) + ")"
        return text + (" with time zone" if self.with_zone else "")

    @property
    def family(self) -> str:
        """What decides coercion: numeric, string, date, timestamp, boolean, interval kinds, or other."""
        return _FAMILIES.get(self.name, "other")


_NUMERIC_ORDER = ("tinyint", "smallint", "integer", "bigint", "decimal", "real", "double")
_FAMILIES = {
    **dict.fromkeys(_NUMERIC_ORDER, "numeric"),
    "varchar": "string",
    "char": "string",
    "date": "date",
    "timestamp": "timestamp",
    "time": "time",
    "boolean": "boolean",
    "interval day to second": "day_interval",
    "interval year to month": "month_interval",
    "unknown": "unknown",
    "array": "array",
}
# Families whose coercions the checks know exactly; anything else (json, map, row, varbinary…) is
# left for DuckDB to accept or refuse.
CHECKED_FAMILIES = frozenset(
    {"numeric", "string", "date", "timestamp", "time", "boolean", "day_interval", "month_interval"}
)

BIGINT = TrinoType("bigint")
INTEGER = TrinoType("integer")
DOUBLE = TrinoType("double")
BOOLEAN = TrinoType("boolean")
DATE = TrinoType("date")
TIMESTAMP = TrinoType("timestamp", (3,))
TIMESTAMP_TZ = TrinoType("timestamp", (3,), with_zone=True)
VARCHAR = TrinoType("varchar")
JSON = TrinoType("json")
UNKNOWN = TrinoType("unknown")
DAY_INTERVAL = TrinoType("interval day to second")
MONTH_INTERVAL = TrinoType("interval year to month")


def varchar(length: int | None = None) -> TrinoType:
    """``varchar(length)``, or unbounded ``varchar``."""
    return TrinoType("varchar", (length,)) if length is not None else VARCHAR


def array(element: TrinoType | None) -> TrinoType | None:
    """``array(element)``; unknown when the element type is."""
    return TrinoType("array", (element,)) if element is not None else None


_DUCKDB_SCALARS = {
    "BIGINT": BIGINT,
    "HUGEINT": BIGINT,
    "UBIGINT": BIGINT,
    "INTEGER": INTEGER,
    "UINTEGER": BIGINT,
    "SMALLINT": TrinoType("smallint"),
    "TINYINT": TrinoType("tinyint"),
    "DOUBLE": DOUBLE,
    "FLOAT": TrinoType("real"),
    "VARCHAR": VARCHAR,
    "BOOLEAN": BOOLEAN,
    "DATE": DATE,
    # Sigma's timestamps carry milliseconds.
    "TIMESTAMP": TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": TIMESTAMP_TZ,
    "JSON": JSON,
    "INTERVAL": DAY_INTERVAL,
}


def from_duckdb(type_name: str) -> TrinoType | None:
    """The Trino type Sigma shows for a DuckDB column type (None when there is no plain match)."""
    name = type_name.upper().strip()
    if name.endswith("[]"):
        return array(from_duckdb(name[:-2]))
    if match := re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", name):
        return TrinoType("decimal", (int(match.group(1)), int(match.group(2))))
    return _DUCKDB_SCALARS.get(name)


def parse_type(text: str) -> TrinoType | None:
    """A Trino type from its name as Trino prints it (``varchar(10)``, ``timestamp(3)``, ``bigint``)."""
    text = text.strip().lower()
    zone = text.endswith(" with time zone")
    text = text.removesuffix(" with time zone").strip()
    if text.startswith("array(") and text.endswith(")"):
        return array(parse_type(text[6:-1]))
    match = re.fullmatch(r"([a-z ]+?)\s*(?:\(([\d,\s]+)\))?", text)
    if not match:
        return None
    name, params = match.group(1).strip(), match.group(2)
    name = {"int": "integer", "double precision": "double"}.get(name, name)
    if name not in _FAMILIES and name not in ("json", "varbinary", "uuid", "map", "row"):
        return None
    values = tuple(int(p) for p in params.split(",")) if params else ()
    if name == "timestamp" and not values:
        values = (3,)
    return TrinoType(name, values, with_zone=zone)


def from_sql_type(data_type: exp.DataType) -> TrinoType | None:
    """The Trino type of a parsed ``CAST(... AS type)`` target."""
    return parse_type(data_type.sql(dialect="trino"))


def literal_type(literal: exp.Literal) -> TrinoType:
    """Trino's type for a literal: ``varchar(n)``, ``integer``/``bigint``, ``decimal(p,s)``, ``double``."""
    text = literal.this
    if literal.is_string:
        return varchar(len(text))
    if re.fullmatch(r"\d+", text):
        return INTEGER if int(text) <= 2**31 - 1 else BIGINT
    if match := re.fullmatch(r"(\d*)\.(\d*)", text):
        whole, fraction = match.group(1).lstrip("0"), match.group(2)
        return TrinoType("decimal", (max(1, len(whole) + len(fraction)), len(fraction)))
    return DOUBLE


def common_type(first: TrinoType | None, second: TrinoType | None) -> TrinoType | None:
    """Trino's common super type of two types; None when unknown or when there is none."""
    if first is None or second is None:
        return None
    if first.name == "unknown":
        return second
    if second.name == "unknown" or first == second:
        return first
    families = {first.family, second.family}
    if families == {"numeric"}:
        return max(first, second, key=lambda t: _NUMERIC_ORDER.index(t.name))
    if families == {"string"}:
        lengths = [t.params[0] if t.params and t.name == "varchar" else None for t in (first, second)]
        return varchar(max(lengths)) if None not in lengths else VARCHAR  # type: ignore[type-var]
    if families <= {"date", "timestamp"}:
        precision = max(t.params[0] if t.params else 3 for t in (first, second) if t.name == "timestamp")
        return TrinoType("timestamp", (precision,), with_zone=first.with_zone or second.with_zone)
    if first.name == second.name:
        return first
    return None


def coercible(first: TrinoType | None, second: TrinoType | None) -> bool:
    """False only when both types are known and Trino has no common type for them."""
    if first is None or second is None or "unknown" in (first.name, second.name):
        return True
    if first.family not in CHECKED_FAMILIES or second.family not in CHECKED_FAMILIES:
        return True
    return common_type(first, second) is not None
