r"""A CSV file rewritten on its way to PostgreSQL's ``COPY``, so it can go straight into the target.

Each record leaves with its window key and the load's constant columns appended as extra fields
(``...,2026-01-05,"frr_1","2026-02-01 03:00:00",...``): the server reads the file once, into the
table, with no staging copy. The rewriting works on whole buffers with numpy (quotes, delimiters
and line ends found by vectorised comparisons, as in ``scan.py``); only records whose reading is
beyond doubt are rewritten:

* the split column, when there is one, holds ``YYYY-MM-DD HH:MM:SS`` timestamps or ``YYYY-MM-DD``
  dates, unquoted, and every record falls in a window;
* every decimal field is plain digits with at most one point and no non-zero digit past the
  column's scale (PostgreSQL would round ``12.34567`` into ``numeric(18,3)`` without a word, and
  read ``NaN``);
* every record has as many fields as the header.

Anything else raises :class:`NotStreamable`, and the caller loads the file the careful way (a
staging table checked before the insert), with that path's verdicts and messages. Blank lines
are left out and every record ends in ``\n``, so COPY's own rules (an end-of-data marker ``\.``,
blank lines refused, line ends all alike) never come into play.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np

from pipelines.warehouse.partitioning import SplitRule

#: Bytes read per buffer: small enough that the index arrays built over a buffer stay a few MB.
BUFFER_BYTES = 2 * 1024 * 1024
_QUOTE, _COMMA, _LF, _CR = ord('"'), ord(","), ord("\n"), ord("\r")
_ZERO, _NINE, _DOT, _MINUS, _PLUS = ord("0"), ord("9"), ord("."), ord("-"), ord("+")
_BOM = b"\xef\xbb\xbf"
_TIMESTAMP_WIDTH, _DATE_WIDTH = 19, 10
_WIDEST_DECIMAL = 48  # longer decimal text (padding zeros, say) is left to the careful path
_TIMESTAMP_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_TIMESTAMP_MARKS = {4: ord("-"), 7: ord("-"), 10: ord(" "), 13: ord(":"), 16: ord(":")}
_DATE_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9]
_DATE_MARKS = {4: ord("-"), 7: ord("-")}

Fields = tuple[np.ndarray, np.ndarray]
"""Where one column's field starts and ends (exclusive) in each record of a buffer."""


class NotStreamable(Exception):
    """The file (or one of its records) needs the careful path; the reason is for logs only and
    never holds file contents."""


@dataclass(frozen=True)
class StreamLayout:
    """What the rewriting needs to know of a load: the header's width, where the split and decimal
    fields are, how rows map to windows, and the text appended to every record after its key."""

    width: int
    split: SplitRule
    split_index: int | None
    decimals: Mapping[int, int]  # field index -> scale
    constants: bytes  # ",<csv field>,..." in the COPY column order after the window key


def csv_field(text: str | None) -> bytes:
    """``text`` as one CSV field for COPY: quoted (inner quotes doubled), or empty for NULL."""
    if text is None:
        return b""
    return b'"' + text.replace('"', '""').encode() + b'"'


def streamable(split: SplitRule) -> str | None:
    """Why rows of this split rule cannot be keyed on the way (None: they can)."""
    if split.mode == "range":
        if any(_has_fraction(start) or _has_fraction(end) for start, end, _ in split.bounds):
            return "window bounds with fractions of a second"
        return None
    if split.mode == "value" and not all(_is_date_key(value) for value, _ in split.values):
        return "a text split column"
    return None


def _has_fraction(moment: datetime) -> bool:
    return moment.microsecond != 0


