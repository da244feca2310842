"""Downloading result files: complete files only, retried when short, never left half-written."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pipelines.stripe import FileDownloader
from pipelines.stripe.errors import DownloadError
from pipelines.warehouse.scan import scan_file

FILE_ID = "file_1Abc"
CONTENT = b"id,amount,currency\n" + b"".join(
    f"txn_{i:06d},{i * 7 % 10_000},usd\n".encode() for i in range(20_000)
)
CONTENT_SIZE = len(CONTENT)


class BrokenStream(httpx.SyncByteStream):
    """A body that stops with a network error after ``cut`` bytes."""

    def __init__(self, body: bytes, cut: int) -> None:
        self._body = body
        self._cut = cut

    def __iter__(self) -> Iterator[bytes]:
        yield self._body[: self._cut]
        raise httpx.ReadError("connection reset by peer")


def file_server(respond, error, *attempts, declared_size=CONTENT_SIZE):
    """File metadata, and contents per attempt: full, short, lying_length, broken or long."""
    state = {"requests": [], "contents": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        state["requests"].append(request)
        path = request.url.path
        if path == f"/v1/files/{FILE_ID}":
            return respond(
                200,
                {
                    "id": FILE_ID,
                    "object": "file",
                    "size": declared_size,
                    "purpose": "finance_report_run",
                    "url": f"https://files.stripe.test/v1/files/{FILE_ID}/contents",
                },
            )
        if path == f"/v1/files/{FILE_ID}/contents":
            kind = attempts[min(state["contents"], len(attempts) - 1)]
            state["contents"] += 1
            half = len(CONTENT) // 2
            if kind == "full":
                return httpx.Response(200, content=CONTENT)
            if kind == "short":
                return httpx.Response(200, content=CONTENT[:half])
            if kind == "lying_length":
                return httpx.Response(
                    200, content=CONTENT[:half], headers={"Content-Length": str(len(CONTENT))}
                )
            if kind == "long":
                return httpx.Response(200, content=CONTENT + CONTENT[:100])
            if kind == "broken":
                return httpx.Response(200, stream=BrokenStream(CONTENT, half))
        return error(
            404, f"No such file upload: '{path.split('/')[3]}'", code="resource_missing", param="file"
        )

    return handler, state


def _downloader(make_client, handler, **kwargs):
    return FileDownloader(make_client(handler), **kwargs)


def test_a_file_is_downloaded_whole_and_nothing_else_is_left(make_client, respond, error, tmp_path):
    handler, state = file_server(respond, error, "full")
    dest = tmp_path / "out" / "report.csv"

    downloaded = _downloader(make_client, handler).download(FILE_ID, dest)

    assert downloaded.path == dest
    assert downloaded.size == len(CONTENT)
    assert dest.read_bytes() == CONTENT
    assert list(dest.parent.iterdir()) == [dest]
    metadata, contents = state["requests"]
    assert metadata.url.host == "api.stripe.test"
    assert contents.url.host == "files.stripe.test"


@pytest.mark.parametrize("first_attempt", ["short", "lying_length", "broken", "long"])
def test_an_incomplete_body_is_fetched_again(make_client, respond, error, tmp_path, clock, first_attempt):
    handler, state = file_server(respond, error, first_attempt, "full")
    dest = tmp_path / "report.csv"

    downloaded = _downloader(make_client, handler).download(FILE_ID, dest)

    assert dest.read_bytes() == CONTENT
    assert downloaded.size == len(CONTENT)
    assert state["contents"] == 2
    assert len(clock.sleeps) == 1
    assert list(tmp_path.iterdir()) == [dest]


@pytest.mark.parametrize("every_attempt", ["short", "broken"])
def test_repeated_truncation_raises_and_leaves_no_file(make_client, respond, error, tmp_path, every_attempt):
    handler, state = file_server(respond, error, every_attempt)
    dest = tmp_path / "report.csv"

    with pytest.raises(DownloadError) as caught:
        _downloader(make_client, handler, attempts=3).download(FILE_ID, dest)

    assert state["contents"] == 3
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []
    assert caught.value.file_id == FILE_ID
    assert caught.value.attempts == 3
    assert caught.value.expected_size == len(CONTENT)
    assert FILE_ID in str(caught.value)


def test_a_failed_download_keeps_the_previous_file(make_client, respond, error, tmp_path):
    handler, _ = file_server(respond, error, "short")
    dest = tmp_path / "report.csv"
    dest.write_bytes(b"yesterday's complete file\n")

    with pytest.raises(DownloadError):
        _downloader(make_client, handler, attempts=2).download(FILE_ID, dest)

    assert dest.read_bytes() == b"yesterday's complete file\n"


def test_the_declared_size_is_the_reference_even_when_content_length_agrees(
    make_client, respond, error, tmp_path
):
    handler, _ = file_server(respond, error, "full", declared_size=len(CONTENT) + 1)

    with pytest.raises(DownloadError, match=str(len(CONTENT) + 1)):
        _downloader(make_client, handler, attempts=1).download(FILE_ID, tmp_path / "report.csv")


def test_a_file_that_is_gone_fails_at_once_and_leaves_the_retry_to_a_new_stripe_job(
    make_client, respond, error, tmp_path
):
    handler, state = file_server(respond, error, "full")

    # An expired result link and an unknown file both answer 404: the request itself was fine, and a
    # new run of the job gives a new file, so the error says a retry can help.
    with pytest.raises(DownloadError, match="file_missing is no longer available") as raised:
        _downloader(make_client, handler).download("file_missing", tmp_path / "report.csv")

    assert raised.value.retryable and raised.value.http_status == 404
    assert len(state["requests"]) == 1
    assert list(tmp_path.iterdir()) == []


def test_files_of_a_connected_account_are_fetched_as_that_account(make_client, respond, error, tmp_path):
    handler, state = file_server(respond, error, "full")

    _downloader(make_client, handler).download(FILE_ID, tmp_path / "report.csv", stripe_account="acct_2")

    assert [r.headers.get("Stripe-Account") for r in state["requests"]] == ["acct_2", "acct_2"]


def test_content_length_is_checked_when_stripe_declares_no_size(make_client, respond, error, tmp_path):
    handler, state = file_server(respond, error, "lying_length", "full", declared_size=None)
    dest = tmp_path / "report.csv"

    _downloader(make_client, handler).download(FILE_ID, dest)

    assert state["contents"] == 2
    assert dest.read_bytes() == CONTENT


class DripStream(httpx.SyncByteStream):
    """A body that arrives 2 KB every 2 seconds (of the fake clock)."""

    def __init__(self, body: bytes, clock) -> None:  # type: ignore[no-untyped-def]
        self._body = body
        self._clock = clock

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self._body), 2048):
            self._clock.sleep(2)
            yield self._body[start : start + 2048]


def test_a_download_that_trickles_gives_up_at_a_deadline_scaled_to_the_file(
    make_client, respond, error, clock, tmp_path
):
    plain, _ = file_server(respond, error, "full")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/contents"):
            return httpx.Response(200, stream=DripStream(CONTENT, clock))
        return plain(request)

    downloader = _downloader(
        make_client, handler, attempts=2, deadline_base=10, min_bytes_per_second=64 * 1024
    )

    with pytest.raises(DownloadError, match=r"of 397799 bytes arrived in 16 s"):
        downloader.download(FILE_ID, tmp_path / "report.csv")

    # 10 s + 390 KB at 64 KB/s is about 16 s a try; the trickle would have taken 390 s each.
    assert clock.elapsed < 2 * 20 + 10
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("first_attempt", ["full", "broken", "short"])
def test_the_file_is_scanned_as_it_arrives(make_client, respond, error, tmp_path, first_attempt):
    handler, _ = file_server(respond, error, first_attempt, "full")
    dest = tmp_path / "report.csv"

    downloaded = _downloader(make_client, handler).download(FILE_ID, dest)

    # The scan is of the placed file's bytes, not of an abandoned attempt's.
    assert downloaded.scan == scan_file(dest)
    assert downloaded.scan.records == 20_000


def test_a_malformed_file_is_left_for_the_load_to_scan_and_report(make_client, respond, error, tmp_path):
    body = b'id,amount\n1,2"3\n'

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/v1/files/{FILE_ID}":
            return respond(200, {"id": FILE_ID, "object": "file", "size": len(body), "url": None})
        return httpx.Response(200, content=body)

    dest = tmp_path / "report.csv"
    downloaded = _downloader(make_client, handler).download(FILE_ID, dest)

    assert dest.read_bytes() == body
    assert downloaded.scan is None
