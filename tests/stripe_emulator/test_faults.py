"""Fault injection: rule grammar and scheduling, then every fault kind over real HTTP."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_settings import Finish

from stripe_emulator.faults import (
    FaultInjector,
    FaultSpecError,
    apply_file_faults,
    parse_spec,
    rule_from_json,
)

REPORT_RUNS = "/v1/reporting/report_runs"
QUERY_RUNS = "/v1/sigma/query_runs"
ITEMIZED = "balance_change_from_activity.itemized.3"
COLUMNS = ["balance_transaction_id", "created_utc", "currency", "net", "reporting_category"]


# -- rule grammar and scheduling ------------------------------------------------------------


def test_spec_strings_parse_into_rules() -> None:
    rule = parse_spec("http_503 POST /v1/reporting/report_runs nth=1,3 times=1 retry_after=2")
    assert (rule.kind, rule.method, rule.path) == ("http_503", "POST", "/v1/reporting/report_runs")
    assert rule.nth == (1, 3) and rule.times == 1 and rule.option("retry_after") == 2.0
    slow = parse_spec("slow * /v1/* seconds=0.5 probability=0.25 seed=9")
    assert (
        slow.method == "*" and slow.probability == 0.25 and slow.seed == 9 and slow.option("seconds") == 0.5
    )
    assert rule_from_json({"spec": "run_stuck POST /v1/sigma/query_runs"}).kind == "run_stuck"


@pytest.mark.parametrize(
    "spec",
    [
        "http_503 POST",
        "explode GET /v1/files",
        "http_503 PATCH /v1/files",
        "http_503 GET /v1/files seconds=3",
        "http_503 GET /v1/files nth=1 every=2",
        "http_503 GET /v1/files nth=first",
        "http_503 GET /v1/files probability=2",
        "malformed_csv POST /v1/sigma/query_runs style=wobbly",
        "http_503 GET /v1/files times",
    ],
)
def test_bad_specs_are_rejected(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_spec(spec)


def _fires(injector: FaultInjector, count: int, path: str = "/v1/reporting/report_types") -> list[bool]:
    return [bool(injector.plan("GET", path, path, creates_run=False)) for _ in range(count)]


def test_nth_every_and_times_schedules() -> None:
    assert _fires(FaultInjector(["http_500 GET /v1/reporting/* nth=2,4"]), 5) == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert _fires(FaultInjector(["http_500 GET /v1/reporting/* every=3"]), 7) == [
        False,
        False,
        True,
        False,
        False,
        True,
        False,
    ]
    assert _fires(FaultInjector(["http_500 GET /v1/reporting/* every=2 times=2"]), 8) == [
        False,
        True,
        False,
        True,
        False,
        False,
        False,
        False,
    ]
    assert _fires(FaultInjector(["http_500 * * times=1"]), 3) == [True, False, False]


def test_only_matching_requests_count() -> None:
    injector = FaultInjector(["http_500 GET /v1/files/*/contents nth=2"])
    assert not injector.plan("GET", "/v1/files/file_1", "/v1/files/{id}", creates_run=False)
    assert not injector.plan("POST", "/v1/files/file_1/contents", None, creates_run=False)
    assert not injector.plan("GET", "/v1/files/file_1/contents", "/v1/files/{id}/contents", creates_run=False)
    assert injector.plan("GET", "/v1/files/file_2/contents", "/v1/files/{id}/contents", creates_run=False)


def test_rules_may_target_the_route_template() -> None:
    injector = FaultInjector(["http_502 GET /v1/files/{id}/contents"])
    assert injector.plan("GET", "/v1/files/file_9/contents", "/v1/files/{id}/contents", creates_run=False)


def test_probability_is_deterministic_under_a_seed() -> None:
    def sequence(seed: int) -> list[bool]:
        return _fires(FaultInjector([f"http_503 * * probability=0.5 seed={seed}"]), 64)

    assert sequence(3) == sequence(3)
    assert sequence(3) != sequence(4)
    assert 0 < sum(sequence(3)) < 64
    assert not any(_fires(FaultInjector(["http_503 * * probability=0"]), 20))


def test_run_faults_only_count_requests_that_create_runs() -> None:
    injector = FaultInjector(["run_failed * * nth=1"])
    assert not injector.plan("GET", REPORT_RUNS, REPORT_RUNS, creates_run=False)
    plan = injector.plan("POST", REPORT_RUNS, REPORT_RUNS, creates_run=True)
    assert [rule.kind for rule in plan.run] == ["run_failed"]


def test_an_answering_fault_wins_and_others_keep_their_turn() -> None:
    injector = FaultInjector(["slow * * nth=1 seconds=1", "http_503 * * nth=1"])
    plan = injector.plan("GET", "/v1/x", None, creates_run=False)
    assert plan.abort is not None and plan.abort.kind == "http_503" and plan.delay == 0
    assert injector.fired() == {"http_503": 1}


# -- result-file rewriting ------------------------------------------------------------------


def _csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "result.csv"
    path.write_text('id,amount,note\nr1,1.00,"a, b"\nr2,2.00,plain\nr3,3.00,"say ""hi"""\n')
    return path


