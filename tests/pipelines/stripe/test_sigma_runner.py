"""Sigma query runs: create, poll to a terminal status, and read data_load_time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from pipelines.stripe import PollPolicy, SigmaRunner
from pipelines.stripe.errors import APIConnectionError, RunDeadlineExceeded, RunFailedError
from pipelines.stripe.sigma import parse_sigma_timestamp

CREATED = 1_772_366_400  # 2026-03-01T12:00:00Z
RUN_SECONDS = 5


def sigma_server(
    respond, *, polls=2, final="succeeded", error=None, contents=b"", on_create_status="running"
):
    """Query runs that stay ``running`` for ``polls`` GETs, then end as ``final``."""
    state = {"runs": {}, "events": [], "requests": []}

    def handler(request: httpx.Request) -> httpx.Response:
        state["requests"].append(request)
        path = request.url.path
        if request.method == "POST" and path == "/v1/sigma/query_runs":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            run_id = f"qry_{len(state['runs']) + 1}"
            run = {
                "id": run_id,
                "object": "sigma.sigma_query_run",
                "created": CREATED,
                "sql": form.get("sql"),
                "from_saved_query": form.get("from_saved_query"),
                "status": on_create_status,
                "result": {"file": None},
                "error": None,
                "finalized_at": None,
                "polls": 0,
            }
            state["runs"][run_id] = run
            state["events"].append(("create", run_id))
            return respond(200, _public(run))
        if request.method == "GET" and path.startswith("/v1/sigma/query_runs/"):
            run = state["runs"][path.rsplit("/", 1)[1]]
            run["polls"] += 1
            state["events"].append(("poll", run["id"]))
            if run["polls"] > polls and run["status"] == "running":
                run["status"] = final
                run["finalized_at"] = CREATED + RUN_SECONDS
                if final in ("succeeded", "completed"):
                    run["result"] = {"file": f"file_{run['id']}"}
                else:
                    run["error"] = {"message": error}
            return respond(200, _public(run))
        if request.method == "GET" and path.endswith("/contents"):
            state["events"].append(("download", path))
            return httpx.Response(200, content=contents, headers={"Content-Type": "text/csv"})
        return respond(
            404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}}
        )

    return handler, state


def _public(run):
    return {k: v for k, v in run.items() if k != "polls"}


def test_a_query_run_is_polled_until_it_succeeds(make_client, respond):
    handler, state = sigma_server(respond, polls=2)
    created_ids: list[str] = []

    def on_created(run_id: str) -> None:
        created_ids.append(run_id)
        state["events"].append(("on_created", run_id))

    finished = SigmaRunner(make_client(handler)).run(
        "select count(*) from charges", idempotency_key="k-1", on_created=on_created
    )

    assert finished.id == created_ids[0] == "qry_1"
    assert finished.file_id == state["runs"]["qry_1"]["result"]["file"]
    assert finished.status == "succeeded"
    assert finished.created == datetime.fromtimestamp(CREATED, UTC)
    assert finished.finished - finished.created == timedelta(seconds=RUN_SECONDS)
    assert finished.created.tzinfo is not None
    assert state["events"][:2] == [("create", "qry_1"), ("on_created", "qry_1")]
    assert [e[0] for e in state["events"][2:]] == ["poll"] * 3


def test_the_create_request_carries_sql_key_and_account(make_client, respond):
    handler, state = sigma_server(respond, polls=0)

    SigmaRunner(make_client(handler)).run(
        "select 1", idempotency_key="sigma-2026-03-01", stripe_account="acct_7"
    )

    post, *gets = state["requests"]
    assert parse_qs(post.content.decode()) == {"sql": ["select 1"]}
    assert post.headers["Idempotency-Key"] == "sigma-2026-03-01"
    assert {r.headers["Stripe-Account"] for r in [post, *gets]} == {"acct_7"}


def test_a_saved_query_is_run_by_id(make_client, respond):
    handler, state = sigma_server(respond, polls=0)

    SigmaRunner(make_client(handler)).run(saved_query_id="qfl_42", idempotency_key="k")

    assert parse_qs(state["requests"][0].content.decode()) == {"from_saved_query": ["qfl_42"]}


@pytest.mark.parametrize("arguments", [{}, {"sql": "select 1", "saved_query_id": "qfl_1"}])
def test_exactly_one_of_sql_and_saved_query_is_required(make_client, respond, arguments):
    handler, state = sigma_server(respond)

    with pytest.raises(ValueError):
        SigmaRunner(make_client(handler)).run(idempotency_key="k", **arguments)
    assert state["requests"] == []


def test_completed_counts_as_success(make_client, respond):
    handler, _ = sigma_server(respond, polls=1, final="completed")

    assert SigmaRunner(make_client(handler)).run("select 1", idempotency_key="k").status == "completed"


def test_a_failed_query_raises_with_stripes_message(make_client, respond):
    message = "Catalog Error: Table with name chargez does not exist!"
    handler, _ = sigma_server(respond, polls=1, final="failed", error=message)

    with pytest.raises(RunFailedError) as caught:
        SigmaRunner(make_client(handler)).run("select * from chargez", idempotency_key="k")

    assert caught.value.message == message
    assert caught.value.run_id == "qry_1"
    assert caught.value.status == "failed"
    assert "qry_1" in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize("status", ["canceled", "timed_out"])
def test_other_terminal_statuses_are_failures(make_client, respond, status):
    handler, _ = sigma_server(respond, polls=0, final=status, error=None)

    with pytest.raises(RunFailedError) as caught:
        SigmaRunner(make_client(handler)).run("select 1", idempotency_key="k")

    assert caught.value.status == status


def test_the_poll_deadline_raises_with_the_run_and_its_status(make_client, respond, clock):
    handler, _ = sigma_server(respond, polls=10_000)
    policy = PollPolicy(initial=1.0, factor=2.0, maximum=4.0, deadline=30.0)

    with pytest.raises(RunDeadlineExceeded) as caught:
        SigmaRunner(make_client(handler), poll=policy).run("select 1", idempotency_key="k")

    assert caught.value.run_id == "qry_1"
    assert caught.value.status == "running"
    assert caught.value.waited == pytest.approx(policy.deadline)
    assert sum(clock.sleeps) == pytest.approx(policy.deadline)
    assert max(clock.sleeps) <= policy.maximum
    text = str(caught.value)
    assert "qry_1" in text and "running" in text and f"{policy.deadline:.1f} s" in text


def test_a_run_finished_on_creation_is_not_polled(make_client, respond):
    handler, state = sigma_server(respond, on_create_status="succeeded")

    def replayed(request: httpx.Request) -> httpx.Response:
        response = handler(request)
        if request.method == "POST":
            body = response.json() | {"result": {"file": "file_replayed"}, "finalized_at": CREATED}
            return respond(200, body, {"Idempotent-Replayed": "true"})
        return response

    finished = SigmaRunner(make_client(replayed)).run("select 1", idempotency_key="k")

    assert finished.file_id == "file_replayed"
    assert [e[0] for e in state["events"]] == ["create"]


def test_data_load_time_reads_the_single_value_of_a_query(make_client, respond):
    loaded = datetime(2026, 2, 28, 21, 0, tzinfo=UTC)
    contents = f"data_load_time\n{loaded:%Y-%m-%d %H:%M:%S}.000\n".encode()
    handler, state = sigma_server(respond, polls=1, contents=contents)

    assert SigmaRunner(make_client(handler)).data_load_time(stripe_account="acct_3") == loaded

    post = state["requests"][0]
    assert parse_qs(post.content.decode())["sql"] == ["SELECT data_load_time"]
    download = state["requests"][-1]
    assert download.url.path == "/v1/files/file_qry_1/contents"
    assert download.url.host == "files.stripe.test"
    assert all(r.headers["Stripe-Account"] == "acct_3" for r in state["requests"])


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-28 21:00:00.000",
        "2026-02-28 21:00:00 UTC",
        "2026-02-28T21:00:00Z",
        "2026-02-28T22:00:00+01:00",
    ],
)
def test_sigma_timestamps_are_read_as_utc(text):
    assert parse_sigma_timestamp(text) == datetime(2026, 2, 28, 21, tzinfo=UTC)


class _BrokenBody(httpx.SyncByteStream):
    """A body whose connection breaks after ``head``."""

    def __init__(self, head: bytes) -> None:
        self._head = head

    def __iter__(self):
        yield self._head
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


def test_data_load_time_fetches_a_result_cut_short_again(make_client, respond):
    loaded = datetime(2026, 2, 28, 21, 0, tzinfo=UTC)
    contents = f"data_load_time\n{loaded:%Y-%m-%d %H:%M:%S}.000\n".encode()
    handler, state = sigma_server(respond, polls=1, contents=contents)
    cuts = iter([True, True])

    def cut_twice(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/contents") and next(cuts, False):
            state["requests"].append(request)
            return httpx.Response(200, stream=_BrokenBody(contents[:9]), headers={"Content-Type": "text/csv"})
        return handler(request)

    assert SigmaRunner(make_client(cut_twice)).data_load_time() == loaded
    assert sum(r.url.path.endswith("/contents") for r in state["requests"]) == 3


def test_data_load_time_gives_up_on_a_result_that_always_breaks(make_client, respond):
    handler, _ = sigma_server(respond, polls=1, contents=b"data_load_time\n")

    def always_cut(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/contents"):
            return httpx.Response(200, stream=_BrokenBody(b"data_"), headers={"Content-Type": "text/csv"})
        return handler(request)

    with pytest.raises(APIConnectionError) as caught:
        SigmaRunner(make_client(always_cut, max_network_retries=2)).data_load_time()

    assert "broke off after 5 bytes in each of 3 attempts" in str(caught.value)
