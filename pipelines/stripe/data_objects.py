"""The objects of Stripe's Data API (``/v2/data``) as small frozen dataclasses.

``/v2`` spells 64-bit counts as JSON strings (``"row_count": "32"``) and instants as RFC 3339
strings with up to nanoseconds; both are converted here, once, so that callers compare ints and
tz-aware datetimes. A field that cannot be read raises :class:`~pipelines.stripe.errors.APIError`
naming the object and the field, instead of a ``KeyError`` somewhere downstream. Field names follow
the preview SDK (``stripe==16.1.0a4``), the most reliable description of the surface.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from pipelines.stripe.errors import APIError
from pipelines.stripe.timestamps import from_rfc3339, to_rfc3339

_INT64 = re.compile(r"-?[0-9]+")

Columns = tuple[tuple[str, str], ...]
"""``(name, type)`` per column, in file order; types are Stripe's (``varchar``, ``bigint``, ...)."""


@dataclass(frozen=True)
class DataRun:
    """A ``/v2/data`` query run or report run, as last retrieved.

    ``kind`` is ``query_run`` or ``report_run`` (which endpoint the run lives at).
    ``stripe_context`` is the ``Stripe-Context`` it was created in, so that retrieving it again
    (for a fresh download link) asks the same account. ``row_count`` excludes the header row.
    ``file_size``, ``download_url`` and ``expires_at`` describe the result file and are ``None``
    until the run has succeeded. ``download_url`` is pre-signed, i.e. it grants access on its own
    until ``expires_at``, so it is left out of ``repr`` (and hence out of logs).
    """

    id: str
    kind: str
    status: str
    created: datetime | None
    refreshed_at: datetime | None
    row_count: int | None
    col_count: int | None
    columns: Columns
    file_size: int | None
    download_url: str | None = field(repr=False)
    expires_at: datetime | None
    status_code: str | None = None
    status_message: str | None = None
    stripe_context: str | None = None

    @classmethod
    def from_stripe(cls, obj: Mapping[str, Any], *, kind: str, stripe_context: str | None) -> DataRun:
        """Build from a ``v2.data.query_run`` or ``v2.data.report_run`` object."""
        run_id = obj.get("id")
        if not isinstance(run_id, str) or not run_id:
            raise APIError(f"a /v2/data {kind} object has no id")
        where = f"{kind} {run_id}"
        result = _mapping(obj.get("result"), f"{where} result")
        file = _mapping(result.get("file"), f"{where} result.file")
        link = _mapping(file.get("download_url"), f"{where} result.file.download_url")
        details = _mapping(obj.get("status_details"), f"{where} status_details")
        url = link.get("url")
        return cls(
            id=run_id,
            kind=kind,
            status=str(obj.get("status")),
            created=_instant(obj.get("created"), f"{where} created"),
            refreshed_at=_instant(obj.get("refreshed_at"), f"{where} refreshed_at"),
            row_count=_int64(result.get("row_count"), f"{where} result.row_count"),
            col_count=_int64(result.get("col_count"), f"{where} result.col_count"),
            columns=_columns(file.get("columns"), f"{where} result.file.columns") or (),
            file_size=_int64(file.get("size"), f"{where} result.file.size"),
            download_url=url if isinstance(url, str) and url else None,
            expires_at=_instant(link.get("expires_at"), f"{where} result.file.download_url.expires_at"),
            status_code=_text(details.get("code")),
            status_message=_text(details.get("message")),
            stripe_context=stripe_context,
        )


@dataclass(frozen=True)
class DataSchema:
    """A table of the ``analytical`` dataset and when its data was last refreshed.

    ``columns`` is ``None`` when the listing was made without columns (``/v2`` only returns them
    on request, for their size), so "not asked for" never reads as "a table without columns".
    """

    id: str
    name: str
    refreshed_at: datetime | None
    columns: Columns | None

    @classmethod
    def from_stripe(cls, obj: Mapping[str, Any]) -> DataSchema:
        """Build from a ``v2.data.schema`` object."""
        name = _text(obj.get("name"))
        if name is None:
            raise APIError(f"a /v2/data schema object ({obj.get('id')!r}) has no name")
        return cls(
            id=str(obj.get("id") or name),
            name=name,
            refreshed_at=_instant(obj.get("refreshed_at"), f"schema {name} refreshed_at"),
            columns=_columns(obj.get("columns"), f"schema {name} columns"),
        )


class ReportParameter(NamedTuple):
    """What a report accepts for one parameter.

    ``type`` is ``array``, ``enum``, ``string`` or ``timestamp``. ``allowed_values`` lists the
    values an ``enum`` takes, or those each element of an ``array`` of enums takes; ``None`` means
    any value of the type.
    """

    type: str
    required: bool
    allowed_values: tuple[str, ...] | None


