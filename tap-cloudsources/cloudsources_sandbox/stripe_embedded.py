"""Lists embedded in other objects, as Stripe renders them.

- An embedded list (an invoice's `lines`, a subscription's `items`, a transfer's `reversals`,
  an application fee's `refunds`) carries at most its first 10 entries, with `has_more` and
  the `url` that pages the rest. The stored object keeps them all: that is what the child
  endpoints page through and what `/_sandbox/truth` shows.
- A customer's `sources` are left out unless asked for with `expand[]=sources` (or
  `expand[]=data.sources` on a list), since API version 2020-08-27.
"""

from __future__ import annotations

from collections.abc import Callable

from .world import Obj

EMBED_LIMIT = 10
EMBEDDED_LISTS = {"invoice": "lines", "subscription": "items", "transfer": "reversals",
                  "application_fee": "refunds", "charge": "refunds"}


def served(obj: Obj) -> Obj:
    """The API rendering of a stored object: embedded lists cut to their first page."""
    field = EMBEDDED_LISTS.get(str(obj.get("object")))
    embedded = obj.get(field) if field else None
    if not isinstance(embedded, dict) or len(embedded.get("data") or ()) <= EMBED_LIMIT:
        return obj
    return {**obj, field: {**embedded, "data": embedded["data"][:EMBED_LIMIT], "has_more": True}}


def served_body(body: Obj) -> Obj:
    if body.get("object") == "list":
        return {**body, "data": [served(o) for o in body["data"]]}
    return served(body)


def include_sources(body: Obj, expand: list[str],
                    sources_of: Callable[[str], list[Obj]]) -> tuple[Obj, list[str]]:
    """Adds `sources` to the customers of body when expand asks for it; returns the body and
    the expansions left for the generic expander."""
    is_list = body.get("object") == "list"
    wanted = "data.sources" if is_list else "sources"
    if wanted not in expand:
        return body, expand
    rest = [path for path in expand if path != wanted]

    def with_sources(customer: Obj) -> Obj:
        if customer.get("object") != "customer":
            return customer
        items = sources_of(customer["id"])
        return {**customer, "sources": {
            "object": "list", "data": items[:EMBED_LIMIT], "has_more": len(items) > EMBED_LIMIT,
            "url": f"/v1/customers/{customer['id']}/sources"}}

    if is_list:
        return {**body, "data": [with_sources(o) for o in body["data"]]}, rest
    return with_sources(body), rest
