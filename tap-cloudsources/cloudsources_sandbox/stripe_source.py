"""The Stripe part of the world: a seeded, referentially consistent account history.

Generation order follows real life: catalogue, customers, subscriptions, the invoices their
billing cycles produce, then the charges that paid them plus one-off charges.
"""

from __future__ import annotations

import bisect
import random

from .fakedata import NOTES
from .stripe_billing import BillingFactory, LineSpec, add_interval
from .stripe_extra_objects import ExtraFactory
from .stripe_extra_seed import populate_extra
from .stripe_shipping import seed_shipping_rates
from .world import DAY, ChangeSet, Obj, Plan, World

SOURCE = "stripe"
BASE_COUNTS = {
    "products": 20, "prices": 40, "customers": 200, "subscriptions": 150, "invoices": 300,
    "charges": 600,
}
HISTORY = 365 * DAY
EVENT_RETENTION = 30 * DAY
TIE_RATE = 0.3  # share of objects created in the same second as the one before
CREATED_EVENT = {
    "customers": "customer.created", "products": "product.created", "prices": "price.created",
    "subscriptions": "customer.subscription.created", "invoices": "invoice.created",
}
FORCED_PRICES = (("usd", True), ("eur", True), ("gbp", True),
                 ("usd", False), ("eur", False), ("gbp", False))
SUB_STATUSES = (("active", 62), ("canceled", 22), ("past_due", 7), ("unpaid", 2),
                ("incomplete_expired", 3))
CHARGE_REASONS = {"subscription_create": "Subscription creation",
                  "subscription_cycle": "Subscription update"}


