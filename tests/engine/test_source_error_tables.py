"""Each source's real rate-limit and auth answers, as the shared client reads them."""

from __future__ import annotations

import base64

import pytest
import requests
from tap_cloudsources.engine.errors import Outcome
from tap_cloudsources.engine.http import HttpClient, RetryPolicy
from tap_cloudsources.engine.ratelimit import RequestBudget
from tap_cloudsources.engine.report import CollectionMeter
from tap_cloudsources.errors import EXIT_QUOTA, QuotaExhausted, RetriesExhausted
from tap_cloudsources.sources.salesforce.errors import SALESFORCE_ERRORS
from tap_cloudsources.sources.stripe.client import STRIPE_ERRORS
from tap_cloudsources.sources.zendesk.errors import ZENDESK_ERRORS
from test_engine_units import make_response

ZENDESK_429 = (b'{"error":"APIRateLimitExceeded","description":"Number of allowed incremental '
               b'export API requests per minute exceeded"}')
SF_DAILY = b'[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]'
SF_CONCURRENT = (b'[{"message":"ConcurrentRequests (Concurrent API Requests) Limit exceeded.",'
                 b'"errorCode":"REQUEST_LIMIT_EXCEEDED"}]')
SF_SESSION = b'[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]'


@pytest.mark.parametrize(
    ("policy", "status", "body", "outcome", "reason"),
    [
        (ZENDESK_ERRORS, 429, ZENDESK_429, Outcome.RETRY,
         "APIRateLimitExceeded: Number of allowed incremental export API requests per minute "
         "exceeded (HTTP 429)"),
        (ZENDESK_ERRORS, 401, b'{"error":"Couldn\'t authenticate you"}', Outcome.AUTH,
         "Couldn't authenticate you (HTTP 401)"),
        (ZENDESK_ERRORS, 403, b'{"error":"Forbidden","description":"You do not have access"}',
         Outcome.PERMISSION, "Forbidden: You do not have access (HTTP 403)"),
        (SALESFORCE_ERRORS, 403, SF_DAILY, Outcome.QUOTA,
         "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded. (HTTP 403)"),
        (SALESFORCE_ERRORS, 403, SF_CONCURRENT, Outcome.RETRY, None),
        (SALESFORCE_ERRORS, 401, SF_SESSION, Outcome.AUTH,
         "INVALID_SESSION_ID: Session expired or invalid (HTTP 401)"),
        (SALESFORCE_ERRORS, 400,
         b'{"error":"invalid_grant","error_description":"expired access/refresh token"}',
         Outcome.AUTH, "invalid_grant: expired access/refresh token (HTTP 400)"),
        (SALESFORCE_ERRORS, 403,
         b'[{"message":"insufficient access rights","errorCode":"INSUFFICIENT_ACCESS"}]',
         Outcome.PERMISSION, "INSUFFICIENT_ACCESS: insufficient access rights (HTTP 403)"),
        (STRIPE_ERRORS, 429,
         b'{"error":{"code":"lock_timeout","message":"This object cannot be accessed right now"}}',
         Outcome.RETRY, "This object cannot be accessed right now (HTTP 429)"),
    ],
)
def test_source_answers(policy, status, body, outcome, reason):
    response = make_response(status, body)
    assert policy.classify(response) is outcome
    if reason is not None:
        assert policy.reason(response) == reason


# -- the same answers on the wire, from the sandbox, through the one client ---------------------

def _client(url: str, policy, headers: dict, slept: list[float]) -> HttpClient:
    return HttpClient(source="x", base_url=url, headers=headers, errors=policy,
                      retry=RetryPolicy(max_retries=3), budget=RequestBudget(100, 1.0),
                      sleep=slept.append)


ZENDESK_AUTH = {"Authorization": "Basic " + base64.b64encode(
    b"ops@example.com/token:abcdefgh12").decode()}


def test_zendesk_429_waits_what_retry_after_says(admin):
    admin.fault(path="/api/v2/users/me.json", status=429, times=2, retry_after=7)
    slept: list[float] = []
    meter = CollectionMeter("users")
    body = _client(admin.url, ZENDESK_ERRORS, ZENDESK_AUTH, slept).get_json(
        "/api/v2/users/me.json", None, meter)
    assert body["user"]["email"] == "ops@example.com"
    assert slept == [7.0, 7.0]
    assert (meter.calls, meter.retries) == (3, 2)


def test_salesforce_daily_limit_stops_the_run_as_a_quota(admin):
    token = requests.post(f"{admin.url}/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": "r" * 20, "client_id": "c" * 20,
        "client_secret": "s" * 20}, timeout=10).json()["access_token"]
    admin.fault(path="/services/data/v63.0/limits", status=403)
    slept: list[float] = []
    client = _client(admin.url, SALESFORCE_ERRORS, {"Authorization": f"Bearer {token}"}, slept)
    with pytest.raises(QuotaExhausted) as caught:
        client.get_json("/services/data/v63.0/limits", None, CollectionMeter("limits"))
    assert str(caught.value) == ("x: API quota exhausted: REQUEST_LIMIT_EXCEEDED: TotalRequests "
                                 "Limit exceeded. (HTTP 403)")
    assert caught.value.exit_code == EXIT_QUOTA
    assert slept == []  # no retry burns what is left of the allowance


def test_total_retry_time_per_request_is_bounded(admin):
    """An endless 500 stops once the next wait would pass max_retry_seconds, long before
    max_retries, and says which collection gave up on what."""
    admin.fault(path="/v1/customers", status=500)
    slept: list[float] = []
    client = HttpClient(
        source="stripe", base_url=admin.url, headers={"Authorization": "Bearer sk_test_12345678"},
        errors=STRIPE_ERRORS, budget=RequestBudget(100, 1.0), sleep=slept.append,
        clock=lambda: sum(slept),  # only the waits count as time spent
        retry=RetryPolicy(max_retries=100, max_retry_seconds=5, base_delay=1, max_delay=2))
    meter = CollectionMeter("customers")
    with pytest.raises(RetriesExhausted) as caught:
        client.get_json("/v1/customers", {"limit": 1}, meter)
    assert sum(slept) <= 5 < sum(slept) + 2
    assert meter.calls == len(slept) + 1 and meter.retries == len(slept)
    assert str(caught.value) == (f"stripe: customers: gave up after {meter.calls} attempts in "
                                 f"{sum(slept):.0f}s: An unknown error occurred (HTTP 500)")
