"""Stripe objects built from the fixture templates (stripe/openapi fixtures3.json, MIT).

Every builder starts from a shallow copy of the template and overrides values, and `fill`
refuses unknown keys, so the top-level key set always equals the real example's. Nested
dicts that never vary are shared between objects (they are never mutated) to keep scale-100
worlds small.
"""

from __future__ import annotations

import json
import random
import string
from importlib.resources import files
from typing import Any

from .fakedata import (
    COMPANIES,
    COUNTRY_CURRENCY,
    FEATURES,
    NOTES,
    PRODUCT_NAMES,
    address,
    ascii_slug,
    email_for,
    full_name,
    maybe,
    metadata,
    phone,
    rand_chars,
)
from .world import DAY, Obj

TEMPLATES: dict[str, Obj] = json.loads(
    files("cloudsources_sandbox").joinpath("data/stripe_templates.json").read_text("utf-8")
)
API_VERSION = "2025-05-28.basil"
SHORT_IDS = ("cus", "prod", "si", "req")  # these use 14 characters; the rest Stripe's 24
HEX = "0123456789abcdef"
EMPTY_ADDRESS = TEMPLATES["customer"]["address"]
CARDS = (  # brand, last4, funding, country
    ("visa", "4242", "credit", "US"), ("visa", "1881", "debit", "US"),
    ("mastercard", "4444", "credit", "US"), ("amex", "8431", "credit", "US"),
    ("visa", "3184", "credit", "FR"), ("mastercard", "5100", "prepaid", "DE"),
    ("discover", "1117", "credit", "US"), ("jcb", "0505", "credit", "JP"),
)
DECLINES = (
    ("card_declined", "generic_decline", "Your card was declined."),
    ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", "expired_card", "Your card has expired."),
    ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
)
PACKAGE = {"height": 3, "length": 30, "weight": 12, "width": 20}  # integers, as in the fixture
NICKNAMES = ("Monthly", "Annual", "Launch offer", "Légacy")
MONTHLY_AMOUNTS = (500, 900, 1200, 1900, 2900, 4900, 9900, 19900, 49900)


def fill(template: Obj, **values: Any) -> Obj:
    obj = dict(template)
    obj.update(values)
    if len(obj) != len(template):  # a typo'd key would silently change the schema
        raise KeyError(sorted(set(values) - set(template)))
    return obj


