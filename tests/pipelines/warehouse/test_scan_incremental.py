"""The scan fed a download's stream in pieces finds what the one-shot scan of the file finds."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pipelines.warehouse.errors import MalformedFileError
from pipelines.warehouse.scan import FileScan, FileScanner, scan_file

SHAPES = {
    "plain": b"id,name\n1,a\n2,b\n",
    "no final line end": b"id,name\n1,a\n2,b",
    "crlf": b"id,name\r\n1,a\r\n2,b\r\n",
    "bom": b'\xef\xbb\xbf"id",name\n1,a\n',
    "quoted newlines and doubled quotes": b'id,note\n1,"a\nb ""c"" d"\n2,"x,y"\r\n3,""\n',
    "end marker": b"id\n1\n\\.\n2\n\\.",
    "end marker crlf": b"id\r\n\\.\r\n3\r\n",
    "quoted end marker": b'id\n"\\.\n"\n4\n',
    "blank lines": b"id,name\n\n1,a\r\n\r\n2,b\n\n",
    "header only": b"id,name\n",
    "empty": b"",
    "quote inside unquoted field": b'id,name\n1,a"b\n',
    "text after closing quote": b'id,name\n1,"a"b\n2,c\n',
    "closing quote at the end": b'id,name\n1,"a"',
    "unterminated quote": b'id,name\n1,"a\n2,b\n',
}


def _outcome(run) -> FileScan | str:
    try:
        return run()
    except MalformedFileError as error:
        return f"MalformedFileError: {error}"


def _fed(path: Path, data: bytes, cuts: list[int], chunk_bytes: int) -> FileScan | str:
    def run() -> FileScan:
        scanner = FileScanner(path, chunk_bytes=chunk_bytes)
        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
            scanner.feed(data[start:end])
        return scanner.finish()

    return _outcome(run)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_any_split_of_the_stream_scans_like_the_file(tmp_path: Path, shape: str) -> None:
    data = SHAPES[shape]
    path = tmp_path / "report.csv"
    path.write_bytes(data)
    expected = _outcome(lambda: scan_file(path))
    generator = random.Random(shape)
    # Every single split point, then random multi-way splits with buffers of every small size.
    for cut in range(len(data) + 1):
        for chunk_bytes in (1, 3, 5):
            assert _fed(path, data, [cut], chunk_bytes) == expected, (cut, chunk_bytes)
    for _ in range(200):
        cuts = sorted(generator.sample(range(len(data) + 1), k=min(len(data), generator.randint(1, 8))))
        assert _fed(path, data, cuts, generator.randint(1, 16)) == expected, cuts


def test_a_generated_report_scans_alike_in_network_sized_pieces(tmp_path: Path) -> None:
    generator = random.Random(7)
    rows = [b"id,description,amount"]
    for index in range(5000):
        kind = generator.randrange(5)
        text = {
            0: b"plain",
            1: b'"with, comma"',
            2: b'"two\nlines ""quoted"""',
            3: b"",
            4: b'"\\."',
        }[kind]
        rows.append(b"%d,%s,%d" % (index, text, generator.randrange(10**6)))
    data = b"\r\n".join(rows) + b"\r\n"
    path = tmp_path / "report.csv"
    path.write_bytes(data)
    expected = scan_file(path)
    assert expected.records == 5000
    cuts = sorted(generator.sample(range(len(data)), k=300))
    assert _fed(path, data, cuts, 4096) == expected


def test_a_problem_names_the_same_line_and_offset_as_the_file_scan(tmp_path: Path) -> None:
    data = b'id,name\n1,a\n2,"b"\n3,c"d\n'
    path = tmp_path / "report.csv"
    path.write_bytes(data)
    with pytest.raises(MalformedFileError) as one_shot:
        scan_file(path)
    assert "line 4" in str(one_shot.value)
    assert _fed(path, data, [5, 19, 20], 2) == f"MalformedFileError: {one_shot.value}"
