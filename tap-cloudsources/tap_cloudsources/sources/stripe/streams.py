"""Stripe collections, named as Segment names them: one line each.

`foreign_keys` adds Segment's column names for references (`customer_id` from `customer`, an id
or an expanded object), so SQL written for Segment's Stripe tables runs unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tap_cloudsources.sources.stripe.children import (
    FeeDetailsStream,
    SkusStream,
    StripeChildStream,
)
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
    # Listed whole whenever it is listed: few objects, changed without any event.
    relist_whole: bool = False


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
    # The retired Orders API's shipping methods: shipping rates are their current equivalent.
    Collection("order_shipping_methods", "/v1/shipping_rates", "shipping_rate",
               has_events=False, relist_whole=True),
]


@dataclass(frozen=True)
class ChildCollection:
    """Rows inside another collection's objects (see children.py)."""

    name: str
    parent: str
    field: str  # where the parent holds them
    object_type: str | None = None  # the rows' Stripe `object`
    has_events: bool = False  # Stripe sends events for them: they route here
    foreign_keys: dict[str, str] = field(default_factory=dict)
    more_path: str | None = None  # pages past the parent's embedded first page
    parent_key: str | None = None  # the row's field holding the parent's id
    only_object: str | None = None
    parent_expand: str | None = None
    fetch_per_parent: bool = False
    from_changed_parents: bool = True
    retrieve_path: str | None = None
    base: type[StripeChildStream] = StripeChildStream


_SOURCES = "/v1/customers/{parent}/sources"
_SOURCE = "/v1/customers/{customer}/sources/{id}"
CHILDREN = [
    ChildCollection("invoice_lines", "invoices", "lines", "line_item",
                    foreign_keys={"invoice_id": "invoice", "subscription_id": "subscription"},
                    more_path="/v1/invoices/{parent}/lines", parent_key="invoice"),
    ChildCollection("subscription_items", "subscriptions", "items", "subscription_item",
                    foreign_keys={"subscription_id": "subscription", "price_id": "price",
                                  "plan_id": "plan"},
                    more_path="/v1/subscription_items?subscription={parent}",
                    parent_key="subscription"),
    ChildCollection("transfer_reversals", "transfers", "reversals", "transfer_reversal",
                    foreign_keys={"transfer_id": "transfer",
                                  "balance_transaction_id": "balance_transaction"},
                    more_path="/v1/transfers/{parent}/reversals", parent_key="transfer"),
    ChildCollection("application_fee_refunds", "application_fees", "refunds", "fee_refund",
                    has_events=True,
                    foreign_keys={"fee_id": "fee",
                                  "balance_transaction_id": "balance_transaction"},
                    more_path="/v1/application_fees/{parent}/refunds", parent_key="fee",
                    retrieve_path="/v1/application_fees/{fee}/refunds/{id}"),
    ChildCollection("balance_transaction_fee_details", "balance_transactions", "fee_details",
                    base=FeeDetailsStream),
    # Legacy sources are left out of customers unless expanded (API version 2020-08-27).
    ChildCollection("cards", "customers", "sources", "card", has_events=True,
                    foreign_keys={"customer_id": "customer"}, more_path=_SOURCES,
                    parent_key="customer", only_object="card", parent_expand="data.sources",
                    from_changed_parents=False, retrieve_path=_SOURCE),
    ChildCollection("bank_accounts", "customers", "sources", "bank_account", has_events=True,
                    foreign_keys={"customer_id": "customer"}, more_path=_SOURCES,
                    parent_key="customer", only_object="bank_account",
                    parent_expand="data.sources", from_changed_parents=False,
                    retrieve_path=_SOURCE),
    # Not embedded in customers at all: Stripe lists them only per customer, so a full pass
    # costs one request per customer; events carry them after.
    ChildCollection("payment_methods", "customers", "payment_methods", "payment_method",
                    has_events=True, foreign_keys={"customer_id": "customer"},
                    more_path="/v1/customers/{parent}/payment_methods", parent_key="customer",
                    fetch_per_parent=True, from_changed_parents=False,
                    retrieve_path="/v1/payment_methods/{id}"),
    # Retired SKUs: a one-time price is their current equivalent (children.SkusStream).
    ChildCollection("skus", "prices", "", "sku", foreign_keys={"product_id": "product"},
                    base=SkusStream),
    ChildCollection("discounts", "customers", "discount", "discount", has_events=True,
                    foreign_keys={"customer_id": "customer", "subscription_id": "subscription",
                                  "invoice_id": "invoice", "coupon_id": "source.coupon"},
                    parent_key="customer"),
]


def _child_class(spec: ChildCollection) -> type[StripeChildStream]:
    title = "".join(part.title() for part in spec.name.split("_"))
    return type(f"{title}Stream", (spec.base,), {
        "name": spec.name, "path": f"/v1/{spec.name}", "object_type": spec.object_type,
        "has_events": spec.has_events, "parent_name": spec.parent,
        "field": spec.field, "foreign_keys": dict(spec.foreign_keys),
        "more_path": spec.more_path, "parent_key": spec.parent_key,
        "only_object": spec.only_object, "parent_expand": spec.parent_expand,
        "fetch_per_parent": spec.fetch_per_parent,
        "from_changed_parents": spec.from_changed_parents,
        "retrieve_path": spec.retrieve_path, "__module__": __name__,
    })


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
        "relist_whole": spec.relist_whole,
        "__module__": __name__,
    })


STREAMS: list[type[StripeStream]] = [*map(_stream_class, COLLECTIONS),
                                     *map(_child_class, CHILDREN), StripeEventsStream]
