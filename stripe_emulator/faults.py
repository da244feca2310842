"""Deterministic, scriptable fault injection.

A :class:`FaultRule` names a fault ``kind``, the requests it applies to (HTTP method and a glob on the
path or on the route template, e.g. ``GET /v1/files/*/contents``) and when it fires among those
requests: the n-th ones (``nth``), every k-th (``every``), with a seeded ``probability``, or always;
``times`` caps how often it fires. Rules come from JSON (control API) or spec strings (``--fault``)::

    KIND METHOD PATH [key=value ...]
    http_503 POST /v1/reporting/report_runs nth=1,2
    http_429 GET /v1/reporting/report_runs/* every=3 retry_after=1
    truncate_download GET /v1/files/*/contents bytes=100 times=1
    run_failed POST /v1/sigma/query_runs probability=0.2 seed=7
    run_failed POST /v2/data/query_runs code=file_size_above_limit times=1
    expire_download GET /v2/data/query_runs/* times=1
    slow * /v1/* seconds=2.5 nth=1

Kinds, where they act, and their options (defaults in brackets):

* answered instead of the request: ``http_429`` (code ``rate_limit``), ``http_500``, ``http_502``,
  ``http_503`` (``api_error``), each with ``Stripe-Should-Retry: true`` (``should_retry=false`` to
  change it) and ``Retry-After`` when ``retry_after`` is set; ``drop_connection`` (the connection
  closes before anything is processed or sent);
* around the request: ``slow`` (the request is held ``seconds`` [5] before it is processed, inside
  its idempotency window, so a retry meanwhile gets 409); ``drop_after_commit`` (processed, saved for
  idempotent replay, then the connection closes without the response); ``truncate_download`` (the
  body stops after ``bytes`` bytes [half the Content-Length] although Content-Length promised all of
  it, then the connection closes);
* on the run a POST creates (only requests creating a report or query run, v1 or v2, count for them):
  ``run_failed`` (ends ``failed`` with ``message`` [a generic internal error]; on v2 runs ``code`` sets
  ``status_details.code``: ``internal_error`` [default], ``file_size_above_limit`` or
  ``query_run_invalid_sql``); ``run_canceled`` (v2 runs only: ends ``canceled`` with ``message``;
  v1 runs ignore it); ``run_stuck`` (never leaves pending/running); ``malformed_csv`` (CSV record
  ``line`` [2; 1 is the header] breaks: ``style=unterminated_quote`` [default] or
  ``style=field_count``); ``add_column`` (an extra ``column`` [``_unexpected``] filled with ``value``
  [``x``]); ``remove_column`` (drops ``column`` [the last column, unless it is the only one]);
  ``duplicate_row`` (record ``line`` [2] appears twice); ``change_value`` (the ``column`` field of
  record ``line`` [2] becomes ``value``: an amount Stripe got wrong, for reconciliation checks);
  the file faults change what the v2 ``download_url`` serves, not the inline rows;
* on the links a request issues: ``expire_download`` (the v2 ``download_url`` a matching run
  retrieval issues expires ``seconds`` [0: already expired] after it is issued). It counts like any
  rule on every matching request, so add it once the run has succeeded (with ``times=1``) to expire
  exactly the next link.

In spec strings ``nth`` takes a comma-separated list (``nth=1,3``) and values cannot contain spaces
(use JSON for a ``message`` with spaces); in JSON ``nth`` is a number or a list.
"""

from __future__ import annotations

import asyncio
import csv
import fnmatch
import random
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from starlette.types import Send

from stripe_emulator.conventions import new_id

ABORT_KINDS = frozenset({"http_429", "http_500", "http_502", "http_503", "drop_connection"})
RESPONSE_KINDS = frozenset({"drop_after_commit", "truncate_download"})
RUN_KINDS = frozenset(
    {
        "run_failed",
        "run_canceled",
        "run_stuck",
        "malformed_csv",
        "add_column",
        "remove_column",
        "duplicate_row",
        "change_value",
    }
)
LINK_KINDS = frozenset({"expire_download"})
KINDS = ABORT_KINDS | RESPONSE_KINDS | RUN_KINDS | LINK_KINDS | {"slow"}

RUN_FAILURE_CODES = ("internal_error", "file_size_above_limit", "query_run_invalid_sql")
"""The ``status_details.code`` values a v2 ``run_failed`` fault may set."""

MALFORMED_STYLES = ("unterminated_quote", "field_count")
METHODS = ("*", "GET", "POST", "DELETE")

