"""The loader's column types: the catalogue's names, their SQL types, and which changes are safe.

The catalogue speaks of ``text``, ``bigint``, ``double``, ``boolean``, ``date``, ``timestamp``,
``money`` (``decimal(18,3)``: three decimal places cover every Stripe currency) and ``decimal(p,s)``.
Each maps to a SQLAlchemy type, so every dialect renders its own DDL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any, Literal

import sqlalchemy as sa

from pipelines.warehouse.errors import shown

Kind = Literal["text", "bigint", "double", "boolean", "date", "timestamp", "decimal"]

_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)$")
_SIMPLE: dict[str, Kind] = {
    "text": "text",
    "bigint": "bigint",
    "double": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
MAX_PRECISION = 38  # DuckDB's limit; PostgreSQL allows more, but a table should load into either.


@dataclass(frozen=True)
class LogicalType:
    """A column type as the catalogue names it."""

    kind: Kind
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        if self.kind != "decimal":
            return self.kind
        if (self.precision, self.scale) == (18, 3):
            return "money"
        return f"decimal({self.precision},{self.scale})"

    def to_sqlalchemy(self) -> sa.types.TypeEngine[Any]:
        """The SQLAlchemy type that renders this type's DDL in any dialect (and reads its values
        back exactly: decimals as Decimal, whatever the driver)."""
        if self.kind == "decimal":
            return ExactDecimal(self.precision, self.scale)
        return _SQLALCHEMY[self.kind]()

    def duckdb_name(self) -> str:
        """The type's name in DuckDB (``read_csv`` column types)."""
        if self.kind == "decimal":
            return f"DECIMAL({self.precision},{self.scale})"
        return _DUCKDB[self.kind]


class ExactDecimal(sa.types.TypeDecorator[Decimal]):
    """``NUMERIC(p, s)`` whose values come back exactly.

    SQLAlchemy's own Numeric, on a driver it does not trust to return decimals (duckdb-engine
    among them), formats each value through a float: 987654321098765.432 would come back as
    987654321098765.375. A Decimal from the driver is kept as it is; a float (SQLite stores
    decimals as floats) becomes the Decimal of its shortest repr, at the column's scale.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int | None = None, scale: int | None = None) -> None:
        super().__init__(precision, scale, asdecimal=True)
        self.scale = scale

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> Callable[[Any], Decimal | None]:
        """Values as Decimal, exact (see the class)."""
        quantum = Decimal(1).scaleb(-self.scale) if self.scale is not None else None

        def process(value: Any) -> Decimal | None:
            if value is None or isinstance(value, Decimal):
                return value
            exact = Decimal(str(value))
            return exact.quantize(quantum) if quantum is not None and exact.is_finite() else exact

        return process


TEXT = LogicalType("text")
BIGINT = LogicalType("bigint")
DOUBLE = LogicalType("double")
BOOLEAN = LogicalType("boolean")
DATE = LogicalType("date")
TIMESTAMP = LogicalType("timestamp")
MONEY = LogicalType("decimal", 18, 3)

_SQLALCHEMY: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
    "text": sa.Text,
    "bigint": sa.BigInteger,
    "double": sa.Double,
    "boolean": sa.Boolean,
    "date": sa.Date,
    "timestamp": lambda: sa.DateTime(timezone=False),
}
_DUCKDB = {
    "text": "VARCHAR",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def parse_type(text: str) -> LogicalType:
    """The logical type named by ``text`` (``money``, ``decimal(10,2)``, ...); ValueError if unknown."""
    name = text.strip().lower()
    if name in _SIMPLE:
        return LogicalType(_SIMPLE[name])
    if name == "money":
        return MONEY
    match = _DECIMAL.match(name)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if 1 <= precision <= MAX_PRECISION and scale <= precision:
            return LogicalType("decimal", precision, scale)
    raise ValueError(
        f"unknown column type {text!r}; use text, bigint, double, boolean, date, timestamp, money "
        f"or decimal(p,s) with p <= {MAX_PRECISION}"
    )


def from_database(data_type: str, precision: int | None = None, scale: int | None = None) -> LogicalType:
    """The logical type of a column as ``information_schema.columns`` describes it (DuckDB or PostgreSQL).

    Types the loader never creates still map to the closest logical type, so a table created by
    hand can be loaded into; anything unrecognised is treated as text.
    """
    name = data_type.strip().lower()
    match = _DECIMAL.match(name)
    if match:
        return LogicalType("decimal", int(match.group(1)), int(match.group(2)))
    if name in ("decimal", "numeric"):
        if precision is None:
            return LogicalType("decimal", MAX_PRECISION, scale or 0)
        return LogicalType("decimal", int(precision), int(scale or 0))
    if name in (
        "bigint",
        "integer",
        "int",
        "smallint",
        "tinyint",
        "hugeint",
        "int8",
        "int4",
        "int2",
        "ubigint",
        "uinteger",
        "usmallint",
        "utinyint",
    ):
        return BIGINT
    if name in ("double", "double precision", "real", "float", "float4", "float8"):
        return DOUBLE
    if name in ("boolean", "bool"):
        return BOOLEAN
    if name == "date":
        return DATE
    if name.startswith("timestamp"):
        return TIMESTAMP
    return TEXT


def from_sqlalchemy(type_: sa.types.TypeEngine[Any]) -> LogicalType:
    """The logical type of a reflected SQLAlchemy column type (dialects other than DuckDB/PostgreSQL)."""
    if isinstance(type_, sa.Boolean):
        return BOOLEAN
    if isinstance(type_, sa.Integer):
        return BIGINT
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        precision = type_.precision or MAX_PRECISION
        return LogicalType("decimal", precision, type_.scale or 0)
    if isinstance(type_, sa.Float):
        return DOUBLE
    if isinstance(type_, sa.DateTime):
        return TIMESTAMP
    if isinstance(type_, sa.Date):
        return DATE
    return TEXT


def of_value(value: object) -> LogicalType:
    """The logical type of a constant stored on every row (scope and lineage values)."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return BIGINT
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, Decimal):
        return LogicalType("decimal", MAX_PRECISION, max(0, -int(value.as_tuple().exponent)))
    if isinstance(value, datetime):
        return TIMESTAMP
    if isinstance(value, date):
        return DATE
    return TEXT


