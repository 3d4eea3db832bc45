"""The Stripe list and retrieve contract (API_NOTES.md §1.2, §1.6) over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from cloudsources_sandbox.server import SandboxServer

KEY = "sk_test_sandboxlists1234"
COLLECTIONS = ["customers", "products", "prices", "charges", "invoices", "subscriptions", "events"]


@pytest.fixture(scope="module")
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, seed=7) as server:
        yield server


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = (KEY, "")
        yield session


def get(http: requests.Session, srv: SandboxServer, path: str,
        **params: object) -> requests.Response:
    return http.get(srv.url + path, params=params, timeout=10)


def truth(srv: SandboxServer, name: str) -> list[dict]:
    return requests.get(f"{srv.url}/_sandbox/truth/stripe/{name}", timeout=10).json()["data"]


def walk(http, srv, name: str, limit: int, **params: object) -> list[str]:
    """Page with starting_after until has_more is false, as a client does."""
    ids: list[str] = []
    while True:
        extra = {"starting_after": ids[-1]} if ids else {}
        body = get(http, srv, f"/v1/{name}", limit=limit, **params, **extra).json()
        assert body["object"] == "list" and body["url"] == f"/v1/{name}"
        assert len(body["data"]) <= limit
        ids += [o["id"] for o in body["data"]]
        if not body["has_more"]:
            return ids


@pytest.mark.parametrize("name", COLLECTIONS)
def test_paging_with_starting_after_returns_every_object_newest_first(http, srv, name):
    expected = [o["id"] for o in truth(srv, name) if o.get("status") != "canceled"
                or name != "subscriptions"]
    assert walk(http, srv, name, 13) == expected
    assert len(expected) == len(set(expected))


@pytest.mark.parametrize("name", ["customers", "charges", "invoices", "events"])
def test_order_is_created_desc_then_id_desc_and_ties_exist(srv, name):
    objs = truth(srv, name)
    keys = [(o["created"], o["id"]) for o in objs]
    assert keys == sorted(keys, reverse=True)
    created = [o["created"] for o in objs]
    assert len(created) - len(set(created)) >= 3, "several objects per second must occur"


def test_ties_straddling_a_page_boundary_lose_nothing(http, srv):
    objs = truth(srv, "charges")
    # Find a second shared by two charges and cut the page between them.
    i = next(i for i in range(1, len(objs)) if objs[i]["created"] == objs[i - 1]["created"])
    first = get(http, srv, "/v1/charges", limit=i).json()
    assert first["data"][-1]["id"] == objs[i - 1]["id"] and first["has_more"]
    rest = get(http, srv, "/v1/charges", limit=3, starting_after=objs[i - 1]["id"]).json()
    assert [o["id"] for o in rest["data"]] == [o["id"] for o in objs[i:i + 3]]


def test_default_limit_is_10_and_has_more(http, srv):
    body = get(http, srv, "/v1/customers").json()
    assert len(body["data"]) == 10 and body["has_more"] is True
    total = len(truth(srv, "customers"))
    body = get(http, srv, "/v1/customers", limit=100).json()
    assert len(body["data"]) == 100 and body["has_more"] is (total > 100)


def test_ending_before_returns_the_newer_neighbours_newest_first(http, srv):
    ids = [o["id"] for o in truth(srv, "customers")]
    body = get(http, srv, "/v1/customers", limit=4, ending_before=ids[10]).json()
    assert [o["id"] for o in body["data"]] == ids[6:10]
    assert body["has_more"] is True
    top = get(http, srv, "/v1/customers", limit=4, ending_before=ids[3]).json()
    assert [o["id"] for o in top["data"]] == ids[0:3] and top["has_more"] is False


@pytest.mark.parametrize(("limit", "message"), [
    (0, "This value must be greater than or equal to 1."),
    (101, "This value must be less than or equal to 100."),
    ("ten", "Invalid integer: ten"),
])
def test_limit_out_of_bounds_is_a_400_on_param_limit(http, srv, limit, message):
    resp = get(http, srv, "/v1/customers", limit=limit)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "limit" and error["message"] == message


def test_limit_bounds_inclusive(http, srv):
    assert len(get(http, srv, "/v1/charges", limit=1).json()["data"]) == 1
    assert len(get(http, srv, "/v1/charges", limit=100).json()["data"]) == 100


def test_both_cursors_is_a_400(http, srv):
    ids = [o["id"] for o in truth(srv, "customers")]
    resp = get(http, srv, "/v1/customers", starting_after=ids[1], ending_before=ids[5])
    assert resp.status_code == 400
    assert "Received both starting_after and ending_before" in resp.json()["error"]["message"]


def test_unknown_cursor_is_resource_missing(http, srv):
    resp = get(http, srv, "/v1/customers", starting_after="cus_doesnotexist00")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "resource_missing" and error["param"] == "starting_after"
    assert error["message"] == "No such customer: 'cus_doesnotexist00'"


def test_created_filters_with_bracket_notation(http, srv):
    objs = truth(srv, "invoices")
    pivot = objs[len(objs) // 2]["created"]
    for op, keep in (("gt", lambda c: c > pivot), ("gte", lambda c: c >= pivot),
                     ("lt", lambda c: c < pivot), ("lte", lambda c: c <= pivot)):
        expected = [o["id"] for o in objs if keep(o["created"])]
        assert walk(http, srv, "invoices", 100, **{f"created[{op}]": pivot}) == expected, op
    exact = [o["id"] for o in objs if o["created"] == pivot]
    assert walk(http, srv, "invoices", 100, created=pivot) == exact and exact
    low, high = objs[-40]["created"], objs[40]["created"]
    window = [o["id"] for o in objs if low <= o["created"] < high]
    got = walk(http, srv, "invoices", 7, **{"created[gte]": low, "created[lt]": high})
    assert got == window


def test_created_filter_with_a_bad_value_is_a_400(http, srv):
    resp = get(http, srv, "/v1/charges", **{"created[gte]": "yesterday"})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "created[gte]"


def test_client_parameters_like_expand_do_not_break_lists(http, srv):
    resp = http.get(f"{srv.url}/v1/invoices?limit=3&expand[]=data.customer&expand[0]=total_count"
                    "&include[]=total_count", timeout=10)
    assert resp.status_code == 200 and len(resp.json()["data"]) == 3


def test_subscriptions_leave_out_canceled_unless_asked(http, srv):
    subs = truth(srv, "subscriptions")
    canceled = {s["id"] for s in subs if s["status"] == "canceled"}
    assert canceled, "the seeded data has canceled subscriptions"
    assert not canceled & set(walk(http, srv, "subscriptions", 100))
    assert walk(http, srv, "subscriptions", 100, status="all") == [s["id"] for s in subs]
    assert set(walk(http, srv, "subscriptions", 100, status="canceled")) == canceled
    assert get(http, srv, "/v1/subscriptions", status="nope").status_code == 400


def test_equality_filters(http, srv):
    charge = truth(srv, "charges")[0]
    by_customer = walk(http, srv, "charges", 100, customer=charge["customer"])
    assert charge["id"] in by_customer
    assert by_customer == [o["id"] for o in truth(srv, "charges")
                           if o["customer"] == charge["customer"]]
    paid = walk(http, srv, "invoices", 100, status="paid")
    assert paid == [o["id"] for o in truth(srv, "invoices") if o["status"] == "paid"]


def test_event_type_filters(http, srv):
    events = truth(srv, "events")
    assert walk(http, srv, "events", 100, type="invoice.paid") == [
        e["id"] for e in events if e["type"] == "invoice.paid"]
    assert walk(http, srv, "events", 100, type="charge.*") == [
        e["id"] for e in events if e["type"].startswith("charge.")]
    wanted = {"customer.created", "invoice.finalized"}
    got = walk(http, srv, "events", 100, **{"types[]": sorted(wanted)})
    assert got == [e["id"] for e in events if e["type"] in wanted] and got


def test_retrieve_and_resource_missing(http, srv):
    for name, singular in (("customers", "customer"), ("invoices", "invoice"), ("events", "event")):
        obj = truth(srv, name)[3]
        resp = get(http, srv, f"/v1/{name}/{obj['id']}")
        assert resp.status_code == 200 and resp.json() == obj
        missing = get(http, srv, f"/v1/{name}/{singular[:2]}_x")
        assert missing.status_code == 404
        error = missing.json()["error"]
        assert error == {**error, "code": "resource_missing", "param": "id",
                         "type": "invalid_request_error",
                         "message": f"No such {singular}: '{singular[:2]}_x'"}


def test_invoice_lines_sub_list(http, srv):
    inv = next(i for i in truth(srv, "invoices") if len(i["lines"]["data"]) > 1)
    body = get(http, srv, f"/v1/invoices/{inv['id']}/lines", limit=1).json()
    assert body["data"] == inv["lines"]["data"][:1] and body["has_more"] is True
    assert body["url"] == f"/v1/invoices/{inv['id']}/lines"


def test_unrecognized_url_is_stripes_404(http, srv):
    resp = get(http, srv, "/v1/x")
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error" and "code" not in error
    assert error["message"] == ("Unrecognized request URL (GET: /v1/x). Please see "
                                "https://stripe.com/docs or we can help at https://support.stripe.com/.")
    assert http.post(f"{srv.url}/v1/customers", timeout=10).status_code == 404


def test_every_response_is_json_with_a_request_id(http, srv):
    for resp in (get(http, srv, "/v1/customers", limit=1), get(http, srv, "/v1/nope"),
                 requests.get(f"{srv.url}/v1/customers", timeout=10),
                 get(http, srv, "/v1/customers", limit=1000)):
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.headers["Request-Id"].startswith("req_")
        resp.json()


def test_stripe_version_header_is_accepted(http, srv):
    resp = http.get(f"{srv.url}/v1/prices", headers={"Stripe-Version": "2020-08-27"}, timeout=10)
    assert resp.status_code == 200 and resp.json()["data"]
