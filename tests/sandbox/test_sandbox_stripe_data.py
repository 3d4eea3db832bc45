"""The seeded Stripe data: shape (fixture key sets), consistency, variety, determinism, speed."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cloudsources_sandbox.app import build_sandbox
from cloudsources_sandbox.server import SandboxServer
from cloudsources_sandbox.stripe_objects import TEMPLATES
from cloudsources_sandbox.world import DAY, SANDBOX_EPOCH

SINGULAR = {"customers": "customer", "products": "product", "prices": "price", "charges": "charge",
            "invoices": "invoice", "subscriptions": "subscription", "events": "event"}
ID_FORMAT = {"customers": r"cus_[A-Za-z0-9]{14}", "products": r"prod_[A-Za-z0-9]{14}",
             "prices": r"price_[A-Za-z0-9]{24}", "charges": r"ch_[A-Za-z0-9]{24}",
             "invoices": r"in_[A-Za-z0-9]{24}", "subscriptions": r"sub_[A-Za-z0-9]{24}",
             "events": r"evt_[A-Za-z0-9]{24}"}
SCALE_1 = {"customers": 200, "products": 20, "prices": 40, "subscriptions": 150, "invoices": 300,
           "charges": 600}


@pytest.fixture(scope="module")
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, seed=1) as server:
        yield server


@pytest.fixture(scope="module")
def data(srv) -> dict[str, list[dict]]:
    return {name: requests.get(f"{srv.url}/_sandbox/truth/stripe/{name}", timeout=10).json()["data"]
            for name in SINGULAR}


def test_scale_1_counts(data):
    assert {name: len(data[name]) for name in SCALE_1} == SCALE_1
    assert 50 <= len(data["events"]) <= 400


@pytest.mark.parametrize("name", list(SINGULAR))
def test_top_level_keys_are_exactly_the_fixtures(data, name):
    expected = set(TEMPLATES[SINGULAR[name]])
    for obj in data[name]:
        assert set(obj) == expected, obj["id"]
        assert obj["object"] == SINGULAR[name] and obj["livemode"] is False
        assert re.fullmatch(ID_FORMAT[name], obj["id"]), obj["id"]
        assert isinstance(obj["created"], int)


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}[type(value)]


def _clashes(template: Any, value: Any, path: str) -> Iterator[str]:
    """Where the fixture has a value, ours has the same JSON type (or null)."""
    if template is None or value is None:
        return
    if _json_type(template) != _json_type(value):
        yield f"{path}: {_json_type(value)} where the fixture has {_json_type(template)}"
    elif isinstance(template, dict):
        for key in template.keys() & value.keys():
            yield from _clashes(template[key], value[key], f"{path}.{key}")
    elif isinstance(template, list) and template:
        for item in value:
            yield from _clashes(template[0], item, f"{path}[]")


@pytest.mark.parametrize("name", [n for n in SINGULAR if n != "events"])
def test_nested_values_have_the_fixtures_types(data, name):
    template = TEMPLATES[SINGULAR[name]]
    problems = Counter(p for obj in data[name] for p in _clashes(template, obj, name))
    assert not problems


def test_ids_are_unique_across_the_account(data):
    ids = [o["id"] for objs in data.values() for o in objs]
    assert len(ids) == len(set(ids))


def test_created_times_lie_in_the_year_before_the_sandbox_clock(data):
    for name, objs in data.items():
        for obj in objs:
            assert SANDBOX_EPOCH - 366 * DAY <= obj["created"] < SANDBOX_EPOCH, (name, obj["id"])


def test_references_resolve(data):
    ids = {name: {o["id"]: o for o in objs} for name, objs in data.items()}
    customers, prices = ids["customers"], ids["prices"]
    for charge in data["charges"]:
        customer = customers[charge["customer"]]
        assert customer["created"] <= charge["created"]
        assert charge["currency"] == customer["currency"]
    for price in data["prices"]:
        assert ids["products"][price["product"]]["created"] <= price["created"]
    for product in data["products"]:
        if product["default_price"]:
            assert prices[product["default_price"]]["product"] == product["id"]
    for sub in data["subscriptions"]:
        assert customers[sub["customer"]]["created"] <= sub["created"]
        for item in sub["items"]["data"]:
            assert item["price"]["id"] in prices and item["plan"]["id"] == item["price"]["id"]
            assert item["subscription"] == sub["id"]
            assert item["price"]["currency"] == sub["currency"]
        if sub["latest_invoice"]:
            assert ids["invoices"][sub["latest_invoice"]]["subscription"] == sub["id"]
    for inv in data["invoices"]:
        assert inv["customer"] in customers
        if inv["subscription"]:
            assert ids["subscriptions"][inv["subscription"]]["customer"] == inv["customer"]
        for line in inv["lines"]["data"]:
            assert line["invoice"] == inv["id"]
            assert line["pricing"]["price_details"]["price"] in prices
    for event in data["events"]:
        obj = event["data"]["object"]
        assert obj["id"] in ids[{v: k for k, v in SINGULAR.items()}[obj["object"]]]


def test_amounts_and_states_are_coherent(data):
    finalized = Counter()
    for inv in data["invoices"]:
        lines = inv["lines"]["data"]
        assert inv["subtotal"] == inv["total"] == sum(line["amount"] for line in lines) > 0
        assert inv["amount_remaining"] == inv["amount_due"] - inv["amount_paid"]
        transitions = inv["status_transitions"]
        assert (inv["number"] is None) == (inv["status"] == "draft")
        assert (transitions["paid_at"] is not None) == (inv["status"] == "paid")
        assert all(v is None or v >= inv["created"] for v in transitions.values())
        if inv["number"]:
            finalized[inv["customer"]] += 1
    for customer in data["customers"]:
        assert customer["next_invoice_sequence"] == finalized[customer["id"]] + 1
    for charge in data["charges"]:
        refunds = charge["refunds"]["data"]
        assert charge["amount_refunded"] == sum(r["amount"] for r in refunds) <= charge["amount"]
        assert charge["refunded"] == (charge["amount_refunded"] == charge["amount"])
        assert charge["paid"] == (charge["status"] == "succeeded") == charge["captured"]
        assert charge["amount_captured"] == (charge["amount"] if charge["paid"] else 0)
        assert all(r["charge"] == charge["id"] for r in refunds)


def test_values_vary_like_real_data(data):
    customers = data["customers"]
    for field in ("email", "description", "phone", "name", "address", "shipping", "currency"):
        values = [c[field] for c in customers]
        assert None in values and any(v is not None for v in values), field
    assert any(c["metadata"] for c in customers) and any(not c["metadata"] for c in customers)
    for name, field, minimum in (("subscriptions", "status", 4), ("invoices", "status", 4),
                                 ("charges", "status", 2), ("prices", "type", 2),
                                 ("invoices", "billing_reason", 3), ("charges", "currency", 3)):
        assert len({o[field] for o in data[name]}) >= minimum, (name, field)
    text = json.dumps(data, ensure_ascii=False)
    for needle in ("\\n", '\\"', "é", "ø", "日本", "🚀"):
        assert needle in text, needle


def test_same_seed_gives_byte_identical_data_and_another_seed_does_not(srv):
    with SandboxServer(port=0, seed=1) as twin, SandboxServer(port=0, seed=2) as other:
        for name in SINGULAR:
            path = f"/_sandbox/truth/stripe/{name}"
            ours = requests.get(srv.url + path, timeout=10).content
            assert requests.get(twin.url + path, timeout=10).content == ours, name
            assert requests.get(other.url + path, timeout=10).content != ours, name


def test_scale_multiplies_counts():
    world = build_sandbox(seed=5, scale=0.1).world
    counts = {name: len(world.collection("stripe", name)) for name in SCALE_1}
    assert counts == {"customers": 20, "products": 2, "prices": 6, "subscriptions": 15,
                      "invoices": 30, "charges": 60}


def test_scale_1_generates_in_under_a_second():
    started = time.perf_counter()
    build_sandbox(seed=11, scale=1.0)
    assert time.perf_counter() - started < 1.0


@pytest.mark.slow
def test_scale_100_is_workable():
    started = time.perf_counter()
    world = build_sandbox(seed=1, scale=100.0).world
    elapsed = time.perf_counter() - started
    assert len(world.collection("stripe", "charges")) == 60_000
    assert elapsed < 60
