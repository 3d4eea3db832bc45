"""The Stripe collections beyond the core six: endpoints, list contract, shapes, consistency."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from cloudsources_sandbox.server import SandboxServer
from cloudsources_sandbox.stripe_objects import TEMPLATES

AUTH = ("sk_test_collections42", "")
# truth collection -> (top-level list endpoint or None, fixture template, count at scale 1)
TOP = {
    "payment_intents": ("/v1/payment_intents", "payment_intent", 620),
    "refunds": ("/v1/refunds", "refund", 47),
    "disputes": ("/v1/disputes", "dispute", 8),
    "balance_transactions": ("/v1/balance_transactions", "balance_transaction", 687),
    "coupons": ("/v1/coupons", "coupon", 10),
    "plans": ("/v1/plans", "plan", 31),
    "tax_rates": ("/v1/tax_rates", "tax_rate", 6),
    "invoice_items": ("/v1/invoiceitems", "invoiceitem", 90),
    "transfers": ("/v1/transfers", "transfer", 20),
    "application_fees": ("/v1/application_fees", "application_fee", 20),
    "accounts": ("/v1/accounts", "account", 8),
}
CHILD = {"payment_methods": ("payment_method", 821), "invoice_lines": ("line_item", 355),
         "subscription_items": ("subscription_item", 164),
         "transfer_reversals": ("transfer_reversal", 5),
         "application_fee_refunds": ("fee_refund", 6), "cards": ("card", 12),
         "bank_accounts": ("bank_account", 6), "discounts": ("discount", 14)}


@pytest.fixture(scope="module")
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, seed=1) as server:
        yield server


def truth(srv: SandboxServer, name: str) -> list[dict]:
    resp = requests.get(f"{srv.url}/_sandbox/truth/stripe/{name}", timeout=10)
    assert resp.status_code == 200, name
    return resp.json()["data"]


def get(srv: SandboxServer, path: str, **params: object) -> requests.Response:
    return requests.get(srv.url + path, params=params, auth=AUTH, timeout=10)


def list_all(srv: SandboxServer, path: str, **params: object) -> list[dict]:
    out: list[dict] = []
    while True:
        extra = {"starting_after": out[-1]["id"]} if out else {}
        body = get(srv, path, limit=100, **params, **extra).json()
        assert body["object"] == "list", body
        out += body["data"]
        if not body["has_more"]:
            return out


@pytest.mark.parametrize("name", list(TOP))
def test_top_level_lists_page_to_the_truth(srv, name):
    path, template, count = TOP[name]
    data = truth(srv, name)
    assert len(data) == count
    assert [o["id"] for o in list_all(srv, path)] == [o["id"] for o in data]
    for obj in data:
        assert set(obj) == set(TEMPLATES[template]), (name, obj["id"])
        assert obj["object"] == TEMPLATES[template]["object"]
    one = get(srv, f"{path}/{data[0]['id']}")
    assert one.status_code == 200 and one.json() == data[0]
    missing = get(srv, f"{path}/nope_000")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"
    back = get(srv, path, limit=3, ending_before=data[-1]["id"]).json()
    assert [o["id"] for o in back["data"]] == [o["id"] for o in data[-4:-1]]


@pytest.mark.parametrize("name", ["payment_intents", "balance_transactions", "refunds"])
def test_created_filter(srv, name):
    data = truth(srv, name)
    pivot = data[len(data) // 3]["created"]
    got = list_all(srv, TOP[name][0], **{"created[gte]": pivot})
    assert [o["id"] for o in got] == [o["id"] for o in data if o["created"] >= pivot]


@pytest.mark.parametrize("name", list(CHILD))
def test_child_collections_shapes_and_counts(srv, name):
    template, count = CHILD[name]
    data = truth(srv, name)
    assert len(data) == count
    for obj in data:
        assert set(obj) == set(TEMPLATES[template]), (name, obj["id"])


def test_every_charge_points_at_real_payment_objects(srv):
    pis = {o["id"]: o for o in truth(srv, "payment_intents")}
    pms = {o["id"]: o for o in truth(srv, "payment_methods")}
    txns = {o["id"]: o for o in truth(srv, "balance_transactions")}
    refunds = {o["id"] for o in truth(srv, "refunds")}
    for ch in truth(srv, "charges"):
        pi = pis[ch["payment_intent"]]
        assert pi["latest_charge"] == ch["id"] and pi["customer"] == ch["customer"]
        assert pi["status"] == ("succeeded" if ch["paid"] else "requires_payment_method")
        assert pms[ch["payment_method"]]["customer"] == ch["customer"]
        if ch["balance_transaction"]:
            txn = txns[ch["balance_transaction"]]
            assert txn["source"] == ch["id"] and txn["amount"] == ch["amount"]
            assert txn["net"] == txn["amount"] - sum(f["amount"] for f in txn["fee_details"])
        assert {r["id"] for r in ch["refunds"]["data"]} <= refunds
    for c in truth(srv, "customers"):
        pm = c["invoice_settings"]["default_payment_method"]
        assert pm is None or pms[pm]["customer"] == c["id"]
    coupons = {o["id"] for o in truth(srv, "coupons")}
    for d in truth(srv, "discounts"):
        assert d["source"]["coupon"] in coupons


def test_invoice_items_match_invoice_lines(srv):
    items = {o["id"]: o for o in truth(srv, "invoice_items")}
    linked = 0
    for inv in truth(srv, "invoices"):
        for line in inv["lines"]["data"]:
            details = line["parent"]["invoice_item_details"]
            if details:
                item = items[details["invoice_item"]]
                assert item["invoice"] == inv["id"] and item["amount"] == line["amount"]
                linked += 1
    assert linked == 80 and sum(1 for i in items.values() if i["invoice"] is None) == 10
    assert len(list_all(srv, "/v1/invoiceitems", pending="true")) == 10


def test_payment_methods_are_listed_per_customer(srv):
    pms = truth(srv, "payment_methods")
    customer = pms[0]["customer"]
    mine = [p["id"] for p in pms if p["customer"] == customer]
    assert [p["id"] for p in list_all(srv, "/v1/payment_methods", customer=customer)] == mine
    assert [p["id"] for p in list_all(srv, f"/v1/customers/{customer}/payment_methods",
                                      type="card")] == mine
    # Without customer Stripe lists only methods attached to no customer: none here.
    assert list_all(srv, "/v1/payment_methods") == []


def test_subscription_items_need_their_subscription(srv):
    resp = get(srv, "/v1/subscription_items")
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Missing required param: subscription."
    assert resp.json()["error"]["param"] == "subscription"
    sub = next(s for s in truth(srv, "subscriptions") if len(s["items"]["data"]) > 1)
    got = list_all(srv, "/v1/subscription_items", subscription=sub["id"])
    assert got == sub["items"]["data"]
    first = get(srv, "/v1/subscription_items", subscription=sub["id"], limit=1).json()
    assert first["has_more"] is True and first["url"] == "/v1/subscription_items"
    assert get(srv, f"/v1/subscription_items/{got[0]['id']}").json() == got[0]


@pytest.mark.parametrize("parent,child,truth_name", [
    ("transfers", "reversals", "transfer_reversals"),
    ("application_fees", "refunds", "application_fee_refunds"),
    ("invoices", "lines", "invoice_lines"),
])
def test_embedded_child_lists(srv, parent, child, truth_name):
    children = truth(srv, truth_name)
    seen = []
    for obj in truth(srv, parent):
        got = list_all(srv, f"/v1/{parent}/{obj['id']}/{child}")
        assert got == obj[child if child != "lines" else "lines"]["data"]
        seen += got
    assert sorted(o["id"] for o in seen) == sorted(o["id"] for o in children)
    one = children[0]
    owner = one.get("transfer") or one.get("fee") or one.get("invoice")
    if child != "lines":
        assert get(srv, f"/v1/{parent}/{owner}/{child}/{one['id']}").json() == one


def test_legacy_sources_per_customer(srv):
    cards, banks = truth(srv, "cards"), truth(srv, "bank_accounts")
    for kind, objs in (("card", cards), ("bank_account", banks)):
        owner = objs[0]["customer"]
        got = list_all(srv, f"/v1/customers/{owner}/sources", object=kind)
        assert [o["id"] for o in got] == [o["id"] for o in objs if o["customer"] == owner]
        assert get(srv, f"/v1/customers/{owner}/sources/{objs[0]['id']}").json() == objs[0]
    assert cards[0]["id"].startswith("card_") and banks[0]["id"].startswith("ba_")


def test_plans_are_the_recurring_prices(srv):
    prices = [p for p in truth(srv, "prices") if p["type"] == "recurring"]
    plans = truth(srv, "plans")
    assert [p["id"] for p in plans] == [p["id"] for p in prices]
    assert all(pl["amount"] == pr["unit_amount"] for pl, pr in zip(plans, prices, strict=True))
    one_off = next(p for p in truth(srv, "prices") if p["type"] == "one_time")
    assert get(srv, f"/v1/plans/{one_off['id']}").status_code == 404


@pytest.mark.parametrize("path", ["/v1/skus", "/v1/orders", "/v1/order_returns"])
def test_retired_resources_are_404(srv, path):
    resp = get(srv, path)
    assert resp.status_code == 404
    assert resp.json()["error"]["message"].startswith("Unrecognized request URL (GET: ")
