"""POST /_sandbox/advance: creates, updates and deletes, visible in lists, truth and events."""

from __future__ import annotations

import threading

import requests
from cloudsources_sandbox.server import SandboxServer

AUTH = ("sk_test_advance_tests", "")
SINGULAR = {"customers": "customer", "products": "product", "prices": "price", "charges": "charge",
            "invoices": "invoice", "subscriptions": "subscription"}


def advance(srv: SandboxServer, **body: int) -> dict:
    resp = requests.post(f"{srv.url}/_sandbox/advance", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def truth(srv: SandboxServer, name: str) -> list[dict]:
    return requests.get(f"{srv.url}/_sandbox/truth/stripe/{name}", timeout=10).json()["data"]


def api(srv: SandboxServer, path: str, **params: object) -> requests.Response:
    return requests.get(srv.url + path, params=params, auth=AUTH, timeout=10)


def list_all(srv: SandboxServer, name: str, **params: object) -> list[dict]:
    out: list[dict] = []
    while True:
        extra = {"starting_after": out[-1]["id"]} if out else {}
        body = api(srv, f"/v1/{name}", limit=100, **params, **extra).json()
        out += body["data"]
        if not body["has_more"]:
            return out


def events_by_object(srv: SandboxServer) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for event in list_all(srv, "events"):
        out.setdefault(event["data"]["object"]["id"], []).append(event)
    return out


def test_creates_are_newest_and_announced(sandbox):
    before = sandbox.world.clock
    result = advance(sandbox, creates=40, seconds=600)
    assert result["clock"] == before + 600 and result["updated"] == {} == result["deleted"]
    created = result["created"]
    assert sum(map(len, created.values())) == 40 and len(created) >= 3
    events = events_by_object(sandbox)
    for name, new_ids in created.items():
        objs = {o["id"]: o for o in truth(sandbox, name)}
        listed = [o["id"] for o in list_all(sandbox, name, **(
            {"status": "all"} if name == "subscriptions" else {}))]
        window = [o["id"] for o in truth(sandbox, name) if o["created"] > before]
        assert sorted(window) == sorted(new_ids)
        assert listed[:len(new_ids)] == window  # newest first, ahead of the seeded data
        for obj_id in new_ids:
            assert before < objs[obj_id]["created"] <= before + 600
            assert api(sandbox, f"/v1/{name}/{obj_id}").json() == objs[obj_id]
            (event,) = events[obj_id]
            assert event["created"] == objs[obj_id]["created"]
            assert event["type"].endswith(".created") or event["type"] in (
                "charge.succeeded", "charge.failed")
            assert set(event) == {"api_version", "created", "data", "id", "livemode", "object",
                                  "pending_webhooks", "request", "type"}
    new_charges = created.get("charges", [])
    customers = {c["id"] for c in truth(sandbox, "customers")}
    for charge in truth(sandbox, "charges"):
        if charge["id"] in new_charges:
            assert charge["customer"] in customers


def test_updates_change_objects_and_record_previous_attributes(sandbox):
    before = {name: {o["id"]: o for o in truth(sandbox, name)} for name in SINGULAR}
    result = advance(sandbox, updates=80, seconds=7200)
    assert result["created"] == {} == result["deleted"]
    assert sum(map(len, result["updated"].values())) == 80
    events = events_by_object(sandbox)
    types = set()
    for name, changed in result["updated"].items():
        now = {o["id"]: o for o in truth(sandbox, name)}
        for obj_id in set(changed):
            old, new = before[name][obj_id], now[obj_id]
            assert old != new and old["created"] == new["created"]
            mine = [e for e in events[obj_id] if e["created"] > sandbox.world.clock - 7200]
            assert len(mine) == changed.count(obj_id)
            first = min(mine, key=lambda e: (e["created"], e["id"]))
            types.update(e["type"] for e in mine)
            previous = first["data"]["previous_attributes"]
            assert previous and set(previous) <= set(old)
            for key, value in previous.items():
                if not isinstance(value, dict) or key in ("metadata",):
                    if not isinstance(value, dict):
                        assert old[key] == value, (obj_id, key)
                else:
                    assert all(old[key].get(k) == v for k, v in value.items()
                               if not isinstance(v, dict)), (obj_id, key)
    assert "customer.updated" in types and any(t.startswith("invoice.") for t in types)


def test_invoice_lifecycle_events_match_the_object(sandbox):
    advance(sandbox, updates=200, seconds=3 * 86400)
    invoice_events = [e for e in list_all(sandbox, "events", type="invoice.*")
                      if e["created"] >= sandbox.world.clock - 3 * 86400]
    kinds = {e["type"] for e in invoice_events}
    assert {"invoice.finalized", "invoice.paid"} <= kinds
    for event in invoice_events:
        inv = event["data"]["object"]
        transitions = inv["status_transitions"]
        if event["type"] == "invoice.finalized":
            assert inv["status"] == "open" and transitions["finalized_at"] == event["created"]
            assert event["data"]["previous_attributes"]["status"] == "draft"
        if event["type"] == "invoice.paid":
            assert inv["status"] == "paid" and transitions["paid_at"] == event["created"]
            assert inv["amount_remaining"] == 0


def test_deletes_remove_objects_for_real(sandbox):
    result = advance(sandbox, deletes=12, seconds=600)
    deleted = result["deleted"]
    assert sum(map(len, deleted.values())) == 12 and result["created"] == {}
    events = events_by_object(sandbox)
    for name, gone in deleted.items():
        assert name in ("customers", "invoices", "products")
        remaining = {o["id"] for o in truth(sandbox, name)}
        listed = {o["id"] for o in list_all(sandbox, name)}
        for obj_id in gone:
            assert obj_id not in remaining and obj_id not in listed
            resp = api(sandbox, f"/v1/{name}/{obj_id}")
            assert resp.status_code == 404
            assert resp.json()["error"]["message"] == f"No such {SINGULAR[name]}: '{obj_id}'"
            (event,) = [e for e in events[obj_id] if e["type"].endswith(".deleted")]
            assert event["type"] == f"{SINGULAR[name]}.deleted"
            assert event["data"]["object"]["id"] == obj_id
            # A client holding a deleted id as its cursor can still page on.
            assert api(sandbox, f"/v1/{name}", starting_after=obj_id).status_code == 200


def test_changes_mix_and_total(sandbox):
    result = advance(sandbox, changes=60)
    total = sum(len(ids) for kind in ("created", "updated", "deleted")
                for ids in result[kind].values())
    assert total == 60
    assert result["created"] and result["updated"]
    clock = requests.get(f"{sandbox.url}/_sandbox/clock", timeout=10).json()["clock"]
    assert clock == result["clock"]


def test_advance_is_deterministic_for_a_seed_and_call_sequence():
    with SandboxServer(port=0, seed=9) as a, SandboxServer(port=0, seed=9) as b:
        for body in ({"changes": 30}, {"creates": 5, "deletes": 3, "seconds": 90},
                     {"changes": 25, "seconds": 86400}):
            assert advance(a, **body) == advance(b, **body)
        for name in [*SINGULAR, "events"]:
            path = f"/_sandbox/truth/stripe/{name}"
            assert requests.get(a.url + path, timeout=10).content == \
                requests.get(b.url + path, timeout=10).content


def test_events_older_than_30_days_are_gone(sandbox):
    oldest = list_all(sandbox, "events")[-1]
    assert oldest["created"] >= sandbox.world.clock - 30 * 86400
    assert api(sandbox, f"/v1/events/{oldest['id']}").status_code == 200
    advance(sandbox, changes=1, seconds=31 * 86400)
    assert api(sandbox, f"/v1/events/{oldest['id']}").status_code == 404
    remaining = list_all(sandbox, "events")
    assert oldest["id"] not in {e["id"] for e in remaining}
    assert all(e["created"] >= sandbox.world.clock - 30 * 86400 for e in remaining)
    assert len(truth(sandbox, "events")) == len(remaining)


def test_bad_advance_bodies_are_400(sandbox):
    for body in ({"changes": -1}, {"changes": "5"}, {"changes": 3, "creates": 1}, {"nope": 1}, []):
        resp = requests.post(f"{sandbox.url}/_sandbox/advance", json=body, timeout=10)
        assert resp.status_code == 400 and "error" in resp.json()
    resp = requests.post(f"{sandbox.url}/_sandbox/advance", data=b"{not json", timeout=10)
    assert resp.status_code == 400


def test_concurrent_readers_and_advances_see_consistent_pages(sandbox):
    errors: list[str] = []

    def reader() -> None:
        with requests.Session() as http:
            http.auth = AUTH
            for _ in range(15):
                body = http.get(f"{sandbox.url}/v1/charges?limit=50", timeout=10).json()
                keys = [(o["created"], o["id"]) for o in body["data"]]
                if keys != sorted(keys, reverse=True) or len(keys) != 50:
                    errors.append("bad page")

    def writer() -> None:
        for _ in range(5):
            advance(sandbox, changes=20, seconds=60)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()["total"] >= 90
