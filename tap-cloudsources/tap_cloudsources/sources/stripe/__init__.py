"""Stripe source."""

from tap_cloudsources.sources import Source
from tap_cloudsources.sources.stripe.streams import STREAMS

SOURCE = Source(name="stripe", streams=STREAMS, required_settings=("api_key",))
