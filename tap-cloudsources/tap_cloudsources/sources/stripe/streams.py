"""Stripe collections, named as Segment names them. Each is a name and a path."""

from __future__ import annotations

from tap_cloudsources.sources.stripe.client import StripeEventsStream, StripeStream


class CustomersStream(StripeStream):
    name = "customers"
    path = "/v1/customers"
    object_type = "customer"


class ProductsStream(StripeStream):
    name = "products"
    path = "/v1/products"
    object_type = "product"


class PricesStream(StripeStream):
    name = "prices"
    path = "/v1/prices"
    object_type = "price"


class ChargesStream(StripeStream):
    name = "charges"
    path = "/v1/charges"
    object_type = "charge"


class InvoicesStream(StripeStream):
    name = "invoices"
    path = "/v1/invoices"
    object_type = "invoice"


class SubscriptionsStream(StripeStream):
    name = "subscriptions"
    path = "/v1/subscriptions"
    object_type = "subscription"
    list_params = {"status": "all"}  # Stripe omits canceled subscriptions otherwise


STREAMS: list[type[StripeStream]] = [
    CustomersStream,
    ProductsStream,
    PricesStream,
    ChargesStream,
    InvoicesStream,
    SubscriptionsStream,
    StripeEventsStream,
]
