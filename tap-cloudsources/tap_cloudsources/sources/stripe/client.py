"""Stripe: Bearer auth, its error bodies and retry headers, and the newest-first list pass.

Stripe lists newest first with a `starting_after` cursor. A pass reads everything created at
or after the bookmark; the bookmark moves to the newest `created` only when the pass is
complete. While paging, a checkpoint records how far down the pass got (`created[lte]` of the
last full page), so a killed run resumes there instead of starting the collection over.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cached_property

from tap_cloudsources.client import CloudSourcesStream
from tap_cloudsources.engine.errors import DEFAULT_STATUS_TABLE, ErrorPolicy, HttpAnswer, Outcome
from tap_cloudsources.engine.pagination import BoundaryDeduper, LoopGuard
from tap_cloudsources.errors import APIError, CollectionError

if t.TYPE_CHECKING:
    from tap_cloudsources.engine.report import CollectionMeter
    from tap_cloudsources.sources.stripe.children import StripeChildStream
    from tap_cloudsources.sources.stripe.events import Change, StripeEventFeed

PAGE_SIZE = 100  # Stripe's maximum `limit`: the fewest calls per collection.


def stripe_auth_headers(config: Mapping[str, t.Any]) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {config['api_key']}"}
    if config.get("stripe_api_version"):
        headers["Stripe-Version"] = config["stripe_api_version"]
    return headers


def stripe_budget(config: Mapping[str, t.Any]) -> tuple[float, float]:
    """Stripe allows 100 requests/s in live mode and 25 in test mode."""
    live = "_live_" in str(config.get("api_key", ""))
    return (100.0 if live else 25.0), 1.0


def _stripe_message(body: object) -> str | None:
    return body["error"]["message"] if isinstance(body, dict) else None  # type: ignore[index]


def _stripe_refine(response: HttpAnswer, outcome: Outcome) -> Outcome:
    # Stripe says when it knows better than the status code whether a retry can succeed.
    should_retry = response.headers.get("Stripe-Should-Retry")
    if should_retry == "true" and outcome is Outcome.FATAL:
        return Outcome.RETRY
    if should_retry == "false" and outcome is Outcome.RETRY and response.status_code != 429:
        return Outcome.FATAL
    return outcome


STRIPE_ERRORS = ErrorPolicy(
    statuses=DEFAULT_STATUS_TABLE,
    reason_from_body=_stripe_message,
    refine=_stripe_refine,
)


def to_epoch(value: t.Any) -> int | None:
    """Bookmarks are Stripe epoch seconds; `start_date` is ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


