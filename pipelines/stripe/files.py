"""Downloading result files: streamed to disk, checked for completeness, placed atomically.

A report can be hundreds of megabytes, so the body is streamed to a temporary file next to the
destination and renamed into place only once its size matches both the ``size`` Stripe declares
for the File and the response's ``Content-Length``. A reader of ``dest`` therefore sees either
nothing or a complete file, never a truncated one that would load as a silently short table.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import httpx

from pipelines.stripe.client import StripeClient
from pipelines.stripe.errors import DownloadError, InvalidRequestError
from pipelines.stripe.retries import RETRYABLE_TRANSPORT_ERRORS, Backoff

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadedFile:
    """A file written completely at ``path``; ``size`` in bytes."""

    path: Path
    size: int


class _Incomplete(Exception):
    """One download attempt produced something other than the whole file."""


class FileDownloader:
    """Downloads Stripe files (report and query results) to local paths.

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
            return self._download(file_id, dest, stripe_account)
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

    def _download(self, file_id: str, dest: Path, stripe_account: str | None) -> DownloadedFile:
        meta = self._client.request(
            "GET", f"/v1/files/{quote(file_id, safe='')}", stripe_account=stripe_account
        )
        declared = meta.get("size")
        expected = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
        dest.parent.mkdir(parents=True, exist_ok=True)

        problem = ""
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                self._client.clock.sleep(self._backoff.delay(attempt - 1, jitter=self._random.random()))
            try:
                size = self._attempt(file_id, dest, expected, stripe_account)
            except _Incomplete as incomplete:
                problem = str(incomplete)
                logger.warning(
                    "Download of Stripe file %s incomplete (attempt %d of %d): %s",
                    file_id,
                    attempt,
                    self._attempts,
                    problem,
                )
                continue
            return DownloadedFile(path=dest, size=size)
        raise DownloadError(
            f"file {file_id} could not be downloaded completely in {self._attempts} "
            f"attempt{'s' if self._attempts != 1 else ''}; last attempt: {problem}",
            file_id=file_id,
            attempts=self._attempts,
            expected_size=expected,
        )

    def _attempt(self, file_id: str, dest: Path, expected: int | None, stripe_account: str | None) -> int:
        handle, partial_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        partial = Path(partial_name)
        try:
            with os.fdopen(handle, "wb") as out:
                received, content_length = self._receive(file_id, out, expected, stripe_account)
                if content_length is not None and received != content_length:
                    raise _Incomplete(f"received {received} bytes, Content-Length said {content_length}")
                if expected is not None and received != expected:
                    raise _Incomplete(
                        f"received {received} bytes, Stripe declared the file as {expected} bytes"
                    )
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, dest)
            return received
        finally:
            partial.unlink(missing_ok=True)

    def _receive(
        self, file_id: str, out: BinaryIO, expected: int | None, stripe_account: str | None
    ) -> tuple[int, int | None]:
        received = 0
        path = f"/v1/files/{quote(file_id, safe='')}/contents"
        clock = self._client.clock
        started = clock.monotonic()
        with self._client.stream(path, base="files", stripe_account=stripe_account) as response:
            content_length = _content_length(response)
            size = expected if expected is not None else content_length
            deadline = self._deadline_base + (size or 0) / self._min_rate
            try:
                # Each network read as it arrives, so the deadline is checked however slow the drip.
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    received += len(chunk)
                    if expected is not None and received > expected:
                        raise _Incomplete(f"received more than the {expected} bytes Stripe declared")
                    if clock.monotonic() - started > deadline:
                        raise _Incomplete(
                            f"only {received} of {size if size is not None else '?'} bytes arrived in "
                            f"{deadline:.0f} s (the deadline for a file of this size)"
                        )
            except RETRYABLE_TRANSPORT_ERRORS as exc:
                raise _Incomplete(
                    f"connection broke after {received} bytes: {exc or type(exc).__name__}"
                ) from exc
        return received, content_length


def _content_length(response: httpx.Response) -> int | None:
    # With a content encoding the header counts encoded bytes, not the bytes written.
    if response.headers.get("Content-Encoding", "identity") != "identity":
        return None
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None
