"""Stripe's event feed: after a collection's first full pass, one pass over `/v1/events` serves
every collection's changes at once.

The pass runs before any collection syncs. For each object it keeps the newest state (events
come newest first); `*.deleted` events mark the object deleted. A payload rendered in another
API version, or lacking fields the schema has (Stripe leaves some out of event payloads), is
re-read from the API by the collection that owns it. Stripe keeps events for 30 days: a cursor
older than that makes the affected collections re-list fully in the same run.
"""

from __future__ import annotations

import logging
import time
import typing as t
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from tap_cloudsources.engine.pagination import BoundaryDeduper, LoopGuard
from tap_cloudsources.errors import PermissionDenied

if t.TYPE_CHECKING:
    from tap_cloudsources.engine.report import CollectionMeter
    from tap_cloudsources.sources.stripe.client import StripeStream

logger = logging.getLogger("tap-cloudsources.stripe.events")

RETENTION_SECONDS = 30 * 86400
HORIZON_MARGIN = 3600  # stop trusting a cursor an hour before Stripe drops its events
PAGE_SIZE = 100
# Event types that end with `.deleted` but leave the object in place.
NOT_DELETIONS = frozenset({"customer.subscription.deleted"})  # a cancellation
# Objects whose events change another object that gets no event of its own: a dispute flips
# its charge's `disputed`; a recurring price is also a plan (same id), and Stripe sends only
# `price.*`. Object type → (collection to re-read, field holding its id, applies to object?).
REFRESH_RELATED: dict[str, tuple[str, str, t.Callable[[dict], bool]]] = {
    "dispute": ("charges", "charge", lambda obj: True),
    "price": ("plans", "id", lambda obj: bool(obj.get("recurring"))),
}


@dataclass
class Change:
    record: dict
    deleted: bool
    api_version: str | None
    refresh: bool = False  # re-read from the API whatever the payload says
    created: int | None = None  # the event's time