class StripeSource:
    name = SOURCE

    def __init__(self) -> None:
        self.f = BillingFactory(random.Random(0))
        self.deps: dict[str, int] = {}  # customer id -> subscriptions, invoices and charges
        # product id -> number of prices (Stripe refuses to delete a product that has prices)
        self.price_count: dict[str, int] = {}
        # The collections beyond the core six draw from their own factory and rng.
        self.ext = ExtraFactory(random.Random(0), self.f)
        self.legacy: dict[str, Obj] = {}  # cards and bank accounts (customer sources), oldest first

    # -- shared by seeding and changes ------------------------------------------------------------
    def emit(self, world: World, t: int, type_: str, collection: str, kind: str, obj: Obj,
             previous: Obj | None = None, automatic: bool = False,
             factory: BillingFactory | None = None) -> None:
        """Log a change and the Stripe event that announces it (some rendered as Stripe renders
        a few payloads: an older API version, or without an expandable field)."""
        from .stripe_embedded import served
        from .stripe_events import render_variant

        world.record(SOURCE, collection, kind, obj, t, previous)
        event = (factory or self.f).event(t, type_, served(obj), previous, automatic)
        world.collection(SOURCE, "events").put(render_variant(event))

    def mutate(self, world: World, rng: random.Random, plan: Plan) -> ChangeSet:
        # local imports: these modules import this one
        from .stripe_changes import apply_plan
        from .stripe_extra_changes import derive

        first = len(world.changes)
        out = apply_plan(self, world, rng, plan)
        out.related = derive(self, world, world.rng("advance-extra", world.clock, plan.end),
                             world.changes[first:], plan)
        return out

    def act(self, world: World, actions: list[dict[str, object]], t: int) -> list[Obj]:
        from .stripe_actions import apply_actions

        return apply_actions(self, world, world.rng("actions", world.clock, t), actions, t)

    # -- seeding ----------------------------------------------------------------------------------
    def populate(self, world: World) -> None:
        rng = world.rng(SOURCE, "seed")
        f = self.f = BillingFactory(rng)
        now = world.clock
        start = now - HISTORY
        n = {k: world.count(v, k) for k, v in BASE_COUNTS.items()}
        n["prices"] = max(n["prices"], len(FORCED_PRICES))  # tiny scales still get every kind
        spread = world.spread_times

        product_span = spread(rng, n["products"], start, start + 200 * DAY, TIE_RATE)
        products = [f.product(t) for t in product_span]
        product_times = [p["created"] for p in products]
        prices: list[Obj] = []
        by_kind: dict[tuple[str, bool], list[Obj]] = {}  # appended in time order
        price_span = spread(rng, n["prices"], product_times[0], start + 240 * DAY, TIE_RATE)
        for i, t in enumerate(price_span):
            if i < len(FORCED_PRICES):  # every currency gets a recurring and a one-off price
                currency, recurring = FORCED_PRICES[i]
            else:
                currency = rng.choices(("usd", "eur", "gbp"), (70, 20, 10))[0]
                recurring = rng.random() < 0.8
            product = products[rng.randrange(bisect.bisect_right(product_times, t))]
            price = f.price(t, product, currency, recurring)
            prices.append(price)
            by_kind.setdefault((currency, recurring), []).append(price)
            self.price_count[product["id"]] = self.price_count.get(product["id"], 0) + 1
        first_price: dict[str, str] = {}
        for price in prices:
            if price["active"]:
                first_price.setdefault(price["product"], price["id"])
        products = [dict(p, default_price=first_price.get(p["id"])) for p in products]
        names = {p["id"]: p["name"] for p in products}
        kind_times = {kind: [p["created"] for p in pool] for kind, pool in by_kind.items()}

        customer_span = spread(rng, n["customers"], start, now - 1, TIE_RATE)
        # The oldest customer always pays, so every later purchase has someone to belong to.
        customers = [f.customer(t, paying=i == 0 or rng.random() < 0.9)
                     for i, t in enumerate(customer_span)]
        paying = [c for c in customers if c["currency"]]
        paying_times = [c["created"] for c in paying]
        for c in customers:
            self.deps[c["id"]] = 0

        def customer_at(t: int) -> tuple[Obj, int]:
            idx = bisect.bisect_right(paying_times, t)
            if idx == 0:
                return paying[0], max(t, paying_times[0])
            return paying[rng.randrange(idx)], t

        def price_at(currency: str, recurring: bool, t: int) -> tuple[Obj, int]:
            pool = by_kind[(currency, recurring)]
            idx = bisect.bisect_right(kind_times[(currency, recurring)], t)
            if idx == 0:
                return pool[0], max(t, pool[0]["created"])
            return pool[rng.randrange(idx)], t

        # Subscriptions and the billing boundaries at which each produced an invoice.
        subs: list[Obj] = []
        cycles: list[tuple[int, int, Obj]] = []  # (time, k, subscription)
        for t0 in spread(rng, n["subscriptions"], start, now - 1, TIE_RATE):
            customer, t = customer_at(t0)
            price, t = price_at(customer["currency"], True, t)
            interval = price["recurring"]["interval"]
            items = [(price, 1 if rng.random() < 0.6 else rng.randint(2, 25))]
            if rng.random() < 0.2:
                other, _ = price_at(customer["currency"], True, t)
                if (other["product"] != price["product"] and other["created"] <= t
                        and other["recurring"]["interval"] == interval):
                    items.append((other, 1))
            sub, ks = self._seed_subscription(rng, t, customer, items, now)
            subs.append(sub)
            cycles.extend((b, k, sub) for k, b in ks)
            self.deps[customer["id"]] += 1

        # Invoices: a sample of the billing cycles, plus manual invoices.
        n_cycle = min(len(cycles), round(n["invoices"] * 0.85))
        picked = sorted(rng.sample(cycles, n_cycle), key=lambda c: (c[0], c[2]["id"]))
        manual_times = spread(rng, n["invoices"] - n_cycle, start, now - 1, TIE_RATE)
        plans: list[tuple[int, int, Obj | None]] = [*picked, *((t, -1, None) for t in manual_times)]
        plans.sort(key=lambda p: p[0])
        invoices: list[Obj] = []
        latest: dict[str, str] = {}
        seq: dict[str, int] = {}
        by_id = {c["id"]: c for c in customers}
        paid_charges: list[tuple[int, Obj, int, str]] = []
        for t, k, sub in plans:
            if sub is None:
                customer, t = customer_at(t)
                specs: list[LineSpec] = []
                for _ in range(rng.choice((1, 1, 2, 3))):
                    price, t = price_at(customer["currency"], False, t)
                    specs.append((price, names[price["product"]], rng.randint(1, 3), None, (t, t)))
                inv = f.invoice_draft(
                    t, customer, specs, subscription=None, billing_reason="manual",
                    collection_method=rng.choices(
                        ("send_invoice", "charge_automatically"), (70, 30))[0],
                    period=(t, t))
            else:
                customer = by_id[sub["customer"]]
                interval = sub["items"]["data"][0]["price"]["recurring"]["interval"]
                period_end = add_interval(t, interval)
                specs = [(it["price"], names[it["price"]["product"]], it["quantity"], it["id"],
                          (t, period_end)) for it in sub["items"]["data"]]
                inv = f.invoice_draft(
                    t, customer, specs, subscription=sub["id"],
                    billing_reason="subscription_create" if k == 0 else "subscription_cycle",
                    collection_method=sub["collection_method"],
                    period=(t, t) if k == 0 else (add_interval(t, interval, -1), t))
                latest[sub["id"]] = inv["id"]
            inv = self._seed_invoice_status(rng, inv, sub, k, now, seq, customer["invoice_prefix"])
            if inv["status"] == "paid":
                reason = CHARGE_REASONS.get(inv["billing_reason"], "Payment for Invoice")
                paid_at = inv["status_transitions"]["paid_at"]
                paid_charges.append((paid_at, customer, inv["amount_paid"], reason))
            invoices.append(inv)
            self.deps[customer["id"]] += 1

        customers = [dict(c, next_invoice_sequence=seq.get(c["id"], 0) + 1) for c in customers]
        by_id = {c["id"]: c for c in customers}
        subs = [dict(s, latest_invoice=latest.get(s["id"])) for s in subs]

        # Charges: one per paid invoice (up to the target), the rest one-off payments.
        if len(paid_charges) > n["charges"]:
            paid_charges = rng.sample(paid_charges, n["charges"])
        specs_c: list[tuple[int, Obj, int, str | None, bool]] = [
            (t, by_id[c["id"]], amount, why, False) for t, c, amount, why in paid_charges]
        for t in spread(rng, n["charges"] - len(specs_c), start, now - 1, TIE_RATE):
            customer, t = customer_at(t)
            amount = rng.choice((500, 1500, 2500, 4900, 9900, 12000, 25000, 99900, 250000))
            why = rng.choice((None, None, f"Order #{rng.randrange(10**5)}", *NOTES[:6]))
            specs_c.append((t, by_id[customer["id"]], amount, why, rng.random() < 0.07))
        charges: list[Obj] = []
        for t, customer, amount, why, failed in specs_c:
            charge = f.charge(t, customer, amount, why, failed=failed)
            if charge["paid"] and rng.random() < 0.07:
                when = min(now - 1, t + rng.randint(3600, 20 * DAY))
                part = amount if rng.random() < 0.6 else amount // rng.choice((2, 4, 10))
                charge = f.refund(charge, part, when)
            charges.append(charge)
            self.deps[customer["id"]] += 1

        for name, objs in (("products", products), ("prices", prices), ("customers", customers),
                           ("subscriptions", subs), ("invoices", invoices), ("charges", charges)):
            world.collection(SOURCE, name).load_sorted(objs)
        world.collection(SOURCE, "events").load_sorted(
            self._seed_events(now, products, prices, customers, subs, invoices, charges))
        self.ext = ExtraFactory(world.rng(SOURCE, "seed-extra"), f)
        self.legacy = {o["id"]: o for o in populate_extra(world, self.ext)}
        seed_shipping_rates(world)

    def _seed_subscription(
        self, rng: random.Random, t: int, customer: Obj, items: list[tuple[Obj, int]], now: int,
    ) -> tuple[Obj, list[tuple[int, int]]]:
        """A subscription in a plausible state for its age, and its invoice boundaries (k, t)."""
        interval = items[0][0]["recurring"]["interval"]
        trial = None
        ended_at = None
        if now - t < 14 * DAY and rng.random() < 0.5:
            status, trial = "trialing", (t, t + 14 * DAY)
        elif now - t < DAY:
            status = rng.choice(("active", "active", "incomplete"))
        else:
            status = rng.choices([s for s, _ in SUB_STATUSES], [w for _, w in SUB_STATUSES])[0]
        if status == "canceled":
            ended_at = rng.randint(t + 3600, now - 3600)
        elif status == "incomplete_expired":
            ended_at = t + 23 * 3600
        cutoff = ended_at if ended_at is not None else now
        anchor = trial[1] if trial else t
        ks = [(0, t)] if not trial else []
        k = 0
        while add_interval(anchor, interval, k + 1) <= cutoff:
            k += 1
            if status not in ("incomplete", "incomplete_expired"):
                ks.append((k, add_interval(anchor, interval, k)))
        period = trial or (add_interval(anchor, interval, k), add_interval(anchor, interval, k + 1))
        if status in ("incomplete", "incomplete_expired"):
            period = (t, add_interval(t, interval))
        sub = self.f.subscription(
            t, customer, items, status=status, period=period, trial=trial, ended_at=ended_at,
            cancel_at_period_end=status == "active" and rng.random() < 0.08,
            collection_method="send_invoice" if rng.random() < 0.12 else "charge_automatically")
        return sub, ks

    def _seed_invoice_status(self, rng: random.Random, inv: Obj, sub: Obj | None, k: int,
                             now: int, seq: dict[str, int], prefix: str) -> Obj:
        """Walk a draft through the life it would have had by `now`."""
        f = self.f
        t = inv["created"]
        if sub is None:
            finalize_at = t + rng.randint(60, 3 * DAY) if rng.random() > 0.12 else now + 1
            target = rng.choices(("open", "paid", "void", "uncollectible"), (18, 68, 9, 5))[0]
        else:
            finalize_at = t if k == 0 else t + 3600  # cycle invoices stay draft for an hour
            status = sub["status"]
            last = sub["items"]["data"][0]["current_period_start"] <= t
            target = rng.choices(("paid", "void", "uncollectible"), (96, 2, 2))[0]
            if status == "incomplete" or (last and status == "past_due"):
                target = "open"
            elif status == "incomplete_expired":
                target = "void"
            elif last and status == "unpaid":
                target = "uncollectible"
        if finalize_at >= now:
            return inv
        customer = inv["customer"]
        seq[customer] = seq.get(customer, 0) + 1
        inv = f.finalize(inv, finalize_at, f"{prefix}-{seq[customer]:04d}")
        automatic = inv["collection_method"] == "charge_automatically"
        if target in ("open", "uncollectible") and automatic:
            inv = f.fail_attempt(inv, finalize_at + 3600)
        if target == "paid":
            wait = rng.randint(5, 600) if automatic else rng.randint(3600, 25 * DAY)
            if finalize_at + wait < now:
                inv = f.pay(inv, finalize_at + wait)
        elif target == "void":
            inv = f.void(inv, min(now - 1, finalize_at + rng.randint(60, 5 * DAY)))
        elif target == "uncollectible":
            inv = f.mark_uncollectible(inv, min(now - 1, finalize_at + rng.randint(DAY, 20 * DAY)))
        return inv

    def _seed_events(self, now: int, products: list[Obj], prices: list[Obj], customers: list[Obj],
                     subs: list[Obj], invoices: list[Obj], charges: list[Obj]) -> list[Obj]:
        """Events for what happened in the retention window (older ones Stripe no longer lists)."""
        f = self.f
        since = now - EVENT_RETENTION
        events: list[Obj] = []
        for name, objs in (("products", products), ("prices", prices), ("customers", customers),
                           ("subscriptions", subs), ("invoices", invoices)):
            automatic = name == "invoices"
            events.extend(f.event(o["created"], CREATED_EVENT[name], o, automatic=automatic)
                          for o in objs if o["created"] >= since)
        for inv in invoices:
            st = inv["status_transitions"]
            for key, type_ in (("finalized_at", "invoice.finalized"), ("paid_at", "invoice.paid")):
                if st[key] is not None and st[key] >= since:
                    events.append(f.event(st[key], type_, inv, automatic=True))
        for ch in charges:
            if ch["created"] >= since:
                type_ = "charge.succeeded" if ch["paid"] else "charge.failed"
                events.append(f.event(ch["created"], type_, ch))
            refunds = ch["refunds"]["data"]
            if refunds and refunds[0]["created"] >= since:
                events.append(f.event(refunds[0]["created"], "charge.refunded", ch))
        return events
