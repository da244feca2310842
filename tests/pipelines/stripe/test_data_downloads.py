"""Results of /v2/data runs: streamed from the pre-signed link without the key, size-checked, and an
expired link replaced by retrieving the run again, never by running the query again."""

from __future__ import annotations

import pytest
from conftest import RESULT_CSV, STORAGE_HOST

from pipelines.stripe import DataQueryRunner, DataReportRunner, FileDownloader
from pipelines.stripe.errors import APIError, DownloadError

SQL = "SELECT id, amount FROM balance_transactions"


def finished_run(make_client, api, *, attempts=3, runner=DataQueryRunner, stripe_context=None):
    client = make_client(api.handler)
    runs = runner(client, files=FileDownloader(client, attempts=attempts))
    if runner is DataQueryRunner:
        run = runs.run(SQL, idempotency_key="k", stripe_context=stripe_context)
    else:
        run = runs.run("balance.summary", {}, idempotency_key="k", stripe_context=stripe_context)
    api.requests.clear()
    return runs, run


def link_requests(api):
    return [r for r in api.requests if r.url.host == STORAGE_HOST]


def run_retrievals(api):
    return [r for r in api.requests if r.url.host != STORAGE_HOST and r.method == "GET"]


def test_the_result_is_streamed_from_the_link_without_the_key(make_client, data_api, tmp_path, api_key):
    api = data_api(polls=0)
    runs, run = finished_run(make_client, api)
    dest = tmp_path / "out" / "result.csv"

    downloaded = runs.download(run, dest)

    assert dest.read_bytes() == RESULT_CSV
    assert downloaded.size == len(RESULT_CSV) == run.file_size
    (link,) = api.requests  # nothing but the link: no metadata call, no retrieve
    assert str(link.url) == run.download_url
    assert "Authorization" not in link.headers
    assert api_key not in str(link.headers)
    assert list(dest.parent.iterdir()) == [dest]


@pytest.mark.parametrize("refusal", [403, 404, 410])
def test_a_refused_link_is_replaced_by_retrieving_the_run_not_by_running_it_again(
    make_client, data_api, tmp_path, refusal
):
    api = data_api(polls=0, link_answers=(refusal, "full"))
    runs, run = finished_run(make_client, api, stripe_context="acct_7")

    runs.download(run, tmp_path / "result.csv")

    assert (tmp_path / "result.csv").read_bytes() == RESULT_CSV
    assert api.of("POST") == []
    (retrieve,) = run_retrievals(api)
    assert retrieve.url.path == f"/v2/data/query_runs/{run.id}"
    assert retrieve.headers["Stripe-Context"] == "acct_7"
    first, second = link_requests(api)
    assert str(first.url) == run.download_url != str(second.url)
    assert "Authorization" not in first.headers and "Authorization" not in second.headers


def test_a_link_past_its_expiry_is_replaced_before_it_is_tried(make_client, data_api, tmp_path, clock):
    api = data_api(polls=0, link_ttl=300)
    runs, run = finished_run(make_client, api)
    clock.sleep(301)  # the asset waited for a slot in the pool

    runs.download(run, tmp_path / "result.csv")

    assert api.of("POST") == []
    assert len(run_retrievals(api)) == 1
    (link,) = link_requests(api)
    assert str(link.url) != run.download_url


def test_a_report_runs_link_is_replaced_from_report_runs(make_client, data_api, tmp_path):
    api = data_api(polls=0, link_answers=(403, "full"))
    runs, run = finished_run(make_client, api, runner=DataReportRunner)

    runs.download(run, tmp_path / "result.csv")

    assert [r.url.path for r in run_retrievals(api)] == [f"/v2/data/report_runs/{run.id}"]
    assert api.of("POST") == []


def test_links_refused_on_every_attempt_give_up_with_a_retryable_error(make_client, data_api, tmp_path):
    api = data_api(polls=0, link_answers=(403,))
    runs, run = finished_run(make_client, api, attempts=3)
    dest = tmp_path / "result.csv"

    with pytest.raises(DownloadError) as caught:
        runs.download(run, dest)

    assert caught.value.retryable
    assert caught.value.file_id == run.id and caught.value.attempts == 3
    assert "HTTP 403" in str(caught.value)
    assert len(link_requests(api)) == 3
    assert len(run_retrievals(api)) == 2  # before the second and third attempts, not after the last
    assert api.of("POST") == []
    assert list(tmp_path.iterdir()) == []


def test_a_body_of_the_wrong_size_is_fetched_again(make_client, data_api, tmp_path, clock):
    api = data_api(polls=0, link_answers=("short", "full"))
    runs, run = finished_run(make_client, api)
    del clock.sleeps[:]

    downloaded = runs.download(run, tmp_path / "result.csv")

    assert downloaded.size == len(RESULT_CSV)
    assert len(link_requests(api)) == 2
    assert run_retrievals(api) == []  # the link was fine; only the body was short
    assert len(clock.sleeps) == 1


def test_the_declared_size_is_the_reference(make_client, data_api, tmp_path):
    api = data_api(polls=0, declared_size=len(RESULT_CSV) + 1)
    runs, run = finished_run(make_client, api, attempts=2)

    with pytest.raises(DownloadError, match=f"declared the file as {len(RESULT_CSV) + 1} bytes"):
        runs.download(run, tmp_path / "result.csv")

    assert len(link_requests(api)) == 2
    assert list(tmp_path.iterdir()) == []


def test_a_link_that_fails_otherwise_is_not_taken_for_an_expired_one(make_client, data_api, tmp_path):
    api = data_api(polls=0, link_answers=(400,))
    runs, run = finished_run(make_client, api)

    with pytest.raises(APIError) as caught:
        runs.download(run, tmp_path / "result.csv")

    assert caught.value.http_status == 400
    assert run_retrievals(api) == []


def test_a_run_is_downloaded_by_the_runner_of_its_kind(make_client, data_api, tmp_path):
    api = data_api(polls=0)
    _, run = finished_run(make_client, api)

    with pytest.raises(ValueError, match="query_run"):
        DataReportRunner(make_client(api.handler)).download(run, tmp_path / "result.csv")
