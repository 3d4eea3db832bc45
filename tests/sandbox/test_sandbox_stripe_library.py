"""The official `stripe` Python library, pointed at the sandbox, works unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import stripe
from cloudsources_sandbox.server import SandboxServer

KEY = "sk_test_officialclient42"
COLLECTIONS = ["customers", "products", "prices", "charges", "invoices", "subscriptions", "events"]


@pytest.fixture(scope="module")
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, seed=3) as server:
        yield server


@pytest.fixture(scope="module")
def client(srv) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": srv.url}, max_network_retries=0)


def truth_ids(srv: SandboxServer, name: str) -> list[str]:
    data = requests.get(f"{srv.url}/_sandbox/truth/stripe/{name}", timeout=10).json()["data"]
    return [o["id"] for o in data]


@pytest.mark.parametrize("name", COLLECTIONS)
def test_client_auto_paginates_every_collection(srv, client, name):
    params: dict = {"limit": 37}
    if name == "subscriptions":
        params["status"] = "all"  # Stripe leaves canceled subscriptions out by default
    service = getattr(client.v1, name)
    got = [obj.id for obj in service.list(params=params).auto_paging_iter()]
    assert got == truth_ids(srv, name)


@pytest.mark.parametrize("resource", [stripe.Customer, stripe.Charge, stripe.Invoice])
def test_global_api_base_and_resource_classes(srv, monkeypatch, resource):
    monkeypatch.setattr(stripe, "api_base", srv.url)
    monkeypatch.setattr(stripe, "api_key", KEY)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    got = [obj.id for obj in resource.list(limit=7).auto_paging_iter()]
    assert got == truth_ids(srv, resource.OBJECT_NAME + "s")


def test_client_pages_backwards_with_ending_before(srv, client):
    ids = truth_ids(srv, "customers")
    pages = client.v1.customers.list(params={"limit": 9, "ending_before": ids[-1]})
    got = [c.id for c in pages.auto_paging_iter()]
    assert got == list(reversed(ids[:-1]))


def test_client_created_filter_and_retrieve(srv, client):
    data = requests.get(f"{srv.url}/_sandbox/truth/stripe/charges", timeout=10).json()["data"]
    pivot = data[100]["created"]
    got = [c.id for c in client.v1.charges.list(
        params={"limit": 50, "created": {"gte": pivot}}).auto_paging_iter()]
    assert got == [c["id"] for c in data if c["created"] >= pivot]
    charge = client.v1.charges.retrieve(data[0]["id"])
    assert charge.amount == data[0]["amount"] and charge.id == data[0]["id"]


def test_client_errors_are_typed(srv, client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.retrieve("cus_missing0000000")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    assert missing.value.request_id.startswith("req_")
    with pytest.raises(stripe.InvalidRequestError) as bad_limit:
        client.v1.customers.list(params={"limit": 500})
    assert bad_limit.value.param == "limit"


def test_bad_key_raises_authentication_error(srv):
    bad = stripe.StripeClient("sk_live_wrongkey1234", base_addresses={"api": srv.url},
                              max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError) as err:
        bad.v1.customers.list()
    assert err.value.http_status == 401
    assert err.value.user_message == "Invalid API Key provided: sk_live_********1234"
