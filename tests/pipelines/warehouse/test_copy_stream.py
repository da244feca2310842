"""The file as PostgreSQL's COPY receives it on the direct path: every record with its window key and
the load's constants appended, read the same way whatever the buffer boundaries, and any record
the rewriting cannot vouch for sent to the careful path (NotStreamable) instead of being guessed."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

import pipelines.warehouse.copy_stream as copy_stream
from pipelines.warehouse import LoadSpec
from pipelines.warehouse.copy_stream import CopyStream, NotStreamable, layout_for
from pipelines.warehouse.logical_types import DATE, TIMESTAMP
from pipelines.warehouse.partitioning import SplitRule

from .support import HEADER, activity_rows, day_windows, write_csv

DAYS = day_windows("2026-01-05", 2)
SPEC = LoadSpec("activity", None, DAYS, "created_utc")
CONSTANTS = b',"frr_1","2026-02-01 03:00:00"'


def rewritten(path: Path, spec: LoadSpec = SPEC, decimals: dict[str, int] | None = None) -> list[list[str]]:
    split = SplitRule.for_spec(spec, DATE if spec.split_column == "value_date" else TIMESTAMP)
    stream = CopyStream(path, layout_for(HEADER, split, decimals or {"amount": 3}, CONSTANTS))
    data = b"".join(stream.chunks())
    assert data.endswith(b"\n") and b"\r\n" not in data.replace(b'\r\n"', b"")
    records = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert stream.records == len(records)
    return records


def test_every_record_leaves_with_its_window_key_and_the_constants(tmp_path: Path) -> None:
    rows = activity_rows("2026-01-05", 3) + activity_rows("2026-01-06", 2)
    rows[1][7] = 'a description\nover two lines, with "quotes", and a comma'

    records = rewritten(write_csv(tmp_path / "d.csv", HEADER, rows))

    assert records == [
        [*row, key, "frr_1", "2026-02-01 03:00:00"]
        for row, key in zip(rows, ["2026-01-05"] * 3 + ["2026-01-06"] * 2, strict=True)
    ]


def test_buffer_boundaries_anywhere_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = activity_rows("2026-01-05", 40) + activity_rows("2026-01-06", 40)
    rows[7][7] = "a field\nover two lines"
    path = write_csv(tmp_path / "d.csv", HEADER, rows)
    whole = rewritten(path)

    for size in (1, 7, 97, 1000):
        monkeypatch.setattr(copy_stream, "BUFFER_BYTES", size)
        assert rewritten(path) == whole


def test_blank_lines_byte_order_mark_and_crlf_line_ends_are_read_as_every_path_reads_them(
    tmp_path: Path,
) -> None:
    rows = activity_rows("2026-01-05", 4)
    body = write_csv(tmp_path / "tmp.csv", HEADER, rows).read_text().split("\n")
    path = tmp_path / "d.csv"
    # A byte-order mark, a blank line between records and at the end, CRLF line ends, and no line end
    # after the last record.
    text = "\ufeff" + "\r\n".join([*body[:2], "", *body[2:-1]]).rstrip("\r\n")
    path.write_bytes(text.encode())

    assert [record[:8] for record in rewritten(path)] == rows


def test_date_split_columns_are_keyed_by_their_value(tmp_path: Path) -> None:
    rows = activity_rows("2026-01-05", 2)
    rows[0][6], rows[1][6] = "2026-01-06", "2026-01-05"
    spec = LoadSpec("activity", None, DAYS, "value_date")

    records = rewritten(write_csv(tmp_path / "d.csv", HEADER, rows), spec)

    assert [record[8] for record in records] == ["2026-01-06", "2026-01-05"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "12.3456"),  # PostgreSQL would round it into decimal(18,3) without a word
        ("amount", "NaN"),
        ("amount", "1e-4"),
        ("amount", "1_000"),
        ("created_utc", "2026-01-05T10:00:00Z"),  # another spelling of a timestamp
        ("created_utc", "2026-01-07 10:00:00"),  # outside every window
        ("created_utc", ""),
        ("description", "two,fields"),  # unquoted: one field too many
    ],
)
def test_a_record_it_cannot_vouch_for_goes_to_the_careful_path(
    tmp_path: Path, field: str, value: str
) -> None:
    rows = activity_rows("2026-01-05", 5)
    rows[3][HEADER.index(field)] = value
    path = tmp_path / "d.csv"
    lines = write_csv(tmp_path / "tmp.csv", HEADER, rows).read_text()
    path.write_text(lines.replace('"two,fields"', "two,fields"))

    with pytest.raises(NotStreamable):
        rewritten(path)


def test_decimals_with_trailing_zeros_past_the_scale_are_exact(tmp_path: Path) -> None:
    rows = activity_rows("2026-01-05", 3)
    rows[0][2], rows[1][2], rows[2][2] = "12.3400", "-0.5", "+7"

    assert [record[2] for record in rewritten(write_csv(tmp_path / "d.csv", HEADER, rows))] == [
        "12.3400",
        "-0.5",
        "+7",
    ]
