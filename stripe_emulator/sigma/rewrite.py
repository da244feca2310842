"""Rewriting a checked Trino query so that DuckDB computes what Trino would.

sqlglot transpiles most of Trino to DuckDB. What it leaves, or gets different from Trino, is
rewritten here, each with the Trino documentation page that defines the behaviour:

- DATE arithmetic stays DATE: ``date + interval``, ``date_add(unit, n, date)``,
  ``date_trunc(unit, date)``, ``sequence(date, date)`` (functions/datetime.html).
- ``extract``: ``dow``/``day_of_week`` are 1 to 7 from Monday, ``doy``, ``yow`` (ISO week year);
  ``millisecond()`` is the milliseconds of the second (functions/datetime.html).
- ``date_format``/``date_parse`` (MySQL patterns) and ``format_datetime`` (Joda patterns) are
  converted to strftime/strptime (functions/datetime.html).
- ``date_diff`` counts whole units elapsed; ``at time zone`` shows a UTC timestamp in a zone;
  ``current_timezone()`` is the session's zone, UTC (functions/datetime.html).
- ``CAST(double AS bigint)`` rounds half away from zero; ``CAST(timestamp AS varchar)`` keeps the
  milliseconds; ``typeof`` names Trino's types (functions/conversion.html).
- ``e()`` and ``every()`` exist under other names in DuckDB (functions/math.html, aggregate.html).
"""

from __future__ import annotations

from datetime import datetime

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.tokens import Token, TokenType

from stripe_emulator.sigma import formats
from stripe_emulator.sigma.errors import SigmaSqlError, end_of
from stripe_emulator.sigma.inference import TypeInference, call_name, first_argument
from stripe_emulator.sigma.types import TrinoType
from stripe_emulator.timestamps import naive_utc

__all__ = ["bind_data_load_time", "name_columns", "trino_semantics"]

_INTEGERS = frozenset({"tinyint", "smallint", "integer", "bigint"})
# EXTRACT fields whose DuckDB meaning differs from Trino's, as DuckDB functions.
_EXTRACT_FUNCTIONS = {
    "dow": "isodow",
    "day_of_week": "isodow",
    "doy": "dayofyear",
    "day_of_year": "dayofyear",
    "yow": "isoyear",
    "year_of_week": "isoyear",
    "day_of_month": "day",
}
_DAY_UNITS = frozenset({"DAY", "DAYS", "WEEK", "WEEKS", "MONTH", "MONTHS", "QUARTER", "YEAR", "YEARS"})


def trino_semantics(query: exp.Query, inference: TypeInference, stream: list[Token]) -> exp.Query:
    """Rewrite, in place, the constructs whose DuckDB meaning differs from Trino's."""
    nodes = list(query.walk())
    for node in nodes:
        inference.type_of(node)  # every type is worked out on the query as the user wrote it
    # Children before parents (reversed pre-order), so a rewritten child never hides a parent.
    for node in reversed(nodes):
        parent, arg_key, index = node.parent, node.arg_key, node.index
        if parent is None:
            continue
        # Taken before the rewrite: building the replacement re-parents the node.
        replacement = _rewrite(node, inference, stream)
        if replacement is not node:
            parent.set(arg_key, replacement, index)
    return query


