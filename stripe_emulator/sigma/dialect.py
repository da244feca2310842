"""Parsing Sigma's SQL as Trino parses it, keeping where each part was written.

sqlglot's Trino dialect is generous: it reads much that Trino's own grammar refuses (``ILIKE``,
``x::int``, ``[1, 2]``, ``interval 1 day``, ``LIMIT 1 OFFSET 2``) and it renames functions as it
parses (``nvl`` becomes ``coalesce``). The parser here notes, on every node built from a call,
the name as the user wrote it and where; :func:`check_tokens` then refuses, on the token stream,
the syntax Trino's grammar does not have, with Trino's ``mismatched input`` wording.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.errors import ErrorLevel, ParseError
from sqlglot.parsers.trino import TrinoParser
from sqlglot.tokens import SQLGLOTC_INSTALLED, Token, TokenType

from stripe_emulator.sigma.errors import SigmaSqlError, Source
from stripe_emulator.sigma.functions import names
from stripe_emulator.sigma.inference import CALL

__all__ = ["SigmaTrino", "check_tokens", "parse", "tokens"]

if SQLGLOTC_INSTALLED:
    # The compiled build overlays sqlglot's parser with classes Python cannot subclass; failing here
    # names the fix instead of a TypeError deep in the first query.
    raise ImportError(
        "the Stripe emulator's Sigma SQL parser extends sqlglot's Trino parser, which the compiled "
        "sqlglotc build (pulled in by sqlglot[c] or sqlglot[rs], e.g. through dagster-dbt) does not "
        "allow: run `pip uninstall sqlglotc sqlglotrs` in this environment"
    )

_WRAPPERS = (exp.Window, exp.Filter, exp.IgnoreNulls, exp.RespectNulls, exp.WithinGroup)
_LEAVES = (exp.Null, exp.Boolean, exp.Star, exp.Placeholder, exp.Parameter)


class _SigmaParser(TrinoParser):
    def _parse_function_call(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        index, name, following = self._index, self._curr, self._next
        result = super()._parse_function_call(*args, **kwargs)
        called = following is not None and following.token_type == TokenType.L_PAREN
        if isinstance(result, exp.Expression) and name is not None and called:
            node = result
            while isinstance(node, _WRAPPERS) and isinstance(node.this, exp.Expression):
                node = node.this
            qualifier, start = None, name.start
            if index >= 2 and self._tokens[index - 1].token_type == TokenType.DOT:
                # schema.function(...): Trino names and places the whole qualified name.
                qualifier, start = self._tokens[index - 2].text, self._tokens[index - 2].start
            node.meta.setdefault(CALL, (name.text, start, qualifier))
        return result

    def expression(self, instance, token=None, comments=None):  # type: ignore[no-untyped-def]
        # Leaves such as NULL and * get no position from sqlglot; give them their token's, so
        # errors about them can point at them.
        unplaced = "start" not in (instance._meta or {})
        if isinstance(instance, _LEAVES) and token is None and self._prev is not None and unplaced:
            instance.update_positions(self._prev)
        return super().expression(instance, token=token, comments=comments)


class SigmaTrino(Trino):
    """sqlglot's Trino dialect, noting each call's written name and position."""

    Parser = _SigmaParser


def parse(source: Source) -> exp.Query:
    """The single SELECT query in ``source``; SigmaSqlError for anything else."""
    try:
        statements = [
            s for s in SigmaTrino().parse(source.sql, error_level=ErrorLevel.RAISE) if s is not None
        ]
    except ParseError as error:
        raise _syntax_error(source, error) from error
    if not statements:
        raise SigmaSqlError("No SQL query was given")
    if len(statements) > 1:
        raise SigmaSqlError(f"Sigma runs a single query; got {len(statements)} statements")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        kind = str(statement.this).upper() if isinstance(statement, exp.Command) else statement.key.upper()
        raise SigmaSqlError(f"Sigma only runs SELECT queries; got {kind}")
    return statement


def tokens(source: Source) -> list[Token]:
    """The query's tokens (Trino's lexer, as sqlglot has it)."""
    return SigmaTrino().tokenize(source.sql)


def _syntax_error(source: Source, error: ParseError) -> SigmaSqlError:
    details = error.errors[0] if error.errors else {}
    if not details:
        return SigmaSqlError(f"Syntax error: {error}")
    near = str(details.get("highlight") or "")
    line, column = int(details.get("line") or 1), int(details.get("col") or 1)
    if near and "\n" not in near:
        column = max(1, column - len(near) + 1)
    where = f"line {line}:{column}: "
    if near:
        return SigmaSqlError(f"{where}mismatched input '{near}'. {_plain(details.get('description'))}")
    return SigmaSqlError(f"{where}{_plain(details.get('description'))}")


def _plain(description: object) -> str:
    """sqlglot's description of a syntax error without its class names."""
    text = str(description or "Syntax error")
    return text.replace("<class 'sqlglot.expressions.", "").replace("'>", "").strip()


