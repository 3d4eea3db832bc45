"""Child collections: rows that live inside a parent object (an invoice's lines, a
subscription's items, a transfer's reversals, a balance transaction's fee details, a customer's
cards) and are read with it.

The parent hands each record it emits to its selected children, which emit their rows right
after it. So the children cost no request of their own, except where the parent embeds only a
first page (Stripe embeds 10 lines of an invoice and says `has_more`): the rest is paged from
the child endpoint, for that parent only. On later syncs the parents that changed come from
the event feed, and only their children are read again.

Children that Stripe sends events for themselves (cards, bank accounts, payment methods,
discounts, fee refunds) also take those events from the feed, at their own turn; a row the
parent already emitted from a newer state is not sent again.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from tap_cloudsources.engine.pagination import BoundaryDeduper, LoopGuard
from tap_cloudsources.errors import CollectionError
from tap_cloudsources.sources.stripe.client import PAGE_SIZE, StripeStream

if t.TYPE_CHECKING:
    from tap_cloudsources.engine.report import CollectionMeter
    from tap_cloudsources.sources.stripe.events import StripeEventFeed


class StripeChildStream(StripeStream):
    """Rows found in a parent collection's objects, under `field`."""

    replication_key = None  # a child's progress is its parent's bookmark
    parent_name: t.ClassVar[str]
    field: t.ClassVar[str]
    # Pages past the parent's embedded first page: "/v1/invoices/{parent}/lines".
    more_path: t.ClassVar[str | None] = None
    # Cards and bank accounts share a customer's `sources`: keep entries of this `object`.
    only_object: t.ClassVar[str | None] = None
    # What the parent's list asks for so that it embeds the children (`expand[]`).
    parent_expand: t.ClassVar[str | None] = None
    # Not embedded at all: one list per parent on a full pass (a customer's payment methods).
    fetch_per_parent: t.ClassVar[bool] = False
    # False when the child's own events carry its changes (a customer update does not touch
    # its cards): then only a full pass of the parent reads it from the parent.
    from_changed_parents: t.ClassVar[bool] = True
    # Where one child is re-read when its event payload is stale; None: never re-read.
    retrieve_path: t.ClassVar[str | None] = None
    # The column holding the parent's id (Segment's name), for rows that do not carry it.
    parent_key: t.ClassVar[str | None] = None

    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap)
        self._emitted_at: dict[str, int | None] = {}  # child id -> parent change time
        self._meter: CollectionMeter | None = None
        self._failure: CollectionError | None = None

    @property
    def parent(self) -> StripeStream:
        return self._tap.streams[self.parent_name]

    # -- fed by the parent -----------------------------------------------------------------

    def start_with_parent(self) -> None:
        """Called as the parent starts: the SCHEMA goes out before the first row."""
        self._write_schema_message()
        self._meter = self._tap.report.meter(self.name)
        self._meter.start()

    def rows_of(self, parent: dict, *, full_pass: bool, stale: bool) -> list[dict]:
        """The rows of one parent record, paging what the parent did not embed. `stale`: the
        parent came from an event payload that may lack fields or be in another version."""
        if not full_pass and not self.from_changed_parents:
            return []
        assert self._meter is not None
        if self.fetch_per_parent:
            if not full_pass:
                return []
            return list(self._page(self._more_url(parent), None, self._meter))
        embedded = parent.get(self.field)
        if embedded is None:
            return []
        if isinstance(embedded, dict) and embedded.get("object") == "list":
            rows = list(embedded.get("data") or [])
            if stale and self.more_path and self._lacks_fields(rows):
                return list(self._page(self._more_url(parent), None, self._meter))
            if embedded.get("has_more") and self.more_path and rows:
                rows.extend(self._page(self._more_url(parent), rows[-1]["id"], self._meter))
        elif isinstance(embedded, list):
            rows = [self.row_from_entry(parent, i, e) for i, e in enumerate(embedded)]
        else:
            rows = [embedded]
        return [r for r in rows if isinstance(r, dict)
                and (self.only_object is None or r.get("object") == self.only_object)]

    def fail_with_parent(self, exc: CollectionError, parent_id: str) -> None:
        """Paging this child failed while its parent was read: the child is reported failed
        (and sends nothing more this run); the parent and its other children go on."""
        self._failure = CollectionError(f"{exc} (reading {self.parent_name} {parent_id})")

    def row_from_entry(self, parent: dict, index: int, entry: t.Any) -> dict:
        """An entry of a plain array (no id of its own): see fee details."""
        return entry

    def emit_with_parent(self, parent: dict, rows: list[dict], changed_at: int | None) -> None:
        """Write the rows of one parent (after the parent's own record)."""
        assert self._meter is not None
        deleted = parent.get("is_deleted") is True
        deleted_at = _epoch(parent.get("_sdc_deleted_at")) if deleted else None
        for row in rows:
            record = dict(row)
            if self.parent_key and record.get(self.parent_key) is None:
                record[self.parent_key] = parent["id"]
            self._emitted_at[record["id"]] = changed_at
            self._write_record_message(self.with_segment_fields(record, deleted_at=deleted_at))
            self._meter.records += 1
            self._meter.tick(self.source)

    def _more_url(self, parent: dict) -> str:
        assert self.more_path is not None
        return self.more_path.format(parent=parent["id"])

    def _page(self, url: str, after: str | None, meter: CollectionMeter) -> Iterator[dict]:
        path, _, query = url.partition("?")
        params: dict[str, t.Any] = {"limit": PAGE_SIZE, **dict(parse_qsl(query))}
        guard, dedupe = LoopGuard(self.source, self.name, "cursor"), BoundaryDeduper()
        cursor = after
        while True:
            body = self.client.get_json(path, {**params, "starting_after": cursor}
                                        if cursor else params, meter)
            page = body.get("data") or []
            yield from dedupe.page(page)
            if not body.get("has_more") or not page:
                return
            cursor = page[-1]["id"]
            guard.check(cursor)

    def _lacks_fields(self, rows: list[dict]) -> bool:
        """Rows embedded in a stale parent payload that miss fields (the parent's id aside,
        which the parent supplies). A child's own event payload is judged by
        `needs_hydration`, where a missing parent id does count: it is a real field."""
        wanted = self._known_properties - self._added_properties - {self.parent_key}
        return any(wanted - row.keys() for row in rows)

    # -- its own turn ----------------------------------------------------------------------

    def read(self, meter: CollectionMeter) -> Iterator[dict]:
        """Rows from the child's own events (the parent emitted the rest), or, when the parent
        itself is not selected, the parent read here without emitting it."""
        if self._failure is not None:
            raise self._failure
        parent = self.parent
        if not parent.selected:
            parent_meter = self._tap.report.meter(parent.name)
            for _ in parent.read(parent_meter):
                pass
        feed = self.feed
        if feed is not None and self.has_events and feed.follows(self):
            for object_id, change in (feed.changes or {}).get(self.name, {}).items():
                if object_id in self._emitted_at:
                    parent_time = self._emitted_at[object_id]
                    if parent_time is None or (change.created or 0) < parent_time:
                        continue  # the parent's newer state was already emitted
                yield from self._one_change(object_id, change, feed, meter)
        if feed is not None and feed.changes is not None and self.has_events:
            self.stream_state["changes_since"] = feed.cursor

    def _one_change(self, object_id: str, change: t.Any, feed: StripeEventFeed,
                    meter: CollectionMeter) -> Iterator[dict]:
        record = change.record
        if not change.deleted and self.retrieve_path and self.needs_hydration(change, feed):
            fresh = self.retrieve_child(record, meter)
            if fresh is None:
                change.deleted = True
            else:
                record = fresh
        deleted_at = (change.created or 0) if change.deleted else None
        yield self.with_segment_fields(dict(record), deleted_at=deleted_at)

    def retrieve_child(self, record: dict, meter: CollectionMeter) -> dict | None:
        assert self.retrieve_path is not None
        try:
            path = self.retrieve_path.format(**record)
        except KeyError:
            return None
        return self.retrieve_at(path, meter)