def _rewrite(node: exp.Expression, inference: TypeInference, stream: list[Token]) -> exp.Expression:
    type_of = inference.type_of
    name = call_name(node)
    if isinstance(node, exp.AtTimeZone):
        # A timestamp (UTC here) shown in another zone; DuckDB's AT TIME ZONE would read the
        # timestamp as local time of that zone instead.
        return exp.func("timezone", node.args["zone"], exp.cast(node.this, exp.DataType.build("timestamptz")))
    if isinstance(node, exp.DateDiff) and node.args.get("unit") is not None:
        # Trino counts whole units elapsed, DuckDB's date_diff unit boundaries crossed; DuckDB's
        # date_sub is the one that counts like Trino.
        unit = exp.Literal.string(node.args["unit"].name.lower())
        return _call("date_sub", unit, node.expression, node.this)
    if isinstance(node, exp.Add | exp.Sub) and _is_date_plus_interval(node, type_of):
        return _as_date(node)
    if isinstance(node, exp.DateAdd | exp.TimestampTrunc | exp.DateTrunc) and _is_date(type_of(node.this)):
        return _as_date(node)
    if isinstance(node, exp.GenerateSeries) and _is_date(type_of(node.args.get("start"))):
        # Trino's sequence() over dates yields dates, one day apart by default; DuckDB's
        # generate_series only steps timestamps.
        step = node.args.get("step") or exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY"))
        series = exp.GenerateSeries(
            start=exp.cast(node.args["start"], exp.DataType.build("timestamp")),
            end=exp.cast(node.args["end"], exp.DataType.build("timestamp")),
            step=step,
        )
        return exp.cast(series, exp.DataType.build("date[]", dialect="duckdb"))
    if isinstance(node, exp.Extract):
        field = node.this.name.lower() if isinstance(node.this, exp.Expression) else str(node.this).lower()
        if field in _EXTRACT_FUNCTIONS:
            return _call(_EXTRACT_FUNCTIONS[field], node.expression)
        return node
    if name == "millisecond":
        # DuckDB's millisecond() counts the seconds too (12.345 s -> 12345).
        return exp.Mod(this=_call("millisecond", first_argument(node)), expression=exp.Literal.number(1000))
    if name in ("date_format", "date_parse") and isinstance(node, exp.TimeToStr | exp.StrToTime):
        if not isinstance(node.args.get("format"), exp.Literal):
            raise SigmaSqlError(f"The emulator runs {name} only with a literal pattern")
        pattern = _written_string(node, stream)
        converted = formats.mysql_format(pattern, parsing=name == "date_parse")
        function = "strptime" if name == "date_parse" else "strftime"
        return _call(function, node.this, exp.Literal.string(converted))
    if name == "format_datetime" and isinstance(node, exp.Anonymous) and len(node.expressions) == 2:
        pattern_node = node.expressions[1]
        if not (isinstance(pattern_node, exp.Literal) and pattern_node.is_string):
            raise SigmaSqlError("The emulator runs format_datetime only with a literal pattern")
        return formats.format_datetime(node.expressions[0], pattern_node.this)
    if isinstance(node, exp.CurrentTimezone):
        return exp.Literal.string("UTC")
    if isinstance(node, exp.Typeof):
        known = type_of(node.this)
        if known is None:
            return exp.func("lower", node)
        # The argument stays evaluated (an aggregate inside keeps the query an aggregation).
        name_of_type = exp.Literal.string(str(known))
        return exp.Case(
            ifs=[exp.If(this=exp.Is(this=exp.paren(node.this), expression=exp.Null()), true=name_of_type)],
            default=name_of_type.copy(),
        )
    if name == "e" and isinstance(node, exp.Anonymous) and not node.expressions:
        return exp.func("exp", exp.Literal.number(1))
    if name == "format" and isinstance(node, exp.Format | exp.Anonymous):
        # Trino's format() takes Java's %-patterns; DuckDB's format() takes {}, its printf %.
        return _call("printf", *_arguments(node))
    if name == "every" and isinstance(node, exp.Anonymous):
        return _call("bool_and", *node.expressions)
    if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast):
        return _cast(node, type_of)
    return node


def _call(name: str, *arguments: exp.Expression | None) -> exp.Expression:
    """A DuckDB function call by name, generated as written."""
    return exp.Anonymous(this=name, expressions=[a for a in arguments if a is not None])


def _arguments(node: exp.Expression) -> list[exp.Expression]:
    """A call's arguments in the order written."""
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    first = node.args.get("this")
    rest = node.args.get("expressions") or []
    return ([first] if isinstance(first, exp.Expression) else []) + list(rest)


def _is_date(found: TrinoType | None) -> bool:
    return found is not None and found.name == "date"


def _as_date(node: exp.Expression) -> exp.Expression:
    """The expression as a DATE: DuckDB's date arithmetic and truncation return timestamps."""
    return exp.Cast(this=node, to=exp.DataType.build("date"))


def _is_date_plus_interval(node: exp.Add | exp.Sub, type_of) -> bool:  # type: ignore[no-untyped-def]
    left, right = type_of(node.this), type_of(node.expression)
    if (
        isinstance(node, exp.Add)
        and _is_date(right)
        and left is not None
        and left.name.startswith("interval")
    ):
        left, right, interval = right, left, node.this
    else:
        interval = node.expression
    if not (_is_date(left) and right is not None and right.name.startswith("interval")):
        return False
    unit = interval.unit if isinstance(interval, exp.Interval) else None
    if unit is not None and unit.name.upper() not in _DAY_UNITS:
        # Trino: DateTimeOperators refuses time fields on a date.
        verb = (
            "add hour, minutes or seconds to"
            if isinstance(node, exp.Add)
            else "subtract hour, minutes or seconds from"
        )
        raise SigmaSqlError(f"Cannot {verb} a date")
    return True


