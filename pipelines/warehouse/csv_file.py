"""Reading a CSV file as a stream of records, with the physical line each one starts on.

The project's one CSV reader: a file's header (:func:`read_header`, a byte-order mark stripped),
a field of its first record (:meth:`CsvFile.first_value`) and its typed rows. The portable load
path parses files here, and the native paths come here to explain a file their database rejected:
the same rules and the same wording (file, line, reason) on every database.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipelines.warehouse.errors import MalformedFileError
from pipelines.warehouse.identifiers import check_identifier

Parser = Callable[[str], Any]

#: The longest record the loader accepts, in bytes. DuckDB reads a record only within one buffer, and
#: the loader's buffers must fit its bounded memory (see duckdb_load.py); 8 MB is four times DuckDB's
#: default and far beyond any Stripe report's record. A longer record is refused on every database
#: (by the scan, scan.py).
MAX_RECORD_BYTES = 8 * 1024 * 1024

# Python's csv module refuses fields over 128 KB by default; the loader's own limit is the record's.
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_BYTES))


def read_header(path: Path | str) -> tuple[str, ...]:
    """The column names of a CSV file, in file order: its first record, a UTF-8 byte-order mark stripped.

    The one header reader of the project: every name must be a plain identifier (IdentifierError
    otherwise) and appear once, and an empty file has no header (MalformedFileError).
    """
    path = Path(path)
    for _, record in _records(path):
        header = tuple(record)
        break
    else:
        raise MalformedFileError(path, 1, "the file is empty; a header row naming the columns is expected")
    for name in header:
        check_identifier(name, f"column name in the header of {path.name}")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise MalformedFileError(path, 1, f"column {name} appears twice in the header")
        seen.add(name)
    return header


def rename_header(path: Path | str, renames: Mapping[str, str]) -> None:
    """Rename columns in the header of a CSV file (``renames``: old name -> new), records untouched.

    For columns whose names at the source are not identifiers (Stripe's ``payment_metadata[key]``):
    the header is rewritten and the records are copied after it byte for byte, through a file
    beside ``path`` that then replaces it. Raises MalformedFileError for an empty file or a header
    spanning lines.
    """
    path = Path(path)
    staging = path.with_name(path.name + ".header")
    with path.open("rb") as source:
        first = source.readline()
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise MalformedFileError(path, 1, "the header is not valid UTF-8") from None
        ending = text[len(text.rstrip("\r\n")) :]
        try:
            records = list(csv.reader([text.rstrip("\r\n")], strict=True)) if text.strip() else []
        except csv.Error:
            raise MalformedFileError(path, 1, "the header does not end on its first line") from None
        if len(records) != 1:
            raise MalformedFileError(
                path, 1, "the file is empty; a header row naming the columns is expected"
            )
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=ending).writerow([renames.get(name, name) for name in records[0]])
        try:
            with staging.open("wb") as out:
                out.write(buffer.getvalue().encode("utf-8"))
                shutil.copyfileobj(source, out, _COPY_CHUNK)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
    os.replace(staging, path)


_COPY_CHUNK = 1024 * 1024


class CsvFile:
    """A UTF-8 CSV file (RFC 4180 quoting) whose first row names the columns (see :func:`read_header`).

    Empty fields are NULL. Blank lines are skipped, as DuckDB does.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self.header = read_header(self.path)

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """The data records (not the header) with the line each starts on; blank lines skipped."""
        records = _records(self.path)
        next(records, None)
        for line, record in records:
            if record:
                yield line, record

    def first_value(self, column: str) -> str | None:
        """``column``'s field in the first data record, as text; None when the file has no such column,
        no data record, or an empty field there (empty fields are NULL).

        Raises MalformedFileError if that record does not have as many fields as the header.
        """
        if column not in self.header:
            return None
        for line, record in self.records():
            if len(record) != len(self.header):
                raise MalformedFileError(
                    self.path,
                    line,
                    f"expected {len(self.header)} fields (as in the header), found {len(record)}",
                )
            return record[self.header.index(column)] or None
        return None

    def rows(self, parsers: Sequence[Parser | None]) -> Iterator[tuple[int, list[Any]]]:
        """Typed rows: each field parsed by its column's parser (None keeps the text), empty fields NULL.

        Raises MalformedFileError at the first record with the wrong number of fields or a value
        its column's parser rejects.
        """
        width = len(self.header)
        columns = list(zip(self.header, parsers, strict=True))
        for line, record in self.records():
            if len(record) != width:
                raise MalformedFileError(
                    self.path, line, f"expected {width} fields (as in the header), found {len(record)}"
                )
            values: list[Any] = []
            for (name, parse), field in zip(columns, record, strict=True):
                if field == "":
                    values.append(None)
                elif parse is None:
                    values.append(field)
                else:
                    try:
                        values.append(parse(field))
                    except ValueError as error:
                        raise MalformedFileError(self.path, line, f"column {name}: {error}") from None
            yield line, values

    def find_error(self, parsers: Sequence[Parser | None]) -> MalformedFileError | None:
        """The first problem in the file under these parsers, or None if every row parses."""
        try:
            for _ in self.rows(parsers):
                pass
        except MalformedFileError as error:
            return error
        return None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    # Decoding line by line (rather than through a text wrapper) pins an encoding error to its line
    # and its byte.
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                # utf-8-sig counts from after the byte-order mark it strips.
                skipped = len(raw) - len(error.object)
                bad = error.object[error.start]
                problem = MalformedFileError(
                    path, number, f"not valid UTF-8 (byte {bad:#04x})", offset=offset + skipped + error.start
                )
            else:
                offset += len(raw)
                yield number, text
                continue
            raise problem from None


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Every record of the file, header included, with the line it starts on."""
    last_line = 0  # the last line the csv reader has consumed

    def lines() -> Iterator[str]:
        nonlocal last_line
        for number, text in _lines(path):
            last_line = number
            yield text

    reader = csv.reader(lines(), strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise MalformedFileError(path, start, _reason(error)) from None
        yield start, record
        start = last_line + 1


def _reason(error: csv.Error) -> str:
    message = str(error)
    if "unexpected end of data" in message:
        return "unterminated quoted field (a quote opened here is never closed)"
    return f"bad CSV quoting ({message})"
