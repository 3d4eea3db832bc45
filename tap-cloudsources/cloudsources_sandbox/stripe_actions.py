"""Targeted changes for tests: `POST /_sandbox/advance {"actions": [{"collection": "invoices",
"action": "finalize", "id": "in_..."?}]}`. Without an id the sandbox picks a fitting object.

Each action changes the object as Stripe would, logs it and records the events Stripe sends
(consequences included: a succeeded payment intent gets its charge). Actions draw from their
own rng, so they never shift the random changes of later advances.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .stripe_changes import Changer
from .stripe_extra_changes import Related
from .stripe_shipping import SHIPPING_RATES, shipping_rate
from .stripe_source import SOURCE, StripeSource
from .world import Change, Obj, World

LIVE = ("active", "trialing", "past_due", "unpaid", "incomplete")
PENDING_PI = ("requires_payment_method", "requires_confirmation", "requires_action")


class Actions:
    def __init__(self, src: StripeSource, world: World, rng: random.Random, t: int) -> None:
        self.src, self.world, self.t = src, world, t
        src.f.rng = rng
        self.core = Changer(src, world, rng)
        self.rel = Related(src, world, rng)
        self.touched: list[Obj] = []

    def pick(self, collection: str, obj_id: str | None, accept: Callable[[Obj], bool],
             what: str) -> Obj:
        coll = self.rel.coll(collection)
        if obj_id is not None:
            obj = coll.get(obj_id)
            if obj is None:
                raise ValueError(f"{collection}: no object {obj_id!r}")
            if not accept(obj):
                raise ValueError(f"{collection}: {obj_id} is not {what}")
            return obj
        found = coll.sample(self.core.rng, accept)
        if found is None:
            raise ValueError(f"{collection}: no object is {what}")
        return found

    def core_save(self, name: str, kind: str, new: Obj, type_: str, old: Obj | None,
                  automatic: bool = False) -> None:
        first = len(self.world.changes)
        self.core._save(self.t, name, kind, new, type_, old, automatic)
        for change in self.world.changes[first:]:
            self.follow(change)

    def follow(self, change: Change) -> None:
        self.rel.follow(change)

    # -- the actions ------------------------------------------------------------------------------
    def invoices_finalize(self, obj_id: str | None) -> Obj:
        old = self.pick("invoices", obj_id, lambda i: i["status"] == "draft", "a draft")
        customers = self.rel.coll("customers")
        customer = customers.get(old["customer"])
        seq = customer["next_invoice_sequence"] if customer else 1
        prefix = customer["invoice_prefix"] if customer else "DELETED"
        new = self.src.f.finalize(old, self.t, f"{prefix}-{seq:04d}")
        if customer is not None:
            customers.put(dict(customer, next_invoice_sequence=seq + 1))
        self.core_save("invoices", "update", new, "invoice.finalized", old, automatic=True)
        return new

    def invoices_add_lines(self, obj_id: str | None) -> Obj:
        """Fifteen one-off lines (and their invoice items) on a draft invoice: more than the
        10 that an invoice's embedded `lines` list carries."""
        old = self.pick("invoices", obj_id, lambda i: i["status"] == "draft", "a draft")
        products = self.rel.coll("products")
        prices = [p for p in self.rel.coll("prices").newest_first()
                  if p["type"] == "one_time" and p["currency"] == old["currency"]
                  and p["product"] in products]
        if not prices:
            raise ValueError(f"invoices: no one-time {old['currency']} price to add lines from")
        lines = []
        for n in range(15):
            price = prices[n % len(prices)]
            name = products.get(price["product"])["name"]  # type: ignore[index]
            spec = (price, name, 1 + n % 3, None, (self.t, self.t))
            lines.append(self.src.f._line(old["id"], old["currency"], spec, None))
        added = sum(line["amount"] for line in lines)
        total = old["total"] + added
        new = dict(old, lines=dict(old["lines"], data=[*old["lines"]["data"], *lines]),
                   amount_due=total, amount_remaining=total, subtotal=total,
                   subtotal_excluding_tax=total, total=total, total_excluding_tax=total)
        self.core_save("invoices", "update", new, "invoice.updated", old)
        for line in lines:
            details = line["parent"]["invoice_item_details"]
            item = self.src.ext.invoice_item(details["invoice_item"], line, old["customer"],
                                             old["id"], self.t)
            self.rel.save(self.t, "invoice_items", "create", item, "invoiceitem.created")
        return new

    def shipping_rates_create(self, obj_id: str | None) -> Obj:
        """A new shipping rate (Stripe sends no event for it)."""
        spec = self.rel.rng.choice(SHIPPING_RATES)
        new = shipping_rate(self.rel.rng, self.t, (f"{spec[0]} (new)", *spec[1:]))
        self.rel.save(self.t, "shipping_rates", "create", new, None)
        return new

    def shipping_rates_deactivate(self, obj_id: str | None) -> Obj:
        """An active shipping rate archived (no event either)."""
        old = self.pick("shipping_rates", obj_id, lambda s: s["active"], "active")
        new = dict(old, active=False)
        self.rel.save(self.t, "shipping_rates", "update", new, None, old)
        return new

    def invoices_pay(self, obj_id: str | None) -> Obj:
        old = self.pick("invoices", obj_id, lambda i: i["status"] == "open", "open")
        new = self.src.f.pay(old, self.t)
        self.core_save("invoices", "update", new, "invoice.paid", old, automatic=True)
        return new

    def invoices_void(self, obj_id: str | None) -> Obj:
        old = self.pick("invoices", obj_id, lambda i: i["status"] == "open", "open")
        new = self.src.f.void(old, self.t)
        self.core_save("invoices", "update", new, "invoice.voided", old)
        return new

    def payment_intents_succeed(self, obj_id: str | None) -> Obj:
        old = self.pick("payment_intents", obj_id, lambda p: p["status"] in PENDING_PI,
                        "awaiting payment")
        customer = self.rel.coll("customers").get(old["customer"] or "")
        if customer is None or customer["currency"] is None:
            customer = self.core._paying()
        assert customer is not None
        charge = self.src.f.charge(self.t, dict(customer, currency=old["currency"]),
                                   old["amount"], old["description"])
        charge = dict(charge, payment_intent=old["id"])
        self.core._save(self.t, "charges", "create", charge, "charge.succeeded")
        pm = self.rel.ext.payment_method(charge["payment_method"], self.t, customer,
                                         charge["payment_method_details"]["card"])
        self.rel.save(self.t, "payment_methods", "create", pm, "payment_method.attached")
        from .stripe_extra_seed import charge_payment_objects

        _, _, txn = charge_payment_objects(self.rel.ext, charge, customer)
        assert txn is not None
        self.rel.save(self.t, "balance_transactions", "create", txn, None)
        new = dict(old, status="succeeded", amount_received=old["amount"],
                   latest_charge=charge["id"], payment_method=pm["id"], last_payment_error=None)
        self.rel.save(self.t, "payment_intents", "update", new, "payment_intent.succeeded", old)
        return new

    def payment_intents_cancel(self, obj_id: str | None) -> Obj:
        old = self.pick("payment_intents", obj_id, lambda p: p["status"] in PENDING_PI,
                        "awaiting payment")
        new = dict(old, status="canceled", canceled_at=self.t,
                   cancellation_reason="requested_by_customer")
        self.rel.save(self.t, "payment_intents", "update", new, "payment_intent.canceled", old)
        return new

    def customers_delete(self, obj_id: str | None) -> Obj:
        deps = self.src.deps
        old = self.pick("customers", obj_id,
                        (lambda c: True) if obj_id else (lambda c: deps.get(c["id"], 0) == 0),
                        "deletable")
        self.core_save("customers", "delete", old, "customer.deleted", None)
        return old

    def customers_update(self, obj_id: str | None) -> Obj:
        old = self.pick("customers", obj_id, lambda c: True, "a customer")
        new = dict(old, metadata={**old["metadata"], "touched": str(self.t)})
        self.core_save("customers", "update", new, "customer.updated", old)
        return new

    def subscriptions_update_status(self, obj_id: str | None) -> Obj:
        old = self.pick("subscriptions", obj_id, lambda s: s["status"] in LIVE, "live")
        status = "past_due" if old["status"] == "active" else "active"
        new = dict(old, status=status)
        self.core_save("subscriptions", "update", new, "customer.subscription.updated", old)
        return new

    def subscriptions_cancel(self, obj_id: str | None) -> Obj:
        old = self.pick("subscriptions", obj_id, lambda s: s["status"] in LIVE, "live")
        new = dict(old, status="canceled", canceled_at=self.t, ended_at=self.t, cancel_at=None,
                   cancel_at_period_end=False)
        self.core_save("subscriptions", "update", new, "customer.subscription.deleted", old)
        return new

    def charges_refund(self, obj_id: str | None) -> Obj:
        old = self.pick("charges", obj_id, lambda c: c["paid"] and not c["refunded"],
                        "refundable")
        new = self.src.f.refund(old, old["amount"] - old["amount_refunded"], self.t)
        self.core_save("charges", "update", new, "charge.refunded", old)
        return new


def apply_actions(src: StripeSource, world: World, rng: random.Random,
                  actions: list[dict[str, Any]], t: int) -> list[Obj]:
    acts = Actions(src, world, rng, t)
    touched: list[Obj] = []
    for action in actions:
        if not isinstance(action, dict):
            raise ValueError("each action must be an object")
        unknown = set(action) - {"collection", "action", "id", "source"}
        if unknown:
            raise ValueError(f"unknown action fields: {sorted(unknown)}")
        name = f"{action.get('collection')}_{action.get('action')}"
        method = getattr(acts, name, None)
        if method is None or name.startswith("_"):
            raise ValueError(f"unknown action: {action.get('collection')}/{action.get('action')}")
        obj_id = action.get("id")
        if obj_id is not None and not isinstance(obj_id, str):
            raise ValueError("id must be a string")
        obj = method(obj_id)
        touched.append({"collection": action["collection"], "action": action["action"],
                        "id": obj["id"]})
    return touched


__all__ = ["SOURCE", "apply_actions"]
