"""Authentication and the headers every request carries."""

from __future__ import annotations

import httpx
import pytest

from pipelines.stripe import StripeClient


def test_api_requests_carry_the_key_as_a_bearer_token(make_client, respond, api_key):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(200, {"id": "acct_1", "object": "account"})

    client = make_client(handler)
    client.request("GET", "/v1/accounts/acct_1")
    client.request("POST", "/v1/sigma/saved_queries", data={"name": "n", "sql": "select 1"})

    assert [r.headers["Authorization"] for r in seen] == [f"Bearer {api_key}"] * 2


def test_file_contents_are_fetched_from_the_files_host_with_the_same_key(make_client, api_key):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"a,b\n1,2\n")

    client = make_client(handler)
    with client.stream("/v1/files/file_1/contents", base="files") as response:
        body = response.read()

    assert body == b"a,b\n1,2\n"
    assert seen[0].url.host == httpx.URL(client.files_base).host != httpx.URL(client.api_base).host
    assert seen[0].headers["Authorization"] == f"Bearer {api_key}"


def test_stripe_version_is_sent_only_when_configured(make_client, respond):
    versions: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        versions.append(request.headers.get("Stripe-Version"))
        return respond(200, {"object": "balance"})

    make_client(handler).request("GET", "/v1/balance")
    make_client(handler, stripe_version="2025-07-30.preview").request("GET", "/v1/balance")

    assert versions == [None, "2025-07-30.preview"]


def test_stripe_account_header_scopes_one_request(make_client, respond):
    accounts: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        accounts.append(request.headers.get("Stripe-Account"))
        return respond(200, {"object": "balance"})

    client = make_client(handler)
    client.request("GET", "/v1/balance", stripe_account="acct_123")
    client.request("GET", "/v1/balance")

    assert accounts == ["acct_123", None]


def test_repr_of_the_client_hides_the_key(make_client, respond, api_key):
    client = make_client(lambda request: respond(200, {}))

    shown = repr(client) + repr(vars(client))

    assert api_key not in shown
    assert client.api_base in repr(client)


@pytest.mark.parametrize("bad_key", ["", "   ", "sk_test_abc\n", "sk_test_a bc"])
def test_a_blank_or_mangled_key_is_refused_without_echoing_it(bad_key):
    with pytest.raises(ValueError) as caught:
        StripeClient(bad_key, transport=httpx.MockTransport(lambda request: httpx.Response(200)))

    assert bad_key.strip() == "" or bad_key.strip() not in str(caught.value)


def test_only_paths_are_accepted_so_the_key_goes_to_the_configured_hosts(make_client, respond):
    client = make_client(lambda request: respond(200, {}))

    with pytest.raises(ValueError):
        client.request("GET", "https://elsewhere.example/v1/files/file_1")
