"""Authentication (API_NOTES.md §1.1, §1.6) and the request counters under /_sandbox/stats."""

from __future__ import annotations

import base64

import requests

NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


def test_bearer_and_basic_auth_both_work(sandbox):
    url = f"{sandbox.url}/v1/customers?limit=2"
    bearer = requests.get(url, headers={"Authorization": "Bearer sk_test_4eC39HqLyjWDarjt"},
                          timeout=10)
    basic = requests.get(url, auth=("sk_test_4eC39HqLyjWDarjt", ""), timeout=10)
    token = base64.b64encode(b"sk_test_4eC39HqLyjWDarjt:").decode()
    raw = requests.get(url, headers={"Authorization": f"Basic {token}"}, timeout=10)
    assert bearer.status_code == basic.status_code == raw.status_code == 200
    assert bearer.json()["data"] == basic.json()["data"] == raw.json()["data"]


def test_missing_key_gets_stripes_exact_401(sandbox):
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic Og=="}):
        resp = requests.get(f"{sandbox.url}/v1/charges", headers=headers, timeout=10)
        assert resp.status_code == 401
        assert resp.json() == {"error": {"message": NO_KEY, "type": "invalid_request_error"}}


def test_bad_key_is_401_with_the_key_masked_but_its_last_4(sandbox):
    cases = {
        "sk_test_short": "sk_test_*hort",
        "sk_live_51HxYzAbCdEfGh1234": "sk_live_**************1234",
        "sk_test_": "sk_test_",
        "nonsense-key-9876": "*************9876",
    }
    for key, masked in cases.items():
        resp = requests.get(f"{sandbox.url}/v1/products", auth=(key, ""), timeout=10)
        assert resp.status_code == 401, key
        assert resp.json() == {"error": {"message": f"Invalid API Key provided: {masked}",
                                         "type": "invalid_request_error"}}


def test_any_sk_test_key_with_8_characters_after_the_prefix_is_valid(sandbox):
    assert requests.get(f"{sandbox.url}/v1/prices", auth=("sk_test_12345678", ""),
                        timeout=10).status_code == 200
    assert requests.get(f"{sandbox.url}/v1/prices", auth=("sk_test_1234567", ""),
                        timeout=10).status_code == 401


def test_stats_count_api_requests_including_failures_but_not_admin(sandbox):
    base = sandbox.url
    requests.post(f"{base}/_sandbox/stats/reset", timeout=10)
    auth = ("sk_test_statsstats", "")
    requests.get(f"{base}/v1/customers", auth=auth, timeout=10)
    requests.get(f"{base}/v1/customers?limit=3", auth=auth, timeout=10)
    requests.get(f"{base}/v1/customers", timeout=10)  # 401
    requests.get(f"{base}/v1/invoices", auth=("sk_test_nope", ""), timeout=10)  # 401
    requests.get(f"{base}/v1/unknown", auth=auth, timeout=10)  # 404
    requests.get(f"{base}/_sandbox/health", timeout=10)
    requests.get(f"{base}/_sandbox/truth/stripe/customers", timeout=10)
    stats = requests.get(f"{base}/_sandbox/stats", timeout=10).json()
    assert stats == {
        "total": 5,
        "by_source": {"stripe": 5, "zendesk": 0, "salesforce": 0},  # every API served
        "by_path": {"/v1/customers": 3, "/v1/invoices": 1, "/v1/unknown": 1},
        "faults": {},
    }
    reset = requests.post(f"{base}/_sandbox/stats/reset", timeout=10).json()
    assert reset == {"total": 0, "by_source": {"stripe": 0, "zendesk": 0, "salesforce": 0},
                     "by_path": {}, "faults": {}}
    assert requests.get(f"{base}/_sandbox/stats", timeout=10).json() == reset


def test_admin_routes(sandbox):
    base = sandbox.url
    assert requests.get(f"{base}/_sandbox/health", timeout=10).json() == {"ok": True}
    clock = requests.get(f"{base}/_sandbox/clock", timeout=10).json()
    assert clock == {"clock": 1748736000, "iso": "2025-06-01T00:00:00Z"}
    assert requests.get(f"{base}/_sandbox/truth/stripe/nope", timeout=10).status_code == 404
    assert requests.get(f"{base}/_sandbox/nope", timeout=10).status_code == 404
    truth = requests.get(f"{base}/_sandbox/truth/stripe/products", timeout=10).json()
    assert truth["collection"] == "products" and truth["count"] == len(truth["data"]) == 20
