"""Changes to the collections beyond the core six while the clock moves.

Two kinds, both drawn from their own rng so the core changes stay as they were:
- consequences of a core change (a new charge's payment intent, method and balance
  transaction; a refund; a manual invoice's items; a recurring price's plan; a deleted
  customer's detached payment methods and sources);
- a few changes of their own (coupons, tax rates, transfers, application fees, disputes,
  Connect accounts), about one per three core changes.
Each is logged and announced by the event Stripe sends for it; none is counted in the core
`created`/`updated`/`deleted` of the advance (they are reported under `related`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .fakedata import NOTES, metadata
from .stripe_extra_objects import TAX_RATES
from .stripe_extra_seed import (
    charge_payment_objects,
    refund_fee,
    refund_txn,
    reverse_transfer,
    store,
)
from .stripe_objects import diff_previous
from .stripe_source import SOURCE, StripeSource
from .world import Change, ChangeSet, Collection, Obj, Plan, World

OWN_MIX = (("coupons", 15), ("tax_rates", 10), ("transfers", 20), ("application_fees", 20),
           ("disputes", 15), ("accounts", 10), ("reversals", 5), ("fee_refunds", 5))
OWN_RATE = 1 / 3


class Related:
    """Saves one change of a new collection: store, change log, event."""

    def __init__(self, src: StripeSource, world: World, rng: random.Random) -> None:
        self.src, self.world, self.rng, self.ext = src, world, rng, src.ext
        src.ext.rng = rng
        self.out = ChangeSet()
        self.since = world.clock  # own changes touch only objects that existed before now

    def coll(self, name: str) -> Collection:
        if name in ("customers", "charges", "invoices", "subscriptions", "prices", "products",
                    "events"):
            return self.world.collection(SOURCE, name)
        return store(self.world, name)

    def save(self, t: int, name: str, kind: str, new: Obj, type_: str | None,
             old: Obj | None = None, stored: bool = True) -> None:
        if stored and name not in ("cards", "bank_accounts"):
            if kind == "delete":
                self.coll(name).remove(new["id"])
            else:
                self.coll(name).put(new)
        elif name in ("cards", "bank_accounts"):
            if kind == "delete":
                self.src.legacy.pop(new["id"], None)
            else:
                self.src.legacy[new["id"]] = new
        previous = diff_previous(old, new) if old is not None and kind == "update" else None
        if type_ is None:  # Stripe announces balance transactions by no event of their own
            self.world.record(SOURCE, name, kind, new, t, previous)
        else:
            self.src.emit(self.world, t, type_, name, kind, new, previous, factory=self.ext)
        self.out.add(kind, name, new["id"])

    # -- consequences of core changes -------------------------------------------------------------
    def follow(self, change: Change) -> None:
        t, obj, name, kind = change.at, change.obj, change.collection, change.kind
        if name == "charges" and kind == "create":
            self.charge_created(obj, t)
        elif name == "charges" and kind == "update" and change.previous and \
                "refunds" in change.previous:
            refund = obj["refunds"]["data"][0]
            self.save(t, "refunds", "create", refund, "refund.created")
            self.save(t, "balance_transactions", "create", refund_txn(self.ext, refund), None)
        elif name == "customers" and kind == "create":
            pm_id = obj["invoice_settings"]["default_payment_method"]
            if pm_id:
                self.save(t, "payment_methods", "create",
                          self.ext.payment_method(pm_id, t, obj), "payment_method.attached")
        elif name == "customers" and kind == "delete":
            self.customer_deleted(obj, t)
        elif name == "subscriptions" and kind == "create" and obj["default_payment_method"]:
            customer = self.coll("customers").get(obj["customer"])
            pm = self.ext.payment_method(obj["default_payment_method"], t, customer)
            self.save(t, "payment_methods", "create", pm, "payment_method.attached")
        elif name == "invoices" and kind == "create":
            for line in obj["lines"]["data"]:
                details = line["parent"]["invoice_item_details"]
                if details:
                    item = self.ext.invoice_item(details["invoice_item"], line, obj["customer"],
                                                 obj["id"], t)
                    self.save(t, "invoice_items", "create", item, "invoiceitem.created")
        elif name == "invoices" and kind == "delete":
            items = self.coll("invoice_items")
            for line in obj["lines"]["data"]:
                details = line["parent"]["invoice_item_details"]
                if details and details["invoice_item"] in items:
                    gone = items.get(details["invoice_item"])
                    assert gone is not None
                    self.save(t, "invoice_items", "delete", gone, "invoiceitem.deleted")
        # Recurring prices are also plans (same id). Stripe sends plan.* beside price.*;
        # the sandbox sends only price.* so each object id has one event per change.

    def charge_created(self, charge: Obj, t: int) -> None:
        customer = self.coll("customers").get(charge["customer"])
        pi, pm, txn = charge_payment_objects(self.ext, charge, customer)
        created = dict(pi, status="requires_payment_method", amount_received=0,
                       latest_charge=None, last_payment_error=None, payment_method=None)
        self.save(t, "payment_intents", "create", created, "payment_intent.created")
        self.save(t, "payment_methods", "create", pm, "payment_method.attached")
        self.save(t, "payment_intents", "update", pi, "payment_intent.succeeded"
                  if charge["paid"] else "payment_intent.payment_failed", created)
        if txn is not None:
            self.save(t, "balance_transactions", "create", txn, None)

    def customer_deleted(self, customer: Obj, t: int) -> None:
        pms = self.coll("payment_methods")
        for pm in [p for p in pms.newest_first() if p["customer"] == customer["id"]]:
            self.save(t, "payment_methods", "update", dict(pm, customer=None),
                      "payment_method.detached", pm)
        for src in [s for s in self.src.legacy.values() if s["customer"] == customer["id"]]:
            name = "cards" if src["object"] == "card" else "bank_accounts"
            self.save(t, name, "delete", src, "customer.source.deleted")

    # -- changes of their own ---------------------------------------------------------------------
    def own(self, t: int) -> None:
        r = self.rng
        first = r.choices([n for n, _ in OWN_MIX], [w for _, w in OWN_MIX])[0]
        for name in [first, *(n for n, _ in OWN_MIX if n != first)]:
            if getattr(self, f"own_{name}")(t):
                return

    def own_coupons(self, t: int) -> bool:
        r = self.rng
        coupons = self.coll("coupons")
        old = coupons.sample(r, lambda c: True)
        roll = r.random()
        if old is None or roll < 0.4:
            self.save(t, "coupons", "create", self.ext.coupon(t), "coupon.created")
        elif roll < 0.8 or old["id"] in ("LAUNCH20", "EARLYBIRD", "PARTNER15"):
            new = dict(old, metadata={**old["metadata"], **metadata(r, 1.0)},
                       name=f"{old['name']} ({r.choice(('Q3', 'Q4', 'VIP'))})")
            self.save(t, "coupons", "update", new, "coupon.updated", old)
        else:
            self.save(t, "coupons", "delete", old, "coupon.deleted")
        return True

    def own_tax_rates(self, t: int) -> bool:
        r = self.rng
        old = self.coll("tax_rates").sample(r, lambda x: True)
        if old is None or r.random() < 0.3:
            self.save(t, "tax_rates", "create", self.ext.tax_rate(t, r.choice(TAX_RATES)),
                      "tax_rate.created")
        else:
            self.save(t, "tax_rates", "update", dict(old, active=not old["active"]),
                      "tax_rate.updated", old)
        return True

    def own_transfers(self, t: int) -> bool:
        account = self.coll("accounts").sample(self.rng, lambda a: a["payouts_enabled"])
        if account is None:
            return False
        tr = self.ext.transfer(t, account, self.ext.new_id("txn"))
        self.save(t, "balance_transactions", "create", self.ext.balance_transaction(
            tr["balance_transaction"], t, -tr["amount"], "usd", tr["id"], "transfer", None), None)
        self.save(t, "transfers", "create", tr, "transfer.created")
        return True

    def own_reversals(self, t: int) -> bool:
        old = self.coll("transfers").sample(self.rng, lambda x: not x["reversed"])
        if old is None:
            return False
        new, rev, txn = reverse_transfer(self.ext, old, t)
        self.save(t, "balance_transactions", "create", txn, None)
        self.save(t, "transfer_reversals", "create", rev, None)  # announced by transfer.reversed
        self.save(t, "transfers", "update", new, "transfer.reversed", old)
        return True

    def own_application_fees(self, t: int) -> bool:
        account = self.coll("accounts").sample(self.rng, lambda a: a["charges_enabled"])
        if account is None:
            return False
        fee = self.ext.application_fee(t, account, self.ext.new_id("txn"))
        self.save(t, "balance_transactions", "create", self.ext.balance_transaction(
            fee["balance_transaction"], t, fee["amount"], "usd", fee["id"], "application_fee",
            None), None)
        self.save(t, "application_fees", "create", fee, "application_fee.created")
        return True

    def own_fee_refunds(self, t: int) -> bool:
        old = self.coll("application_fees").sample(self.rng, lambda x: not x["refunded"])
        if old is None:
            return False
        new, fr, txn = refund_fee(self.ext, old, t)
        self.save(t, "balance_transactions", "create", txn, None)
        self.save(t, "application_fee_refunds", "create", fr, None)
        self.save(t, "application_fees", "update", new, "application_fee.refunded", old)
        return True

    def own_disputes(self, t: int) -> bool:
        r = self.rng
        open_ = self.coll("disputes").sample(r, lambda d: d["status"] == "needs_response")
        if open_ is not None and r.random() < 0.4:
            status = r.choice(("won", "lost", "under_review"))
            new = dict(open_, status=status)
            self.save(t, "disputes", "update", new, "charge.dispute.closed"
                      if status != "under_review" else "charge.dispute.updated", open_)
            return True
        charge = self.coll("charges").sample(
            r, lambda c: c["paid"] and not c["disputed"] and not c["refunded"]
            and c["created"] <= self.since)
        if charge is None:
            return False
        txn = self.ext.balance_transaction(self.ext.new_id("txn"), t, -charge["amount"],
                                           charge["currency"], "", "adjustment",
                                           "Chargeback withdrawal", 1500)
        dispute = self.ext.dispute(t, charge, txn)
        txn = dict(txn, source=dispute["id"])
        self.save(t, "balance_transactions", "create", txn, None)
        self.save(t, "disputes", "create", dict(dispute, balance_transactions=[txn]),
                  "charge.dispute.created")
        self.save(t, "charges", "update", dict(charge, disputed=True), "charge.updated", charge)
        return True

    def own_accounts(self, t: int) -> bool:
        r = self.rng
        old = self.coll("accounts").sample(r, lambda a: True)
        if old is None or r.random() < 0.3:
            # Connect announces a newly connected account with account.updated
            self.save(t, "accounts", "create", self.ext.account(t), "account.updated")
            return True
        enabled = not old["payouts_enabled"]
        new = dict(old, payouts_enabled=enabled, charges_enabled=enabled,
                   business_profile=dict(old["business_profile"],
                                         product_description=r.choice(NOTES)))
        self.save(t, "accounts", "update", new, "account.updated", old)
        return True


def derive(src: StripeSource, world: World, rng: random.Random, core: Sequence[Change],
           plan: Plan) -> ChangeSet:
    rel = Related(src, world, rng)
    for change in core:
        rel.follow(change)
    own = sum(1 for _ in core if rng.random() < OWN_RATE)
    first = plan.start + 1 if plan.end > plan.start else plan.start
    for t in world.spread_times(rng, own, first, plan.end, 0.2):
        rel.own(t)
    return rel.out