def _is_date_key(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


class CopyStream:
    """The rewritten bytes of one file (:meth:`chunks`), and what they held (``records``, ``rows``)."""

    def __init__(self, path: Path, layout: StreamLayout) -> None:
        self.path = path
        self.layout = layout
        self.records = 0
        self.rows: dict[str, int] = {key: 0 for key in layout.split.keys}
        keys = list(layout.split.keys)
        self._keys = keys
        self._suffixes = [b"," + csv_field(key) + layout.constants + b"\n" for key in keys]
        self._bounds = self._bound_arrays()

    def _bound_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        split = self.layout.split
        if split.mode == "range":
            starts = np.array([f"{start:%Y-%m-%d %H:%M:%S}".encode() for start, _, _ in split.bounds])
            ends = np.array([f"{end:%Y-%m-%d %H:%M:%S}".encode() for _, end, _ in split.bounds])
            keys = np.array([self._keys.index(key) for _, _, key in split.bounds])
            return starts, ends, keys
        if split.mode == "value":
            pairs = sorted(
                (f"{value:%Y-%m-%d}".encode(), self._keys.index(key)) for value, key in split.values
            )
            values = np.array([value for value, _ in pairs])
            return values, values, np.array([key for _, key in pairs])
        return None

    def chunks(self) -> Iterator[bytes]:
        """The file's records, rewritten, in buffers of about :data:`BUFFER_BYTES`.

        Raises NotStreamable at the first record the rewriting cannot vouch for.
        """
        with self.path.open("rb") as handle:
            carry = handle.read(len(_BOM))
            if carry == _BOM:
                carry = b""
            header_done = False
            while True:
                data = handle.read(BUFFER_BYTES)
                at_end = not data
                buffer = carry + data
                if not buffer:
                    return
                array = np.frombuffer(buffer, dtype=np.uint8)
                quotes = np.flatnonzero(array == _QUOTE)
                newlines = np.flatnonzero(array == _LF)
                ends = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
                if at_end and (not len(ends) or ends[-1] != len(array) - 1):
                    if len(quotes) & 1:
                        raise NotStreamable("a quoted field is never closed")
                    ends = np.append(ends, len(array))  # the last record has no line end
                if not len(ends):
                    carry = buffer  # a record longer than the buffer: read on
                    continue
                begin = 0
                if not header_done:
                    begin = int(ends[0]) + 1
                    ends = ends[1:]
                    header_done = True
                complete = int(ends[-1]) + 1 if len(ends) else begin
                if len(ends):
                    out = self._rewrite(buffer, array, (quotes, newlines), begin, ends)
                    if out:
                        yield out
                carry = buffer[complete:]
                if at_end:
                    return

    def _rewrite(
        self,
        buffer: bytes,
        array: np.ndarray,
        marks: tuple[np.ndarray, np.ndarray],
        begin: int,
        ends: np.ndarray,
    ) -> bytes:
        """The complete records of ``buffer`` from ``begin`` (``ends``: their line ends), rewritten.
        ``marks``: where the buffer's quotes and LFs are."""
        quotes, newlines = marks
        layout = self.layout
        starts = np.empty_like(ends)
        starts[0] = begin
        starts[1:] = ends[:-1] + 1
        last = len(array) - 1
        before = array[np.clip(ends - 1, 0, last)]
        stops = ends - ((ends > starts) & (before == _CR))  # content ends before a CR LF
        keep = stops > starts  # blank lines are no records
        starts, stops = starts[keep], stops[keep]
        if not len(starts):
            return b""
        commas = np.flatnonzero(array == _COMMA)
        commas = commas[(np.searchsorted(quotes, commas) & 1) == 0]
        first = np.searchsorted(commas, starts)
        if not np.array_equal(np.searchsorted(commas, stops) - first, np.full(len(starts), layout.width - 1)):
            raise NotStreamable("a record without as many fields as the header")

        def field(index: int) -> Fields:
            begin = starts if index == 0 else commas[first + index - 1] + 1
            end = stops if index == layout.width - 1 else commas[first + index]
            return begin, end

        if layout.decimals:
            # Every decimal field of the buffer at once, each with its column's scale.
            spans = [field(index) for index in layout.decimals]
            scales = np.repeat(np.array(list(layout.decimals.values())), len(starts))
            self._check_decimals(
                array, np.concatenate([b for b, _ in spans]), np.concatenate([e for _, e in spans]), scales
            )
        keys = self._window_keys(array, field, len(starts))
        self.records += len(starts)
        for index, count in zip(*np.unique(keys, return_counts=True), strict=True):
            self.rows[self._keys[int(index)]] += int(count)
        return self._assemble(buffer, (starts, stops), keys, newlines)

    def _window_keys(self, array: np.ndarray, field: Callable[[int], Fields], count: int) -> np.ndarray:
        """Each record's window, as an index into the keys."""
        layout = self.layout
        if layout.split_index is None or self._bounds is None:
            return np.zeros(count, dtype=np.int64)
        begin, end = field(layout.split_index)
        width = _TIMESTAMP_WIDTH if layout.split.mode == "range" else _DATE_WIDTH
        if not np.all(end - begin == width):
            raise NotStreamable("a split value that is not a plain timestamp or date")
        text = array[begin[:, None] + np.arange(width)]
        digits, marks = (
            (_TIMESTAMP_DIGITS, _TIMESTAMP_MARKS)
            if width == _TIMESTAMP_WIDTH
            else (_DATE_DIGITS, _DATE_MARKS)
        )
        shaped = np.all((text[:, digits] >= _ZERO) & (text[:, digits] <= _NINE), axis=1)
        for position, mark in marks.items():
            shaped &= text[:, position] == mark
        if not shaped.all():
            raise NotStreamable("a split value that is not a plain timestamp or date")
        values = np.ascontiguousarray(text).view(f"S{width}").ravel()
        starts, ends, keys = self._bounds
        if layout.split.mode == "range":
            # Fixed-width ISO text sorts as time does, so bytes compare as the timestamps would.
            slot = np.searchsorted(starts, values, side="right") - 1
            inside = (slot >= 0) & (values < ends[np.maximum(slot, 0)])
        else:
            slot = np.minimum(np.searchsorted(starts, values), len(starts) - 1)
            inside = starts[slot] == values
        if not inside.all():
            raise NotStreamable("a record outside every window")
        return keys[slot]

    @staticmethod
    def _check_decimals(array: np.ndarray, begin: np.ndarray, end: np.ndarray, scale: np.ndarray) -> None:
        lengths = end - begin
        present = lengths > 0
        if not present.any():
            return
        begin, lengths, scale = begin[present], lengths[present], scale[present]
        width = int(lengths.max())
        if width > _WIDEST_DECIMAL:
            raise NotStreamable("a decimal longer than the quick check reads")
        columns = np.arange(width)
        valid = columns < lengths[:, None]
        text = array[np.minimum(begin[:, None] + columns, len(array) - 1)]
        digit = (text >= _ZERO) & (text <= _NINE) & valid
        dot = (text == _DOT) & valid
        sign = ((text == _MINUS) | (text == _PLUS)) & valid & (columns == 0)
        dots = dot.sum(axis=1)
        plain = np.all(digit | dot | sign | ~valid, axis=1) & (dots <= 1) & digit.any(axis=1)
        point = np.where(dots == 1, dot.argmax(axis=1), lengths)
        # A digit past the column's places that is not 0 would be rounded away.
        rounded = np.any(digit & (text != _ZERO) & (columns > (point + scale)[:, None]), axis=1)
        if not plain.all() or rounded.any():
            raise NotStreamable("a decimal the quick check cannot vouch for")

    def _assemble(self, buffer: bytes, records: Fields, keys: np.ndarray, newlines: np.ndarray) -> bytes:
        """Each record's content (``records``: where it starts and stops, before any CR), followed by
        its suffix, which carries the line end.

        Where records follow each other with a bare LF, hold no line end of their own and share a
        window, the run is one ``bytes.replace`` of its LFs; elsewhere one slice per record
        (a record is hundreds of bytes, so even that costs less than numpy's masked copies)."""
        starts, stops = records
        inner = np.searchsorted(newlines, stops) - np.searchsorted(newlines, starts)
        plain = (inner == 0) & (stops < len(buffer))
        plain[plain] = np.frombuffer(buffer, dtype=np.uint8)[stops[plain]] == _LF
        joined = np.ones(len(starts), dtype=bool)  # the record continues the run before it
        joined[0] = False
        joined[1:] = (starts[1:] == stops[:-1] + 1) & (keys[1:] == keys[:-1]) & plain[1:] & plain[:-1]
        view = memoryview(buffer)
        suffixes = self._suffixes
        pieces: list[bytes | memoryview] = []
        runs = [*np.flatnonzero(~joined).tolist(), len(starts)]
        begins, stops_list, key_list, plain_list = (
            starts.tolist(),
            stops.tolist(),
            keys.tolist(),
            plain.tolist(),
        )
        for first, after in itertools.pairwise(runs):
            if plain_list[first] and after - first > 1:
                run = view[begins[first] : stops_list[after - 1] + 1]
                pieces.append(bytes(run).replace(b"\n", suffixes[key_list[first]]))
                continue
            for index in range(first, after):
                pieces.append(view[begins[index] : stops_list[index]])
                pieces.append(suffixes[key_list[index]])
        return b"".join(pieces)


def layout_for(
    header: Sequence[str],
    split: SplitRule,
    decimals: Mapping[str, int],
    constants: bytes,
) -> StreamLayout:
    """The :class:`StreamLayout` of a file with ``header``; ``decimals``: decimal column -> scale."""
    index = {name: position for position, name in enumerate(header)}
    return StreamLayout(
        width=len(header),
        split=split,
        split_index=index[split.column] if split.column is not None else None,
        decimals={index[name]: scale for name, scale in decimals.items()},
        constants=constants,
    )


_DONE = object()


@contextmanager
def prefetched(items: Iterable[bytes], depth: int = 4) -> Iterator[Iterator[bytes]]:
    """``items`` produced by a thread of their own, up to ``depth`` ahead of the consumer: the file
    is rewritten while the server reads the previous buffer. An error of the producer is raised
    to the consumer at the point it happened; leaving the block early stops the producer."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as error:  # handed over to the consumer, raised there
            put(error)
            return
        put(_DONE)

    def consume() -> Iterator[bytes]:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item

    producer = threading.Thread(target=produce, name="copy-stream", daemon=True)
    producer.start()
    try:
        yield consume()
    finally:
        stop.set()
        producer.join()
