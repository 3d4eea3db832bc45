"""Seeding of the Stripe collections beyond the core six, derived from the seeded core objects
so that every id points at something real: each charge's payment intent, payment method and
balance transaction exist, each embedded refund is listed, each manual invoice line has its
invoice item. Draws come from a separate rng stream ("seed-extra"); the core is read, never
changed."""

from __future__ import annotations

import random

from .stripe_extra_objects import COUPON_CODES, TAX_RATES, ExtraFactory, stripe_fee
from .world import DAY, Collection, Obj, World

SOURCE = "stripe"
EXTRA_COUNTS = {"standalone_payment_intents": 20, "disputes": 8, "coupons": 10, "accounts": 8,
                "transfers": 20, "application_fees": 20, "pending_invoice_items": 10, "cards": 12,
                "bank_accounts": 6}
# Collections kept as stores. plans, invoice_lines, subscription_items and discounts are views
# of the core objects, and cards and bank_accounts (which have no `created`) live in creation
# order in StripeSource.legacy (stripe_views.py).
STORES = {
    "payment_intents": "created", "payment_methods": "created", "balance_transactions": "created",
    "refunds": "created", "disputes": "created", "coupons": "created", "tax_rates": "created",
    "invoice_items": "date", "transfers": "created", "transfer_reversals": "created",
    "application_fees": "created", "application_fee_refunds": "created", "accounts": "created",
    "shipping_rates": "created",  # seeded by stripe_shipping.py
}


def store(world: World, name: str) -> Collection:
    return world.collection(SOURCE, name, STORES[name])


def between(rng: random.Random, lo: int, hi: int) -> int:
    return lo if hi <= lo else rng.randint(lo, hi)


def charge_payment_objects(ext: ExtraFactory, charge: Obj, customer: Obj | None
                           ) -> tuple[Obj, Obj, Obj | None]:
    """The payment intent, payment method and balance transaction behind one charge."""
    t = charge["created"]
    pi = ext.payment_intent(charge, t=t, pi_id=charge["payment_intent"],
                            customer=charge["customer"], amount=charge["amount"],
                            currency=charge["currency"],
                            status="succeeded" if charge["paid"] else "requires_payment_method")
    pm = ext.payment_method(charge["payment_method"], t, customer,
                            charge["payment_method_details"]["card"])
    txn = None
    if charge["balance_transaction"]:
        txn = ext.balance_transaction(charge["balance_transaction"], t, charge["amount"],
                                      charge["currency"], charge["id"], "charge",
                                      charge["description"], stripe_fee(charge["amount"]))
    return pi, pm, txn


def refund_txn(ext: ExtraFactory, refund: Obj) -> Obj:
    return ext.balance_transaction(refund["balance_transaction"], refund["created"],
                                   -refund["amount"], refund["currency"], refund["id"], "refund",
                                   "REFUND FOR CHARGE")