def test_file_faults_add_and_remove_columns(tmp_path: Path) -> None:
    path = _csv_file(tmp_path)
    apply_file_faults(path, [parse_spec("add_column POST * column=surprise value=7")])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["id", "amount", "note", "surprise"] and {row[-1] for row in rows[1:]} == {"7"}
    apply_file_faults(
        path, [parse_spec("remove_column POST * column=amount"), parse_spec("remove_column POST *")]
    )
    rows = list(csv.reader(path.open()))
    assert rows == [["id", "note"], ["r1", "a, b"], ["r2", "plain"], ["r3", 'say "hi"']]


def test_change_value_fault_changes_one_field_of_one_record(tmp_path: Path) -> None:
    path = _csv_file(tmp_path)
    apply_file_faults(path, [parse_spec("change_value POST * column=amount line=3 value=9.99")])
    rows = list(csv.reader(path.open()))
    assert rows == [
        ["id", "amount", "note"],
        ["r1", "1.00", "a, b"],
        ["r2", "9.99", "plain"],
        ["r3", "3.00", 'say "hi"'],
    ]
    with pytest.raises(FaultSpecError, match="needs a column"):
        parse_spec("change_value POST * value=1")


def test_file_faults_break_a_known_line(tmp_path: Path) -> None:
    path = _csv_file(tmp_path)
    apply_file_faults(path, [parse_spec("malformed_csv POST * line=3 style=field_count")])
    rows = list(csv.reader(path.open()))
    assert [len(row) for row in rows] == [3, 3, 2, 3]

    path = _csv_file(tmp_path)
    apply_file_faults(path, [parse_spec("malformed_csv POST * line=2")])
    assert path.read_text().splitlines()[1].startswith('"r1')
    with pytest.raises(csv.Error):
        list(csv.reader(path.open(), strict=True))


# -- over HTTP ------------------------------------------------------------------------------


def _add(control: httpx.Client, spec: str) -> dict[str, Any]:
    response = control.post("/faults", json={"spec": spec})
    assert response.status_code == 200, response.text
    return response.json()["rules"][0]


def _report(api: httpx.Client, fields: dict[str, Any], **headers: str) -> httpx.Response:
    data = {"report_type": ITEMIZED, "parameters[columns][]": COLUMNS, **fields}
    return api.post(REPORT_RUNS, data=data, headers=headers)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_5xx_faults(api: httpx.Client, control: httpx.Client, status: int) -> None:
    _add(control, f"http_{status} GET /v1/reporting/report_types nth=1")
    failed = api.get("/v1/reporting/report_types")
    assert failed.status_code == status
    assert failed.json()["error"]["type"] == "api_error"
    assert failed.headers["Stripe-Should-Retry"] == "true"
    assert failed.headers["Request-Id"].startswith("req_")
    assert api.get("/v1/reporting/report_types").status_code == 200
    assert control.get("/stats").json()["faults_fired"] == {f"http_{status}": 1}


