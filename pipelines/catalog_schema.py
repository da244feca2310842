"""The catalogue's declared schema: what ``reports.yaml``, its ``defaults``, ``report_types.yaml`` and a
``.sql`` header may say.

Pydantic models refuse unknown keys (``extra="forbid"``); each kind of value has one validator that
reuses the rule of whoever consumes it later — the warehouse's column types and identifiers, Dagster's
owners and tags — so a value that would fail at load time or in Dagster fails here, where the file
and the line can still be named. Validators raise ``ValueError`` with a plain sentence;
:func:`validate` checks what :func:`read_yaml` (or the ``.sql`` header reader) read, keeping every
key's line, and raises a ``CatalogError`` starting ``file, line N: entry:``, suggesting the nearest
valid key for a misspelt one.

Nothing here imports Dagster (the core stays below it): the two Dagster rules are copied, with where
they come from.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import available_timezones

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainValidator, ValidationError

from pipelines.errors import CatalogError
from pipelines.lineage import ACCOUNT_COLUMN, FRESHNESS_COLUMN, RUN_ID_COLUMN
from pipelines.metadata_columns import warehouse_name
from pipelines.settling import MAX_SETTLING_DAYS
from pipelines.warehouse.identifiers import RESERVED_COLUMNS, check_identifier
from pipelines.warehouse.logical_types import parse_type

_Model = TypeVar("_Model", bound=BaseModel)
ReportParameter = Literal["timezone", "currency", "reporting_category"]
ALL_PARAMETERS: tuple[ReportParameter, ...] = ("timezone", "currency", "reporting_category")
#: Columns the landing and the warehouse add to every table, so a report may not declare them.
_ADDED_COLUMNS = RESERVED_COLUMNS | {ACCOUNT_COLUMN, FRESHNESS_COLUMN, RUN_ID_COLUMN}

# Dagster 1.13's rules, copied so the core need not import Dagster:
# owners: dagster._core.definitions.utils.is_valid_owner (with dagster._core.utils.is_valid_email);
# tags: dagster._utils.tags.normalize_tags(strict=True), which AssetSpec applies to asset tags.
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,7}\b")
_TAG_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,63}/)?[A-Za-z0-9_.-]{1,63}$")
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.-]{0,63}$")
_HOUR_MINUTE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_TAG_CHARACTERS = "letters, digits, `_`, `-` and `.`, at most 63 characters"
# Stricter than Dagster: its own namespace carries meaning (kinds, storage), and the translator sets
# `stripe/source`, which an entry's tag would silently replace.
_RESERVED_TAG_NAMESPACES = ("dagster/", "stripe/")


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """``"; did you mean `X`?"`` for the choice closest to ``value`` ignoring case, else ``""``."""
    by_lower = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(str(value).lower(), by_lower, n=1)
    return f"; did you mean `{by_lower[close[0]]}`?" if close else ""


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


# ---- one validator per kind of value ---------------------------------------------------------------


def asset_name(value: object) -> str:
    """An asset or table name: a warehouse identifier that also starts with a letter, since it names
    Dagster definitions too."""
    try:
        name = check_identifier(value, "name")
    except ValueError:
        name = ""
    if not name[:1].isalpha():
        raise ValueError(
            f"{value!r} is not a valid name (lower-case letters, digits and _, starting with a letter, "
            "at most 63 characters)"
        )
    return name


def _identifier(value: object) -> str:
    """A warehouse identifier (column names, groups, key prefixes), in the warehouse's words."""
    try:
        return check_identifier(value, "name")
    except ValueError as error:
        raise ValueError(str(error).removeprefix("name ")) from None


def _column_name(value: object) -> str:
    name = _identifier(value)
    if name in _ADDED_COLUMNS:
        raise ValueError(f"column {name!r} is one the pipeline adds to every table; rename it")
    return name


def _report_column_name(value: object) -> str:
    # Metadata columns keep Stripe's name here; the catalogue lands them under warehouse_name().
    if isinstance(value, str) and "[" in value:
        warehouse_name(value)
        return value
    return _column_name(value)