def populate_extra(world: World, ext: ExtraFactory) -> list[Obj]:
    """Fill the stores; return the legacy sources (cards, bank accounts) oldest first."""
    rng = ext.rng
    now = world.clock
    start = now - 365 * DAY
    n = {k: world.count(v) for k, v in EXTRA_COUNTS.items()}
    core = {name: list(world.collection(SOURCE, name).newest_first())[::-1]
            for name in ("customers", "charges", "subscriptions", "invoices")}
    customers = {c["id"]: c for c in core["customers"]}
    out: dict[str, list[Obj]] = {name: [] for name in STORES}
    pms: dict[str, Obj] = {}

    for charge in core["charges"]:
        pi, pm, txn = charge_payment_objects(ext, charge, customers.get(charge["customer"]))
        out["payment_intents"].append(pi)
        pms[pm["id"]] = pm
        if txn:
            out["balance_transactions"].append(txn)
        for refund in charge["refunds"]["data"]:
            out["refunds"].append(refund)
            out["balance_transactions"].append(refund_txn(ext, refund))
    for c in core["customers"]:
        pm_id = c["invoice_settings"]["default_payment_method"]
        if pm_id and pm_id not in pms:
            pms[pm_id] = ext.payment_method(pm_id, c["created"], c)
    for s in core["subscriptions"]:
        pm_id = s["default_payment_method"]
        if pm_id and pm_id not in pms:
            pms[pm_id] = ext.payment_method(pm_id, s["created"], customers[s["customer"]])
    out["payment_methods"] = list(pms.values())

    paying = [c for c in core["customers"] if c["currency"]]
    for _ in range(n["standalone_payment_intents"]):
        c = rng.choice(paying)
        t = between(rng, c["created"], now - 1)
        status = rng.choice(("requires_payment_method", "requires_confirmation", "canceled",
                             "requires_action"))
        out["payment_intents"].append(ext.payment_intent(
            None, t=t, pi_id=ext.new_id("pi"), customer=c["id"],
            amount=rng.choice((900, 4900, 12000)), currency=c["currency"], status=status))

    paid = [ch for ch in core["charges"] if ch["paid"] and not ch["refunds"]["data"]]
    for charge in rng.sample(paid, min(n["disputes"], len(paid))):
        t = min(now - 1, charge["created"] + rng.randint(2 * DAY, 40 * DAY))
        txn = ext.balance_transaction(ext.new_id("txn"), t, -charge["amount"], charge["currency"],
                                      "", "adjustment", "Chargeback withdrawal", 1500)
        dispute = ext.dispute(t, charge, txn)
        txn = dict(txn, source=dispute["id"])
        dispute = dict(dispute, balance_transactions=[txn])
        out["disputes"].append(dispute)
        out["balance_transactions"].append(txn)

    codes = list(COUPON_CODES) + [None] * max(0, n["coupons"] - len(COUPON_CODES))
    for code in codes:
        out["coupons"].append(ext.coupon(between(rng, start - 60 * DAY, start), code))
    for spec in TAX_RATES:
        out["tax_rates"].append(ext.tax_rate(between(rng, start, start + 60 * DAY), spec))

    for inv in core["invoices"]:
        for line in inv["lines"]["data"]:
            details = line["parent"]["invoice_item_details"]
            if details:
                out["invoice_items"].append(ext.invoice_item(
                    details["invoice_item"], line, inv["customer"], inv["id"], inv["created"]))
    manual = [i for i in core["invoices"] if i["subscription"] is None]  # once: O(n), not n²
    for _ in range(n["pending_invoice_items"]):
        inv = rng.choice(manual)
        c = customers[inv["customer"]]
        t = between(rng, c["created"], now - 1)
        line = dict(inv["lines"]["data"][0], period={"end": t, "start": t})
        out["invoice_items"].append(ext.invoice_item(ext.new_id("ii"), line, c["id"], None, t))

    accounts = [ext.account(t) for t in world.spread_times(
        rng, n["accounts"], start, start + 120 * DAY, 0.0)]
    out["accounts"] = accounts
    for t in world.spread_times(rng, n["transfers"], start + 121 * DAY, now - 1, 0.2):
        tr = ext.transfer(t, rng.choice(accounts), ext.new_id("txn"))
        out["balance_transactions"].append(ext.balance_transaction(
            tr["balance_transaction"], t, -tr["amount"], "usd", tr["id"], "transfer", None))
        if rng.random() < 0.25:
            tr, rev, txn = reverse_transfer(ext, tr, between(rng, t + 60, now - 1))
            out["transfer_reversals"].append(rev)
            out["balance_transactions"].append(txn)
        out["transfers"].append(tr)
    for t in world.spread_times(rng, n["application_fees"], start + 121 * DAY, now - 1, 0.2):
        fee = ext.application_fee(t, rng.choice(accounts), ext.new_id("txn"))
        out["balance_transactions"].append(ext.balance_transaction(
            fee["balance_transaction"], t, fee["amount"], "usd", fee["id"], "application_fee",
            None))
        if rng.random() < 0.2:
            fee, fr, txn = refund_fee(ext, fee, between(rng, t + 60, now - 1))
            out["application_fee_refunds"].append(fr)
            out["balance_transactions"].append(txn)
        out["application_fees"].append(fee)

    legacy: list[tuple[int, Obj]] = []
    for kind, build in (("cards", ext.card), ("bank_accounts", ext.bank_account)):
        for c in rng.sample(core["customers"], n[kind]):
            legacy.append((between(rng, c["created"], now - 1), build(c)))

    for name, objs in out.items():
        store(world, name).load_sorted(objs)
    return [obj for _, obj in sorted(legacy, key=lambda p: (p[0], p[1]["id"]))]


def reverse_transfer(ext: ExtraFactory, tr: Obj, t: int) -> tuple[Obj, Obj, Obj]:
    left = tr["amount"] - tr["amount_reversed"]
    amount = left if ext.rng.random() < 0.5 else max(1, left // 2)
    rev = ext.reversal(tr, t, amount, ext.new_id("txn"))
    txn = ext.balance_transaction(rev["balance_transaction"], t, amount, tr["currency"],
                                  rev["id"], "transfer_cancel", None)
    reversed_total = tr["amount_reversed"] + amount
    tr = dict(tr, amount_reversed=reversed_total, reversed=reversed_total >= tr["amount"],
              reversals=dict(tr["reversals"], data=[rev, *tr["reversals"]["data"]]))
    return tr, rev, txn


def refund_fee(ext: ExtraFactory, fee: Obj, t: int) -> tuple[Obj, Obj, Obj]:
    left = fee["amount"] - fee["amount_refunded"]
    amount = left if ext.rng.random() < 0.6 else max(1, left // 2)
    fr = ext.fee_refund(fee, t, amount, ext.new_id("txn"))
    txn = ext.balance_transaction(fr["balance_transaction"], t, -amount, fee["currency"],
                                  fr["id"], "application_fee_refund", None)
    refunded = fee["amount_refunded"] + amount
    fee = dict(fee, amount_refunded=refunded, refunded=refunded >= fee["amount"],
               refunds=dict(fee["refunds"], data=[fr, *fee["refunds"]["data"]]))
    return fee, fr, txn
