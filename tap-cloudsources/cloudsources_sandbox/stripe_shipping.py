"""Shipping rates (`/v1/shipping_rates`): what shipping costs on Checkout Sessions and
invoices, and the current equivalent of the retired Orders API's shipping methods.

Stripe sends no event for shipping rates (there is no `shipping_rate.*` type), so their
changes are logged without one. They are seeded from their own rng stream, which leaves
every other seeded collection as it was.
"""

from __future__ import annotations

import random

from .fakedata import rand_chars
from .world import DAY, Obj, World

SOURCE = "stripe"
COLLECTION = "shipping_rates"
# display name, amount in cents, delivery estimate in business days
SHIPPING_RATES = (("Standard shipping", 500, (3, 5)), ("Express shipping", 1500, (1, 2)),
                  ("Overnight", 3500, (1, 1)), ("Free shipping", 0, (5, 10)),
                  ("International", 2500, (7, 14)))


def shipping_rate(rng: random.Random, t: int, spec: tuple[str, int, tuple[int, int]]) -> Obj:
    name, amount, (fastest, slowest) = spec
    return {
        "active": True, "created": t,
        "delivery_estimate": {"maximum": {"unit": "business_day", "value": slowest},
                              "minimum": {"unit": "business_day", "value": fastest}},
        "display_name": name, "fixed_amount": {"amount": amount, "currency": "usd"},
        "id": f"shr_1{rand_chars(rng, 9)}K2T81frGUh{rand_chars(rng, 4)}", "livemode": False,
        "metadata": {}, "object": "shipping_rate",
        "tax_behavior": "unspecified" if amount == 0 else rng.choice(("exclusive", "inclusive")),
        "tax_code": None if amount == 0 else "txcd_92010001", "type": "fixed_amount",
    }


def seed_shipping_rates(world: World) -> None:
    rng = world.rng(SOURCE, "seed-shipping")
    start = world.clock - 365 * DAY
    rates = [shipping_rate(rng, start + rng.randint(0, 90 * DAY), spec)
             for spec in SHIPPING_RATES]
    world.collection(SOURCE, COLLECTION).load_sorted(rates)