def to_database_value(value: object) -> object:
    """A constant as it is bound: aware datetimes become naive UTC (timestamps are stored in UTC)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def can_store(incoming: LogicalType, existing: LogicalType) -> bool:
    """Whether every value of type ``incoming`` fits a column of type ``existing`` without losing meaning."""
    if incoming == existing or existing.kind == "text":
        return True
    if incoming.kind == "bigint":
        return existing.kind in ("double", "decimal")
    if incoming.kind == "decimal":
        if existing.kind == "double":
            return True
        if existing.kind == "decimal":
            assert incoming.precision is not None and incoming.scale is not None
            assert existing.precision is not None and existing.scale is not None
            return (
                existing.scale >= incoming.scale
                and existing.precision - existing.scale >= incoming.precision - incoming.scale
            )
        return False
    if incoming.kind == "date":
        return existing.kind == "timestamp"
    return False


# ---- parsing CSV fields in Python (the portable path and error diagnosis) -----------------------------

_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_FLOAT = re.compile(
    r"^\s*[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity|nan)\s*$", re.IGNORECASE
)
# A decimal as every database reads one: no digit separators (Python and DuckDB take "1_000",
# PostgreSQL does not), no NaN or infinity.
_DECIMAL_TEXT = re.compile(r"^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$")
# The digits before any exponent: a number that parses to 0.0 although one of them is not 0 was too
# small for a double (PostgreSQL refuses it, DuckDB and Python would store 0).
_MANTISSA_NOT_ZERO = re.compile(r"^[^eE]*[1-9]")
#: The spellings of dates and timestamps the portable path accepts: ISO 8601, as DuckDB reads them.
ISO_PATTERNS = {
    "date": r"^\s*\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*$",
    "timestamp": r"^\s*\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?\s*$",
}
_ISO_DATE = re.compile(ISO_PATTERNS["date"])
_ISO_TIMESTAMP = re.compile(ISO_PATTERNS["timestamp"])
_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "off", "0"})
_INT64 = 2**63


def field_parser(type_: LogicalType) -> Callable[[str], Any]:
    """A function turning a non-empty CSV field into a Python value of ``type_``; ValueError says why not.

    The rules follow what DuckDB and PostgreSQL accept, so the portable path loads the same files;
    where the two disagree the stricter rule holds on every path (a double out of range, a decimal
    with more places than its column). Messages quote only the value's first characters.
    """
    kind = type_.kind
    if kind == "text":
        return str
    if kind == "bigint":
        return _parse_bigint
    if kind == "double":
        return _parse_double
    if kind == "boolean":
        return _parse_boolean
    if kind == "date":
        return _parse_date
    if kind == "timestamp":
        return _parse_timestamp
    assert type_.precision is not None and type_.scale is not None
    return _decimal_parser(type_.precision, type_.scale)


def _parse_bigint(text: str) -> int:
    if not _INTEGER.match(text):
        raise ValueError(f"{shown(text)} is not a whole number (bigint)")
    value = int(text)
    if not -_INT64 <= value < _INT64:
        raise ValueError(f"{shown(text)} is out of range for bigint")
    return value


def _parse_double(text: str) -> float:
    if not _FLOAT.match(text):
        raise ValueError(f"{shown(text)} is not a number (double)")
    value = float(text)
    # inf and 0.0 from digits that say otherwise: beyond a double's range (1e309, 1e-400).
    if (math.isinf(value) and "inf" not in text.lower()) or (
        value == 0.0 and _MANTISSA_NOT_ZERO.match(text.strip())
    ):
        raise ValueError(f"{shown(text)} is out of range for double")
    return value


def _parse_boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{shown(text)} is not a boolean (true/false)")


def _parse_date(text: str) -> date:
    # A time part is allowed and dropped, as DuckDB and PostgreSQL do.
    if _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text.strip()[:10])
        except ValueError:
            pass
    raise ValueError(f"{shown(text)} is not a date (YYYY-MM-DD)")


def _parse_timestamp(text: str) -> datetime:
    if _ISO_TIMESTAMP.match(text):
        try:
            value = datetime.fromisoformat(_seven_plus_fraction_digits.sub(r"\1", text.strip()))
        except ValueError:
            pass
        else:
            # DuckDB and PostgreSQL both drop an offset when reading into a zone-less timestamp; do
            # the same so every dialect stores the same value.
            return value.replace(tzinfo=None)
    raise ValueError(f"{shown(text)} is not a timestamp (YYYY-MM-DD HH:MM:SS)")


_seven_plus_fraction_digits = re.compile(r"(\.\d{6})\d+")


def _decimal_parser(precision: int, scale: int) -> Callable[[str], Decimal]:
    quantum = Decimal(1).scaleb(-scale)
    context = Context(prec=MAX_PRECISION + 2)  # the default 28 digits would reject decimal(38,s) values
    limit = Decimal(10) ** (precision - scale)

    name = str(LogicalType("decimal", precision, scale))

    def parse(text: str) -> Decimal:
        if not _DECIMAL_TEXT.match(text):
            raise ValueError(f"{shown(text)} is not a decimal number")
        value = Decimal(text.strip())
        # Compared before quantizing: quantize itself fails (InvalidOperation) past the context's
        # precision, and a value this large is out of range whatever its decimals.
        if abs(value) >= limit:
            raise ValueError(f"{shown(text)} is out of range for {name}")
        try:
            rounded = value.quantize(quantum, rounding=ROUND_HALF_UP, context=context)
        except InvalidOperation:
            raise ValueError(f"{shown(text)} is out of range for {name}") from None
        if abs(rounded) >= limit:
            raise ValueError(f"{shown(text)} is out of range for {name}")
        if rounded != value:
            # Rounding would change the amount without a word: the column's type must be widened
            # (in the catalogue) to hold it.
            raise ValueError(f"{shown(text)} has more than {scale} decimal places, which {name} cannot hold")
        return rounded

    return parse
