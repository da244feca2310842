"""Stripe's bracketed parameter encoding: v1 form bodies and query strings, and ``/v2`` query strings.

``{"parameters": {"columns": ["a", "b"]}}`` becomes ``parameters[columns][0]=a&parameters[columns][1]=b``,
as stripe-python encodes it. httpx only encodes flat mappings (a list becomes repeated ``key=``
fields), and stripe-python is not a runtime dependency, so the flattening is written out here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from pipelines.stripe.timestamps import to_unix

TimestampFormat = Callable[[datetime], str]
"""How a datetime parameter is written: unix seconds for v1, RFC 3339 for ``/v2`` query strings."""


def _unix_text(moment: datetime) -> str:
    return str(to_unix(moment))


def flatten(params: Mapping[str, Any], *, timestamp: TimestampFormat = _unix_text) -> list[tuple[str, str]]:
    """Form fields for ``params``, in order: nested mappings and sequences use bracket notation.

    ``None`` values are left out (Stripe treats an absent parameter as its default), booleans are
    ``true``/``false``, tz-aware datetimes are unix seconds unless ``timestamp`` says otherwise.
    Sequences are always indexed (``include[0]=...``), which both v1 and ``/v2`` accept and ``/v2``
    requires.
    """
    return list(_fields_of(params, prefix=None, timestamp=timestamp))


def encode(params: Mapping[str, Any]) -> str:
    """``params`` as an ``application/x-www-form-urlencoded`` body or query string."""
    return urlencode(flatten(params))


def _fields_of(
    params: Mapping[str, Any], prefix: str | None, timestamp: TimestampFormat
) -> Iterator[tuple[str, str]]:
    for key, value in params.items():
        name = str(key) if prefix is None else f"{prefix}[{key}]"
        yield from _fields(name, value, timestamp)


def _fields(name: str, value: Any, timestamp: TimestampFormat) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    if isinstance(value, Mapping):
        yield from _fields_of(value, prefix=name, timestamp=timestamp)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for index, item in enumerate(value):
            yield from _fields(f"{name}[{index}]", item, timestamp)
    else:
        yield name, _scalar(name, value, timestamp)


def _scalar(name: str, value: Any, timestamp: TimestampFormat) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    raise TypeError(f"cannot form-encode {name}={type(value).__name__}; pass str, number, bool or datetime")
