"""The one CSV reader: a file's header (a byte-order mark is not part of the first name) and a field
of its first record, read by the same rules the loader loads by."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import CsvFile, IdentifierError, MalformedFileError, read_header

from .support import write_csv

BOM = b"\xef\xbb\xbf"


def test_a_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(BOM + b"id,created_utc\r\nx,2026-01-05 01:00:00\r\n")

    assert read_header(path) == ("id", "created_utc")
    assert read_header(str(path)) == ("id", "created_utc")
    assert CsvFile(path).header == ("id", "created_utc")


def test_the_header_is_read_by_the_loaders_rules(tmp_path: Path) -> None:
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"id","net"\n"a","1"\n')
    assert read_header(quoted) == ("id", "net")

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(MalformedFileError, match="empty"):
        read_header(empty)
    with pytest.raises(MalformedFileError, match="twice"):
        read_header(write_csv(tmp_path / "dup.csv", ["id", "id"], []))
    with pytest.raises(IdentifierError, match=r"bad\.csv"):
        read_header(write_csv(tmp_path / "bad.csv", ["id", "Net Amount"], []))
    # A mark anywhere but at the very start is not stripped: the name is not an identifier.
    inner = tmp_path / "inner.csv"
    inner.write_bytes(b"id," + BOM + b"net\n")
    with pytest.raises(IdentifierError):
        read_header(inner)


def test_first_value(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "sigma.csv",
        ["day", "data_load_time", "note"],
        [["2026-01-05", "2026-01-06 03:00:00", ""], ["2026-01-06", "later", "x"]],
    )
    csv_file = CsvFile(path)

    assert csv_file.first_value("data_load_time") == "2026-01-06 03:00:00"
    assert csv_file.first_value("day") == "2026-01-05"
    assert csv_file.first_value("note") is None  # an empty field is NULL
    assert csv_file.first_value("absent") is None
    assert (
        CsvFile(write_csv(tmp_path / "header_only.csv", ["data_load_time"], [])).first_value("data_load_time")
        is None
    )


def test_first_value_of_a_file_with_a_byte_order_mark_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(BOM + b"data_load_time,n\r\n\r\n2026-01-06 03:00:00,1\r\n")

    assert CsvFile(path).first_value("data_load_time") == "2026-01-06 03:00:00"


def test_first_value_of_a_short_record_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("day,data_load_time\n2026-01-05\n")

    with pytest.raises(MalformedFileError) as caught:
        CsvFile(path).first_value("data_load_time")

    assert caught.value.line == 2
