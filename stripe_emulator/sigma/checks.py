"""The checks Trino's analyzer makes before it runs a query, for those DuckDB would not make.

Names: tables must be Sigma's, functions Trino's or Stripe's (``Function 'x' not registered``),
``EXTRACT`` fields Trino's. Types: comparisons, ``BETWEEN`` and ``IN`` need comparable operands;
arithmetic needs numbers (or a date, timestamp or interval where Trino defines it); ``||`` and
``concat`` need strings; ``CASE``, ``IF`` and ``COALESCE`` branches need a common type; ``WHERE``
needs a boolean; date functions need dates or timestamps, string functions strings. The messages
are Trino's (``io.trino.sql.analyzer.ExpressionAnalyzer``), with Trino's ``line L:C`` positions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from stripe_emulator.sigma.errors import SigmaSqlError, Source, end_of, start_of
from stripe_emulator.sigma.functions import is_registered, names
from stripe_emulator.sigma.inference import CALL, TypeInference, arithmetic_result, call_name, first_argument
from stripe_emulator.sigma.types import CHECKED_FAMILIES, TrinoType, coercible, common_type

__all__ = ["check_query"]

# Names that parse like calls but are Trino syntax, not functions.
_SYNTAX_CALLS = frozenset({"exists", "any", "some", "all", "unnest", "lateral", "values", "in"})
# language/sql-support: EXTRACT's fields (functions/datetime.html#extract).
_EXTRACT_FIELDS = frozenset(
    names(
        "year quarter month week day day_of_month day_of_week dow day_of_year doy year_of_week yow "
        "hour minute second timezone_hour timezone_minute"
    )
)
# Trino resolves comparisons to three operators and prints those (ExpressionAnalyzer).
_COMPARISONS = {exp.EQ: "=", exp.NEQ: "=", exp.LT: "<", exp.GT: "<", exp.LTE: "<=", exp.GTE: "<="}
_OPERATOR_TEXTS = {
    exp.EQ: ("=",),
    exp.NEQ: ("<>", "!="),
    exp.LT: ("<",),
    exp.GT: (">",),
    exp.LTE: ("<=",),
    exp.GTE: (">=",),
    exp.Add: ("+",),
    exp.Sub: ("-",),
    exp.Mul: ("*",),
    exp.Div: ("/",),
    exp.Mod: ("%",),
    exp.DPipe: ("||",),
}
_ARITHMETIC = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
_CONCAT_SIGNATURES = (
    "concat(char(x), char(y)), concat(array(E), E) E, concat(E, array(E)) E, concat(array(E)) E, "
    "concat(varchar), concat(varbinary)"
)
# Functions of one date/time argument, and of one string argument, with Trino's signatures.
_TEMPORAL_SIGNATURES = {
    "date_trunc": "date_trunc(varchar(x), date) date, date_trunc(varchar(x), time(p)) time(p), "
    "date_trunc(varchar(x), time(p) with time zone) time(p) with time zone, "
    "date_trunc(varchar(x), timestamp(p)) timestamp(p), "
    "date_trunc(varchar(x), timestamp(p) with time zone) timestamp(p) with time zone",
    "date_add": "date_add(varchar(x), bigint, date) date, date_add(varchar(x), bigint, time(p)) time(p), "
    "date_add(varchar(x), bigint, time(p) with time zone) time(p) with time zone, "
    "date_add(varchar(x), bigint, timestamp(p)) timestamp(p), "
    "date_add(varchar(x), bigint, timestamp(p) with time zone) timestamp(p) with time zone",
    "date_format": "date_format(timestamp(p), varchar(x)) varchar, "
    "date_format(timestamp(p) with time zone, varchar(x)) varchar",
    "format_datetime": "format_datetime(timestamp(p), varchar(x)) varchar, "
    "format_datetime(timestamp(p) with time zone, varchar(x)) varchar",
    "to_unixtime": "to_unixtime(timestamp(p)) double, to_unixtime(timestamp(p) with time zone) double",
}
_FIELD_FUNCTIONS = names(
    "year month day day_of_month day_of_week dow day_of_year doy quarter week week_of_year "
    "year_of_week yow hour minute second millisecond last_day_of_month"
)
_STRING_FUNCTIONS = {
    "lower": "lower(char(x)) char(x), lower(varchar(x)) varchar(x)",
    "upper": "upper(char(x)) char(x), upper(varchar(x)) varchar(x)",
    "length": "length(char(x)) bigint, length(varchar(x)) bigint",
    "substr": "substr(char(x), bigint) char(x), substr(char(x), bigint, bigint) char(x), "
    "substr(varbinary, bigint) varbinary, substr(varbinary, bigint, bigint) varbinary, "
    "substr(varchar(x), bigint) varchar(x), substr(varchar(x), bigint, bigint) varchar(x)",
    "strpos": "strpos(varchar(x), varchar(y)) bigint, strpos(varchar(x), varchar(y), bigint) bigint",
    "split_part": "split_part(varchar(x), varchar(y), bigint) varchar(x)",
    "starts_with": "starts_with(varchar(x), varchar(y)) boolean",
    "regexp_like": "regexp_like(varchar(x), JoniRegExp) boolean",
    "json_parse": "json_parse(varchar(x)) json",
    "date_parse": "date_parse(varchar(x), varchar(y)) timestamp(3)",
}
_STRING_FUNCTIONS["substring"] = _STRING_FUNCTIONS["substr"].replace("substr(", "substring(")
# sqlglot's classes for the string functions above: their first argument must be a string.
_UNIT_FIELDS = {
    "date": frozenset(names("day week month quarter year")),
    "timestamp": frozenset(names("millisecond second minute hour day week month quarter year")),
}


def check_query(
    source: Source, query: exp.Query, stream: list[Token], inference: TypeInference, tables: frozenset[str]
) -> None:
    """Raise SigmaSqlError for the first thing in ``query`` that Trino's analyzer would refuse.

    ``tables`` are the names a query may read (Sigma's tables, in lower case).
    """
    _check_tables(query, tables)
    for node in _in_analysis_order(query):
        call = node.meta.get(CALL) if node._meta else None
        if call is not None:
            _check_call(source, call)
        if isinstance(node, exp.Extract):
            _check_extract(source, node, stream)
        _check_types(source, node, inference, stream)


def _check_tables(query: exp.Query, tables: frozenset[str]) -> None:
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            name = table.this.sql(dialect="trino") if table.this else "?"
            raise SigmaSqlError(f"Table functions are not supported: {name}")
        name = table.name.lower()
        qualified = ".".join(part.name for part in table.parts)
        if (table.args.get("db") or table.args.get("catalog")) or (name not in tables and name not in ctes):
            hint = difflib.get_close_matches(name, sorted(tables), n=1)
            suggestion = f". Did you mean '{hint[0]}'?" if hint else ""
            raise SigmaSqlError(f"Table '{qualified}' does not exist{suggestion}")
    for node_type, name in ((exp.MatchRecognize, "MATCH_RECOGNIZE"), (exp.Into, "SELECT ... INTO")):
        if query.find(node_type) is not None:
            raise SigmaSqlError(f"Unsupported SQL construct: {name}")


def _in_analysis_order(root: exp.Expression) -> Iterator[exp.Expression]:
    """Nodes in the order Trino analyzes a query: FROM, WHERE, GROUP BY, SELECT, HAVING, ORDER BY.

    Iterative, as long ``a OR b OR ...`` chains nest deeper than Python's recursion limit.
    """
    order = ("with_", "from_", "joins", "where", "group", "expressions", "having", "qualify", "order")
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        keys = list(node.args)
        if isinstance(node, exp.Select):
            keys = [k for k in order if k in node.args] + [k for k in node.args if k not in order]
        children = [
            item
            for key in keys
            for item in (node.args[key] if isinstance(node.args[key], list) else [node.args[key]])
            if isinstance(item, exp.Expression)
        ]
        stack.extend(reversed(children))


def _check_call(source: Source, call: tuple[str, int, str | None]) -> None:
    name, start, qualifier = call
    if qualifier is not None:
        raise source.error(start, f"Function '{qualifier.lower()}.{name.lower()}' not registered")
    if not is_registered(name) and name.lower() not in _SYNTAX_CALLS:
        raise source.error(start, f"Function '{name.lower()}' not registered")


def _check_extract(source: Source, node: exp.Extract, stream: list[Token]) -> None:
    call = node.meta.get(CALL) if node._meta else None
    written = node.this.name if isinstance(node.this, exp.Expression) else str(node.this)
    start = call[1] if call else start_of(node)
    if call is not None:
        # The field as the user spelled it: the token after "extract(".
        following = [tok for tok in stream if tok.start > call[1]]
        if len(following) > 1 and following[0].token_type == TokenType.L_PAREN:
            written = following[1].text
    if written.lower() not in _EXTRACT_FIELDS:
        raise source.error(start, f"Invalid EXTRACT field: {written}")


def _operator_offset(node: exp.Binary, stream: list[Token]) -> int | None:
    """Where the operator of a binary expression is written (Trino reports operators there)."""
    left_end = end_of(node.this)
    right_start = start_of(node.expression)
    texts = _OPERATOR_TEXTS.get(type(node), ())
    if left_end is not None and right_start is not None:
        for token in stream:
            if left_end < token.start < right_start and token.text.lower() in texts:
                return token.start
    return start_of(node)


def _check_types(source: Source, node: exp.Expression, inference: TypeInference, stream: list[Token]) -> None:
    type_of = inference.type_of
    if type(node) in _COMPARISONS:
        left, right = type_of(node.this), type_of(node.expression)
        if not coercible(left, right):
            raise source.error(
                _operator_offset(node, stream),  # type: ignore[arg-type]
                f"Cannot apply operator: {left} {_COMPARISONS[type(node)]} {right}",
            )
    elif isinstance(node, exp.NullSafeEQ | exp.NullSafeNEQ):
        left, right = type_of(node.this), type_of(node.expression)
        if not coercible(left, right):
            offset = _keyword_after(stream, end_of(node.this), "is") or start_of(node)
            raise source.error(offset, f"Cannot check if {left} is distinct from {right}")
    elif isinstance(node, exp.Between):
        value, low, high = (type_of(node.args.get(k)) for k in ("this", "low", "high"))
        if not (coercible(value, low) and coercible(value, high)):
            offset = _keyword_after(stream, end_of(node.this), "between") or start_of(node)
            raise source.error(offset, f"Cannot check if {value} is BETWEEN {low} and {high}")
    elif isinstance(node, exp.In) and node.expressions:
        _single_type(
            source, [node.this, *node.expressions], type_of, "IN value and list items must be the same type"
        )
    elif type(node) in _ARITHMETIC:
        left, right = type_of(node.this), type_of(node.expression)
        if not arithmetic_result(_ARITHMETIC[type(node)], left, right)[0]:
            raise source.error(
                _operator_offset(node, stream),  # type: ignore[arg-type]
                f"Cannot apply operator: {left} {_ARITHMETIC[type(node)]} {right}",
            )
    elif isinstance(node, exp.Neg):
        inner = type_of(node.this)
        if inner is not None and inner.family in CHECKED_FAMILIES - {
            "numeric",
            "day_interval",
            "month_interval",
        }:
            raise source.error(_token_before(stream, start_of(node), "-"), f"Cannot negate {inner}")
    elif isinstance(node, exp.DPipe):
        _check_concat(source, [node.this, node.expression], type_of, _operator_offset(node, stream))
    elif isinstance(node, exp.Concat) and node._meta and CALL in node.meta:
        _check_concat(source, list(node.expressions), type_of, node.meta[CALL][1])
    elif isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
        _single_type(
            source, [b for b in branches if b is not None], type_of, "All CASE results must be the same type"
        )
    elif isinstance(node, exp.Coalesce) and node.expressions:
        _single_type(
            source, [node.this, *node.expressions], type_of, "All COALESCE operands must be the same type"
        )
    elif isinstance(node, exp.If) and node.args.get("false") is not None:
        true, false = type_of(node.args.get("true")), type_of(node.args.get("false"))
        if not coercible(true, false):
            offset = _token_before(stream, start_of(node), "if")
            raise source.error(offset, f"Result types for IF must be the same: {true} vs {false}")
    elif isinstance(node, exp.Where | exp.Having):
        condition = type_of(node.this)
        if condition is not None and condition.family in CHECKED_FAMILIES - {"boolean"}:
            clause = "WHERE" if isinstance(node, exp.Where) else "HAVING"
            raise source.error(
                start_of(node.this), f"{clause} clause must evaluate to a boolean: actual type {condition}"
            )
    elif isinstance(node, exp.Cast | exp.TryCast):
        _check_cast(source, node, type_of, stream)
    elif isinstance(node, exp.Func):
        _check_arguments(source, node, type_of)


# Casts Trino does not define (language/types.html, functions/conversion.html): between dates or
# times and numbers or booleans.
_NO_CASTS = {
    ("date", "numeric"), ("timestamp", "numeric"), ("time", "numeric"), ("numeric", "date"),
    ("numeric", "timestamp"), ("numeric", "time"), ("boolean", "date"), ("boolean", "timestamp"),
    ("date", "boolean"), ("timestamp", "boolean"), ("boolean", "time"), ("time", "boolean"),
}  # fmt: skip


def _check_cast(source: Source, node: exp.Cast, type_of, stream: list[Token]) -> None:  # type: ignore[no-untyped-def]
    value, target = type_of(node.this), type_of(node)
    if value is not None and target is not None and (value.family, target.family) in _NO_CASTS:
        keyword = "try_cast" if isinstance(node, exp.TryCast) else "cast"
        offset = _token_before(stream, start_of(node.this), keyword)
        raise source.error(offset, f"Cannot cast {value} to {target}")


def _token_before(stream: list[Token], offset: int | None, text: str) -> int | None:
    """The last ``text`` token before ``offset`` (where Trino places prefix operators), else ``offset``."""
    if offset is None:
        return None
    found = [tok.start for tok in stream if tok.start < offset and tok.text.lower() == text]
    return found[-1] if found else offset


def _keyword_after(stream: list[Token], offset: int | None, keyword: str) -> int | None:
    if offset is None:
        return None
    return next((tok.start for tok in stream if tok.start > offset and tok.text.lower() == keyword), None)


def _single_type(source: Source, nodes: list[exp.Expression], type_of, message: str) -> None:  # type: ignore[no-untyped-def]
    """Trino's coerceToSingleType: the first operand that has no common type with those before it."""
    so_far: TrinoType | None = TrinoType("unknown")
    for node in nodes:
        current = type_of(node)
        if so_far is None or current is None:
            return
        if not coercible(so_far, current):
            raise source.error(start_of(node), f"{message}: {so_far}")
        so_far = common_type(so_far, current)


def _check_concat(source: Source, operands: list[exp.Expression], type_of, offset: int | None) -> None:  # type: ignore[no-untyped-def]
    types = [type_of(operand) for operand in operands]
    for found in types:
        if found is not None and found.family in CHECKED_FAMILIES - {"string"}:
            shown = ", ".join(str(ty) if ty is not None else "unknown" for ty in types)
            raise source.error(
                offset, f"Unexpected parameters ({shown}) for function concat. Expected: {_CONCAT_SIGNATURES}"
            )


def _check_arguments(source: Source, node: exp.Func, type_of) -> None:  # type: ignore[no-untyped-def]
    """Date functions given strings, string functions given numbers: Trino has no such signature."""
    name = call_name(node)
    call = node.meta.get(CALL) if node._meta else None
    if name is None or call is None:
        return
    argument = type_of(first_argument(node))
    if argument is None or argument.family not in CHECKED_FAMILIES:
        return
    if name in _TEMPORAL_SIGNATURES or name in _FIELD_FUNCTIONS:
        # year(interval year to month), hour(interval day to second) and the like are Trino too.
        if argument.family not in ("date", "timestamp", "time", "day_interval", "month_interval"):
            expected = _TEMPORAL_SIGNATURES.get(name) or ", ".join(
                f"{name}({kind}) bigint" for kind in ("date", "timestamp(p)", "timestamp(p) with time zone")
            )
            raise source.error(
                call[1],
                f"Unexpected parameters ({_shown_arguments(node, type_of)}) "
                f"for function {name}. Expected: {expected}",
            )
        _check_unit(source, node, name, argument, call[1])
    elif name in _STRING_FUNCTIONS and argument.family != "string":
        raise source.error(
            call[1],
            f"Unexpected parameters ({_shown_arguments(node, type_of)}) "
            f"for function {name}. Expected: {_STRING_FUNCTIONS[name]}",
        )


def _shown_arguments(node: exp.Func, type_of) -> str:  # type: ignore[no-untyped-def]
    """The argument types in the order the user wrote them (as Trino lists them)."""
    arguments = [v for v in node.iter_expressions() if start_of(v) is not None]
    arguments.sort(key=lambda v: start_of(v) or 0)
    shown = [str(type_of(v) or "unknown") for v in arguments]
    unit = node.args.get("unit")
    if isinstance(unit, exp.Expression):
        # sqlglot keeps a unit ('day') as a keyword; the user wrote it as a varchar literal first.
        shown.insert(0, f"varchar({len(unit.name)})")
    return ", ".join(shown)


def _check_unit(source: Source, node: exp.Func, name: str, argument: TrinoType, offset: int) -> None:
    """date_trunc/date_add/date_diff units must be fields of the value's type."""
    unit = node.args.get("unit")
    if name not in ("date_trunc", "date_add", "date_diff") or not isinstance(unit, exp.Expression):
        return
    field = unit.name.lower()
    allowed = _UNIT_FIELDS.get(argument.family)
    if allowed is not None and field not in allowed:
        kind = "DATE" if argument.family == "date" else "TIMESTAMP"
        raise SigmaSqlError(f"'{field}' is not a valid {kind} field")
