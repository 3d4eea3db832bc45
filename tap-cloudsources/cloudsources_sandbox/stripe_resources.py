"""The Stripe list endpoints' table: each resource's collection, error name and filters, and
the embedded child lists (see stripe.py for how they are served)."""

from __future__ import annotations

from collections.abc import Callable

from .stripe_extra_objects import plan_of
from .stripe_views import Resource, is_recurring
from .world import Obj

SINGULAR = {
    "customers": "customer", "products": "product", "prices": "price", "charges": "charge",
    "invoices": "invoice", "subscriptions": "subscription", "events": "event",
}
SUB_STATUSES = ("active", "all", "canceled", "ended", "incomplete", "incomplete_expired",
                "past_due", "paused", "trialing", "unpaid")
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
RANGE_OPS = ("gt", "gte", "lt", "lte")


class StripeError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def _int(value: str, param: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise StripeError(400, f"Invalid integer: {value}", param=param) from None


def _bool(value: str, param: str) -> bool:
    if value not in ("true", "false"):
        raise StripeError(400, f"Invalid boolean: {value}", param=param)
    return value == "true"


def _equals(field: str) -> Callable[[str, str], Callable[[Obj], bool]]:
    return lambda value, param: lambda o: o[field] == value


def _flag(field: str) -> Callable[[str, str], Callable[[Obj], bool]]:
    def build(value: str, param: str) -> Callable[[Obj], bool]:
        wanted = _bool(value, param)
        return lambda o: o[field] is wanted
    return build


def _invoice_status(value: str, param: str) -> Callable[[Obj], bool]:
    if value not in INVOICE_STATUSES:
        raise StripeError(400, "Invalid status: must be one of " + ", ".join(INVOICE_STATUSES),
                          param=param)
    return lambda o: o["status"] == value


def _sub_price(value: str, param: str) -> Callable[[Obj], bool]:
    return lambda o: any(it["price"]["id"] == value for it in o["items"]["data"])


def _is_none(field: str) -> Callable[[str, str], Callable[[Obj], bool]]:
    def build(value: str, param: str) -> Callable[[Obj], bool]:
        wanted = _bool(value, param)
        return lambda o: (o[field] is None) is wanted
    return build


def _fixed_currency(value: str, param: str) -> Callable[[Obj], bool]:
    return lambda o: (o.get("fixed_amount") or {}).get("currency") == value


# Equality filters each list endpoint understands (other parameters are ignored).
FILTERS: dict[str, dict[str, Callable[[str, str], Callable[[Obj], bool]]]] = {
    "customers": {"email": _equals("email")},
    "products": {"active": _flag("active"), "shippable": _flag("shippable"),
                 "type": _equals("type")},
    "prices": {"active": _flag("active"), "currency": _equals("currency"),
               "product": _equals("product"), "type": _equals("type")},
    "charges": {"customer": _equals("customer"), "payment_intent": _equals("payment_intent")},
    "invoices": {"customer": _equals("customer"), "subscription": _equals("subscription"),
                 "status": _invoice_status, "collection_method": _equals("collection_method")},
    "subscriptions": {"customer": _equals("customer"), "price": _sub_price,
                      "collection_method": _equals("collection_method")},
    "events": {},
}
# url name -> how it is served. The core six and events keep their own names and filters.
RESOURCES: dict[str, Resource] = {
    **{name: Resource(name, SINGULAR[name], FILTERS[name]) for name in FILTERS},
    "payment_intents": Resource("payment_intents", "payment_intent",
                                {"customer": _equals("customer")}),
    "payment_methods": Resource("payment_methods", "payment_method",
                                {"customer": _equals("customer"), "type": _equals("type")},
                                created=False),
    "refunds": Resource("refunds", "refund", {"charge": _equals("charge"),
                                              "payment_intent": _equals("payment_intent")}),
    "disputes": Resource("disputes", "dispute", {"charge": _equals("charge"),
                                                 "payment_intent": _equals("payment_intent")}),
    "balance_transactions": Resource(
        "balance_transactions", "balance_transaction",
        {"type": _equals("type"), "source": _equals("source"), "currency": _equals("currency")}),
    "coupons": Resource("coupons", "coupon"),
    "plans": Resource("prices", "plan", {"active": _flag("active"), "product": _equals("product")},
                      view=plan_of, base=is_recurring),
    "tax_rates": Resource("tax_rates", "tax_rate",
                          {"active": _flag("active"), "inclusive": _flag("inclusive")}),
    "invoiceitems": Resource("invoice_items", "invoiceitem",
                             {"customer": _equals("customer"), "invoice": _equals("invoice"),
                              "pending": _is_none("invoice")}),
    "transfers": Resource("transfers", "transfer", {"destination": _equals("destination"),
                                                    "transfer_group": _equals("transfer_group")}),
    "application_fees": Resource("application_fees", "application_fee",
                                 {"charge": _equals("charge")}),
    "accounts": Resource("accounts", "account"),
    "shipping_rates": Resource("shipping_rates", "shipping_rate",
                               {"active": _flag("active"), "currency": _fixed_currency}),
    "subscription_items": Resource("subscriptions", "subscription_item", created=False),
}
# /v1/<parent>/<id>/<child>: the embedded list that serves it, and the child's singular name.
CHILDREN = {
    ("invoices", "lines"): ("lines", "line item"),
    ("transfers", "reversals"): ("reversals", "transfer_reversal"),
    ("application_fees", "refunds"): ("refunds", "fee_refund"),
    ("charges", "refunds"): ("refunds", "refund"),
}
