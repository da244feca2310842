"""Running one window of an entry on both backends, v1 and ``/v2/data``, and comparing the results.

A team moving an asset to ``api: v2`` wants evidence first: the same window's rows from each API,
compared by row count and, per column, by how many values differ. Rows are matched by the entry's
unique column when it has one (so a difference names the column that changed), else compared as
sorted multisets per column. Values are compared as text after normalising numbers, so ``12.50``
and ``12.5`` agree. Columns only one side returns are listed, not compared.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pipelines.freshness import FreshnessProbe
from pipelines.sources import DataQuerySource, DataReportSource, JobRequest, ReportSource, SigmaSource, Source
from pipelines.stripe import StripeSession

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColumnDifference:
    """How many values of one column differ between the backends."""

    column: str
    differing: int


@dataclass(frozen=True)
class Comparison:
    """The outcome of running one window on both backends."""

    v1_rows: int
    v2_rows: int
    columns: list[ColumnDifference]
    only_v1: list[str]
    only_v2: list[str]
    unmatched_keys: int

    @property
    def identical(self) -> bool:
        """Same rows and same values in every column both return."""
        return (
            self.v1_rows == self.v2_rows
            and self.unmatched_keys == 0
            and all(c.differing == 0 for c in self.columns)
        )

    def describe(self) -> str:
        """A few lines for a person."""
        lines = [f"rows: v1 {self.v1_rows}, v2 {self.v2_rows}"]
        if self.unmatched_keys:
            lines.append(f"rows whose id is on one side only: {self.unmatched_keys}")
        lines += [f"  {c.column}: {c.differing} value(s) differ" for c in self.columns if c.differing]
        if self.only_v1:
            lines.append(f"columns only v1 returns: {', '.join(self.only_v1)}")
        if self.only_v2:
            lines.append(f"columns only v2 returns: {', '.join(self.only_v2)}")
        lines.append("no differences" if self.identical else "DIFFERENT")
        return "\n".join(lines)


def both_backends(source: Source) -> tuple[Source, Source]:
    """The entry as a v1 source and as a ``/v2/data`` source, with the same settings."""
    pairs = [(SigmaSource, DataQuerySource), (ReportSource, DataReportSource)]
    for v1, v2 in pairs:
        if isinstance(source, v1):
            values = {f.name: getattr(source, f.name) for f in dataclasses.fields(source)}
            if type(source) is v2:
                return v1(**values), source
            return source, v2(**values)
    raise ValueError(f"{source.name}: only Sigma queries and report templates run on both backends")


def compare_window(
    source: Source, session: StripeSession, start: datetime, end: datetime, workdir: Path
) -> Comparison:
    """Run ``[start, end)`` of ``source`` on v1 and on v2 and compare what came back."""
    probe = FreshnessProbe(session)
    files = []
    for variant in both_backends(source):
        request = JobRequest(
            source_name=f"compare:{variant.kind}:{variant.name}",
            start=start,
            end=end,
            account=None,
            idempotency_scope=f"compare-{datetime.now().isoformat()}",
            on_created=lambda run_id: logger.info("Stripe run %s created", run_id),
            log=logger,
            deadline_seconds=session.settings.run_deadline(max(1, (end - start).days)),
        )
        run = variant.run_job(session, probe, request)
        path = workdir / f"{variant.kind}-{run.id}.csv"
        variant.download(session, run, path, None)
        files.append(path)
    return compare_files(files[0], files[1], key=source.unique_column)


def compare_files(v1: Path, v2: Path, *, key: str | None = None) -> Comparison:
    """Compare two result files (lineage columns, named ``_…``, are left out)."""
    header_1, rows_1 = _read(v1)
    header_2, rows_2 = _read(v2)
    common = [c for c in header_1 if c in header_2]
    only_v1 = [c for c in header_1 if c not in header_2]
    only_v2 = [c for c in header_2 if c not in header_1]
    differences: list[ColumnDifference] = []
    unmatched = 0
    if key is not None and key in common:
        by_key_1 = {row[key]: row for row in rows_1}
        by_key_2 = {row[key]: row for row in rows_2}
        unmatched = len(by_key_1.keys() ^ by_key_2.keys())
        shared = by_key_1.keys() & by_key_2.keys()
        for column in common:
            differing = sum(_normal(by_key_1[k][column]) != _normal(by_key_2[k][column]) for k in shared)
            differences.append(ColumnDifference(column, differing))
    else:
        for column in common:
            left = Counter(_normal(row[column]) for row in rows_1)
            right = Counter(_normal(row[column]) for row in rows_2)
            differences.append(ColumnDifference(column, sum(((left - right) + (right - left)).values())))
    return Comparison(len(rows_1), len(rows_2), differences, only_v1, only_v2, unmatched)


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [c for c in reader.fieldnames or [] if not c.startswith("_")]
        return header, [{c: row[c] for c in header} for row in _records(reader)]


def _records(reader: csv.DictReader[str]) -> Iterator[dict[str, str]]:
    for row in reader:
        if any(value not in ("", None) for value in row.values()):
            yield row


def _normal(value: str | None) -> str:
    text = (value or "").strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return format(number.normalize(), "f") if number.is_finite() else text
