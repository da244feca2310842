"""Working out the Trino type of each expression of a parsed query.

Column references are resolved through the query's scopes: the Sigma tables (their types read
from the views), CTEs, subqueries, ``UNNEST`` and ``VALUES`` aliases, and, for correlated
subqueries, the enclosing query. Whatever cannot be resolved for certain has type ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from stripe_emulator.sigma import types as t
from stripe_emulator.sigma.functions import STRIPE_SIGMA_FUNCTIONS, names
from stripe_emulator.sigma.types import TrinoType

__all__ = ["CALL", "Schema", "TypeInference", "arithmetic_result", "call_name"]

Schema = Mapping[str, Mapping[str, TrinoType | None]]
"""Column types by table, then by column (both lower case)."""

Columns = dict[str, TrinoType | None]

# The parser's note on a node built from a call ``name(...)``: (name as written, its offset,
# its qualifier or None). Set by dialect.py.
CALL = "sigma_call"

# fmt: off
_RESULTS: dict[str, TrinoType] = {
    **dict.fromkeys(names(
        "count count_if approx_distinct row_number rank dense_rank ntile length strpos position year "
        "month day day_of_month day_of_week dow day_of_year doy quarter week week_of_year "
        "year_of_week yow hour minute second millisecond date_diff cardinality bit_count "
        "levenshtein_distance hamming_distance regexp_count codepoint json_array_length json_size "
        "timezone_hour timezone_minute width_bucket"
    ), t.BIGINT),
    **dict.fromkeys(names(
        "to_unixtime rand random sqrt cbrt ln log log2 log10 exp power pow pi e degrees radians sin "
        "cos tan asin acos atan atan2 sinh cosh tanh stddev stddev_pop stddev_samp variance var_pop "
        "var_samp corr covar_pop covar_samp geometric_mean percent_rank cume_dist normal_cdf infinity "
        "nan kurtosis skewness regr_slope regr_intercept cosine_similarity cosine_distance"
    ), t.DOUBLE),
    **dict.fromkeys(names(
        "date_format format_datetime to_iso8601 lower upper substr substring trim ltrim rtrim replace "
        "lpad rpad reverse concat_ws split_part regexp_extract regexp_replace json_extract_scalar "
        "json_format array_join typeof format current_timezone chr translate normalize to_hex "
        "to_base64 human_readable_seconds listagg soundex word_stem title_case to_char from_utf8 "
        "json_value url_extract_host url_extract_path url_extract_protocol url_extract_query "
        "url_extract_fragment url_extract_parameter url_encode url_decode"
    ), t.VARCHAR),
    **dict.fromkeys(names(
        "regexp_like starts_with contains is_nan is_finite is_infinite bool_and bool_or every "
        "json_array_contains arrays_overlap all_match any_match none_match luhn_check is_json_scalar"
    ), t.BOOLEAN),
    **dict.fromkeys(names(
        "date current_date last_day_of_month from_iso8601_date to_date"
    ), t.DATE),
    **dict.fromkeys(names("localtimestamp date_parse to_timestamp"), t.TIMESTAMP),
    **dict.fromkeys(names(
        "now current_timestamp from_unixtime from_iso8601_timestamp parse_datetime at_timezone "
        "with_timezone"
    ), t.TIMESTAMP_TZ),
    **dict.fromkeys(["json_parse", "json_extract", "json_array_get"], t.JSON),
}
# fmt: on
_SAME_AS_FIRST = frozenset(
    names(
        "min max arbitrary any_value first_value last_value lag lead nth_value abs round floor ceil "
        "ceiling truncate sign date_trunc date_add approx_percentile min_by max_by"
    )
)
# The name of nodes that do not come from a call written by the user.
_CLASS_NAMES: dict[type[exp.Expression], str] = {
    exp.CurrentDate: "current_date",
    exp.CurrentTimestamp: "current_timestamp",
    exp.Localtimestamp: "localtimestamp",
    exp.Extract: "year",
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
}
_WRAPPERS = (exp.Paren, exp.Alias, exp.Window, exp.Filter, exp.IgnoreNulls, exp.RespectNulls)


def call_name(node: exp.Expression) -> str | None:
    """The function name of ``node`` in lower case, as the user wrote it where they did."""
    call = node.meta.get(CALL) if node._meta else None
    if call is not None:
        return str(call[0]).lower()
    return _CLASS_NAMES.get(type(node))


def arithmetic_result(
    operator: str, left: TrinoType | None, right: TrinoType | None
) -> tuple[bool, TrinoType | None]:
    """Whether Trino applies ``left operator right``, and the result type when known."""
    if left is None or right is None:
        return True, None
    if "unknown" in (left.name, right.name):
        known = right if left.name == "unknown" else left
        return True, known if known.family in ("numeric", "day_interval", "month_interval") else None
    families = (left.family, right.family)
    if families == ("numeric", "numeric"):
        return True, t.common_type(left, right)
    intervals = ("day_interval", "month_interval")
    temporal = ("date", "timestamp", "time")
    if operator in "+-" and left.family in temporal and right.family in intervals:
        return True, left
    if operator == "+" and left.family in intervals and right.family in temporal:
        return True, right
    if operator == "-" and families == ("timestamp", "timestamp"):
        return True, t.DAY_INTERVAL
    if operator in "+-" and left.family in intervals and left == right:
        return True, left
    if operator in "*/" and left.family in intervals and right.family == "numeric":
        return True, left
    if operator == "*" and left.family == "numeric" and right.family in intervals:
        return True, right
    if left.family in t.CHECKED_FAMILIES and right.family in t.CHECKED_FAMILIES:
        # date - date and the like: Trino's rules are not modelled here, so they pass.
        return families in (("date", "date"), ("time", "time")), None
    return True, None


class TypeInference:
    """The Trino types of one query's expressions, given the Sigma schema."""

    def __init__(self, schema: Schema) -> None:
        self._schema = schema
        self._types: dict[int, TrinoType | None] = {}
        self._sources: dict[int, dict[str, Columns | None]] = {}
        # Per node: the SELECT it belongs to (for a SELECT, the one around it) and whether it is
        # in that SELECT's ORDER BY. Built once per query: find_ancestor is slow on deep trees.
        self._places: dict[int, tuple[exp.Select | None, bool]] = {}

    def type_of(self, node: exp.Expression | None) -> TrinoType | None:
        """The Trino type of ``node``, None when it cannot be known for certain."""
        if node is None:
            return None
        key = id(node)
        if key not in self._types:
            self._types[key] = None  # a cycle through a recursive CTE stays unknown
            self._types[key] = self._infer(node)
        return self._types[key]

    def projections(self, query: exp.Expression) -> list[tuple[str, TrinoType | None]] | None:
        """The output columns (name, type) of a query; None when a ``*`` cannot be expanded."""
        while isinstance(query, exp.Subquery | exp.Paren):
            query = query.this
        if isinstance(query, exp.SetOperation):
            return self.projections(query.this)
        if not isinstance(query, exp.Select):
            return None
        sources = self._sources_of(query)
        columns: list[tuple[str, TrinoType | None]] = []
        for position, projection in enumerate(query.expressions):
            if isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            ):
                table = projection.table.lower() if isinstance(projection, exp.Column) else ""
                chosen = [sources.get(table)] if table else list(sources.values())
                if any(source is None for source in chosen):
                    return None
                columns.extend(item for source in chosen if source for item in source.items())
            elif isinstance(projection, exp.Alias):
                columns.append((projection.alias.lower(), self.type_of(projection.this)))
            elif isinstance(projection, exp.Column):
                columns.append((projection.name.lower(), self.type_of(projection)))
            else:
                columns.append((f"_col{position}", self.type_of(projection)))
        return columns

    # -- scopes --------------------------------------------------------------------------------

    def _sources_of(self, select: exp.Select) -> dict[str, Columns | None]:
        key = id(select)
        if key not in self._sources:
            self._sources[key] = {}
            sources: dict[str, Columns | None] = {}
            items = [select.args.get("from_") or select.args.get("from")]
            items += [join.this for join in select.args.get("joins") or []]
            for item in items:
                if item is None:
                    continue
                if isinstance(item, exp.From):
                    item = item.this
                sources[item.alias_or_name.lower()] = self._source_columns(item)
            self._sources[key] = sources
        return self._sources[key]

    def _source_columns(self, item: exp.Expression) -> Columns | None:
        columns: Columns | None = None
        if isinstance(item, exp.Table) and isinstance(item.this, exp.Identifier):
            cte = self._visible_cte(item, item.name.lower())
            if cte is not None:
                listed = self.projections(cte.this)
                columns = dict(listed) if listed is not None else None
                columns = _renamed(columns, cte.args.get("alias"))
            elif not item.args.get("db") and item.name.lower() in self._schema:
                columns = dict(self._schema[item.name.lower()])
        elif isinstance(item, exp.Subquery):
            listed = self.projections(item.this)
            columns = dict(listed) if listed is not None else None
        elif isinstance(item, exp.Unnest):
            elements = [self.type_of(e) for e in item.expressions]
            types = [e.params[0] if e is not None and e.name == "array" else None for e in elements]
            if item.args.get("offset"):
                types.append(t.BIGINT)
            names = [c.name.lower() for c in (item.args.get("alias") or exp.TableAlias()).columns]
            return dict(zip(names, types, strict=False)) if len(names) == len(types) else None
        elif isinstance(item, exp.Values):
            rows = item.expressions
            first = rows[0].expressions if rows and isinstance(rows[0], exp.Tuple) else rows[:1]
            names = [c.name.lower() for c in (item.args.get("alias") or exp.TableAlias()).columns]
            return dict(zip(names, (self.type_of(v) for v in first), strict=False)) if names else None
        return _renamed(columns, item.args.get("alias"))

    @staticmethod
    def _visible_cte(node: exp.Expression, name: str) -> exp.CTE | None:
        ancestor = node.parent
        while ancestor is not None:
            with_ = ancestor.args.get("with_") or ancestor.args.get("with")
            if isinstance(with_, exp.With):
                for cte in with_.expressions:
                    # A CTE's own body does not see it (without RECURSIVE).
                    if cte.alias_or_name.lower() == name and not _inside(node, cte):
                        return cte
            ancestor = ancestor.parent
        return None

    def _column_type(self, column: exp.Column) -> TrinoType | None:
        if isinstance(column.this, exp.Star):
            return None
        name, table = column.name.lower(), column.table.lower()
        select, in_order = self._place(column)
        while select is not None:
            sources = self._sources_of(select)
            if table:
                if table in sources:
                    found = sources[table]
                    return found.get(name) if found is not None else None
            else:
                if in_order:
                    for projection in select.expressions:
                        if isinstance(projection, exp.Alias) and projection.alias.lower() == name:
                            return self.type_of(projection.this)
                if any(found is None for found in sources.values()):
                    return None
                matches = [found[name] for found in sources.values() if found and name in found]
                if matches:
                    return matches[0] if len(matches) == 1 else None
            select, in_order = self._place(select)[0], False
        if not table and name == "data_load_time":
            return t.TIMESTAMP
        return None

    def _place(self, node: exp.Expression) -> tuple[exp.Select | None, bool]:
        if id(node) not in self._places:
            self._index(node.root())
        return self._places.get(id(node), (None, False))

    def _index(self, root: exp.Expression) -> None:
        stack: list[tuple[exp.Expression, exp.Select | None, bool]] = [(root, None, False)]
        while stack:
            node, select, in_order = stack.pop()
            self._places[id(node)] = (select, in_order)
            inner = (node, False) if isinstance(node, exp.Select) else (select, in_order)
            for child in node.iter_expressions():
                ordering = isinstance(child, exp.Order) and node is inner[0]
                stack.append((child, inner[0], inner[1] or ordering))

    # -- expressions ---------------------------------------------------------------------------

    def _infer(self, node: exp.Expression) -> TrinoType | None:
        if isinstance(node, exp.Literal):
            return t.literal_type(node)
        if isinstance(node, exp.Boolean):
            return t.BOOLEAN
        if isinstance(node, exp.Null):
            return t.UNKNOWN
        if isinstance(node, exp.Cast | exp.TryCast):
            return t.from_sql_type(node.to)
        if isinstance(node, exp.Interval):
            unit = node.unit.name.upper() if node.unit else ""
            return t.MONTH_INTERVAL if unit in ("YEAR", "MONTH") else t.DAY_INTERVAL
        if isinstance(node, exp.Column):
            return self._column_type(node)
        if isinstance(node, (*_WRAPPERS, exp.Neg)):
            return self.type_of(node.this)
        if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod):
            operator = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}[type(node)]
            return arithmetic_result(operator, self.type_of(node.this), self.type_of(node.expression))[1]
        if isinstance(node, exp.DPipe):
            return self._concat_type([node.this, node.expression])
        if isinstance(node, exp.Any | exp.All):
            # The quantified side of `x = ANY (subquery)` has the subquery's column type.
            inner = node.this.this if isinstance(node.this, exp.Subquery) else node.this
            columns = self.projections(inner) if isinstance(inner, exp.Query) else None
            return columns[0][1] if columns and len(columns) == 1 else None
        if isinstance(node, exp.Predicate | exp.Connector | exp.Not | exp.Exists):
            return t.BOOLEAN
        if isinstance(node, exp.Case):
            branches = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
            return self._common([b for b in branches if b is not None])
        if isinstance(node, exp.If):
            return self._common([b for b in (node.args.get("true"), node.args.get("false")) if b is not None])
        if isinstance(node, exp.Coalesce | exp.Greatest | exp.Least):
            return self._common([node.this, *node.expressions])
        if isinstance(node, exp.Nullif):
            return self.type_of(node.this)
        if isinstance(node, exp.AtTimeZone):
            inner = self.type_of(node.this)
            return t.TrinoType("timestamp", inner.params, True) if inner and inner.params else t.TIMESTAMP_TZ
        if isinstance(node, exp.Subquery):
            columns = self.projections(node.this)
            return columns[0][1] if columns and len(columns) == 1 else None
        if isinstance(node, exp.Extract):
            return t.BIGINT
        if isinstance(node, exp.Func):
            return self._function_type(node)
        return None

    def _function_type(self, node: exp.Func) -> TrinoType | None:
        name = call_name(node)
        if name is None:
            return None
        if name in STRIPE_SIGMA_FUNCTIONS:
            declared = STRIPE_SIGMA_FUNCTIONS[name]
            return t.parse_type(declared) if declared else None
        if isinstance(node, exp.Concat) or name == "concat":
            return self._concat_type(list(node.expressions))
        if name in _RESULTS:
            return _RESULTS[name]
        first = self.type_of(first_argument(node))
        if name in _SAME_AS_FIRST:
            return first
        if name == "sum" and first is not None:
            if first.name in ("tinyint", "smallint", "integer", "bigint"):
                return t.BIGINT
            return t.TrinoType("decimal", (38, first.params[1])) if first.name == "decimal" else first
        if name == "avg" and first is not None:
            return first if first.name in ("decimal", "real") else t.DOUBLE
        if name in ("array_agg", "sequence"):
            return t.array(first)
        if name in ("split", "regexp_extract_all"):
            return t.array(t.VARCHAR)
        return None

    def _concat_type(self, operands: list[exp.Expression]) -> TrinoType | None:
        types = [self.type_of(o) for o in operands]
        if any(ty is None or ty.family != "string" for ty in types):
            return None
        lengths = [ty.params[0] if ty and ty.params else None for ty in types]
        return t.varchar(sum(lengths)) if None not in lengths else t.VARCHAR  # type: ignore[arg-type]

    def _common(self, nodes: list[exp.Expression]) -> TrinoType | None:
        result: TrinoType | None = t.UNKNOWN
        for node in nodes:
            result = t.common_type(result, self.type_of(node))
        return result


def first_argument(node: exp.Expression) -> exp.Expression | None:
    """The first argument the user wrote in a call (typed nodes keep it in ``this``)."""
    if isinstance(node, exp.Anonymous):
        return node.expressions[0] if node.expressions else None
    first = node.args.get("this")
    return first if isinstance(first, exp.Expression) else None


def _renamed(columns: Columns | None, alias: exp.Expression | None) -> Columns | None:
    """Columns renamed by an alias's column list (``AS t(a, b)``)."""
    names = [c.name.lower() for c in alias.columns] if isinstance(alias, exp.TableAlias) else []
    if not names or columns is None:
        return columns
    if len(names) != len(columns):
        return None
    return dict(zip(names, columns.values(), strict=True))


def _inside(node: exp.Expression, ancestor: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False
