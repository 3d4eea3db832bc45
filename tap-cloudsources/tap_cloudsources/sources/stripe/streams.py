"""Stripe collections, named as Segment names them: one line each.

`foreign_keys` adds Segment's column names for references (`customer_id` from `customer`, an id
or an expanded object), so SQL written for Segment's Stripe tables runs unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tap_cloudsources.sources.stripe.client import StripeEventsStream, StripeStream


@dataclass(frozen=True)
class Collection:
    name: str
    path: str
    object_type: str
    foreign_keys: dict[str, str] = field(default_factory=dict)
    list_params: dict[str, str] = field(default_factory=dict)


COLLECTIONS = [
    Collection("customers", "/v1/customers", "customer"),
    Collection("products", "/v1/products", "product"),
    Collection("prices", "/v1/prices", "price", {"product_id": "product"}),
    Collection("charges", "/v1/charges", "charge",
               {"customer_id": "customer", "balance_transaction_id": "balance_transaction",
                "payment_intent_id": "payment_intent", "payment_method_id": "payment_method"}),
    Collection("invoices", "/v1/invoices", "invoice",
               {"customer_id": "customer", "subscription_id": "subscription",
                "charge_id": "charge", "payment_intent_id": "payment_intent"}),
    # Stripe omits canceled subscriptions unless asked for all.
    Collection("subscriptions", "/v1/subscriptions", "subscription",
               {"customer_id": "customer", "latest_invoice_id": "latest_invoice"},
               {"status": "all"}),
]


def _stream_class(spec: Collection) -> type[StripeStream]:
    title = "".join(part.title() for part in spec.name.split("_"))
    return type(f"{title}Stream", (StripeStream,), {
        "name": spec.name,
        "path": spec.path,
        "object_type": spec.object_type,
        "foreign_keys": dict(spec.foreign_keys),
        "list_params": dict(spec.list_params),
        "__module__": __name__,
    })


STREAMS: list[type[StripeStream]] = [*map(_stream_class, COLLECTIONS), StripeEventsStream]
