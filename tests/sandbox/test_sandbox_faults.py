"""Faults the sandbox answers with Stripe's own bodies and headers (API_NOTES.md §1.5, §1.6)."""

from __future__ import annotations

import re

import pytest
import requests
import stripe

KEY = "sk_test_4eC39HqLyjWDarjt"
AUTH = (KEY, "")
MASKED = "sk_test_************arjt"
REASONS = {"global-concurrency", "global-rate", "endpoint-concurrency", "endpoint-rate",
           "resource-specific"}
RATE_LIMIT_BODY = {"error": {
    "code": "rate_limit",
    "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
    "message": "Request rate limit exceeded. You can learn more about rate limits here "
               "https://stripe.com/docs/rate-limits.",
    "type": "invalid_request_error",
}}
LOCK_TIMEOUT_MESSAGE = (
    "This object cannot be accessed right now because another API request or Stripe process is "
    "currently accessing it. If you see this error intermittently, retry the request. If you see "
    "this error frequently and are making multiple concurrent requests to a single object, make "
    "your requests serially or at a lower rate."
)


def add(sandbox, rule: dict) -> dict:
    resp = requests.post(f"{sandbox.url}/_sandbox/faults", json=rule, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def get(sandbox, path: str, auth=AUTH, **kw) -> requests.Response:
    return requests.get(f"{sandbox.url}{path}", auth=auth, timeout=10, **kw)


def test_random_429_is_stripes_rate_limiter_with_a_reason_and_retry_after(sandbox):
    add(sandbox, {"rate": 1.0, "kinds": ["429"], "seed": 3})
    reasons = set()
    for _ in range(25):
        resp = get(sandbox, "/v1/charges")
        assert resp.status_code == 429
        assert resp.json() == RATE_LIMIT_BODY
        assert resp.headers["Retry-After"] == "1"
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.headers["Request-Id"].startswith("req_")
        reasons.add(resp.headers["Stripe-Rate-Limited-Reason"])
    assert reasons <= REASONS and len(reasons) >= 3  # varies among the documented reasons


def test_429_without_retry_after_is_a_lock_timeout_not_from_the_limiter(sandbox):
    add(sandbox, {"rate": 1.0, "kinds": ["429-no-retry-after"], "seed": 1})
    resp = get(sandbox, "/v1/customers")
    assert resp.status_code == 429
    assert "Retry-After" not in resp.headers
    assert "Stripe-Rate-Limited-Reason" not in resp.headers  # so a client can tell it apart
    error = resp.json()["error"]
    assert error["code"] == "lock_timeout" and error["type"] == "invalid_request_error"
    assert error["message"] == LOCK_TIMEOUT_MESSAGE
    assert error["doc_url"] == "https://stripe.com/docs/error-codes/lock-timeout"
    assert error["request_log_url"].endswith(resp.headers["Request-Id"])


def test_500_is_an_api_error_and_503_is_not_json(sandbox):
    add(sandbox, {"rate": 1.0, "kinds": ["500"], "seed": 1, "paths": ["/v1/charges"]})
    add(sandbox, {"rate": 1.0, "kinds": ["503"], "seed": 1, "paths": ["/v1/prices"]})
    resp = get(sandbox, "/v1/charges")
    assert resp.status_code == 500
    assert resp.json() == {"error": {"type": "api_error", "message": "An unknown error occurred"}}
    resp = get(sandbox, "/v1/prices")
    assert resp.status_code == 503
    assert resp.headers["Content-Type"] == "text/html"
    assert resp.text.startswith("<html>") and "503 Service Temporarily Unavailable" in resp.text
    assert int(resp.headers["Content-Length"]) == len(resp.content)
    with pytest.raises(ValueError):
        resp.json()
    assert get(sandbox, "/v1/customers").status_code == 200  # `paths` limits a rule


def test_scripted_403_uses_stripes_permission_message_for_the_given_number_of_times(sandbox):
    state = add(sandbox, {"path": "/v1/charges", "status": 403, "times": 2})
    assert state["rules"] == [{"id": 1, "path": "/v1/charges", "status": 403, "times": 2,
                               "remaining": 2, "injected": 0}]
    for _ in range(2):
        resp = get(sandbox, "/v1/charges?limit=5")  # the query is ignored
        assert resp.status_code == 403
        error = resp.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert re.fullmatch(
            f"The provided key '{re.escape(MASKED)}' does not have the required permissions for "
            r"this endpoint on account 'acct_1\w{15}'\. Having the 'rak_charge_read' permission "
            r"would allow this request to continue\.", error["message"]), error["message"]
        assert KEY not in resp.text
    assert get(sandbox, "/v1/charges").status_code == 200
    assert get(sandbox, "/v1/charges/ch_nope").status_code == 404  # exact path only
    rules = requests.get(f"{sandbox.url}/_sandbox/faults", timeout=10).json()["rules"]
    assert rules[0]["remaining"] == 0 and rules[0]["injected"] == 2


def test_scripted_body_and_headers_are_sent_as_given_forever_without_times(sandbox):
    body = {"error": {"message": "custom", "type": "api_error"}}
    add(sandbox, {"path": "/v1/invoices", "status": 502, "body": body,
                  "headers": {"Stripe-Should-Retry": "false"}})
    for _ in range(3):
        resp = get(sandbox, "/v1/invoices")
        assert resp.status_code == 502 and resp.json() == body
        assert resp.headers["Stripe-Should-Retry"] == "false"
        assert resp.headers["Request-Id"].startswith("req_")


def test_pagination_loop_serves_the_same_first_page_whatever_the_cursor(sandbox):
    first = get(sandbox, "/v1/products?limit=100").json()
    assert first["has_more"] is False  # 20 products: one page
    add(sandbox, {"path": "/v1/products", "kind": "pagination-loop"})
    page = get(sandbox, "/v1/products?limit=100").json()
    assert page["has_more"] is True and page["data"] == first["data"]
    for _ in range(3):
        cursor = page["data"][-1]["id"]
        again = get(sandbox, f"/v1/products?limit=100&starting_after={cursor}").json()
        assert again == page
    assert get(sandbox, f"/v1/products?ending_before={cursor}&limit=100").json() == page
    other = get(sandbox, "/v1/customers?limit=3").json()  # other lists page normally
    after = get(sandbox, f"/v1/customers?limit=3&starting_after={other['data'][-1]['id']}")
    assert after.json()["data"][0]["id"] not in {c["id"] for c in other["data"]}


def test_revoked_credentials_reject_every_key_until_restored(sandbox):
    add(sandbox, {"credentials": "revoked"})
    for key, masked in ((KEY, MASKED), ("sk_test_otherkey99", "sk_test_******ey99")):
        resp = get(sandbox, "/v1/customers", auth=(key, ""))
        assert resp.status_code == 401
        assert resp.json() == {"error": {"message": f"Invalid API Key provided: {masked}",
                                         "type": "invalid_request_error"}}
    assert get(sandbox, "/v1/customers", auth=None).json()["error"]["message"].startswith(
        "You did not provide an API key.")  # no key: Stripe's usual answer
    state = add(sandbox, {"credentials": "ok"})
    assert state["credentials"] == "ok" and state["injected"] == {"revoked-credentials": 2}
    assert get(sandbox, "/v1/customers").status_code == 200


def test_the_official_stripe_library_raises_its_typed_errors(sandbox):
    client = stripe.StripeClient(KEY, base_addresses={"api": sandbox.url}, max_network_retries=0)
    expected = {
        "/v1/customers": (stripe.RateLimitError, {"path": "/v1/customers", "kind": "429"}),
        "/v1/prices": (stripe.RateLimitError,
                       {"path": "/v1/prices", "kind": "429-no-retry-after"}),
        "/v1/charges": (stripe.PermissionError, {"path": "/v1/charges", "status": 403}),
        "/v1/invoices": (stripe.APIError, {"path": "/v1/invoices", "kind": "500"}),
        "/v1/products": (stripe.APIError, {"path": "/v1/products", "kind": "503"}),
    }
    for _, rule in expected.values():
        add(sandbox, rule)
    for path, (error, _) in expected.items():
        service = getattr(client.v1, path.rsplit("/", 1)[1])
        with pytest.raises(error) as caught:
            service.list()
        assert caught.type is error, path
    with pytest.raises(stripe.RateLimitError) as caught:
        client.v1.prices.list()
    assert caught.value.error is not None and caught.value.error.code == "lock_timeout"
    add(sandbox, {"credentials": "revoked"})
    with pytest.raises(stripe.AuthenticationError):
        client.v1.subscriptions.list()