# -- Trino grammar that sqlglot lets through -------------------------------------------------

# Tokens of DuckDB (or PostgreSQL) syntax that Trino's lexer or grammar has no place for.
_FOREIGN_TOKENS = {
    "ILIKE": "Trino has no ILIKE; compare lower(value) LIKE lower(pattern)",
    "DCOLON": "Trino casts with CAST(value AS type)",
    "DARROW": "Trino reads JSON with json_extract_scalar(json, path)",
    "GLOB": "Trino has no GLOB; use LIKE or regexp_like",
    "SIMILAR_TO": "Trino has no SIMILAR TO; use regexp_like",
    "AMP": "Trino's bitwise operations are functions: bitwise_and",
    "PIPE": "Trino's bitwise operations are functions: bitwise_or",
    "TILDE": "Trino has no ~ operator; use regexp_like or bitwise_not",
    "CARET": "Trino has no ^ operator; use power(x, y)",
    "L_BRACE": "Trino has no struct literals; use ROW(...)",
    "ASOF": "Trino has no ASOF joins",
    "PIVOT": "Trino has no PIVOT",
    "UNPIVOT": "Trino has no UNPIVOT",
    "QUALIFY": "Trino has no QUALIFY; filter a window function in an outer query",
    "PLACEHOLDER": "Sigma queries take no parameters",
}
_FOREIGN_TEXTS = {
    "==": "Trino compares with =",
    "~~": "Trino has no ~~; use LIKE",
    "!~~": "Trino has no !~~; use NOT LIKE",
    "!": "Trino negates with NOT",
}
_SET_OPERATIONS = (TokenType.UNION, TokenType.EXCEPT, TokenType.INTERSECT)
_SAMPLES = ("bernoulli", "system")
_INTERVAL_FIELDS = ("DAY", "HOUR", "MINUTE", "MONTH", "SECOND", "YEAR")
# Types DuckDB knows by these names that Trino does not (Trino: "Unknown type: string").
_FOREIGN_TYPES = frozenset(
    names(
        "string text int64 int32 int16 int8 int4 int2 long hugeint uhugeint ubigint uinteger "
        "usmallint utinyint bool datetime timestamptz timestamp_ns timestamp_ms timestamp_s list "
        "struct blob bytea bytes bit bitstring float4 float8 number signed unsigned enum varint"
    )
)
# Tokens after which `[` starts a value (DuckDB's list literal) rather than a subscript.
_VALUE_STARTS = frozenset(
    {
        TokenType.SELECT,
        TokenType.COMMA,
        TokenType.L_PAREN,
        TokenType.L_BRACKET,
        TokenType.EQ,
        TokenType.NEQ,
        TokenType.GT,
        TokenType.GTE,
        TokenType.LT,
        TokenType.LTE,
        TokenType.PLUS,
        TokenType.DASH,
        TokenType.STAR,
        TokenType.SLASH,
        TokenType.MOD,
        TokenType.DPIPE,
        TokenType.IN,
        TokenType.WHEN,
        TokenType.THEN,
        TokenType.ELSE,
        TokenType.AND,
        TokenType.OR,
        TokenType.NOT,
        TokenType.WHERE,
        TokenType.HAVING,
        TokenType.ON,
        TokenType.DISTINCT,
    }
)