def test_http_429_fault_tells_the_client_when_to_retry(api: httpx.Client, control: httpx.Client) -> None:
    _add(control, "http_429 GET /v1/reporting/report_types nth=1 retry_after=2")
    _add(control, "http_429 GET /v1/accounts nth=1 should_retry=false")
    limited = api.get("/v1/reporting/report_types")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limit"
    assert limited.headers["Retry-After"] == "2"
    assert limited.headers["Stripe-Should-Retry"] == "true"
    assert api.get("/v1/accounts").headers["Stripe-Should-Retry"] == "false"


def test_drop_connection_kills_the_request_before_it_is_processed(
    api: httpx.Client, control: httpx.Client
) -> None:
    _add(control, "drop_connection POST /v1/sigma/saved_queries nth=1")
    with pytest.raises(httpx.TransportError):
        api.post("/v1/sigma/saved_queries", data={"name": "lost", "sql": "select 1"})
    assert api.get("/v1/sigma/saved_queries").json()["data"] == []
    assert api.post("/v1/sigma/saved_queries", data={"name": "kept", "sql": "select 1"}).status_code == 200
    stats = control.get("/stats").json()
    assert stats["faults_fired"] == {"drop_connection": 1}
    assert stats["responses"]["dropped"] == 1


def test_drop_after_commit_is_recovered_by_an_idempotent_retry(
    api: httpx.Client, control: httpx.Client, report_interval: Any
) -> None:
    _add(control, f"drop_after_commit POST {REPORT_RUNS} nth=1")
    with pytest.raises(httpx.TransportError):
        _report(api, report_interval(), **{"Idempotency-Key": "retry-me"})
    retried = _report(api, report_interval(), **{"Idempotency-Key": "retry-me"})
    assert retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    runs = api.get(REPORT_RUNS).json()["data"]
    assert [run["id"] for run in runs] == [retried.json()["id"]]
    assert control.get("/stats").json()["runs_created"] == {"report_run": 1}


def test_slow_fault_exceeds_a_client_timeout(api: httpx.Client, control: httpx.Client) -> None:
    _add(control, "slow GET /v1/reporting/report_types nth=1 seconds=1.0")
    with pytest.raises(httpx.ReadTimeout):
        api.get("/v1/reporting/report_types", timeout=0.3)
    started = time.monotonic()
    assert api.get("/v1/reporting/report_types").status_code == 200
    assert time.monotonic() - started < 1.0


def test_truncated_download_promises_more_than_it_sends(
    api: httpx.Client, control: httpx.Client, finish: Finish, report_interval: Any
) -> None:
    run = _report(api, report_interval(days=3)).json()
    result = finish(api, f"{REPORT_RUNS}/{run['id']}")["result"]
    assert result["size"] > 40
    _add(control, "truncate_download GET /v1/files/*/contents nth=1,2 bytes=40")
    with pytest.raises(httpx.TransportError):
        api.get(result["url"])
    received = b""
    with pytest.raises(httpx.TransportError), api.stream("GET", result["url"]) as response:
        assert int(response.headers["content-length"]) == result["size"]
        for chunk in response.iter_raw():
            received += chunk
    assert len(received) == 40
    full = api.get(result["url"])
    assert len(full.content) == result["size"] and full.content.startswith(received)


def test_run_failed_ends_the_run_failed(
    api: httpx.Client, control: httpx.Client, finish: Finish, report_interval: Any
) -> None:
    _add(control, f"run_failed POST {REPORT_RUNS} nth=1")
    _add(control, f"run_failed POST {QUERY_RUNS} nth=1 message=Query_timed_out")
    report = finish(api, f"{REPORT_RUNS}/{_report(api, report_interval()).json()['id']}")
    assert report["status"] == "failed" and report["result"] is None
    assert isinstance(report["error"], str) and report["error"]
    query = api.post(QUERY_RUNS, data={"sql": "select 1 as one"}).json()
    failed = finish(api, f"{QUERY_RUNS}/{query['id']}")
    assert failed["status"] == "failed" and failed["error"] == {"message": "Query_timed_out"}
    second = finish(api, f"{REPORT_RUNS}/{_report(api, report_interval()).json()['id']}")
    assert second["status"] == "succeeded"


