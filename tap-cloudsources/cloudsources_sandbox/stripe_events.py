"""How some recorded events differ from the object's current rendering, as on real accounts.

- About 5 % of events are rendered with an older API version (`api_version` says which; the
  payload then lacks fields added since and carries a few retired ones).
- About 5 % omit an expandable field of `data.object` (Stripe leaves some fields out of some
  event payloads), so a consumer must fetch the object instead of trusting the payload.

Which event is which is decided by a hash of its id (deterministic, no rng draw), and is
observable only through those properties.
"""

from __future__ import annotations

import zlib

from .world import Obj

OLD_API_VERSION = "2024-06-20"
OLD_SHARE = 5  # percent
OMIT_SHARE = 5  # percent
# Fields added after OLD_API_VERSION (dropped from old renderings), per object type.
NEWER_FIELDS = {
    "invoice": ("parent", "total_pretax_credit_amounts", "total_taxes", "amount_overpaid",
                "customer_account"),
    "subscription": ("billing_mode", "customer_account", "managed_payments", "billing_schedules"),
    "payment_intent": ("customer_account", "managed_payments", "excluded_payment_method_types"),
    "payment_method": ("customer_account",),
    "refund": ("customer_account",),
    "invoiceitem": ("customer_account", "parent", "pricing", "net_amount", "quantity_decimal"),
    "line_item": ("parent", "pricing", "pretax_credit_amounts", "taxes", "subtotal"),
}
# Expandable fields a payload may lack (the first one the object has is left out).
OMITTABLE = ("customer", "payment_intent", "charge", "latest_invoice", "default_price",
             "product", "balance_transaction", "destination", "account", "invoice")


def bucket(event_id: str) -> int:
    return zlib.crc32(event_id.encode("ascii")) % 100


def old_rendering(obj: Obj) -> Obj:
    kind = obj.get("object", "")
    out = {k: v for k, v in obj.items() if k not in NEWER_FIELDS.get(kind, ("customer_account",))}
    if kind == "invoice":  # retired in 2025-03-31.basil, present before
        out.update(paid=obj["status"] == "paid", subscription=obj.get("subscription"),
                   charge=None, payment_intent=None, tax=None, total_tax_amounts=[])
    elif kind == "subscription":
        item = obj["items"]["data"][0] if obj["items"]["data"] else {}
        out.update(current_period_start=item.get("current_period_start"),
                   current_period_end=item.get("current_period_end"))
    return out


def render_variant(event: Obj) -> Obj:
    """The event as Stripe would store it: usually unchanged, sometimes one of the variants."""
    b = bucket(event["id"])
    obj = event["data"]["object"]
    if b < OLD_SHARE:
        data = dict(event["data"], object=old_rendering(obj))
        return dict(event, api_version=OLD_API_VERSION, data=data)
    if b < OLD_SHARE + OMIT_SHARE and not obj.get("deleted"):
        missing = next((k for k in OMITTABLE if k in obj and obj[k] is not None), None)
        if missing is not None:
            data = dict(event["data"], object={k: v for k, v in obj.items() if k != missing})
            return dict(event, data=data)
    return event
