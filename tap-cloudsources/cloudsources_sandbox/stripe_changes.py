"""What happens to a Stripe account while the sandbox clock moves: creates, updates, deletes,
each announced by the event Stripe would send."""

from __future__ import annotations

import random
from collections.abc import Callable

from .fakedata import NOTES, address, email_for, full_name, metadata, phone
from .stripe_billing import add_interval
from .stripe_objects import diff_previous
from .stripe_source import SOURCE, StripeSource
from .world import DAY, ChangeSet, Collection, Obj, Plan, World

CREATE_MIX = (("customers", 28), ("charges", 35), ("invoices", 12), ("subscriptions", 10),
              ("products", 5), ("prices", 10))
UPDATE_MIX = (("customers", 25), ("subscriptions", 20), ("invoices", 25), ("charges", 12),
              ("products", 8), ("prices", 10))
DELETE_MIX = (("customers", 45), ("invoices", 35), ("products", 20))
LIVE_SUB = ("active", "trialing", "past_due", "unpaid", "incomplete")


def _order(rng: random.Random, mix: tuple[tuple[str, int], ...]) -> list[str]:
    """Collections to try, the first drawn by weight, the others as fallbacks."""
    first = rng.choices([n for n, _ in mix], [w for _, w in mix])[0]
    return [first, *(n for n, _ in mix if n != first)]


