"""Auto-pagination of list endpoints with starting_after."""

from __future__ import annotations

import httpx
import pytest

from pipelines.stripe.errors import APIError


def _list_server(objects, respond):
    """A list endpoint over ``objects`` honouring limit and starting_after, as Stripe pages them."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        limit = int(request.url.params.get("limit", 10))
        after = request.url.params.get("starting_after")
        start = 0 if after is None else [o["id"] for o in objects].index(after) + 1
        page = objects[start : start + limit]
        body = {
            "object": "list",
            "url": request.url.path,
            "data": page,
            "has_more": start + limit < len(objects),
        }
        return respond(200, body)

    return handler, seen


def _accounts(count):
    return [{"id": f"acct_{i:04d}", "object": "account"} for i in range(count)]


def test_list_walks_every_page_in_order(make_client, respond):
    objects = _accounts(23)
    handler, seen = _list_server(objects, respond)

    listed = list(make_client(handler).list("/v1/accounts", {"limit": 5}))

    assert listed == objects
    assert len(seen) == -(-len(objects) // 5)
    assert [r.url.params.get("starting_after") for r in seen] == [None, *(o["id"] for o in objects[4:20:5])]
    assert all(r.url.params["limit"] == "5" for r in seen)


def test_pages_are_100_objects_unless_asked_otherwise(make_client, respond):
    objects = _accounts(150)
    handler, seen = _list_server(objects, respond)

    assert list(make_client(handler).list("/v1/accounts")) == objects
    assert [r.url.params["limit"] for r in seen] == ["100", "100"]


def test_pages_are_fetched_only_as_they_are_consumed(make_client, respond):
    handler, seen = _list_server(_accounts(30), respond)

    iterator = make_client(handler).list("/v1/accounts", {"limit": 10})
    first = next(iterator)

    assert first["id"] == "acct_0000"
    assert len(seen) == 1


def test_every_page_keeps_the_connected_account_and_filters(make_client, respond):
    handler, seen = _list_server(_accounts(12), respond)

    list(
        make_client(handler).list(
            "/v1/sigma/saved_queries", {"limit": 4, "created": {"gte": 1}}, stripe_account="acct_9"
        )
    )

    assert len(seen) == 3
    assert all(r.headers["Stripe-Account"] == "acct_9" for r in seen)
    assert all(r.url.params["created[gte]"] == "1" for r in seen)


def test_an_empty_list_makes_one_request(make_client, respond):
    handler, seen = _list_server([], respond)

    assert list(make_client(handler).list("/v1/accounts")) == []
    assert len(seen) == 1


def test_a_response_that_is_not_a_list_is_an_error(make_client, respond):
    client = make_client(lambda request: respond(200, {"object": "account", "id": "acct_1"}))

    with pytest.raises(APIError, match="list"):
        list(client.list("/v1/accounts/acct_1"))


def test_ending_before_is_refused(make_client, respond):
    client = make_client(lambda request: respond(200, {}))

    with pytest.raises(ValueError, match="ending_before"):
        list(client.list("/v1/accounts", {"ending_before": "acct_5"}))