class StripeStream(CloudSourcesStream):
    """A Stripe list endpoint: `GET /v1/<path>`, newest first, filtered on `created`."""

    source = "stripe"
    schema_package = "tap_cloudsources.sources.stripe.schemas"
    # The list's `created` filter applies to this field (invoice items call it `date`).
    replication_key = "created"
    path: t.ClassVar[str]
    # The `object` value of this collection's objects, which routes event payloads to it.
    object_type: t.ClassVar[str | None] = None
    # Query parameters a collection always sends (e.g. subscriptions hide canceled ones).
    list_params: t.ClassVar[dict[str, str]] = {}
    # Segment's column → the Stripe field it is read from (an id, or an expanded object).
    foreign_keys: t.ClassVar[dict[str, str]] = {}

    @classmethod
    def load_schema(cls) -> dict:
        schema = super().load_schema()
        schema["properties"]["_sdc_deleted_at"] = {
            "type": ["null", "string"], "format": "date-time",
            "description": "When Stripe deleted the object (Singer's soft-delete column)."}
        for column, source in cls.foreign_keys.items():
            if source.split(".")[0] in schema["properties"]:
                schema["properties"][column] = {
                    "type": ["null", "string"], "description": f"Segment's name for `{source}`."}
        return schema

    def with_segment_fields(self, record: dict, *, deleted_at: int | None = None) -> dict:
        """Segment's foreign-key columns, `is_deleted`, and Singer's `_sdc_deleted_at` (so a
        target can soft- or hard-delete the row by convention)."""
        for column, field in self._foreign_key_fields:  # the usual case: a top-level field
            value: t.Any = record.get(field)
            record[column] = value.get("id") if isinstance(value, dict) else value
        for column, path in self._foreign_key_paths:
            value = record
            for part in path:  # ("source", "coupon"): a field of a nested object
                value = value.get(part) if isinstance(value, dict) else None
            record[column] = value.get("id") if isinstance(value, dict) else value
        record["is_deleted"] = deleted_at is not None
        if deleted_at is not None:
            record["_sdc_deleted_at"] = datetime.fromtimestamp(deleted_at, UTC).isoformat()
        return record

    @cached_property
    def _foreign_key_fields(self) -> tuple[tuple[str, str], ...]:
        return tuple((column, source) for column, source in self.foreign_keys.items()
                     if column in self._known_properties and "." not in source)

    @cached_property
    def _foreign_key_paths(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple((column, tuple(source.split(".")))
                     for column, source in self.foreign_keys.items()
                     if column in self._known_properties and "." in source)

    # False where Stripe sends no events for the object (balance transactions): such a
    # collection keeps reading its list from the bookmark (new objects) on every run.
    has_events: t.ClassVar[bool] = True
    # Listed whole (no `created` bookmark) whenever it is listed: a small collection that
    # changes without any event (shipping rates), so a bookmark would miss its updates.
    relist_whole: t.ClassVar[bool] = False

    @property
    def feed(self) -> StripeEventFeed | None:
        return getattr(self._tap, "prepared", None)

    def read(self, meter: CollectionMeter) -> Iterator[dict]:
        feed = self.feed
        full_pass = True
        if feed is not None and feed.follows(self):
            records = self.read_changes(feed, meter)
            full_pass = False
        elif feed is not None and self.quiet_without_events(feed):
            records = iter(())  # nothing happened in the account: no money moved
        else:
            full = feed is not None and (self.name in feed.relist or self.relist_whole)
            records = map(self.with_segment_fields, self.read_list(meter, full=full))
        yield from self._with_children(records, full_pass=full_pass)
        if feed is not None and feed.changes is not None:
            # Changes from this cursor on are read from the feed next time.
            self.stream_state["changes_since"] = feed.cursor

    @property
    def children(self) -> list[StripeChildStream]:
        """Selected child collections read from this collection's objects."""
        return [s for s in self._tap.streams.values()
                if getattr(s, "parent_name", None) == self.name and s.selected]

    @property
    def wanted(self) -> bool:
        """Read in this run: selected, or the parent of a selected child."""
        return self.selected or bool(self.children)

    def _with_children(self, records: Iterator[dict], *, full_pass: bool) -> Iterator[dict]:
        children = self.children
        # Without children the records pass as they are: no generator layer per record.
        return self._feeding(children, records, full_pass) if children else records

    def _feeding(self, children: list[StripeChildStream], records: Iterator[dict],
                 full_pass: bool) -> Iterator[dict]:
        for child in children:
            child.start_with_parent()
        for record in records:
            found = []
            for child in list(children):
                try:
                    found.append((child, child.rows_of(record, full_pass=full_pass,
                                                       stale=self._from_payload)))
                except CollectionError as exc:
                    child.fail_with_parent(exc, record["id"])  # the child fails; the parent goes on
                    children.remove(child)
            for field in self._expanded_for_children:  # asked for the children only
                record.pop(field, None)
            yield record  # the parent's row first, then its children's
            for child, rows in found:
                child.emit_with_parent(record, rows, self._change_time)

    @cached_property
    def _expanded_for_children(self) -> tuple[str, ...]:
        """Fields the list expands only to embed children (a customer's `sources`), which
        are not the parent's own columns."""
        return tuple({c.field for c in self.children if c.parent_expand}
                     - self._known_properties)

    # The change being emitted in events mode: its time, and whether the record is the
    # event's payload (which may lack fields) rather than a fresh read.
    _change_time: int | None = None
    _from_payload: bool = False

    def quiet_without_events(self, feed: StripeEventFeed) -> bool:
        """A collection Stripe sends no events for (balance transactions) still appears only
        when something else happens (a charge, a refund, a payout…), all of which have events:
        with no new event at all, its list would come back empty, so it is not asked."""
        return (not self.has_events and feed.changes is not None and feed.new_events == 0
                and not feed.relist  # past the horizon, events cannot vouch for quiet
                and self.stream_state.get("replication_key_value") is not None
                and "resume" not in self.stream_state)

    def read_changes(self, feed: StripeEventFeed, meter: CollectionMeter) -> Iterator[dict]:
        for object_id, change in (feed.changes or {}).get(self.name, {}).items():
            record, self._from_payload = change.record, True
            if not change.deleted and self.needs_hydration(change, feed):
                record, self._from_payload = self.retrieve(object_id, meter), False
                if record is None:  # deleted since the event
                    record, change.deleted, self._from_payload = change.record, True, True
            self._change_time = change.created
            deleted_at = (change.created or 0) if change.deleted else None
            yield self.with_segment_fields(dict(record), deleted_at=deleted_at)

    def needs_hydration(self, change: Change, feed: StripeEventFeed) -> bool:
        other_version = (change.api_version and feed.reading_version
                         and change.api_version != feed.reading_version)
        missing = self._known_properties - change.record.keys() - self._added_properties
        return bool(change.refresh or other_version or missing)

    @cached_property
    def _added_properties(self) -> frozenset[str]:
        """Columns the tap adds, which no API payload carries."""
        return frozenset({"is_deleted", "_sdc_deleted_at", *self.foreign_keys})

    def retrieve(self, object_id: str, meter: CollectionMeter) -> dict | None:
        return self.retrieve_at(f"{self.path}/{object_id}", meter)

    def retrieve_at(self, path: str, meter: CollectionMeter) -> dict | None:
        try:
            return self.client.get_json(path, None, meter)
        except APIError as exc:
            if "(HTTP 404)" in str(exc):
                return None
            raise

    def read_list(self, meter: CollectionMeter, *, full: bool = False) -> Iterator[dict]:
        self._change_time, self._from_payload = None, False
        state = self.stream_state
        if full:
            for key in ("replication_key_value", "boundary_ids", "resume"):
                state.pop(key, None)
        bookmark = state.get("replication_key_value")
        resume = state.get("resume")
        lower = resume["lower"] if resume else (
            bookmark if bookmark is not None else to_epoch(self.config.get("start_date")))
        # `gte`, not `gt`, because many objects share a second; those at the bookmark second
        # that the last run already emitted are skipped by id.
        seen_at_lower = set(state.get("boundary_ids", [])) if lower == bookmark else set()
        params: dict[str, t.Any] = {"limit": PAGE_SIZE, **self.list_params}
        expand = sorted({c.parent_expand for c in self.children if c.parent_expand})
        params.update({f"expand[{i}]": path for i, path in enumerate(expand)})
        if lower is not None:
            params["created[gte]"] = lower
        if resume:
            params["created[lte]"] = resume["lte"]
        newest: int | None = resume["newest"] if resume else None
        newest_ids: set[str] = set(resume["newest_ids"]) if resume else set()

        replication_key = self.replication_key
        guard = LoopGuard(self.source, self.name, "cursor")
        dedupe = BoundaryDeduper()
        page_params, sent = params, None
        while True:
            body = self.client.get_json(self.path, page_params, meter, sent=sent)
            page = body.get("data") or []
            sent = None
            if body.get("has_more") and page:
                # The next page is asked for now; the server prepares it while this one is
                # written.
                cursor = page[-1]["id"]
                guard.check(cursor)
                page_params = {**params, "starting_after": cursor}
                sent = self.client.send_ahead(self.path, page_params, meter)
            for obj in dedupe.page(page):
                created = obj.get(replication_key)
                if created == lower and obj["id"] in seen_at_lower:
                    continue
                if newest is None or (created is not None and created > newest):
                    newest, newest_ids = created, {obj["id"]}
                elif created == newest:
                    newest_ids.add(obj["id"])
                yield obj
            if sent is None:
                break
            state["resume"] = {"lower": lower, "lte": page[-1].get(replication_key),
                               "newest": newest, "newest_ids": sorted(newest_ids)}
            self.checkpoint()

        state.pop("resume", None)
        if newest is not None and (bookmark is None or newest >= bookmark):
            if newest == lower:
                newest_ids |= seen_at_lower
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = newest
            state["boundary_ids"] = sorted(newest_ids)


class StripeEventsStream(StripeStream):
    """The event feed itself, append-only by id; read once per run by the feed."""

    name = "events"
    path = "/v1/events"

    def read(self, meter: CollectionMeter) -> Iterator[dict]:
        feed = self.feed
        if feed is not None and feed.error is not None:
            raise feed.error
        if feed is None or feed.events is None:
            return
        yield from feed.events
        if feed.cursor is not None:
            self.stream_state.update(replication_key=self.replication_key,
                                     replication_key_value=feed.cursor,
                                     boundary_ids=feed.cursor_ids)