def test_run_stuck_never_finishes(
    api: httpx.Client, control: httpx.Client, finish: Finish, report_interval: Any
) -> None:
    _add(control, "run_stuck POST * nth=1")
    stuck = _report(api, report_interval()).json()
    normal = finish(api, f"{REPORT_RUNS}/{_report(api, report_interval()).json()['id']}")
    assert normal["status"] == "succeeded"
    time.sleep(0.2)
    assert api.get(f"{REPORT_RUNS}/{stuck['id']}").json()["status"] == "pending"


def test_malformed_csv_breaks_the_named_line(
    api: httpx.Client, control: httpx.Client, finish: Finish, report_interval: Any
) -> None:
    _add(control, f"malformed_csv POST {REPORT_RUNS} nth=1 line=3 style=field_count")
    run = finish(api, f"{REPORT_RUNS}/{_report(api, report_interval(days=3)).json()['id']}")
    contents = api.get(run["result"]["url"]).content
    assert len(contents) == run["result"]["size"]
    rows = list(csv.reader(io.StringIO(contents.decode())))
    widths = [len(row) for row in rows]
    assert widths[2] == len(COLUMNS) - 1
    assert widths[:2] + widths[3:] == [len(COLUMNS)] * (len(rows) - 1)


def test_unterminated_quote_on_a_query_result(
    api: httpx.Client, control: httpx.Client, finish: Finish
) -> None:
    _add(control, f"malformed_csv POST {QUERY_RUNS} nth=1")
    query = api.post(QUERY_RUNS, data={"sql": "select 1 as a, 2 as b union all select 3, 4"}).json()
    run = finish(api, f"{QUERY_RUNS}/{query['id']}")
    text = api.get(f"/v1/files/{run['result']['file']}/contents").text
    assert text.splitlines()[1].startswith('"')
    with pytest.raises(csv.Error):
        list(csv.reader(io.StringIO(text), strict=True))


def test_column_faults_change_the_result_header(
    api: httpx.Client, control: httpx.Client, finish: Finish, report_interval: Any
) -> None:
    _add(control, f"add_column POST {REPORT_RUNS} nth=1 column=brand_new")
    _add(control, f"remove_column POST {REPORT_RUNS} nth=2 column=currency")
    _add(control, f"remove_column POST {REPORT_RUNS} nth=3")
    headers = []
    for _ in range(3):
        run = finish(api, f"{REPORT_RUNS}/{_report(api, report_interval()).json()['id']}")
        headers.append(api.get(run["result"]["url"]).text.splitlines()[0].split(","))
    assert headers[0] == [*COLUMNS, "brand_new"]
    assert headers[1] == [column for column in COLUMNS if column != "currency"]
    assert headers[2] == COLUMNS[:-1]


def test_control_api_manages_rules(api: httpx.Client, control: httpx.Client) -> None:
    first = _add(control, "http_503 GET /v1/accounts")
    added = control.post(
        "/faults",
        json={"rules": [{"kind": "http_500", "method": "GET", "path": "/v1/account", "times": 1}]},
    ).json()["rules"]
    assert added[0]["kind"] == "http_500" and added[0]["id"].startswith("flt_")
    assert control.post("/faults", json={"kind": "http_418"}).status_code == 400
    assert api.get("/v1/accounts").status_code == 503
    listed = control.get("/faults").json()
    assert [(rule["id"], rule["seen"], rule["fired"]) for rule in listed["rules"][:1]] == [
        (first["id"], 1, 1)
    ]
    assert control.delete(f"/faults/{first['id']}").json()["deleted"] is True
    assert control.delete(f"/faults/{first['id']}").status_code == 404
    assert api.get("/v1/accounts").status_code == 200
    control.delete("/faults").raise_for_status()
    assert control.get("/faults").json()["rules"] == []
    assert api.get("/v1/account").status_code == 200


def test_faults_never_touch_the_control_api(control: httpx.Client, api: httpx.Client) -> None:
    _add(control, "http_503 * *")
    assert control.get("/state").status_code == 200
    assert control.get("/stats").status_code == 200
    assert api.get("/v1/accounts").status_code == 503
