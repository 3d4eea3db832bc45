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


# Every further collection, listed through the library's own services.
TOP_LEVEL = ["payment_intents", "refunds", "disputes", "balance_transactions", "coupons",
             "plans", "tax_rates", "invoice_items", "transfers", "application_fees", "accounts",
             "shipping_rates"]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_client_lists_every_further_collection(srv, client, name):
    service = getattr(client.v1, name)
    got = [obj.id for obj in service.list(params={"limit": 29}).auto_paging_iter()]
    assert got == truth_ids(srv, name) and got
    first = service.retrieve(got[0])
    assert first.id == got[0]


def test_client_lists_child_collections(srv, client):
    subs = requests.get(f"{srv.url}/_sandbox/truth/stripe/subscriptions", timeout=10).json()
    items: list[str] = []
    for sub in subs["data"]:
        items += [it.id for it in client.v1.subscription_items.list(
            params={"subscription": sub["id"], "limit": 1}).auto_paging_iter()]
    assert items == truth_ids(srv, "subscription_items")
    lines = [line.id for inv in client.v1.invoices.list(params={"limit": 100}).auto_paging_iter()
             for line in client.v1.invoices.line_items.list(inv.id).auto_paging_iter()]
    assert lines == truth_ids(srv, "invoice_lines")
    reversals = [r.id for tr in client.v1.transfers.list(params={"limit": 100}).auto_paging_iter()
                 for r in client.v1.transfers.reversals.list(tr.id).auto_paging_iter()]
    assert sorted(reversals) == sorted(truth_ids(srv, "transfer_reversals")) and reversals
    fee_refunds = [r.id for fee in client.v1.application_fees.list().auto_paging_iter()
                   for r in client.v1.application_fees.refunds.list(fee.id).auto_paging_iter()]
    assert sorted(fee_refunds) == sorted(truth_ids(srv, "application_fee_refunds"))


def test_client_lists_customer_payment_methods_and_sources(srv, client):
    customers = [c.id for c in client.v1.customers.list(params={"limit": 100}).auto_paging_iter()]
    pms: list[str] = []
    cards: list[str] = []
    banks: list[str] = []
    for cid in customers:
        pms += [p.id for p in client.v1.customers.payment_methods.list(cid).auto_paging_iter()]
        cards += [s.id for s in client.v1.customers.payment_sources.list(
            cid, params={"object": "card"}).auto_paging_iter()]
        banks += [s.id for s in client.v1.customers.payment_sources.list(
            cid, params={"object": "bank_account"}).auto_paging_iter()]
    assert sorted(pms) == sorted(truth_ids(srv, "payment_methods"))
    assert sorted(cards) == sorted(truth_ids(srv, "cards")) and cards
    assert sorted(banks) == sorted(truth_ids(srv, "bank_accounts")) and banks
    one = client.v1.payment_methods.list(params={"customer": customers[0]})
    assert all(p.customer == customers[0] for p in one.data)


def test_client_expand_and_restricted_key(srv, client):
    charge = client.v1.charges.list(params={"limit": 1, "expand": ["data.customer"]}).data[0]
    assert isinstance(charge.customer, stripe.Customer)
    requests.post(f"{srv.url}/_sandbox/keys", json={
        "key": "rk_test_library1", "permissions": {"charges": "read"}}, timeout=10)
    restricted = stripe.StripeClient("rk_test_library1", base_addresses={"api": srv.url},
                                     max_network_retries=0)
    assert restricted.v1.charges.list(params={"limit": 2}).data
    with pytest.raises(stripe.PermissionError) as err:
        restricted.v1.customers.list()
    assert err.value.http_status == 403
