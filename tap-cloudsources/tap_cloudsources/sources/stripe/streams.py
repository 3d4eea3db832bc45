"""Stripe collections, named as Segment names them. Each is a name and a path."""

from __future__ import annotations

from tap_cloudsources.sources.stripe.client import StripeStream


class CustomersStream(StripeStream):
    name = "customers"
    path = "/v1/customers"


class ProductsStream(StripeStream):
    name = "products"
    path = "/v1/products"


class PricesStream(StripeStream):
    name = "prices"
    path = "/v1/prices"


class ChargesStream(StripeStream):
    name = "charges"
    path = "/v1/charges"


class InvoicesStream(StripeStream):
    name = "invoices"
    path = "/v1/invoices"


class SubscriptionsStream(StripeStream):
    name = "subscriptions"
    path = "/v1/subscriptions"
    list_params = {"status": "all"}  # Stripe omits canceled subscriptions otherwise


STREAMS: list[type[StripeStream]] = [
    CustomersStream,
    ProductsStream,
    PricesStream,
    ChargesStream,
    InvoicesStream,
    SubscriptionsStream,
]