class Changer:
    def __init__(self, src: StripeSource, world: World, rng: random.Random) -> None:
        self.src, self.world, self.rng, self.f = src, world, rng, src.f
        self.out = ChangeSet()

    def coll(self, name: str) -> Collection:
        return self.world.collection(SOURCE, name)

    def _save(self, t: int, name: str, kind: str, new: Obj, type_: str,
              old: Obj | None = None, automatic: bool = False) -> None:
        if kind == "delete":
            self.coll(name).remove(new["id"])
        else:
            self.coll(name).put(new)
        previous = diff_previous(old, new) if old is not None and kind == "update" else None
        self.src.emit(self.world, t, type_, name, kind, new, previous, automatic)
        self.out.add(kind, name, new["id"])

    def _paying(self) -> Obj | None:
        return self.coll("customers").sample(self.rng, lambda c: c["currency"] is not None)

    # -- creates ----------------------------------------------------------------------------------
    def create(self, t: int) -> None:
        for name in _order(self.rng, CREATE_MIX):
            if getattr(self, f"create_{name}")(t):
                return

    def create_customers(self, t: int) -> bool:
        c = self.f.customer(t, paying=self.rng.random() < 0.85)
        self.src.deps[c["id"]] = 0
        self._save(t, "customers", "create", c, "customer.created")
        return True

    def create_charges(self, t: int) -> bool:
        r = self.rng
        customer = self._paying()
        if customer is None:
            return False
        amount = r.choice((500, 1500, 4900, 9900, 25000))
        why = r.choice((None, f"Order #{r.randrange(10**5)}"))
        charge = self.f.charge(t, customer, amount, why, failed=r.random() < 0.08)
        self.src.deps[customer["id"]] += 1
        self._save(t, "charges", "create", charge,
                   "charge.succeeded" if charge["paid"] else "charge.failed")
        return True

    def create_invoices(self, t: int) -> bool:
        customer = self._paying()
        if customer is None:
            return False
        price = self.coll("prices").sample(
            self.rng, lambda p: p["currency"] == customer["currency"] and p["type"] == "one_time")
        if price is None:
            return False
        product = self.coll("products").get(price["product"])
        name = product["name"] if product else "Service"
        inv = self.f.invoice_draft(
            t, customer, [(price, name, self.rng.randint(1, 3), None, (t, t))], subscription=None,
            billing_reason="manual", collection_method="send_invoice", period=(t, t))
        self.src.deps[customer["id"]] += 1
        self._save(t, "invoices", "create", inv, "invoice.created")
        return True

    def create_subscriptions(self, t: int) -> bool:
        r = self.rng
        customer = self._paying()
        if customer is None:
            return False
        currency = customer["currency"]
        price = self.coll("prices").sample(
            r, lambda p: p["currency"] == currency and p["type"] == "recurring" and p["active"])
        if price is None:
            return False
        trial = (t, t + 14 * DAY) if r.random() < 0.2 else None
        period = trial or (t, add_interval(t, price["recurring"]["interval"]))
        sub = self.f.subscription(t, customer, [(price, r.randint(1, 5))], period=period,
                                  status="trialing" if trial else "active", trial=trial)
        self.src.deps[customer["id"]] += 1
        self._save(t, "subscriptions", "create", sub, "customer.subscription.created")
        return True

    def create_products(self, t: int) -> bool:
        product = self.f.product(t)
        self.src.price_count[product["id"]] = 0
        self._save(t, "products", "create", product, "product.created")
        return True

    def create_prices(self, t: int) -> bool:
        r = self.rng
        product = self.coll("products").sample(r, lambda p: p["active"])
        if product is None:
            return False
        currency = r.choices(("usd", "eur", "gbp"), (70, 20, 10))[0]
        price = self.f.price(t, product, currency, recurring=r.random() < 0.75)
        self.src.price_count[product["id"]] = self.src.price_count.get(product["id"], 0) + 1
        self._save(t, "prices", "create", price, "price.created")
        return True

    # -- updates ----------------------------------------------------------------------------------
    def update(self, t: int) -> bool:
        return any(getattr(self, f"update_{name}")(t) for name in _order(self.rng, UPDATE_MIX))

    def update_customers(self, t: int) -> bool:
        r = self.rng
        old = self.coll("customers").sample(r, lambda c: True)
        if old is None:
            return False
        change: Callable[[], Obj] = r.choice((
            lambda: {"email": email_for(r, old["name"])},
            lambda: (lambda n: {"name": n, "email": email_for(r, n)})(full_name(r)),
            lambda: {"phone": phone(r)},
            lambda: {"metadata": {**old["metadata"], **metadata(r, 1.0)}},
            lambda: {"address": address(r)},
            lambda: {"description": r.choice(NOTES)},
        ))
        new = dict(old, **change())
        if new == old:
            new["metadata"] = {**old["metadata"], "touched": str(t)}
        self._save(t, "customers", "update", new, "customer.updated", old)
        return True

    def update_subscriptions(self, t: int) -> bool:
        r = self.rng
        old = self.coll("subscriptions").sample(r, lambda s: s["status"] in LIVE_SUB)
        if old is None:
            return False
        status = old["status"]
        new = dict(old)
        type_ = "customer.subscription.updated"
        roll = r.random()
        ending = roll < (0.3 if status == "incomplete" else 0.2) and status != "trialing"
        if ending:
            feedback = r.choice(("too_expensive", "unused", None))
            new.update(status="canceled" if status != "incomplete" else "incomplete_expired",
                       canceled_at=t, ended_at=t, cancel_at=None, cancel_at_period_end=False,
                       cancellation_details={"comment": None, "feedback": feedback,
                                             "reason": "cancellation_requested"})
            type_ = "customer.subscription.deleted"  # Stripe's name for a cancellation
        elif status in ("trialing", "incomplete", "past_due", "unpaid"):
            new["status"] = "active"
        elif roll < 0.45:
            new["status"] = "past_due"
        elif roll < 0.7:
            flag = not old["cancel_at_period_end"]
            period_end = old["items"]["data"][0]["current_period_end"]
            new.update(cancel_at_period_end=flag, cancel_at=period_end if flag else None)
        else:
            items = old["items"]["data"]
            first = dict(items[0], quantity=items[0]["quantity"] + r.choice((1, 2, 5)))
            new["items"] = dict(old["items"], data=[first, *items[1:]])
        self._save(t, "subscriptions", "update", new, type_, old)
        return True

    def update_invoices(self, t: int) -> bool:
        r = self.rng
        f = self.f
        old = self.coll("invoices").sample(r, lambda i: i["status"] in ("draft", "open"))
        if old is None:
            return False
        if old["status"] == "draft":
            customers = self.coll("customers")
            customer = customers.get(old["customer"])
            seq = customer["next_invoice_sequence"] if customer else 1
            prefix = customer["invoice_prefix"] if customer else "DELETED"
            new, type_ = f.finalize(old, t, f"{prefix}-{seq:04d}"), "invoice.finalized"
            if customer is not None:  # Stripe bumps the sequence silently (no event)
                customers.put(dict(customer, next_invoice_sequence=seq + 1))
        else:
            new, type_ = r.choices(
                ((f.pay(old, t), "invoice.paid"), (f.void(old, t), "invoice.voided"),
                 (f.mark_uncollectible(old, t), "invoice.marked_uncollectible")), (70, 15, 15))[0]
        self._save(t, "invoices", "update", new, type_, old, automatic=type_ != "invoice.voided")
        return True

    def update_charges(self, t: int) -> bool:
        r = self.rng
        old = self.coll("charges").sample(r, lambda c: c["paid"] and not c["refunded"])
        if old is None:
            return False
        if r.random() < 0.7:
            left = old["amount"] - old["amount_refunded"]
            new = self.f.refund(old, left if r.random() < 0.6 else max(1, left // 2), t)
            type_ = "charge.refunded"
        else:
            new = dict(old, description=r.choice(NOTES),
                       metadata={**old["metadata"], **metadata(r, 1.0)})
            type_ = "charge.updated"
        self._save(t, "charges", "update", new, type_, old)
        return True

    def update_products(self, t: int) -> bool:
        r = self.rng
        old = self.coll("products").sample(r, lambda p: True)
        if old is None:
            return False
        if r.random() < 0.5:
            new = dict(old, active=not old["active"], updated=t)
        else:
            new = dict(old, name=f"{old['name']} (v{r.randint(2, 9)})",
                       description=r.choice(NOTES), updated=t)
        self._save(t, "products", "update", new, "product.updated", old)
        return True

    def update_prices(self, t: int) -> bool:
        r = self.rng
        old = self.coll("prices").sample(r, lambda p: True)
        if old is None:
            return False
        choice = r.randrange(3)
        if choice == 0:
            new = dict(old, active=not old["active"])
        elif choice == 1:
            new = dict(old, nickname=r.choice(("Monthly", "Annual", "Grandfathered «2024»", None)))
        else:
            new = dict(old, metadata={**old["metadata"], **metadata(r, 1.0)})
        if new == old:
            new["active"] = not old["active"]
        self._save(t, "prices", "update", new, "price.updated", old)
        return True

    # -- deletes ----------------------------------------------------------------------------------
    def delete(self, t: int) -> bool:
        deps, counts = self.src.deps, self.src.price_count
        accept = {  # only what Stripe would let you delete without cascading
            "customers": lambda c: deps.get(c["id"], 0) == 0,
            "invoices": lambda i: i["status"] == "draft",
            "products": lambda p: counts.get(p["id"], 0) == 0,
        }
        types = {"customers": "customer.deleted", "invoices": "invoice.deleted",
                 "products": "product.deleted"}
        for name in _order(self.rng, DELETE_MIX):
            obj = self.coll(name).sample(self.rng, accept[name])
            if obj is None:
                continue
            if name == "invoices":
                deps[obj["customer"]] = deps.get(obj["customer"], 1) - 1
            self._save(t, name, "delete", obj, types[name])
            return True
        return False


def apply_plan(src: StripeSource, world: World, rng: random.Random, plan: Plan) -> ChangeSet:
    src.f.rng = rng
    ch = Changer(src, world, rng)
    kinds = ["create"] * plan.creates + ["update"] * plan.updates + ["delete"] * plan.deletes
    rng.shuffle(kinds)
    first = plan.start + 1 if plan.end > plan.start else plan.start
    times = world.spread_times(rng, len(kinds), first, plan.end, 0.3)
    for kind, t in zip(kinds, times, strict=True):
        # A delete with nothing deletable becomes an update, an impossible update a create.
        if kind == "delete" and ch.delete(t):
            continue
        if kind in ("delete", "update") and ch.update(t):
            continue
        ch.create(t)
    return ch.out
