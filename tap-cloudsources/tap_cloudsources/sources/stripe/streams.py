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
    replication_key: str = "created"
    has_events: bool = True


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
    Collection("payment_intents", "/v1/payment_intents", "payment_intent",
               {"customer_id": "customer", "payment_method_id": "payment_method",
                "latest_charge_id": "latest_charge"}),
    Collection("refunds", "/v1/refunds", "refund",
               {"charge_id": "charge", "payment_intent_id": "payment_intent",
                "balance_transaction_id": "balance_transaction"}),
    Collection("disputes", "/v1/disputes", "dispute",
               {"charge_id": "charge", "payment_intent_id": "payment_intent"}),
    Collection("balance_transactions", "/v1/balance_transactions", "balance_transaction",
               {"source_id": "source"}, has_events=False),
    Collection("coupons", "/v1/coupons", "coupon"),
    Collection("plans", "/v1/plans", "plan", {"product_id": "product"}),
    Collection("tax_rates", "/v1/tax_rates", "tax_rate"),
    Collection("invoice_items", "/v1/invoiceitems", "invoiceitem",
               {"customer_id": "customer", "invoice_id": "invoice",
                "subscription_id": "subscription"}, replication_key="date"),
    Collection("transfers", "/v1/transfers", "transfer",
               {"destination_id": "destination",
                "balance_transaction_id": "balance_transaction"}),
    Collection("application_fees", "/v1/application_fees", "application_fee",
               {"account_id": "account", "charge_id": "charge",
                "balance_transaction_id": "balance_transaction"}),
    Collection("accounts", "/v1/accounts", "account"),
]


def _stream_class(spec: Collection) -> type[StripeStream]:
    title = "".join(part.title() for part in spec.name.split("_"))
    return type(f"{title}Stream", (StripeStream,), {
        "name": spec.name,
        "path": spec.path,
        "object_type": spec.object_type,
        "foreign_keys": dict(spec.foreign_keys),
        "list_params": dict(spec.list_params),
        "replication_key": spec.replication_key,
        "has_events": spec.has_events,
        "__module__": __name__,
    })


STREAMS: list[type[StripeStream]] = [*map(_stream_class, COLLECTIONS), StripeEventsStream]