class StripeEventFeed:
    """Reads the feed once per run; collections take their changes from it."""

    def __init__(self, tap: t.Any) -> None:
        self.tap = tap
        self.events_stream: StripeStream = tap.streams["events"]
        self.objects: list[StripeStream] = [
            s for s in tap.streams.values()
            if getattr(s, "source", None) == "stripe" and s.name != "events" and s.wanted
        ]
        self.events: list[dict] | None = None  # what the events collection emits this run
        self.changes: dict[str, dict[str, Change]] | None = None  # None: no usable feed
        self.relist: set[str] = set()  # collections whose cursor fell off the 30-day horizon
        self.cursor: int | None = None  # newest event `created` known after this run's pass
        self.cursor_ids: list[str] = []
        self.reading_version: str | None = tap.config.get("stripe_api_version")
        self.error: PermissionDenied | None = None  # the events collection's own failure
        self.new_events = 0  # events read in this run's pass that were not seen before

    @property
    def object_type_collections(self) -> dict[str, str]:
        return {s.object_type: s.name for s in self.objects if s.object_type}

    def prepare(self) -> None:
        state = self.events_stream.stream_state
        self.cursor = state.get("replication_key_value")
        self.cursor_ids = list(state.get("boundary_ids", []))
        following = [s for s in self.objects
                     if s.has_events and s.stream_state.get("changes_since") is not None]
        wanted = self.events_stream.selected or following
        meter = self.tap.report.meter("events")
        try:
            if not wanted:
                if self.cursor is None:
                    self._take_cursor(meter)
                return
            starts = [s.stream_state["changes_since"] for s in following]
            if self.events_stream.selected:
                starts.append(self.cursor)
            since = None if None in starts else min(starts, default=None)
            events, now = self._read(since, meter)
        except PermissionDenied as exc:
            # Without the events permission, collections fall back to created-based lists;
            # the events collection reports the failure when its turn comes.
            self.error = exc
            if not self.events_stream.selected:
                meter.finish(str(exc))
                logger.error("%s", exc)
            return
        if since is not None and since < now - RETENTION_SECONDS + HORIZON_MARGIN:
            self.relist = {s.name for s in following}
            logger.warning(
                "stripe: the event cursor is %.1f days old, past Stripe's 30-day retention: "
                "re-listing %s", (now - since) / 86400, ", ".join(sorted(self.relist)))
        self.events = events
        self.new_events = len(events)
        self.changes = self._group(events)
        if events:
            newest = events[0]["created"]
            self.cursor = newest
            self.cursor_ids = sorted(e["id"] for e in events if e["created"] == newest)
        if not self.events_stream.selected:
            meter.finish()

    def _take_cursor(self, meter: CollectionMeter) -> None:
        """The events collection is deselected and no collection follows the feed yet: one
        request marks where the feed starts, so the next run captures changes from there."""
        body = self.tap.client.get_json("/v1/events", {"limit": 1}, meter)
        data = body.get("data") or []
        self.cursor = data[0]["created"] if data else int(self._now())
        self.cursor_ids = [data[0]["id"]] if data else []
        self.changes = {}  # a usable feed with nothing in it yet
        meter.finish()

    def _read(self, since: int | None, meter: CollectionMeter) -> tuple[list[dict], float]:
        params: dict[str, t.Any] = {"limit": PAGE_SIZE}
        if since is not None:
            params["created[gte]"] = since
        seen = set(self.cursor_ids) if since == self.cursor else set()
        guard, dedupe = LoopGuard("stripe", "events"), BoundaryDeduper()
        events: list[dict] = []
        cursor = None
        now = None
        while True:
            page_params = {**params, "starting_after": cursor} if cursor else params
            body = self.tap.client.get_json("/v1/events", page_params, meter)
            if now is None:
                now = self._now()
                self.reading_version = (self.reading_version
                                        or self.tap.client.last_headers.get("Stripe-Version"))
            page = body.get("data") or []
            events.extend(e for e in dedupe.page(page) if e["id"] not in seen)
            if not body.get("has_more") or not page:
                return events, now
            cursor = page[-1]["id"]
            guard.check(cursor)

    def _now(self) -> float:
        """The server's clock (its `Date` header), which is what Stripe's retention follows."""
        date = self.tap.client.last_headers.get("Date")
        if date:
            try:
                return parsedate_to_datetime(date).timestamp()
            except (TypeError, ValueError):
                pass
        return time.time()

    def _group(self, events: list[dict]) -> dict[str, dict[str, Change]]:
        by_type = self.object_type_collections
        changes: dict[str, dict[str, Change]] = {}
        for event in events:  # newest first: the first change seen for an object wins
            obj = (event.get("data") or {}).get("object") or {}
            collection = by_type.get(obj.get("object"))
            self._refresh_parent(obj, changes)
            if collection is None or "id" not in obj:
                continue
            per_object = changes.setdefault(collection, {})
            known = per_object.get(obj["id"])
            if known is None:
                deleted = (event["type"].endswith(".deleted")
                           and event["type"] not in NOT_DELETIONS) or obj.get("deleted") is True
                per_object[obj["id"]] = Change(obj, deleted, event.get("api_version"),
                                               created=event["created"])
            elif known.created == event["created"] and not known.deleted:
                # Two events for one object in the same second: which is newer is not
                # certain, so the object is read again.
                known.refresh = True
        return changes

    def _refresh_parent(self, obj: dict, changes: dict[str, dict[str, Change]]) -> None:
        parent_collection, field, applies = REFRESH_RELATED.get(
            obj.get("object"), (None, "", lambda obj: False))
        if not applies(obj):
            return
        parent = obj.get(field)
        parent_id = parent.get("id") if isinstance(parent, dict) else parent
        if parent_collection in self.object_type_collections.values() and parent_id:
            per_object = changes.setdefault(parent_collection, {})
            known = per_object.get(parent_id)
            per_object[parent_id] = Change(known.record if known else {"id": parent_id},
                                           known.deleted if known else False, None,
                                           refresh=True)

    def follows(self, stream: StripeStream) -> bool:
        """Does this collection take its changes from the feed in this run?"""
        return (self.changes is not None and stream.has_events
                and stream.name not in self.relist
                and stream.stream_state.get("changes_since") is not None)


def prepare(tap: t.Any) -> StripeEventFeed:
    feed = StripeEventFeed(tap)
    feed.prepare()
    return feed