# Which options each kind understands, with their types: anything else in a rule is an error so a
# typo in a spec does not silently produce a different fault.
_KIND_OPTIONS: dict[str, dict[str, type]] = {
    "http_429": {"retry_after": float, "should_retry": bool},
    "http_500": {"retry_after": float, "should_retry": bool},
    "http_502": {"retry_after": float, "should_retry": bool},
    "http_503": {"retry_after": float, "should_retry": bool},
    "drop_connection": {},
    "drop_after_commit": {},
    "slow": {"seconds": float},
    "truncate_download": {"bytes": int},
    "run_failed": {"message": str, "code": str},
    "run_canceled": {"message": str},
    "run_stuck": {},
    "malformed_csv": {"line": int, "style": str},
    "add_column": {"column": str, "value": str},
    "remove_column": {"column": str},
    "duplicate_row": {"line": int},
    "change_value": {"column": str, "line": int, "value": str},
    "expire_download": {"seconds": float},
}
_SCHEDULE_OPTIONS: dict[str, type] = {
    "nth": list,
    "every": int,
    "probability": float,
    "seed": int,
    "times": int,
}


class FaultSpecError(ValueError):
    """A fault rule or spec string that cannot be understood."""


@dataclass(frozen=True)
class FaultRule:
    """One fault rule. ``options`` holds the kind-specific settings (see the module docstring)."""

    kind: str
    method: str = "*"
    path: str = "*"
    nth: tuple[int, ...] = ()
    every: int | None = None
    probability: float | None = None
    seed: int = 0
    times: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""

    def option(self, name: str, default: Any = None) -> Any:
        """A kind-specific option, or ``default``."""
        return self.options.get(name, default)

    def to_json(self) -> dict[str, Any]:
        """The rule as the control API shows it (options flattened into the object)."""
        data = {k: v for k, v in asdict(self).items() if k != "options"}
        data["nth"] = list(self.nth)
        data.update(self.options)
        return {k: v for k, v in data.items() if v is not None}

    def matches(self, method: str, path: str, template: str | None) -> bool:
        """Whether a request falls under this rule (the glob may target the path or the route template)."""
        if self.method != "*" and self.method != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path) or (
            template is not None and fnmatch.fnmatchcase(template, self.path)
        )


def _coerce(name: str, value: Any, kind: type) -> Any:
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if kind is list:
            items = value.split(",") if isinstance(value, str) else value
            if isinstance(items, int):
                items = [items]
            return tuple(int(item) for item in items)
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise FaultSpecError(f"{name}: cannot read {value!r} as {kind.__name__}") from exc


def rule_from_json(data: Mapping[str, Any]) -> FaultRule:
    """Build a rule from the control API's JSON object (flat: schedule and kind options side by side).

    ``{"spec": "KIND METHOD PATH key=value…"}`` is accepted too.
    """
    if "spec" in data:
        if len(data) != 1:
            raise FaultSpecError("a rule given as 'spec' takes no other fields")
        return parse_spec(str(data["spec"]))
    kind = data.get("kind")
    if kind not in KINDS:
        raise FaultSpecError(f"kind must be one of {', '.join(sorted(KINDS))}; got {kind!r}")
    method = str(data.get("method", "*")).upper()
    if method not in METHODS:
        raise FaultSpecError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    path = str(data.get("path", "*"))
    schedule: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("kind", "method", "path", "id"):
            continue
        if name in _SCHEDULE_OPTIONS:
            schedule[name] = _coerce(name, value, _SCHEDULE_OPTIONS[name])
        elif name in _KIND_OPTIONS[kind]:
            options[name] = _coerce(name, value, _KIND_OPTIONS[kind][name])
        else:
            raise FaultSpecError(f"{kind} does not understand {name!r}")
    rule = FaultRule(kind=kind, method=method, path=path, options=options, **schedule)
    _validate(rule)
    return rule


def _validate(rule: FaultRule) -> None:
    schedules = [bool(rule.nth), rule.every is not None, rule.probability is not None]
    if sum(schedules) > 1:
        raise FaultSpecError("use only one of nth, every, probability")
    if any(n < 1 for n in rule.nth):
        raise FaultSpecError("nth counts matching requests from 1")
    if rule.every is not None and rule.every < 1:
        raise FaultSpecError("every must be at least 1")
    if rule.probability is not None and not 0.0 <= rule.probability <= 1.0:
        raise FaultSpecError("probability must be between 0 and 1")
    if rule.times is not None and rule.times < 0:
        raise FaultSpecError("times cannot be negative")
    if rule.kind == "malformed_csv":
        if rule.option("style", MALFORMED_STYLES[0]) not in MALFORMED_STYLES:
            raise FaultSpecError(f"malformed_csv style must be one of {', '.join(MALFORMED_STYLES)}")
        if rule.option("line", 2) < 1:
            raise FaultSpecError("malformed_csv line counts from 1 (the header)")
    if rule.kind == "change_value" and (not rule.option("column") or rule.option("line", 2) < 2):
        raise FaultSpecError("change_value needs a column, and its line counts data records from 2")
    if rule.kind == "truncate_download" and rule.option("bytes", 0) < 0:
        raise FaultSpecError("truncate_download bytes cannot be negative")
    if rule.kind == "slow" and rule.option("seconds", 0.0) < 0:
        raise FaultSpecError("slow seconds cannot be negative")
    if rule.kind == "expire_download" and rule.option("seconds", 0.0) < 0:
        raise FaultSpecError("expire_download seconds cannot be negative")
    if rule.kind == "run_failed" and rule.option("code", RUN_FAILURE_CODES[0]) not in RUN_FAILURE_CODES:
        raise FaultSpecError(f"run_failed code must be one of {', '.join(RUN_FAILURE_CODES)}")