def check_tokens(source: Source, query: exp.Query, stream: list[Token]) -> None:
    """Refuse what Trino's grammar would, with ``line L:C: mismatched input '...'``."""
    lambda_params = {
        param.meta.get("end")
        for lam in query.find_all(exp.Lambda)
        for param in lam.expressions
        if param._meta and "end" in param._meta
    }
    openers: list[str] = []  # what opened each enclosing parenthesis (a call's name, or "")
    limits: list[bool] = [False]  # per parenthesis depth: a LIMIT was seen in this query level
    for index, token in enumerate(stream):
        before = stream[index - 1] if index else None
        after = stream[index + 1] if index + 1 < len(stream) else None
        kind = token.token_type

        def refuse(reason: str, at: Token | None = token) -> SigmaSqlError:
            if at is None:  # the query ended where Trino expected more
                return source.error(len(source.sql), f"mismatched input '<EOF>'. {reason}")
            return source.error(at.start, f"mismatched input '{at.text}'. {reason}")

        if kind.name in _FOREIGN_TOKENS:
            raise refuse(_FOREIGN_TOKENS[kind.name])
        if token.text in _FOREIGN_TEXTS:
            raise refuse(_FOREIGN_TEXTS[token.text])
        if kind == TokenType.ARROW and not _is_lambda_arrow(stream, index, lambda_params):
            raise refuse("Trino reads JSON with json_extract(json, path)")
        if kind == TokenType.LT and after is not None and after.token_type == TokenType.LT:
            raise refuse("Trino's bit shifts are functions: bitwise_left_shift")
        if kind == TokenType.VAR and token.text.startswith("$"):
            raise refuse("Sigma queries take no parameters")
        # json_object('key' : value) is Trino's; any other colon is DuckDB's (slices, parameters).
        if kind == TokenType.COLON and (not openers or openers[-1] not in ("[", "json_object")):
            raise refuse("Sigma queries take no parameters")
        if kind == TokenType.L_BRACKET and (before is None or before.token_type in _VALUE_STARTS):
            raise refuse("Trino writes arrays as ARRAY[...]")
        if kind == TokenType.COLON and openers and openers[-1] == "[":
            raise refuse("Trino has no array slices; use slice(array, start, length)")
        if kind == TokenType.INTERVAL:
            _check_interval(stream, index, refuse)
        if kind == TokenType.ORDER_BY and after is not None and after.token_type == TokenType.ALL:
            raise refuse("Trino has no ORDER BY ALL", after)
        if kind == TokenType.GROUP_BY and after is not None and after.token_type == TokenType.ALL:
            following = stream[index + 2] if index + 2 < len(stream) else None
            if following is None or following.token_type in _CLAUSE_STARTS:
                raise refuse("Trino has no GROUP BY ALL; list the columns or their positions", after)
        if kind == TokenType.DISTINCT and after is not None and after.token_type == TokenType.ON:
            raise refuse("Trino has no DISTINCT ON; use row_number() in a subquery", after)
        if kind == TokenType.STAR and after is not None and after.text.lower() in ("exclude", "replace"):
            raise refuse("Trino has no SELECT * EXCLUDE/REPLACE", after)
        if kind in _SET_OPERATIONS and after is not None and after.text.lower() == "by":
            raise refuse("Trino has no UNION BY NAME", after)
        if kind == TokenType.USING and after is not None and after.text.lower() == "sample":
            raise refuse("Trino samples with TABLESAMPLE BERNOULLI (percent)")
        if kind == TokenType.TABLE_SAMPLE and (after is None or after.text.lower() not in _SAMPLES):
            raise refuse("Expecting: 'BERNOULLI', 'SYSTEM'", after)
        starts = before is None or before.token_type == TokenType.L_PAREN
        # trim(FROM x) is Trino; FROM first, as DuckDB allows, is not.
        if kind == TokenType.FROM and starts and (not openers or openers[-1] != "trim"):
            raise refuse("Trino queries start with SELECT")
        in_cast = bool(openers) and openers[-1] in ("cast", "try_cast")
        if kind == TokenType.ALIAS and in_cast and after is not None and after.text.lower() in _FOREIGN_TYPES:
            raise source.error(after.start, f"Unknown type: {after.text.lower()}")
        if kind == TokenType.LIMIT:
            limits[-1] = True
        if kind == TokenType.OFFSET and limits[-1]:
            raise refuse("Trino puts OFFSET before LIMIT")
        if kind in (TokenType.SELECT, TokenType.UNION, TokenType.EXCEPT, TokenType.INTERSECT):
            limits[-1] = False
        if kind in (TokenType.L_PAREN, TokenType.L_BRACKET):
            name = before.text.lower() if before is not None and kind == TokenType.L_PAREN else ""
            openers.append("[" if kind == TokenType.L_BRACKET else name)
            limits.append(False)
        if kind in (TokenType.R_PAREN, TokenType.R_BRACKET) and openers:
            openers.pop()
            limits.pop()


_CLAUSE_STARTS = frozenset(
    {
        TokenType.R_PAREN,
        TokenType.ORDER_BY,
        TokenType.HAVING,
        TokenType.LIMIT,
        TokenType.OFFSET,
        TokenType.UNION,
        TokenType.EXCEPT,
        TokenType.INTERSECT,
        TokenType.WINDOW,
        TokenType.SEMICOLON,
    }
)


def _is_lambda_arrow(stream: list[Token], index: int, lambda_params: set[object]) -> bool:
    """Whether the ``->`` at ``index`` follows a lambda's parameters (``x ->``, ``(x, y) ->``)."""
    before = stream[index - 1] if index else None
    if before is not None and before.token_type == TokenType.R_PAREN and index >= 2:
        before = stream[index - 2]
    return before is not None and before.end in lambda_params


def _check_interval(stream: list[Token], index: int, refuse) -> None:  # type: ignore[no-untyped-def]
    """Trino's interval literal: INTERVAL [+|-] 'n' field [TO field]."""
    position = index + 1
    if position < len(stream) and stream[position].token_type in (TokenType.PLUS, TokenType.DASH):
        position += 1
    value = stream[position] if position < len(stream) else None
    if value is None or value.token_type != TokenType.STRING:
        raise refuse("Expecting: <string>", value)
    unit = stream[position + 1] if position + 1 < len(stream) else None
    if unit is None or unit.text.upper() not in _INTERVAL_FIELDS:
        fields = ", ".join(f"'{field}'" for field in _INTERVAL_FIELDS)
        raise refuse(f"Expecting: {fields}", unit)
