"""Downloading result files: streamed to disk, checked for completeness, placed atomically.

A report can be hundreds of megabytes, so the body is streamed to a temporary file next to the
destination and renamed into place only once its size matches both the ``size`` Stripe declares
for the File and the response's ``Content-Length``. A reader of ``dest`` therefore sees either
nothing or a complete file, never a truncated one that would load as a silently short table.

Where the bytes come from is a :class:`DownloadSource`: a v1 File (metadata and contents behind the
API key) or a ``/v2`` run's pre-signed link (see :mod:`pipelines.stripe.data_api`). The size check,
the per-attempt deadline, the retries and the atomic rename are the same for both.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote

import httpx

from pipelines.stripe.client import StripeClient
from pipelines.stripe.errors import DownloadError, InvalidRequestError
from pipelines.stripe.retries import RETRYABLE_TRANSPORT_ERRORS, Backoff
from pipelines.warehouse.errors import MalformedFileError
from pipelines.warehouse.scan import FileScan, FileScanner

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadedFile:
    """A file written completely at ``path``; ``size`` in bytes.

    ``scan`` is the scan of its bytes made while they arrived (``None`` when it found a problem, or
    the file was changed since): a load given it skips its own pass over the file.
    """

    path: Path
    size: int
    scan: FileScan | None = None


class IncompleteDownload(Exception):
    """One download attempt produced something other than the whole file; the next attempt may not.

    A :class:`DownloadSource` raises it to spend one attempt (a refused link it will refresh);
    the downloader raises it for short, long, broken or late bodies.
    """


class DownloadSource(Protocol):
    """Where the bytes of one file come from, attempt after attempt."""

    @property
    def id(self) -> str:
        """What :class:`~pipelines.stripe.errors.DownloadError` names (a file id, or a run id)."""
        ...

    @property
    def name(self) -> str:
        """How messages name the file, e.g. ``file file_1``."""
        ...

    def prepare(self) -> int | None:
        """Get ready for the next attempt and return the size Stripe declares, or ``None``.

        Called before every attempt, so a source can fetch its metadata once or refresh an expired
        link. Errors raised here end the download (they are not incomplete bodies).
        """
        ...

    def open(self) -> AbstractContextManager[httpx.Response]:
        """The streamed response of this attempt; may raise :class:`IncompleteDownload`."""
        ...


class _V1File:
    """A v1 File: its size from ``/v1/files/{id}``, its bytes from the files host, both with the key."""

    def __init__(self, client: StripeClient, file_id: str, stripe_account: str | None) -> None:
        self.id = file_id
        self.name = f"file {file_id}"
        self._client = client
        self._stripe_account = stripe_account
        self._meta: dict[str, object] | None = None

    def prepare(self) -> int | None:
        if self._meta is None:
            self._meta = self._client.request(
                "GET", f"/v1/files/{quote(self.id, safe='')}", stripe_account=self._stripe_account
            )
        declared = self._meta.get("size")
        return declared if isinstance(declared, int) and not isinstance(declared, bool) else None

    def open(self) -> AbstractContextManager[httpx.Response]:
        path = f"/v1/files/{quote(self.id, safe='')}/contents"
        return self._client.stream(path, base="files", stripe_account=self._stripe_account)


class FileDownloader:
    """Downloads Stripe files (report and query results) to local paths.

    :meth:`download` fetches a v1 File by id; :meth:`download_from` any :class:`DownloadSource`
    (the ``/v2`` runners pass their result links this way).

    ``attempts`` bounds how many times a body that arrives short, long, broken or too slowly is
    fetched again; errors opening the download (a bad key) are raised at once, after the client's
    own retries for transient statuses.

    Each attempt has a deadline scaled to the file's size: ``deadline_base`` seconds plus the time
    the file takes at ``min_bytes_per_second``. A connection that trickles (each read arriving just
    before the network timeout) would otherwise hold a run for as long as the server likes.
    """

    def __init__(
        self,
        client: StripeClient,
        attempts: int = 3,
        *,
        backoff: Backoff | None = None,
        deadline_base: float = 60.0,
        min_bytes_per_second: float = 256 * 1024,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._deadline_base = deadline_base
        self._min_rate = min_bytes_per_second
        self._client = client
        self._attempts = attempts
        self._backoff = backoff or client.backoff
        self._random = random.Random()

    def download(self, file_id: str, dest: Path, *, stripe_account: str | None = None) -> DownloadedFile:
        """Download file ``file_id`` to ``dest`` (replacing it) and return its path and size.

        ``stripe_account`` must be given for files produced by runs on a connected account. Raises
        :class:`~pipelines.stripe.errors.DownloadError` when every attempt came up incomplete;
        ``dest`` is then left as it was.
        """
        dest = Path(dest)
        try:
            return self.download_from(_V1File(self._client, file_id, stripe_account), dest)
        except InvalidRequestError as error:
            if error.http_status != 404:
                raise
            # A result file that is gone (its link expired, or Stripe dropped it) is not a mistake in
            # the request: a later attempt runs the job again and gets a new file.
            raise DownloadError(
                f"file {file_id} is no longer available at Stripe (HTTP 404: {error.message}); "
                "a new run of the Stripe job produces a new one",
                file_id=file_id,
                attempts=1,
                expected_size=None,
                http_status=404,
            ) from None

    def download_from(self, source: DownloadSource, dest: Path) -> DownloadedFile:
        """Download the file ``source`` describes to ``dest`` (replacing it), checked and placed whole.

        Each of the ``attempts`` calls ``source.prepare()`` for the declared size, then streams
        ``source.open()``; a body of the wrong size, a broken or late one, or an
        :class:`IncompleteDownload` from the source spends one attempt. Raises
        :class:`~pipelines.stripe.errors.DownloadError` (retryable) when none came up complete;
        ``dest`` is then left as it was.
        """
        dest = Path(dest)
        expected: int | None = None
        problem = ""
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                self._client.clock.sleep(self._backoff.delay(attempt - 1, jitter=self._random.random()))
            expected = source.prepare()
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                size, scan = self._attempt(source, dest, expected)
            except IncompleteDownload as incomplete:
                problem = str(incomplete)
                logger.warning(
                    "Download of Stripe %s incomplete (attempt %d of %d): %s",
                    source.name,
                    attempt,
                    self._attempts,
                    problem,
                )
                continue
            return DownloadedFile(path=dest, size=size, scan=scan)
        raise DownloadError(
            f"{source.name} could not be downloaded completely in {self._attempts} "
            f"attempt{'s' if self._attempts != 1 else ''}; last attempt: {problem}",
            file_id=source.id,
            attempts=self._attempts,
            expected_size=expected,
        )

    def _attempt(
        self, source: DownloadSource, dest: Path, expected: int | None
    ) -> tuple[int, FileScan | None]:
        handle, partial_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        partial = Path(partial_name)
        try:
            with os.fdopen(handle, "wb") as out:
                scan = _StreamScan(partial)
                received, content_length = self._receive(source, out, expected, scan)
                if content_length is not None and received != content_length:
                    raise IncompleteDownload(
                        f"received {received} bytes, Content-Length said {content_length}"
                    )
                if expected is not None and received != expected:
                    raise IncompleteDownload(
                        f"received {received} bytes, Stripe declared the file as {expected} bytes"
                    )
                out.flush()
                os.fsync(out.fileno())
            # Finished before the move: naming a malformed record's line reads the partial file.
            result = scan.result()
            os.replace(partial, dest)
            return received, result
        finally:
            partial.unlink(missing_ok=True)

    def _receive(
        self, source: DownloadSource, out: BinaryIO, expected: int | None, scan: _StreamScan
    ) -> tuple[int, int | None]:
        received = 0
        clock = self._client.clock
        started = clock.monotonic()
        with source.open() as response:
            content_length = _content_length(response)
            size = expected if expected is not None else content_length
            deadline = self._deadline_base + (size or 0) / self._min_rate
            try:
                # Each network read as it arrives, so the deadline is checked however slow the drip.
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    received += len(chunk)
                    # Scanned while the next bytes travel, so the load need not read the file again.
                    scan.feed(chunk)
                    if expected is not None and received > expected:
                        raise IncompleteDownload(f"received more than the {expected} bytes Stripe declared")
                    if clock.monotonic() - started > deadline:
                        raise IncompleteDownload(
                            f"only {received} of {size if size is not None else '?'} bytes arrived in "
                            f"{deadline:.0f} s (the deadline for a file of this size)"
                        )
            except RETRYABLE_TRANSPORT_ERRORS as exc:
                raise IncompleteDownload(
                    f"connection broke after {received} bytes: {exc or type(exc).__name__}"
                ) from exc
        return received, content_length


class _StreamScan:
    """The scan of one attempt's bytes as they arrive, in buffers of 1 MiB (all but the last are
    scanned before the body ends).

    A malformed file is the loader's to report (it scans the file itself, naming line and offset in
    the file placed at dest), so on one the stream's scan stops and gives no result.
    """

    def __init__(self, partial: Path) -> None:
        self._scanner: FileScanner | None = FileScanner(partial, chunk_bytes=1 << 20)

    def feed(self, chunk: bytes) -> None:
        if self._scanner is None:
            return
        try:
            self._scanner.feed(chunk)
        except MalformedFileError:
            self._scanner = None

    def result(self) -> FileScan | None:
        if self._scanner is None:
            return None
        try:
            return self._scanner.finish()
        except MalformedFileError:
            return None


def _content_length(response: httpx.Response) -> int | None:
    # With a content encoding the header counts encoded bytes, not the bytes written.
    if response.headers.get("Content-Encoding", "identity") != "identity":
        return None
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None
