"""Stripe update capture through /v1/events: one pass serves every collection."""

from __future__ import annotations

import json
import math
import subprocess

from tap_cloudsources.sources.stripe.streams import CHILDREN as STRIPE_CHILDREN
from tap_cloudsources.sources.stripe.streams import COLLECTIONS as STRIPE_COLLECTIONS
from taprun import DERIVED_CHILDREN, TAP, run_tap, tap_config
from warehouse_reader import mismatches, read_duckdb

OBJECTS = [c.name for c in STRIPE_COLLECTIONS]
TEMPLATES: dict[str, dict] = {}
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
    assert [q["path"] for q in made if q["path"] in {c.path for c in STRIPE_COLLECTIONS}] == [
        c.path for c in STRIPE_COLLECTIONS if not c.has_events]
    # Objects are fetched again only when their newest event is stale (another API version,
    # a field left out), and at most when also an event changes them without one of their own
    # (a dispute's charge, a recurring price's plan) or two events share their newest second.
    types = {c.object_type: c for c in STRIPE_COLLECTIONS}
    # Children with events of their own (cards, payment methods, fee refunds…) are re-read at
    # their own address; discounts have none (never re-read).
    retrieve_paths = {c.object_type: c.retrieve_path for c in STRIPE_CHILDREN if c.retrieve_path}
    version = max(set(e["api_version"] for e in new_events),
                  key=[e["api_version"] for e in new_events].count)
    must, may, seen, newest = set(), set(), set(), {}
    for event in new_events:  # newest first
        obj = event["data"]["object"]
        if obj.get("object") == "dispute":
            may.add(f"/v1/charges/{obj['charge']}")
        if obj.get("object") == "price" and obj.get("recurring"):
            may.add(f"/v1/plans/{obj['id']}")
        spec = types.get(obj.get("object"))
        if spec is None:
            template = retrieve_paths.get(obj.get("object"))
            if template:
                may.add(template.format(**obj))
            continue
        path = f"{spec.path}/{obj['id']}"
        if obj["id"] in seen:
            if newest[obj["id"]] == event["created"]:
                may.add(path)
            continue
        seen.add(obj["id"])
        newest[obj["id"]] = event["created"]
        deleted = event["type"].endswith(".deleted") and "subscription" not in event["type"]
        template = admin.truth(spec.name)[0] if spec.name not in TEMPLATES else TEMPLATES[
            spec.name]
        TEMPLATES[spec.name] = template
        if not deleted and (event["api_version"] != version or set(template) - set(obj)):
            must.add(path)
    retrieved = {q["path"] for q in made if q["path"].count("/") == 3
                 or "/sources/" in q["path"] or "/refunds/" in q["path"]}
    assert must <= retrieved <= must | may
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
    children = [c.name for c in STRIPE_CHILDREN if c.name not in DERIVED_CHILDREN]
    for collection in [*OBJECTS, *children]:
        rows = read_duckdb(warehouse["path"], "stripe", collection)
        live = {k: r for k, r in rows.items() if not r["is_deleted"]}
        assert mismatches(live, admin.truth(collection)) == [], collection
        assert set(updated.get(collection, [])) <= set(live)


def test_changes_arrive_with_the_events_collection_deselected(admin, tmp_path):
    """The feed serves updates and deletions even when its raw table is not wanted."""
    (tmp_path / "c.json").write_text(json.dumps(tap_config(admin.url)))
    catalog = json.loads(subprocess.run([TAP, "--config", str(tmp_path / "c.json"), "--discover"],
                                        capture_output=True, text=True, check=True).stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] != "events"
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    first = run_tap(tmp_path, tap_config(admin.url), "--catalog", str(tmp_path / "catalog.json"))
    assert first.returncode == 0
    assert not [m for m in first.of_type("RECORD") if m["stream"] == "events"]
    changes = admin.post("/_sandbox/advance", {"updates": 10, "deletes": 3})
    second = run_tap(tmp_path, tap_config(admin.url), "--catalog", str(tmp_path / "catalog.json"),
                     "--state", save(tmp_path, last_state(first)))
    assert second.returncode == 0
    emitted = {m["record"]["id"]: m["record"] for m in second.of_type("RECORD")
               if m["stream"] != "_sync_runs"}
    for collection, ids in changes["deleted"].items():
        for object_id in ids:
            assert emitted[object_id]["is_deleted"] is True, (collection, object_id)
            assert emitted[object_id]["_sdc_deleted_at"].endswith("+00:00")
    assert {i for ids in changes["updated"].values() for i in ids} <= set(emitted)
