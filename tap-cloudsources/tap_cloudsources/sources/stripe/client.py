"""Stripe: Bearer auth, cursor pagination (`starting_after`), Stripe's error bodies."""

from __future__ import annotations

import typing as t
from datetime import datetime, timezone

import requests
from singer_sdk.pagination import BaseAPIPaginator

from tap_cloudsources.client import CloudSourcesStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

PAGE_SIZE = 100  # Stripe's maximum `limit`: the fewest calls per collection.


class StripeCursorPaginator(BaseAPIPaginator[str | None]):
    """Next page starts after the last id of this one; stops when `has_more` is false."""

    def get_next(self, response: requests.Response) -> str | None:
        body = response.json()
        if body.get("has_more") and body.get("data"):
            return body["data"][-1]["id"]
        return None


def to_epoch(value: t.Any) -> int | None:
    """Bookmarks are Stripe epoch seconds; `start_date` is ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


class StripeStream(CloudSourcesStream):
    """A Stripe list endpoint: `GET /v1/<path>`, newest first, filtered on `created`."""

    source = "stripe"
    schema_package = "tap_cloudsources.sources.stripe.schemas"
    default_api_base_url = "https://api.stripe.com"
    records_jsonpath = "$.data[*]"
    replication_key = "created"
    # Stripe lists newest first: the bookmark may only move once a whole pass is complete.
    is_sorted = False
    # Query parameters a collection always sends (e.g. subscriptions hide canceled ones).
    list_params: t.ClassVar[dict[str, str]] = {}

    @property
    def http_headers(self) -> dict:
        headers = {"Authorization": f"Bearer {self.config['api_key']}"}
        if self.config.get("stripe_api_version"):
            headers["Stripe-Version"] = self.config["stripe_api_version"]
        return headers

    def get_new_paginator(self) -> StripeCursorPaginator:
        return StripeCursorPaginator(None)

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        params: dict[str, t.Any] = {"limit": PAGE_SIZE, **self.list_params}
        # `gte`, not `gt`: several objects share a second; the target's upsert absorbs repeats.
        since = to_epoch(self.get_starting_replication_key_value(context))
        if since is not None:
            params["created[gte]"] = since
        if next_page_token:
            params["starting_after"] = next_page_token
        return params

    def error_reason(self, response: requests.Response) -> str:
        try:
            error = response.json().get("error") or {}
            message = error.get("message")
        except (ValueError, AttributeError):
            message = None
        return message or super().error_reason(response)
