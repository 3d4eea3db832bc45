"""Stripe update capture through /v1/events: one pass serves every collection."""

from __future__ import annotations

import json
import math

from taprun import run_tap, tap_config
from warehouse_reader import mismatches, read_duckdb

OBJECTS = ["customers", "products", "prices", "charges", "invoices", "subscriptions"]
DAY = 86400


def last_state(run) -> dict:
    return run.of_type("STATE")[-1]["value"]


def save(tmp_path, state: dict):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    return str(path)


def test_changes_cost_one_events_page_per_hundred_events(admin, tmp_path):
    first = run_tap(tmp_path, tap_config(admin.url))
    state = last_state(first)
    cursor = state["bookmarks"]["events"]["replication_key_value"]
    admin.post("/_sandbox/advance", {"changes": 150})
    new_events = [e for e in admin.truth("events") if e["created"] >= cursor
                  and e["id"] not in state["bookmarks"]["events"]["boundary_ids"]]
    admin.post("/_sandbox/stats/reset")
    second = run_tap(tmp_path, tap_config(admin.url), "--state", save(tmp_path, state))
    assert second.returncode == 0, second.stderr[-2000:]
    made = admin.get("/_sandbox/requests")
    assert sum(q["path"] == "/v1/events" for q in made) == math.ceil(len(new_events) / 100)
    assert [q for q in made if q["path"] in {f"/v1/{c}" for c in OBJECTS}] == []
    # Only the objects whose newest event is stale (another API version, a field left out)
    # or whose event changes a parent silently (a dispute's charge) are fetched again.
    current = {c: {o["id"]: o for o in admin.truth(c)} for c in OBJECTS}
    version = max(set(e["api_version"] for e in new_events),
                  key=[e["api_version"] for e in new_events].count)
    object_types = {"customer": "customers", "product": "products", "price": "prices",
                    "charge": "charges", "invoice": "invoices", "subscription": "subscriptions"}
    expected, seen = set(), set()
    for event in new_events:  # newest first
        obj = event["data"]["object"]
        if obj.get("object") == "dispute":
            expected.add(f"/v1/charges/{obj['charge']}")
        collection = object_types.get(obj.get("object"))
        if collection is None or obj["id"] in seen:
            continue
        seen.add(obj["id"])
        deleted = event["type"].endswith(".deleted") and "subscription" not in event["type"]
        template = next(iter(current[collection].values()))
        stale = event["api_version"] != version or set(template) - set(obj)
        if stale and not deleted:
            expected.add(f"/v1/{collection}/{obj['id']}")
    retrieved = {q["path"] for q in made if q["path"].count("/") == 3}
    assert retrieved == expected
    assert len(retrieved) < len(seen) / 2
    emitted_events = [m["record"]["id"] for m in second.of_type("RECORD")
                      if m["stream"] == "events"]
    assert sorted(emitted_events) == sorted(e["id"] for e in new_events)


def test_a_cursor_past_the_30_day_horizon_relists_and_loses_nothing(admin, pipeline, tmp_path):
    warehouse = {"path": str(tmp_path / "w.duckdb")}
    first = pipeline(tap_config(admin.url), warehouse, tmp_path / "one")
    assert first.tap_rc == 0
    # Changes 5 days later, then 35 quiet days: the cursor is 40 days old, the changes 35.
    admin.post("/_sandbox/advance", {"seconds": 5 * DAY, "changes": 0})
    changed = admin.post("/_sandbox/advance", {"updates": 20, "seconds": 60})
    admin.post("/_sandbox/advance", {"seconds": 35 * DAY, "changes": 0})
    second = pipeline(tap_config(admin.url), warehouse, tmp_path / "two",
                      state=first.last_state)
    assert (second.tap_rc, second.target_rc) == (0, 0), second.tap_stderr[-2000:]
    assert "past Stripe's 30-day retention: re-listing" in second.tap_stderr
    updated = {c: ids for c, ids in changed["updated"].items() if ids}
    assert updated
    for collection in OBJECTS:
        rows = read_duckdb(warehouse["path"], "stripe", collection)
        live = {k: r for k, r in rows.items() if not r["is_deleted"]}
        assert mismatches(live, admin.truth(collection)) == [], collection
        assert set(updated.get(collection, [])) <= set(live)