def parse_spec(spec: str) -> FaultRule:
    """Parse ``KIND METHOD PATH [key=value ...]`` (whitespace separated; see the module docstring)."""
    tokens = spec.split()
    if len(tokens) < 3:
        raise FaultSpecError(f"expected 'KIND METHOD PATH [key=value ...]', got {spec!r}")
    kind, method, path, *pairs = tokens
    data: dict[str, Any] = {"kind": kind, "method": method, "path": path}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise FaultSpecError(f"expected key=value, got {pair!r} in {spec!r}")
        data[name] = value
    return rule_from_json(data)


def as_rule(rule: FaultRule | str | Mapping[str, Any]) -> FaultRule:
    """A validated rule with an id, from a FaultRule, a spec string or a JSON object."""
    if isinstance(rule, FaultRule):
        _validate(rule)
        return rule if rule.id else replace(rule, id=new_id("flt", 12))
    parsed = parse_spec(rule) if isinstance(rule, str) else rule_from_json(rule)
    return replace(parsed, id=new_id("flt", 12))


@dataclass(frozen=True)
class FaultPlan:
    """What the faults that fired for one request do to it."""

    abort: FaultRule | None = None
    delay: float = 0.0
    response: FaultRule | None = None
    run: tuple[FaultRule, ...] = ()
    links: tuple[FaultRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.abort or self.delay or self.response or self.run or self.links)


NO_FAULTS = FaultPlan()


@dataclass
class _RuleState:
    rule: FaultRule
    rng: random.Random
    seen: int = 0
    fired: int = 0


class FaultInjector:
    """The active fault rules and their counters (thread-safe).

    Rules given to the constructor are the initial set that :meth:`reset` restores.
    """

    def __init__(self, rules: Iterable[FaultRule | str | Mapping[str, Any]] = ()) -> None:
        self._lock = threading.Lock()
        self._states: list[_RuleState] = []
        self._fired_by_kind: Counter[str] = Counter()
        self._initial = [as_rule(rule) for rule in rules]
        self.reset()

    def add(self, rule: FaultRule | str | Mapping[str, Any]) -> FaultRule:
        """Add a rule (a FaultRule, spec string or JSON object); returns it with its id."""
        parsed = as_rule(rule)
        with self._lock:
            self._states.append(_RuleState(parsed, random.Random(parsed.seed)))
        return parsed

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; False when there is no such rule."""
        with self._lock:
            kept = [state for state in self._states if state.rule.id != rule_id]
            removed = len(kept) != len(self._states)
            self._states = kept
        return removed

    def clear(self) -> None:
        """Remove every rule (fired counts are kept until :meth:`reset`)."""
        with self._lock:
            self._states = []

    def reset(self) -> None:
        """Back to the initial rules with fresh counters."""
        with self._lock:
            self._states = [_RuleState(rule, random.Random(rule.seed)) for rule in self._initial]
            self._fired_by_kind = Counter()

    def rules(self) -> list[dict[str, Any]]:
        """The active rules with how many requests each has seen and fired on."""
        with self._lock:
            return [{**s.rule.to_json(), "seen": s.seen, "fired": s.fired} for s in self._states]

    def fired(self) -> dict[str, int]:
        """How many times each kind of fault fired since the last reset."""
        with self._lock:
            return dict(self._fired_by_kind)

    def plan(self, method: str, path: str, template: str | None, *, creates_run: bool) -> FaultPlan:
        """Decide which rules fire for a request and combine them.

        Every matching rule counts the request; of the rules that fire, the first answering kind
        (``http_*``/``drop_connection``) wins and the others give their turn back; otherwise delays
        add up, run faults combine in rule order and the first response fault applies.
        """
        with self._lock:
            firing: list[_RuleState] = []
            for state in self._states:
                rule = state.rule
                if rule.kind in RUN_KINDS and not creates_run:
                    continue
                if not rule.matches(method, path, template):
                    continue
                state.seen += 1
                if rule.times is not None and state.fired >= rule.times:
                    continue
                if self._due(state):
                    firing.append(state)
            abort = next((s for s in firing if s.rule.kind in ABORT_KINDS), None)
            applied = [abort] if abort else firing
            for state in applied:
                state.fired += 1
                self._fired_by_kind[state.rule.kind] += 1
        if abort is not None:
            return FaultPlan(abort=abort.rule)
        rules = [state.rule for state in applied]
        return FaultPlan(
            delay=sum(float(r.option("seconds", 5.0)) for r in rules if r.kind == "slow"),
            response=next((r for r in rules if r.kind in RESPONSE_KINDS), None),
            run=tuple(r for r in rules if r.kind in RUN_KINDS),
            links=tuple(r for r in rules if r.kind in LINK_KINDS),
        )

    @staticmethod
    def _due(state: _RuleState) -> bool:
        rule = state.rule
        if rule.nth:
            return state.seen in rule.nth
        if rule.every is not None:
            return state.seen % rule.every == 0
        if rule.probability is not None:
            return state.rng.random() < rule.probability
        return True


# --------------------------------------------------------------------------------------------
# Connection-level faults


async def close_connection(send: Send) -> bool:
    """Close the client connection behind uvicorn's ``send`` callable, flushing what was written.

    ASGI has no message for "drop the connection", so this reaches uvicorn's per-request cycle object
    (``send`` is its bound method) for the transport. Returns False when the server is not uvicorn;
    the caller then falls back to a coarser way of ending the connection.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "close"):
        return False
    transport.close()
    # Let uvicorn see connection_lost before the application returns, so it neither logs an
    # incomplete response nor tries to answer the closed connection with a 500.
    for _ in range(100):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0.001)
    return True


