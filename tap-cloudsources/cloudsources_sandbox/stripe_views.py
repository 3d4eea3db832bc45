"""Collections that are views of other objects rather than stores of their own, and the list
endpoints' resource table.

- plans: the `plan` rendering of every recurring price (Stripe serves prices as plans);
- invoice_lines / subscription_items: the lines and items embedded in invoices and
  subscriptions (listed per parent by Stripe);
- discounts: no list endpoint in Stripe; they are embedded in customers (and would be in
  subscriptions/invoices);
- cards / bank_accounts: legacy customer sources, kept in StripeSource.legacy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .stripe_extra_objects import plan_of
from .stripe_source import SOURCE, StripeSource
from .world import Obj, World

Filter = Callable[[str, str], Callable[[Obj], bool]]
VIEWS = ("plans", "invoice_lines", "subscription_items", "discounts", "cards", "bank_accounts")


@dataclass(frozen=True)
class Resource:
    """One top-level list endpoint: /v1/<url> served from world collection `collection`."""

    collection: str
    singular: str
    filters: dict[str, Filter] = field(default_factory=dict)
    created: bool = True  # accepts the `created` filter
    view: Callable[[Obj], Obj] | None = None  # stored object -> served object
    base: Callable[[Obj], bool] | None = None  # always applied (plans: recurring prices)


def is_recurring(price: Obj) -> bool:
    return price["type"] == "recurring"


def view_all(src: StripeSource, world: World, name: str) -> list[Obj]:
    """Every object of a view collection, newest first (by parent for child collections)."""
    coll = world.collection
    if name == "plans":
        return [plan_of(p) for p in coll(SOURCE, "prices").newest_first() if is_recurring(p)]
    if name == "invoice_lines":
        return [line for inv in coll(SOURCE, "invoices").newest_first()
                for line in inv["lines"]["data"]]
    if name == "subscription_items":
        return [it for sub in coll(SOURCE, "subscriptions").newest_first()
                for it in sub["items"]["data"]]
    if name == "discounts":
        out = [c["discount"] for c in coll(SOURCE, "customers").newest_first() if c["discount"]]
        for sub in coll(SOURCE, "subscriptions").newest_first():
            out.extend(d for d in sub["discounts"] if isinstance(d, dict))
        return out
    if name in ("cards", "bank_accounts"):
        kind = "card" if name == "cards" else "bank_account"
        return [s for s in reversed(src.legacy.values()) if s["object"] == kind]
    raise KeyError(name)


def find_subscription_item(world: World, item_id: str) -> Obj | None:
    for sub in world.collection(SOURCE, "subscriptions").newest_first():
        for item in sub["items"]["data"]:
            if item["id"] == item_id:
                return item
    return None
