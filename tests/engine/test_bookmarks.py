"""Bookmarks: `>=` on the non-unique `created` second, with an id tie-break, so an unchanged
source costs one request per collection and re-emits nothing."""

from __future__ import annotations

import json

from tap_cloudsources.sources.stripe.streams import COLLECTIONS as STRIPE_COLLECTIONS
from taprun import run_tap, tap_config

COLLECTIONS = [c.name for c in STRIPE_COLLECTIONS]
PATHS = {c.name: c.path for c in STRIPE_COLLECTIONS}


def records_by_stream(run) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for message in run.of_type("RECORD"):
        out.setdefault(message["stream"], []).append(message["record"])
    return out


def test_second_run_without_changes_reemits_nothing(admin, tmp_path):
    first = run_tap(tmp_path, tap_config(admin.url))
    assert first.returncode == 0
    state = first.of_type("STATE")[-1]["value"]
    charges = state["bookmarks"]["charges"]
    newest = max(r["created"] for r in records_by_stream(first)["charges"])
    at_newest = sorted(r["id"] for r in records_by_stream(first)["charges"]
                       if r["created"] == newest)
    assert (charges["replication_key_value"], charges["boundary_ids"]) == (newest, at_newest)

    (tmp_path / "state.json").write_text(json.dumps(state))
    admin.post("/_sandbox/stats/reset")
    second = run_tap(tmp_path, tap_config(admin.url), "--state", str(tmp_path / "state.json"))
    assert second.returncode == 0
    assert set(records_by_stream(second)) == {"_sync_runs"}
    # Every collection follows the event feed now: one request for the whole source (the
    # collections Stripe sends no events for are listed only when some event came in).
    made = admin.get("/_sandbox/requests")
    assert [q["path"] for q in made] == ["/v1/events"]
    assert made[0]["query"]["created[gte]"] == str(state["bookmarks"]["events"]
                                                   ["replication_key_value"])


def test_list_passes_reemit_nothing_when_nothing_was_created(admin, tmp_path):
    """Without the feed (e.g. a key lacking the events permission) collections re-list from
    their bookmark: one request each, nothing re-emitted."""
    first = run_tap(tmp_path, tap_config(admin.url))
    state = first.of_type("STATE")[-1]["value"]
    admin.fault(path="/v1/events", status=403)
    (tmp_path / "state.json").write_text(json.dumps(state))
    admin.post("/_sandbox/stats/reset")
    second = run_tap(tmp_path, tap_config(admin.url), "--state", str(tmp_path / "state.json"))
    assert second.returncode == 3  # the events collection itself failed
    # Shipping rates (order_shipping_methods) have no bookmark: a short list read whole.
    whole = {c.name: c.path for c in STRIPE_COLLECTIONS if c.relist_whole}
    emitted = records_by_stream(second)
    assert set(emitted) == {"_sync_runs", *whole}
    assert {name: len(emitted[name]) for name in whole} == {
        name: len(admin.truth(name)) for name in whole}
    requests_made = admin.get("/_sandbox/requests")
    lists = [q for q in requests_made if q["path"] != "/v1/events"]
    by_path = {path: name for name, path in PATHS.items()}
    assert sorted(q["path"] for q in lists) == sorted(PATHS.values())
    assert all(q["query"]["created[gte]"] == str(state["bookmarks"][by_path[q["path"]]]
                                                 ["replication_key_value"]) for q in lists
               if by_path[q["path"]] not in whole)


def test_an_unseen_object_in_the_bookmark_second_is_emitted(admin, tmp_path):
    """Many objects share a `created` second; one the last run did not see (here: removed
    from the boundary ids) must come through, and only it."""
    first = run_tap(tmp_path, tap_config(admin.url))
    state = first.of_type("STATE")[-1]["value"]
    tied = max(COLLECTIONS, key=lambda c: len(state["bookmarks"][c]["boundary_ids"]))
    boundary = state["bookmarks"][tied]["boundary_ids"]
    unseen = boundary.pop(0)
    for collection in COLLECTIONS:  # back to list passes, where the tie-break applies
        state["bookmarks"][collection].pop("changes_since", None)
    (tmp_path / "state.json").write_text(json.dumps(state))
    second = run_tap(tmp_path, tap_config(admin.url), "--state", str(tmp_path / "state.json"))
    assert [r["id"] for r in records_by_stream(second).get(tied, [])] == [unseen]
    assert sorted(second.of_type("STATE")[-1]["value"]["bookmarks"][tied]["boundary_ids"]) == (
        sorted([*boundary, unseen]))