@dataclass(frozen=True)
class DataReport:
    """A Stripe-defined report (or Sigma template) that report runs can run by name.

    ``parameters`` is ``None`` when the report was fetched without ``include=("parameters",)``.
    """

    id: str
    name: str
    parameters: Mapping[str, ReportParameter] | None
    description: str | None = None
    default_sql: str | None = None

    @classmethod
    def from_stripe(cls, obj: Mapping[str, Any]) -> DataReport:
        """Build from a ``v2.data.report`` object."""
        report_id, name = _text(obj.get("id")), _text(obj.get("name"))
        if report_id is None or name is None:
            raise APIError(f"a /v2/data report object lacks an id or a name: {report_id!r}, {name!r}")
        specs = obj.get("parameters")
        parameters = None
        if specs is not None:
            where = f"report {name} parameters"
            parameters = {
                str(key): _parameter(spec, f"{where}.{key}") for key, spec in _mapping(specs, where).items()
            }
        return cls(
            id=report_id,
            name=name,
            parameters=parameters,
            description=_text(obj.get("description")),
            default_sql=_text(obj.get("default_sql")),
        )

    def check_parameters(self, parameters: Mapping[str, Any]) -> list[str]:
        """What is wrong with ``parameters`` for a run of this report; empty when they fit.

        Finds unknown names, missing required parameters, values outside an enum's allowed values
        and timestamps that are neither tz-aware datetimes nor RFC 3339 strings, so a catalogue
        entry can be refused before a run is paid for. Requires the report to have been fetched
        with ``include=("parameters",)``.
        """
        if self.parameters is None:
            raise ValueError(f"report {self.name} was fetched without its parameters; include them")
        problems = [
            f"unknown parameter {name!r} (report {self.name} takes {', '.join(sorted(self.parameters))})"
            for name in parameters
            if name not in self.parameters
        ]
        problems += [
            f"missing required parameter {name!r}"
            for name, spec in self.parameters.items()
            if spec.required and parameters.get(name) is None
        ]
        for name, value in parameters.items():
            spec = self.parameters.get(name)
            if spec is not None and value is not None:
                problems += [f"parameter {name!r}: {problem}" for problem in _value_problems(spec, value)]
        return problems


def _parameter(spec: Any, where: str) -> ReportParameter:
    spec = _mapping(spec, where)
    kind = _text(spec.get("type"))
    if kind is None:
        raise APIError(f"{where} has no type")
    enum = _mapping(spec.get("enum_details"), f"{where}.enum_details")
    if not enum:
        array = _mapping(spec.get("array_details"), f"{where}.array_details")
        enum = _mapping(array.get("enum_details"), f"{where}.array_details.enum_details")
    values = enum.get("allowed_values")
    if values is not None and not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
        raise APIError(f"{where} allowed_values is not a list of strings")
    return ReportParameter(
        type=kind,
        required=spec.get("required") is True,
        allowed_values=tuple(values) if values is not None else None,
    )


def _value_problems(spec: ReportParameter, value: Any) -> list[str]:
    if spec.type == "timestamp":
        try:
            from_rfc3339(value) if isinstance(value, str) else to_rfc3339(value)
        except (TypeError, ValueError, AttributeError):
            return [f"{value!r} is not a tz-aware datetime or an RFC 3339 timestamp"]
        return []
    if spec.type == "array":
        if not isinstance(value, list | tuple):
            return [f"{value!r} is not a list"]
        values = list(value)
    elif isinstance(value, str):
        values = [value]
    else:
        return [f"{value!r} is not a string"]
    if spec.allowed_values is None:
        return []
    return [
        f"{item!r} is not one of {', '.join(spec.allowed_values)}"
        for item in values
        if item not in spec.allowed_values
    ]


def _int64(value: Any, where: str) -> int | None:
    # /v2 sends 64-bit integers as strings so that JavaScript clients keep their precision; a plain
    # JSON number is accepted too, since it carries the same value.
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # int() alone would also take " 12" and "1_2".
    if isinstance(value, str) and _INT64.fullmatch(value):
        return int(value)
    raise APIError(f"{where} is not a 64-bit integer string: {value!r}")


def _instant(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return from_rfc3339(value)
    except ValueError as error:
        raise APIError(f"{where}: {error}") from None


def _columns(value: Any, where: str) -> Columns | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise APIError(f"{where} is not a list")
    columns = []
    for column in value:
        name = _text(column.get("name")) if isinstance(column, Mapping) else None
        if name is None:
            raise APIError(f"{where} has a column without a name")
        columns.append((name, str(column.get("type") or "")))
    return tuple(columns)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    # Absent and null objects read as empty, so that "no result yet" needs no special case.
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise APIError(f"{where} is not an object")
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
