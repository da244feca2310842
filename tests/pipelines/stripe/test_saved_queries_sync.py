"""Saved Sigma queries: CRUD and the plan/apply sync used to publish local SQL files."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx
import pytest

from pipelines.stripe import SavedQueries

CREATED = 1_772_366_400


def saved_query_server(respond, error, existing=()):
    """An in-memory saved-query store behind Stripe's endpoints (list pages of ``limit``)."""
    state = {"queries": {}, "requests": []}
    for name, sql in existing:
        query_id = f"qfl_{len(state['queries']) + 1}"
        state["queries"][query_id] = {
            "id": query_id,
            "object": "sigma.sigma_api_query",
            "name": name,
            "sql": sql,
            "created": CREATED,
            "livemode": False,
        }

    def handler(request: httpx.Request) -> httpx.Response:
        state["requests"].append(request)
        path = request.url.path
        queries = state["queries"]
        form = dict(parse_qsl(request.content.decode())) if request.method == "POST" else {}
        if path == "/v1/sigma/saved_queries" and request.method == "GET":
            ordered = list(queries.values())
            after = request.url.params.get("starting_after")
            start = 0 if after is None else [q["id"] for q in ordered].index(after) + 1
            limit = int(request.url.params.get("limit", 10))
            page = ordered[start : start + limit]
            return respond(
                200, {"object": "list", "data": page, "has_more": start + limit < len(ordered), "url": path}
            )
        if path == "/v1/sigma/saved_queries" and request.method == "POST":
            query_id = f"qfl_{len(queries) + 1}"
            queries[query_id] = {
                "id": query_id,
                "object": "sigma.sigma_api_query",
                "created": CREATED,
                "livemode": False,
                **form,
            }
            return respond(200, queries[query_id])
        query_id = path.rsplit("/", 1)[1]
        if query_id not in queries:
            return error(404, f"No such saved query: '{query_id}'", code="resource_missing")
        if request.method == "POST":
            queries[query_id].update(form)
            return respond(200, queries[query_id])
        if request.method == "DELETE":
            del queries[query_id]
            return respond(200, {"id": query_id, "object": "sigma.sigma_api_query", "deleted": True})
        return respond(200, queries[query_id])

    return handler, state


def test_crud_round_trip(make_client, respond, error):
    handler, state = saved_query_server(respond, error)
    saved = SavedQueries(make_client(handler))

    created = saved.create("fees_by_type", "select 1")
    updated = saved.update(created.id, sql="select 2")
    fetched = saved.get(created.id)
    saved.delete(created.id)

    assert (created.name, created.sql) == ("fees_by_type", "select 1")
    assert updated.id == created.id and updated.sql == "select 2"
    assert fetched == updated
    assert saved.list() == []
    assert [(r.method, r.url.path) for r in state["requests"][:4]] == [
        ("POST", "/v1/sigma/saved_queries"),
        ("POST", f"/v1/sigma/saved_queries/{created.id}"),
        ("GET", f"/v1/sigma/saved_queries/{created.id}"),
        ("DELETE", f"/v1/sigma/saved_queries/{created.id}"),
    ]


def test_update_sends_only_what_changes(make_client, respond, error):
    handler, state = saved_query_server(respond, error, [("a", "select 1")])

    SavedQueries(make_client(handler)).update("qfl_1", sql="select 9")

    assert parse_qsl(state["requests"][-1].content.decode()) == [("sql", "select 9")]


def test_list_reads_every_page(make_client, respond, error):
    existing = [(f"query_{i:03d}", f"select {i}") for i in range(230)]
    handler, state = saved_query_server(respond, error, existing)

    listed = SavedQueries(make_client(handler)).list()

    assert [(q.name, q.sql) for q in listed] == existing
    assert len(state["requests"]) == 3


def test_plan_creates_updates_and_leaves_the_rest(make_client, respond, error):
    handler, state = saved_query_server(
        respond,
        error,
        [("mrr", "select 1"), ("fees", "select fee from balance_transactions"), ("theirs", "select 3")],
    )
    local = {"mrr": "select 2", "fees": "select fee from balance_transactions\n", "payouts": "select 4"}

    plan = SavedQueries(make_client(handler)).plan_sync(local)

    assert [(c.action, c.name) for c in plan] == [
        ("unchanged", "fees"),
        ("update", "mrr"),
        ("create", "payouts"),
    ]
    update = plan[1]
    assert (update.query_id, update.current_sql, update.sql) == ("qfl_1", "select 1", "select 2")
    assert "-select 1" in update.diff() and "+select 2" in update.diff()
    assert all(r.method == "GET" for r in state["requests"])


def test_queries_only_at_stripe_are_deleted_only_when_asked(make_client, respond, error):
    handler, _ = saved_query_server(respond, error, [("mine", "select 1"), ("theirs", "select 2")])
    saved = SavedQueries(make_client(handler))

    kept = saved.plan_sync({"mine": "select 1"})
    pruned = saved.plan_sync({"mine": "select 1"}, delete_missing=True)

    assert [c.action for c in kept] == ["unchanged"]
    assert [(c.action, c.name, c.query_id) for c in pruned] == [
        ("unchanged", "mine", "qfl_1"),
        ("delete", "theirs", "qfl_2"),
    ]


def test_applying_a_plan_makes_stripe_match_and_a_new_plan_empty(make_client, respond, error):
    handler, _ = saved_query_server(respond, error, [("mrr", "select 1"), ("old", "select 0")])
    saved = SavedQueries(make_client(handler))
    local = {"mrr": "select 2", "payouts": "select 4"}

    ids = saved.apply(saved.plan_sync(local, delete_missing=True))

    assert {q.name: q.sql for q in saved.list()} == local
    assert ids == {q.name: q.id for q in saved.list()}
    assert {c.action for c in saved.plan_sync(local, delete_missing=True)} == {"unchanged"}


def test_a_duplicated_name_at_stripe_stops_the_plan(make_client, respond, error):
    handler, _ = saved_query_server(respond, error, [("mrr", "select 1"), ("mrr", "select 2")])

    with pytest.raises(ValueError, match="qfl_1, qfl_2"):
        SavedQueries(make_client(handler)).plan_sync({"mrr": "select 3"})


def test_describe_names_the_action_and_query(make_client, respond, error):
    handler, _ = saved_query_server(respond, error, [("mrr", "select 1")])

    plan = SavedQueries(make_client(handler)).plan_sync({"mrr": "select 2", "new": "select 3"})

    assert [c.describe().split() for c in plan] == [["update", "mrr", "(qfl_1)"], ["create", "new"]]
