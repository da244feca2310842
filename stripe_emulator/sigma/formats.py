"""Trino's datetime format patterns as DuckDB expressions.

``date_format``/``date_parse`` take MySQL-style patterns (``%Y-%m-%d %H:%i``) and
``format_datetime`` takes Joda-Time patterns (``yyyy-MM-dd HH:mm``); DuckDB's ``strftime`` and
``strptime`` take C-style ones, which differ (``%i`` and ``%M`` swap meaning, for one). The
patterns are converted when the query is translated, so they must be literals.
Sources: trino.io/docs/current/functions/datetime.html (MySQL date functions, ``format_datetime``)
and Joda-Time's DateTimeFormat documentation, which Trino follows for ``format_datetime``.
"""

from __future__ import annotations

from sqlglot import exp

from stripe_emulator.sigma.errors import SigmaSqlError

__all__ = ["format_datetime", "mysql_format"]

# MySQL specifier -> strftime (formatting) and strptime (parsing) equivalents.
_MYSQL = {
    "a": ("%a", "%a"),
    "b": ("%b", "%b"),
    "c": ("%-m", "%m"),
    "d": ("%d", "%d"),
    "e": ("%-d", "%d"),
    "f": ("%f", "%f"),
    "H": ("%H", "%H"),
    "h": ("%I", "%I"),
    "I": ("%I", "%I"),
    "i": ("%M", "%M"),
    "j": ("%j", "%j"),
    "k": ("%-H", "%H"),
    "l": ("%-I", "%I"),
    "M": ("%B", "%B"),
    "m": ("%m", "%m"),
    "p": ("%p", "%p"),
    "r": ("%I:%M:%S %p", "%I:%M:%S %p"),
    "S": ("%S", "%S"),
    "s": ("%S", "%S"),
    "T": ("%H:%M:%S", "%H:%M:%S"),
    "v": ("%V", "%V"),
    "W": ("%A", "%A"),
    "x": ("%G", "%G"),
    "Y": ("%Y", "%Y"),
    "y": ("%y", "%y"),
    "%": ("%%", "%%"),
}
# Documented as not supported (trino.io/docs/current/functions/datetime.html#mysql-date-functions).
_MYSQL_UNSUPPORTED = frozenset("DUuVwX")


def mysql_format(pattern: str, *, parsing: bool = False) -> str:
    """A Trino ``date_format``/``date_parse`` pattern as a DuckDB strftime/strptime pattern."""
    out: list[str] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char != "%" or position + 1 == len(pattern):
            out.append("%%" if char == "%" else char)
            position += 1
            continue
        spec = pattern[position + 1]
        if spec in _MYSQL_UNSUPPORTED:
            raise SigmaSqlError(f"%{spec} not supported in date format string")
        # Any other character after % stands for itself, as in MySQL.
        out.append(_MYSQL[spec][1 if parsing else 0] if spec in _MYSQL else ("%%" if spec == "%" else spec))
        position += 2
    return "".join(out)


def format_datetime(value: exp.Expression, pattern: str) -> exp.Expression:
    """DuckDB for Trino's ``format_datetime(value, pattern)`` (a Joda-Time pattern)."""
    pieces: list[str | exp.Expression] = []
    for letter, count, literal in _joda_tokens(pattern):
        if literal is not None:
            pieces.append(literal.replace("%", "%%"))
        else:
            pieces.append(_joda_field(value, letter, count))
    return _concatenate(value, pieces)


def _joda_tokens(pattern: str) -> list[tuple[str, int, str | None]]:
    """(letter, repeat count, None) for pattern fields, ("", 0, text) for literal text."""
    tokens: list[tuple[str, int, str | None]] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "'":
            end = position + 1
            text = ""
            while end < len(pattern):
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        text += "'"
                        end += 2
                        continue
                    break
                text += pattern[end]
                end += 1
            tokens.append(("", 0, text if end > position + 1 else "'"))
            position = end + 1
        elif char.isascii() and char.isalpha():
            end = position
            while end < len(pattern) and pattern[end] == char:
                end += 1
            tokens.append((char, end - position, None))
            position = end
        else:
            tokens.append(("", 0, char))
            position += 1
    return tokens


def _call(name: str, *arguments: exp.Expression) -> exp.Expression:
    """A DuckDB function call by name, left as written when the query is generated."""
    return exp.Anonymous(this=name, expressions=list(arguments))


def _numbers(short: str, padded: str, count: int) -> str:
    return short if count == 1 else padded


def _joda_field(value: exp.Expression, letter: str, count: int) -> str | exp.Expression:
    """One Joda field as a strftime fragment or a DuckDB expression."""
    simple = {
        "y": "%y" if count == 2 else "%Y",
        "Y": "%y" if count == 2 else "%Y",
        "x": "%G",
        "M": {1: "%-m", 2: "%m", 3: "%b"}.get(count, "%B"),
        "d": _numbers("%-d", "%d", count),
        "D": "%j" if count >= 3 else "%-j",
        "H": _numbers("%-H", "%H", count),
        "h": _numbers("%-I", "%I", count),
        "m": _numbers("%-M", "%M", count),
        "s": _numbers("%-S", "%S", count),
        "a": "%p",
        "E": "%A" if count >= 4 else "%a",
        "e": "%u",
        "w": _numbers("%-V", "%V", count),
        "G": "AD",
        # The emulator's timestamps are UTC.
        "z": "UTC",
        "Z": {1: "+0000", 2: "+00:00"}.get(count, "UTC"),
    }
    if letter in simple:
        return simple[letter]
    if letter == "S":
        digits = _call("strftime", value.copy(), exp.Literal.string("%n"))  # nanoseconds, 9 digits
        return _call("substr", digits, exp.Literal.number(1), exp.Literal.number(min(count, 9)))
    if letter in ("k", "K", "C"):
        if letter == "C":
            number: exp.Expression = exp.Div(
                this=_call("year", value.copy()), expression=exp.Literal.number(100)
            )
        else:
            hour = _call("hour", value.copy())
            number = (
                exp.Mod(this=hour, expression=exp.Literal.number(12))
                if letter == "K"
                else exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.EQ(this=hour, expression=exp.Literal.number(0)),
                            true=exp.Literal.number(24),
                        )
                    ],
                    default=hour.copy(),
                )
            )
        text = exp.cast(number, exp.DataType.build("varchar"))
        return _call("lpad", text, exp.Literal.number(count), exp.Literal.string("0")) if count > 1 else text
    raise SigmaSqlError(f"Illegal pattern component: {letter * count}")


def _concatenate(value: exp.Expression, pieces: list[str | exp.Expression]) -> exp.Expression:
    """strftime for runs of fragments, joined with ``||`` to the computed fields."""
    parts: list[exp.Expression] = []
    fragment = ""
    for piece in pieces:
        if isinstance(piece, str):
            fragment += piece
            continue
        if fragment:
            parts.append(_call("strftime", value.copy(), exp.Literal.string(fragment)))
            fragment = ""
        parts.append(piece)
    if fragment or not parts:
        parts.append(_call("strftime", value.copy(), exp.Literal.string(fragment)))
    result = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part)
    return result