class FeeDetailsStream(StripeChildStream):
    """One row per fee line of a balance transaction; Stripe gives them no id, so the row's
    id is the transaction's id and the line's position (`txn_…-0`), stable across syncs."""

    def row_from_entry(self, parent: dict, index: int, entry: t.Any) -> dict:
        return {**entry, "id": f"{parent['id']}-{index}", "balance_transaction_id": parent["id"]}


class SkusStream(StripeChildStream):
    """Segment's `skus`: Stripe retired SKUs (with the Orders API) in 2020 and a one-time price
    of a product is their current equivalent. One row per one-time price, in a SKU's shape,
    derived from the prices collection as it is read (no request of its own)."""

    def rows_of(self, parent: dict, *, full_pass: bool, stale: bool) -> list[dict]:
        if parent.get("type") != "one_time":
            return []
        return [{
            "id": parent["id"], "object": "sku", "active": parent.get("active"),
            "attributes": {}, "created": parent.get("created"),
            "currency": parent.get("currency"), "image": None, "inventory": None,
            "livemode": parent.get("livemode"), "lookup_key": parent.get("lookup_key"),
            "metadata": parent.get("metadata"), "nickname": parent.get("nickname"),
            "package_dimensions": None, "price": parent.get("unit_amount"),
            "product": parent.get("product"), "tax_behavior": parent.get("tax_behavior"),
            "updated": None,
        }]


def _epoch(value: t.Any) -> int | None:
    if not value:
        return None
    return int(datetime.fromisoformat(str(value)).astimezone(UTC).timestamp())
