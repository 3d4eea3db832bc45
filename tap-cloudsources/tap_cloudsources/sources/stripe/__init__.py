"""Stripe source."""

from tap_cloudsources.sources import Source
from tap_cloudsources.sources.stripe.client import (
    STRIPE_ERRORS,
    stripe_auth_headers,
    stripe_budget,
)
from tap_cloudsources.sources.stripe.events import prepare
from tap_cloudsources.sources.stripe.streams import STREAMS

SOURCE = Source(
    name="stripe",
    streams=STREAMS,
    default_base_url="https://api.stripe.com",
    errors=STRIPE_ERRORS,
    auth_headers=stripe_auth_headers,
    default_budget=stripe_budget,
    check_path="/v1/customers",
    check_params={"limit": 1},
    required_settings=("api_key",),
    secret_settings=("api_key",),
    prepare=prepare,
)