def _cast(node: exp.Cast, type_of) -> exp.Expression:  # type: ignore[no-untyped-def]
    source, target = type_of(node.this), type_of(node)
    if source is None or target is None:
        return node
    if source.name in ("double", "real") and target.name in _INTEGERS:
        # Trino rounds half away from zero, DuckDB's cast half to even; DuckDB's round() is Trino's.
        return exp.Cast(this=exp.func("round", node.this), to=node.to)
    if source.name == "timestamp" and target.name == "varchar":
        # Trino prints as many fraction digits as the precision says, DuckDB drops zero ones.
        precision = int(source.params[0]) if source.params else 3  # type: ignore[call-overload]
        fraction = {0: "", 3: ".%g", 6: ".%f", 9: ".%n"}.get(precision, ".%g")
        text = _call("strftime", node.this, exp.Literal.string("%Y-%m-%d %H:%M:%S" + fraction))
        return exp.DPipe(this=text, expression=exp.Literal.string(" UTC")) if source.with_zone else text
    return node


def _written_string(node: exp.Expression, stream: list[Token]) -> str:
    """The pattern string as the user wrote it (sqlglot converts date_format's while parsing)."""
    value_end = end_of(node.this)
    if value_end is not None:
        for token in stream:
            if token.start > value_end and token.token_type == TokenType.STRING:
                return token.text
    raise SigmaSqlError("The emulator runs date_format and date_parse only with a literal pattern")


def bind_data_load_time(query: exp.Query, moment: datetime) -> exp.Query:
    """Replace the bare ``data_load_time`` identifier by a TIMESTAMP literal.

    A column of that name coming from a CTE or subquery keeps its meaning, and so does an
    ORDER BY/GROUP BY that refers to a select alias named ``data_load_time``.
    """
    text = naive_utc(moment).isoformat(sep=" ")
    literal = exp.cast(exp.Literal.string(text), exp.DataType.build("timestamp"))

    def is_bare(column: exp.Expression) -> bool:
        return isinstance(column, exp.Column) and not column.table and column.name.lower() == "data_load_time"

    if not any(is_bare(column) for column in query.find_all(exp.Column)):
        return query  # scopes are costly to build on large queries
    targets: list[exp.Column] = []
    try:
        for scope in traverse_scope(query):
            shadowed = any(_exposes_data_load_time(source) for _, source in scope.selected_sources.values())
            aliases = {
                e.alias.lower()
                for e in getattr(scope.expression, "expressions", [])
                if isinstance(e, exp.Alias)
            }
            for column in scope.columns:
                if not is_bare(column) or shadowed:
                    continue
                in_clause = column.find_ancestor(exp.Order, exp.Group, exp.Select)
                if "data_load_time" in aliases and isinstance(in_clause, exp.Order | exp.Group):
                    continue
                targets.append(column)
    except OptimizeError:
        targets = [column for column in query.find_all(exp.Column) if is_bare(column)]
    for column in {id(c): c for c in targets}.values():
        replacement = literal.copy()
        # A projection that is just `data_load_time` keeps that name, as in Sigma's result header.
        if isinstance(column.parent, exp.Select) and column.arg_key == "expressions":
            replacement = exp.alias_(replacement, "data_load_time")
        column.replace(replacement)
    return query


def _exposes_data_load_time(source: object) -> bool:
    """Whether a FROM source (a CTE or subquery scope; tables never do) has a data_load_time column."""
    expression = getattr(source, "expression", None)
    if not isinstance(expression, exp.Query):
        return False
    return "data_load_time" in {name.lower() for name in expression.named_selects}


def name_columns(query: exp.Query) -> None:
    """Name unnamed result columns ``_col0``, ``_col1``… as Trino does."""
    select = query
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for position, projection in enumerate(select.expressions):
        if not isinstance(projection, exp.Alias | exp.Column | exp.Star) and not projection.is_star:
            projection.replace(exp.alias_(projection.copy(), f"_col{position}"))