def _column_type(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a column type; write it as text, e.g. `money`")
    return str(parse_type(value))


def _time_zone(value: object) -> str:
    if value in ("UTC", "Etc/UTC"):
        return "UTC"
    if isinstance(value, str) and value in _time_zones():
        return value
    raise ValueError(
        f"{value!r} is not an IANA time zone (e.g. America/New_York){did_you_mean(value, _time_zones())}"
    )


def _date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _days(value: int) -> int:
    if not 1 <= value <= 31:
        raise ValueError(f"must be between 1 and 31 days, not {value}")
    return value


def _settling_days(value: int) -> int:
    if not 0 <= value <= MAX_SETTLING_DAYS:
        raise ValueError(f"must be between 0 and {MAX_SETTLING_DAYS} days, not {value}")
    return value


def _fresh_by(value: object) -> time:
    # YAML 1.1 reads an unquoted 14:00 as the sexagesimal integer 840 (minutes); 09:00 stays text.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    if isinstance(value, str) and _HOUR_MINUTE.fullmatch(value):
        return time(int(value[:2]), int(value[3:]))
    raise ValueError(f"{value!r} is not a time of day: write HH:MM in the entry's time zone, e.g. '09:00'")


def _connect(value: object) -> Literal["per_account", "all_accounts", True] | None:
    # `true` asks for Connect without naming a mode: the catalogue picks the one that fits the
    # entry (all_accounts for connected_account_* report types, per_account otherwise).
    if value in (None, "", False, "none"):
        return None
    if value is True or value in ("true", "yes"):
        return True
    if value in ("per_account", "all_accounts"):
        return value  # type: ignore[return-value]
    raise ValueError(
        "must be `all_accounts` (a connected_account_* report run once per chunk for every connected "
        f"account), `per_account` (one partition per connected account) or `true` (the mode that fits "
        f"the entry), not {value!r}"
    )


def _sigma_connect(value: object) -> Literal["per_account"] | None:
    # A Sigma query sees one account's data per run (Stripe-Account): there is no all-accounts run.
    if value == "all_accounts":
        raise ValueError(
            "`all_accounts` is for connected_account_* report types; a Sigma query runs as one account "
            "(Stripe-Account), so use `per_account`"
        )
    mode = _connect(value)
    return "per_account" if mode is True else mode  # type: ignore[return-value]


def _owner(value: object) -> str:
    if isinstance(value, str) and (_EMAIL.fullmatch(value) or (value.startswith("team:") and len(value) > 5)):
        return value
    raise ValueError(f"{value!r} is not an owner: use an email address or `team:` and a team name")


def _tag_key(value: object) -> str:
    if not isinstance(value, str) or not _TAG_KEY.match(value):
        raise ValueError(f"{value!r} is not a tag key: {_TAG_CHARACTERS}, optionally after `namespace/`")
    if value.startswith(_RESERVED_TAG_NAMESPACES):
        raise ValueError(
            "the `dagster/` and `stripe/` namespaces are reserved (Dagster's own and this project's)"
        )
    return value


def _tag_value(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"tag values are text; quote {value!r}")
    if not _TAG_VALUE.match(value):
        raise ValueError(f"{value!r} is not a tag value: {_TAG_CHARACTERS}")
    return value


def _non_empty(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        # Dagster names each asset's op after its key; a bare name could be a reserved word.
        raise ValueError("needs at least one segment")
    return value


# ---- the forms a value may be written in -----------------------------------------------------------


def _split(separator: str) -> BeforeValidator:
    """Lets a list be written as one string (a ``.sql`` header holds nothing else)."""

    def split(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return [part.strip() for part in value.split(separator) if part.strip()]

    return BeforeValidator(split)


def _key_value_pairs(value: Any) -> Any:
    """``team=finance, tier=gold`` as a mapping (the ``.sql`` header form of ``tags``)."""
    if not isinstance(value, str):
        return value
    pairs = {}
    for item in (part.strip() for part in value.split(",")):
        key, equals, tag = item.partition("=")
        if item and not equals:
            raise ValueError(f"{item!r} is not `key=value`")
        if item:
            pairs[key.strip()] = tag.strip()
    return pairs


def _names_are_text_columns(value: Any) -> Any:
    """``columns: [a, b]`` means text columns."""
    if isinstance(value, list) and all(isinstance(name, str) for name in value):
        return dict.fromkeys(value, "text")
    return value


AssetName = Annotated[str, PlainValidator(asset_name)]
ColumnName = Annotated[str, PlainValidator(_column_name)]
ColumnType = Annotated[str, PlainValidator(_column_type)]
Columns = Annotated[dict[ColumnName, ColumnType], BeforeValidator(_names_are_text_columns)]
ReportColumnName = Annotated[str, PlainValidator(_report_column_name)]
ReportColumns = Annotated[dict[ReportColumnName, ColumnType], BeforeValidator(_names_are_text_columns)]
TimeZone = Annotated[str, PlainValidator(_time_zone)]
Day = Annotated[date, PlainValidator(_date)]
Days = Annotated[int, AfterValidator(_days)]
FreshBy = Annotated[time, PlainValidator(_fresh_by)]
SettlingDays = Annotated[int, AfterValidator(_settling_days)]
Connect = Annotated[Literal["per_account", "all_accounts", True] | None, PlainValidator(_connect)]
SigmaConnect = Annotated[Literal["per_account"] | None, PlainValidator(_sigma_connect)]
Owners = Annotated[tuple[Annotated[str, PlainValidator(_owner)], ...], _split(",")]
Tags = Annotated[
    dict[Annotated[str, PlainValidator(_tag_key)], Annotated[str, PlainValidator(_tag_value)]],
    BeforeValidator(_key_value_pairs),
]
Group = Annotated[str, PlainValidator(_identifier)]
KeyPrefix = Annotated[
    tuple[Annotated[str, PlainValidator(_identifier)], ...], _split("/"), AfterValidator(_non_empty)
]


# ---- the models --------------------------------------------------------------------------------


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(_Schema):
    """What ``defaults`` may set and every entry may override (``None``: not set here)."""

    timezone: TimeZone | None = None
    start_date: Day | None = None
    max_days_per_run: Days | None = None
    #: Days after a day's end during which Stripe still changes its rows (late captures, payouts
    #: filling automatic_payout_id, refunds, disputes): each freshness move re-lands them.
    settling_days: SettlingDays | None = None
    #: When the previous day should be landed, in the entry's time zone (its freshness deadline).
    fresh_by: FreshBy | None = None
    owners: Owners | None = None
    tags: Tags | None = None
    group: Group | None = None
    key_prefix: KeyPrefix | None = None
    #: Which Stripe backend runs the entry: the v1 APIs or ``/v2/data``.
    api: Literal["v1", "v2"] | None = None


class EntrySettings(Settings):
    """What any entry, report or Sigma query, may set."""

    table: AssetName | None = None
    description: str | None = None
    connect: Connect = None
    #: One partition per day or per calendar month (in the entry's zone).
    period: Literal["day", "month"] | None = None


class ReportEntry(EntrySettings):
    """One entry of ``reports.yaml``'s ``reports`` list."""

    report_type: str
    name: AssetName | None = None
    columns: ReportColumns | None = None
    column_types: dict[ColumnName, ColumnType] | None = None
    split_column: ColumnName | None = None
    unique_column: ColumnName | None = None
    interval: Literal["range", "end", "payout"] | None = None
    #: For a per-payout type: the entry whose landed payouts become this asset's partitions.
    payouts_from: AssetName | None = None
    currency: str | None = None
    reporting_category: str | None = None


class SqlHeader(EntrySettings):
    """The ``-- key: value`` lines at the top of a ``sql/*.sql`` file."""

    partition_column: ColumnName | None = None
    saved_query: str | None = None
    connect: SigmaConnect = None  # type: ignore[assignment]


class ReportType(_Schema):
    """One report type of ``report_types.yaml``: what an entry of that type inherits."""

    columns: Columns
    name: str | None = None
    #: ``payout``: a run names one payout (``parameters[payout]``) instead of an interval.
    interval: Literal["range", "end", "payout"] = "range"
    split_column: ColumnName | None = None
    unique_column: ColumnName | None = None
    optional_parameters: tuple[ReportParameter, ...] = ALL_PARAMETERS
    connect: bool | None = None
    settling_days: SettlingDays | None = None


# ---- reading a file with its lines, checking it against the schema ------------------------------


class LineDict(dict[Any, Any]):
    """A YAML mapping that remembers its own line and each key's (``lines``)."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[Any, int] = {}


class LineList(list[Any]):
    """A YAML sequence that remembers its own line and each item's."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: list[int] = []


class LineLoader(yaml.SafeLoader):
    """PyYAML's safe loader, building ``LineDict``/``LineList`` and refusing a key set twice."""

    def construct_line_mapping(self, node: yaml.MappingNode) -> LineDict:
        self.flatten_mapping(node)  # merge keys (<<: *anchor)
        mapping = LineDict(node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in mapping:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"`{key}` is set twice (first on line {mapping.lines[key]})",
                    key_node.start_mark,
                )
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.lines[key] = line
        return mapping

    def construct_lenient_timestamp(self, node: yaml.ScalarNode) -> Any:
        # PyYAML raises a bare ValueError for `2025-13-01`; keep the text so the schema says why.
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)

    def construct_line_sequence(self, node: yaml.SequenceNode) -> LineList:
        sequence = LineList(node.start_mark.line + 1)
        for item in node.value:
            sequence.append(self.construct_object(item, deep=True))
            sequence.lines.append(item.start_mark.line + 1)
        return sequence


LineLoader.add_constructor("tag:yaml.org,2002:timestamp", LineLoader.construct_lenient_timestamp)
LineLoader.add_constructor("tag:yaml.org,2002:map", LineLoader.construct_line_mapping)
LineLoader.add_constructor("tag:yaml.org,2002:seq", LineLoader.construct_line_sequence)


@dataclass(frozen=True)
class Place:
    """A part of a catalogue file: the file, a label for messages (``reports[3] (payouts.itemized.3)``),
    what was read there (a ``LineDict`` keeps its keys' lines) and the line it starts on."""

    file: str
    label: str
    node: Any
    line: int

    def line_of(self, *loc: Any) -> int:
        """The line of the value at ``loc`` (keys and indexes below this place), or the nearest above."""
        node, line = self.node, self.line
        for part in loc:
            if isinstance(node, list) and not isinstance(part, int) and part in node:
                part = node.index(part)  # `columns: [a, b]` was validated as a mapping of its names
            try:
                line, node = node.lines[part], node[part]
            except (AttributeError, TypeError, KeyError, IndexError):
                break
        return line

    def at(self, *loc: Any) -> str:
        """``file, line N: label``: where the value at ``loc`` is written."""
        return f"{self.file}, line {self.line_of(*loc)}" + (f": {self.label}" if self.label else "")

    def error(self, message: str, *loc: Any) -> CatalogError:
        """The error to raise about the value at ``loc``."""
        return CatalogError(f"{self.at(*loc)}: {message}")

    def child(self, *loc: Any, label: str) -> Place:
        """The place of the value at ``loc``."""
        node = self.node
        for part in loc:
            node = node[part]
        return Place(self.file, label, node, self.line_of(*loc))


def read_yaml(path: Path, shown: str) -> Any:
    """The YAML document in ``path`` as ``LineDict``/``LineList``; ``shown`` names it in errors."""
    loader = LineLoader(path.read_text())
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or error
        raise CatalogError(
            f"{shown}, line {mark.line + 1 if mark else 1}: not valid YAML: {reason}"
        ) from error
    finally:
        loader.dispose()


def validate(model: type[_Model], raw: Any, place: Place, noun: str = "key") -> _Model:
    """``raw`` as ``model``, or a CatalogError at the line of the first problem (unknown keys first:
    a misspelt key explains the required one that seems missing)."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = min(error.errors(), key=lambda e: (e["type"] != "extra_forbidden", place.line_of(*e["loc"])))
        raise place.error(_explain(first, model, noun), *first["loc"]) from error


def _explain(error: Any, model: type[BaseModel], noun: str) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
    path = path.removesuffix(".[key]").lstrip(".")
    if error["type"] == "extra_forbidden":
        return f"unknown {noun} `{path}`{did_you_mean(path, model.model_fields)}"
    if error["type"] == "missing":
        return f"needs `{path}`"
    if error["type"] == "value_error":
        reason = str(error["ctx"]["error"])
    else:  # pydantic's own wording ("Input should be 'range' or 'end'"), with what it got
        reason = f"{error['msg'][:1].lower()}{error['msg'][1:]}, not {error['input']!r}"
    return f"{path}: {reason}" if path else reason
