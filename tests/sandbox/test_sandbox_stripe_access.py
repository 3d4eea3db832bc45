"""Date header from the sandbox clock, restricted keys, expand[], targeted advance actions and
the event variants (older api_version, payload without an expandable field)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import requests
from cloudsources_sandbox.stripe_events import OLD_API_VERSION
from cloudsources_sandbox.stripe_objects import API_VERSION

AUTH = ("sk_test_access_tests", "")


def get(srv, path: str, key: str = AUTH[0], **params: object) -> requests.Response:
    return requests.get(srv.url + path, params=params, auth=(key, ""), timeout=10)


def post(srv, route: str, body: object) -> requests.Response:
    return requests.post(f"{srv.url}/_sandbox/{route}", json=body, timeout=30)


def truth(srv, name: str) -> list[dict]:
    return requests.get(f"{srv.url}/_sandbox/truth/stripe/{name}", timeout=10).json()["data"]


def test_date_header_is_the_sandbox_clock_and_advance_can_just_move_it(sandbox):
    clock = sandbox.world.clock
    resp = get(sandbox, "/v1/customers", limit=1)
    assert resp.headers["Date"] == "Sun, 01 Jun 2025 00:00:00 GMT"
    assert int(parsedate_to_datetime(resp.headers["Date"]).timestamp()) == clock
    assert get(sandbox, "/v1/customers", key="sk_test_x").headers["Date"] == resp.headers["Date"]
    events_before = len(truth(sandbox, "events"))
    moved = post(sandbox, "advance", {"seconds": 40 * 86400, "changes": 0}).json()
    assert moved == {"clock": clock + 40 * 86400, "created": {}, "updated": {}, "deleted": {}}
    later = get(sandbox, "/v1/customers", limit=1).headers["Date"]
    assert int(parsedate_to_datetime(later).timestamp()) == clock + 40 * 86400
    assert len(sandbox.world.changes) == 0
    assert truth(sandbox, "events") == [] and events_before > 0  # 30-day horizon passed


def test_restricted_key_permissions_per_resource(sandbox):
    key = "rk_test_abc12345"
    reg = post(sandbox, "keys", {"key": key, "permissions": {"charges": "read",
                                                             "customers": "none"}})
    assert reg.status_code == 200
    charge = truth(sandbox, "charges")[0]
    assert get(sandbox, "/v1/charges", key=key).status_code == 200
    assert get(sandbox, f"/v1/charges/{charge['id']}", key=key).json()["id"] == charge["id"]
    customer = truth(sandbox, "customers")[0]["id"]
    for path in ("/v1/customers", f"/v1/customers/{customer}", "/v1/events", "/v1/refunds",
                 "/v1/invoiceitems", f"/v1/customers/{customer}/sources"):
        resp = get(sandbox, path, key=key)
        assert resp.status_code == 403, path
        error = resp.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["message"].startswith(
            "The provided key 'rk_test_****2345' does not have the required permissions for "
            "this endpoint on account 'acct_1")
    msg = get(sandbox, "/v1/events", key=key).json()["error"]["message"]
    assert msg.endswith("Having the 'rak_event_read' permission would allow this request to "
                        "continue.")
    post(sandbox, "keys", {"key": key, "permissions": {"events": "read"}})
    assert get(sandbox, "/v1/events", key=key).status_code == 200
    assert get(sandbox, "/v1/charges", key=key).status_code == 403
    assert get(sandbox, "/v1/charges", key="rk_test_unknown99").status_code == 401
    assert post(sandbox, "keys", {"key": "sk_test_nope1234", "permissions": {}}).status_code == 400
    bad = post(sandbox, "keys", {"key": key, "permissions": {"charges": "admin"}})
    assert bad.status_code == 400


def test_expand_on_lists_and_retrieve(sandbox):
    charges = get(sandbox, "/v1/charges", limit=5,
                  **{"expand[]": ["data.customer", "data.payment_intent"]}).json()["data"]
    customers = {c["id"]: c for c in truth(sandbox, "customers")}
    pis = {p["id"]: p for p in truth(sandbox, "payment_intents")}
    for ch in charges:
        assert ch["customer"] == customers[ch["customer"]["id"]]
        assert ch["payment_intent"] == pis[ch["payment_intent"]["id"]]
    inv = truth(sandbox, "invoices")[0]
    got = get(sandbox, f"/v1/invoices/{inv['id']}", **{"expand[]": "customer"}).json()
    assert got["customer"] == customers[inv["customer"]]
    assert {k: v for k, v in got.items() if k != "customer"} == \
        {k: v for k, v in inv.items() if k != "customer"}
    # four levels: refund -> charge -> payment_intent -> customer
    refund = truth(sandbox, "refunds")[0]
    deep = get(sandbox, f"/v1/refunds/{refund['id']}",
               **{"expand[]": "charge.payment_intent.customer"}).json()
    assert deep["charge"]["payment_intent"]["customer"]["object"] == "customer"
    assert truth(sandbox, "refunds")[0] == refund  # stored objects are not touched
    for params in ({"expand[]": "nonsense"}, {"expand[]": "amount"}):
        resp = get(sandbox, f"/v1/invoices/{inv['id']}", **params)
        assert resp.status_code == 400
        assert resp.json()["error"]["message"] == \
            f"This property cannot be expanded ({params['expand[]']})."
    assert get(sandbox, "/v1/charges", **{"expand[]": "customer"}).status_code == 400
    too_deep = get(sandbox, "/v1/charges", **{"expand[]": "data.a.b.c.d.e"})
    assert too_deep.status_code == 400 and "more than 4 levels" in \
        too_deep.json()["error"]["message"]


def test_targeted_actions_and_their_events(sandbox):
    draft = next(i for i in truth(sandbox, "invoices") if i["status"] == "draft")
    pending = next(p for p in truth(sandbox, "payment_intents")
                   if p["status"] == "requires_confirmation")
    deletable = next(c for c in truth(sandbox, "customers")
                     if sandbox.world.sources["stripe"].deps[c["id"]] == 0)
    body = {"seconds": 60, "actions": [
        {"collection": "invoices", "action": "finalize", "id": draft["id"]},
        {"collection": "invoices", "action": "pay", "id": draft["id"]},
        {"collection": "payment_intents", "action": "succeed", "id": pending["id"]},
        {"collection": "customers", "action": "delete", "id": deletable["id"]},
        {"collection": "subscriptions", "action": "update_status"},
    ]}
    result = post(sandbox, "advance", body).json()
    acts = result["actions"]
    assert [(a["collection"], a["action"]) for a in acts] == [
        (x["collection"], x["action"]) for x in body["actions"]]
    assert [a["id"] for a in acts[:4]] == [draft["id"], draft["id"], pending["id"],
                                           deletable["id"]]
    inv = get(sandbox, f"/v1/invoices/{draft['id']}").json()
    assert inv["status"] == "paid" and inv["number"]
    pi = get(sandbox, f"/v1/payment_intents/{pending['id']}").json()
    assert pi["status"] == "succeeded"
    charge = get(sandbox, f"/v1/charges/{pi['latest_charge']}").json()
    assert charge["payment_intent"] == pi["id"] and charge["paid"] is True
    assert get(sandbox, f"/v1/customers/{deletable['id']}").status_code == 404
    events = get(sandbox, "/v1/events", limit=100,
                 **{"created[gte]": sandbox.world.clock}).json()["data"]
    types = [e["type"] for e in events]
    for t in ("invoice.finalized", "invoice.paid", "payment_intent.succeeded",
              "charge.succeeded", "customer.deleted", "customer.subscription.updated"):
        assert t in types
    sub_event = next(e for e in events if e["type"] == "customer.subscription.updated")
    assert sub_event["data"]["previous_attributes"]["status"] in ("active", "past_due",
                                                                  "trialing", "unpaid",
                                                                  "incomplete")
    bad = post(sandbox, "advance", {"actions": [{"collection": "invoices", "action": "fly"}]})
    assert bad.status_code == 400


def test_advance_announces_new_collections_with_variants(sandbox):
    result = post(sandbox, "advance", {"changes": 400, "seconds": 86400}).json()
    related = result["related"]
    assert related["created"]["payment_intents"] and related["created"]["balance_transactions"]
    assert sum(len(v) for v in result["created"].values()) + sum(
        len(v) for v in result["updated"].values()) + sum(
        len(v) for v in result["deleted"].values()) == 400
    pis = {p["id"] for p in truth(sandbox, "payment_intents")}
    for charge in truth(sandbox, "charges"):
        assert charge["payment_intent"] in pis
    since = sandbox.world.clock - 86400
    events = []
    page = {"data": [], "has_more": True}
    while page["has_more"]:
        extra = {"starting_after": events[-1]["id"]} if events else {}
        page = get(sandbox, "/v1/events", limit=100, **{"created[gt]": since}, **extra).json()
        events += page["data"]
    types = {e["type"] for e in events}
    assert {"payment_intent.created", "payment_intent.succeeded",
            "payment_method.attached"} <= types
    assert types & {"coupon.created", "coupon.updated", "tax_rate.created", "transfer.created",
                    "application_fee.created", "charge.dispute.created", "account.updated"}
    old = [e for e in events if e["api_version"] != API_VERSION]
    assert old and all(e["api_version"] == OLD_API_VERSION for e in old)
    assert 0.01 < len(old) / len(events) < 0.12
    invoices = [e for e in old if e["data"]["object"]["object"] == "invoice"]
    assert all("parent" not in e["data"]["object"] for e in invoices)
    lacking = [e for e in events if e["api_version"] == API_VERSION
               and "customer" not in e["data"]["object"]
               and e["data"]["object"]["object"] in ("charge", "invoice", "payment_intent")]
    assert lacking
    only = get(sandbox, "/v1/events", limit=100, **{"types[]": ["payment_intent.created"]})
    assert {e["type"] for e in only.json()["data"]} == {"payment_intent.created"}