# --------------------------------------------------------------------------------------------
# Result-file faults


def _line_terminator(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(65536)
    return "\r\n" if b"\r\n" in head else "\n"


def apply_file_faults(path: Path, rules: Iterable[FaultRule]) -> None:
    """Rewrite a result CSV in place for the run faults that change files (others are ignored).

    Column faults apply first, then a malformed line, so ``line`` numbers refer to the final file
    (line 1 = header).
    """
    rules = [
        rule
        for rule in rules
        if rule.kind in ("add_column", "remove_column", "duplicate_row", "change_value", "malformed_csv")
    ]
    if not rules:
        return
    terminator = _line_terminator(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    malformed: list[FaultRule] = []
    for rule in rules:
        if rule.kind == "remove_column" and rows:
            header = rows[0]
            name = rule.option("column") or (header[-1] if len(header) > 1 else None)
            if name in header:
                index = header.index(name)
                rows = [row[:index] + row[index + 1 :] for row in rows]
        elif rule.kind == "add_column" and rows:
            name = rule.option("column", "_unexpected")
            value = rule.option("value", "x")
            rows = [[*rows[0], name]] + [[*row, value] for row in rows[1:]]
        elif rule.kind == "duplicate_row" and len(rows) > 1:
            # The same record twice: what a double-counting bug upstream would deliver.
            index = min(max(int(rule.option("line", 2)) - 1, 1), len(rows) - 1)
            rows = [*rows[: index + 1], rows[index], *rows[index + 1 :]]
        elif rule.kind == "change_value" and len(rows) > 1 and rule.option("column") in rows[0]:
            index = min(max(int(rule.option("line", 2)) - 1, 1), len(rows) - 1)
            rows[index][rows[0].index(rule.option("column"))] = str(rule.option("value", ""))
        elif rule.kind == "malformed_csv":
            malformed.append(rule)
    lines: list[str] = []
    for row in rows:
        buffer = _RowBuffer()
        csv.writer(buffer, lineterminator="").writerow(row)
        lines.append(buffer.text)
    for rule in malformed:
        lines = _break_line(lines, rows, rule)
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write("".join(line + terminator for line in lines))


class _RowBuffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text


def _break_line(lines: list[str], rows: list[list[str]], rule: FaultRule) -> list[str]:
    """Make line ``line`` (1-based; appended when the file is shorter) unparseable as intended."""
    number = int(rule.option("line", 2))
    style = rule.option("style", MALFORMED_STYLES[0])
    width = len(rows[0]) if rows else 1
    index = number - 1
    if index >= len(lines):
        index = len(lines)
        lines = [*lines, ",".join(["x"] * width)]
    fields = rows[index] if index < len(rows) else ["x"] * width
    if style == "unterminated_quote":
        # An opening quote that never closes: a CSV reader runs on into the following lines. Quotes and
        # delimiters inside the row's own values are dropped so nothing on this line closes it.
        broken = '"' + ",".join(value.replace('"', "").replace(",", " ") for value in fields)
    else:
        # One field too few (one too many for a single-column file).
        buffer = _RowBuffer()
        csv.writer(buffer, lineterminator="").writerow(fields[:-1] if len(fields) > 1 else [*fields, "x"])
        broken = buffer.text
    return [*lines[:index], broken, *lines[index + 1 :]]