class StripeFactory:
    """Builds Stripe objects. `rng` is swapped by the caller (seeding vs each advance)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.account_tag = rand_chars(rng, 10)
        self._seen: set[str] = set()
        self._plans: dict[str, Obj] = {}

    def new_id(self, prefix: str) -> str:
        rng = self.rng
        while True:
            if prefix in SHORT_IDS:
                body = rand_chars(rng, 14)
            else:  # real 24-character ids embed the account's tag in the middle
                tail = rand_chars(rng, 13)
                body = f"1{tail[:5]}{self.account_tag}{tail[5:]}"
            obj_id = f"{prefix}_{body}"
            if obj_id not in self._seen:
                self._seen.add(obj_id)
                return obj_id

    # -- catalogue ------------------------------------------------------------------------------
    def customer(self, t: int, paying: bool = True) -> Obj:
        r = self.rng
        addr = maybe(r, 0.6, lambda: address(r))
        country = addr["country"] if addr else r.choice(("US", "US", "GB", "DE", "FR"))
        name = maybe(r, 0.9, lambda: full_name(r) if r.random() < 0.75 else r.choice(COMPANIES))
        cid = self.new_id("cus")
        return fill(
            TEMPLATES["customer"],
            address=addr,
            balance=r.choice((0, 0, 0, 0, 0, -500, -2500, 1200)),
            created=t,
            currency=COUNTRY_CURRENCY.get(str(country), "usd") if paying else None,
            default_source=None,
            delinquent=r.random() < 0.04,
            description=maybe(r, 0.3, lambda: r.choice(NOTES)),
            discount=maybe(r, 0.07, lambda: self.discount(t, cid)),
            email=maybe(r, 0.88, lambda: email_for(r, name)),
            id=cid,
            invoice_prefix=rand_chars(r, 8, string.ascii_uppercase + string.digits),
            invoice_settings={
                "custom_fields": maybe(r, 0.1, lambda: [
                    {"name": "PO number", "value": f"PO-{r.randrange(10**5)}"}]),
                "default_payment_method": maybe(r, 0.7, lambda: self.new_id("pm")),
                "footer": maybe(r, 0.05, lambda: r.choice(NOTES)),
                "rendering_options": None,
            },
            livemode=False,
            metadata=metadata(r),
            name=name,
            next_invoice_sequence=1,
            object="customer",
            phone=maybe(r, 0.4, lambda: phone(r)),
            preferred_locales=r.choice(([], [], [], ["en-US"], ["fr-FR", "en"], ["de"])),
            shipping=maybe(r, 0.15, lambda: {
                "address": address(r), "name": name or full_name(r),
                "phone": maybe(r, 0.5, lambda: phone(r)),
            }),
            tax_exempt=r.choices(("none", "exempt", "reverse"), (90, 3, 7))[0],
            test_clock=None,
        )

    def discount(self, t: int, customer_id: str) -> Obj:
        r = self.rng
        return fill(
            TEMPLATES["discount"], checkout_session=None, customer=customer_id,
            end=maybe(r, 0.5, lambda: t + 90 * DAY), id=self.new_id("di"), invoice=None,
            invoice_item=None, object="discount", promotion_code=None, start=t, subscription=None,
            subscription_item=None, customer_account=None,
            source={"coupon": r.choice(("LAUNCH20", "EARLYBIRD", "PARTNER15")), "type": "coupon"},
        )

    def product(self, t: int) -> Obj:
        r = self.rng
        good = r.random() < 0.15
        return fill(
            TEMPLATES["product"],
            active=r.random() < 0.92,
            created=t,
            default_price=None,
            description=maybe(r, 0.6, lambda: r.choice(NOTES)),
            id=self.new_id("prod"),
            images=[f"https://files.stripe.com/links/MDB8{rand_chars(r, 20)}"]
            if r.random() < 0.2 else [],
            livemode=False,
            marketing_features=[{"name": f} for f in r.sample(FEATURES, r.choice((0, 0, 2, 3)))],
            metadata=metadata(r, 0.3),
            name=r.choice(PRODUCT_NAMES),
            object="product",
            package_dimensions=PACKAGE if good else None,
            shippable=True if good else None,
            statement_descriptor=None,
            tax_code=maybe(r, 0.5, lambda: "txcd_10103001"),
            unit_label=maybe(r, 0.2, lambda: "seat"),
            updated=t,
            url=maybe(r, 0.2, lambda: f"https://example.com/p/{rand_chars(r, 6).lower()}"),
            type="good" if good else "service",
        )

    def price(self, t: int, product: Obj, currency: str, recurring: bool) -> Obj:
        r = self.rng
        interval = "month" if r.random() < 0.7 else "year"
        unit = r.choice(MONTHLY_AMOUNTS) * (10 if recurring and interval == "year" else 1)
        return fill(
            TEMPLATES["price"],
            active=r.random() < 0.92,
            billing_scheme="per_unit",
            created=t,
            currency=currency,
            custom_unit_amount=None,
            id=self.new_id("price"),
            livemode=False,
            lookup_key=maybe(
                r, 0.3, lambda: f"{ascii_slug(product['name'])}_{rand_chars(r, 4).lower()}"),
            metadata=metadata(r, 0.2),
            nickname=maybe(r, 0.4, lambda: r.choice(NICKNAMES)),
            object="price",
            product=product["id"],
            recurring={
                "interval": interval, "interval_count": 1, "meter": None, "usage_type": "licensed",
                "trial_period_days": maybe(r, 0.2, lambda: 14),
            } if recurring else None,
            tax_behavior=r.choice(("unspecified", "exclusive", "inclusive")),
            tiers_mode=None,
            transform_quantity=None,
            type="recurring" if recurring else "one_time",
            unit_amount=unit,
            unit_amount_decimal=str(unit),
        )

    def plan(self, price: Obj) -> Obj:
        """The legacy `plan` view of a recurring price, as subscription items still carry it."""
        if price["id"] not in self._plans:
            rec = price["recurring"]
            self._plans[price["id"]] = fill(
                TEMPLATES["plan"], active=price["active"], amount=price["unit_amount"],
                amount_decimal=price["unit_amount_decimal"], billing_scheme="per_unit",
                created=price["created"], currency=price["currency"], id=price["id"],
                interval=rec["interval"], interval_count=rec["interval_count"], livemode=False,
                metadata=price["metadata"], meter=None, nickname=price["nickname"], object="plan",
                product=price["product"], tiers_mode=None, transform_usage=None,
                trial_period_days=rec["trial_period_days"], usage_type="licensed",
            )
        return self._plans[price["id"]]

    # -- events ---------------------------------------------------------------------------------
    def event(self, t: int, type_: str, obj: Obj, previous: Obj | None = None,
              automatic: bool = False) -> Obj:
        r = self.rng
        data: Obj = {"object": obj}
        if previous is not None:
            data["previous_attributes"] = previous
        request = {"id": None, "idempotency_key": None}
        if not automatic:  # API-triggered events name the request that caused them
            request = {
                "id": self.new_id("req"),
                "idempotency_key": "-".join(rand_chars(r, n, HEX) for n in (8, 4, 4, 4, 12)),
            }
        return fill(
            TEMPLATES["event"], api_version=API_VERSION, created=t, data=data,
            id=self.new_id("evt"), livemode=False, object="event",
            pending_webhooks=r.choice((0, 0, 0, 1)), request=request, type=type_,
        )


def diff_previous(old: Obj, new: Obj) -> Obj:
    """Stripe's `previous_attributes`: old values of the changed keys (None for added ones),
    with nested dicts diffed the same way."""
    out: Obj = {}
    for key in {**old, **new}:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and key != "data":
            out[key] = diff_previous(before, after)
        else:
            out[key] = before
    return out
