"""The engine's small parts, each against real values: hints, budget, backoff, guards, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from tap_cloudsources.engine.errors import ErrorPolicy, Outcome
from tap_cloudsources.engine.http import RetryPolicy, quota_spent, server_wait_hint
from tap_cloudsources.engine.pagination import BoundaryDeduper, LoopGuard, PaginationLoop
from tap_cloudsources.engine.ratelimit import RequestBudget
from tap_cloudsources.errors import redact
from tap_cloudsources.sources.stripe.client import STRIPE_ERRORS


def make_response(status: int, body: bytes = b"", headers: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers or {})
    response.reason = "Reason"
    return response


def test_retry_after_in_seconds_and_as_http_date():
    assert server_wait_hint({"Retry-After": "93"}) == 93.0
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert server_wait_hint({"Retry-After": later}, now=now.timestamp()) == 30.0
    assert server_wait_hint({"Retry-After": "soon"}) is None


def test_rate_limit_reset_headers_as_delay_or_epoch():
    headers = requests.structures.CaseInsensitiveDict({"RateLimit-Reset": "41"})
    assert server_wait_hint(headers) == 41.0
    assert server_wait_hint({"x-rate-limit-reset": "1700000020"}, now=1700000000.0) == 20.0
    assert server_wait_hint({}) is None
    assert quota_spent(requests.structures.CaseInsensitiveDict({"X-Rate-Limit-Remaining": "0"}))
    assert not quota_spent({"x-rate-limit-remaining": "699"})


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(base_delay=0.5, max_delay=8)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 8.0), (20, 8.0)]:
        waits = [policy.backoff(attempt) for _ in range(200)]
        assert min(waits) >= ceiling / 2
        assert max(waits) <= ceiling
        assert len(set(waits)) > 1  # jittered


def test_budget_spaces_requests_to_the_rate():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = RequestBudget(5, 1.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(15):
        budget.acquire()
    # 5 in the initial burst, then one every 0.2 s.
    assert now[0] == pytest.approx(2.0)
    budget.pause(10)
    budget.acquire()
    assert now[0] == pytest.approx(12.0)


def test_loop_guard_and_boundary_dedupe():
    guard = LoopGuard("stripe", "charges")
    guard.check("ch_1")
    guard.check("ch_2")
    with pytest.raises(PaginationLoop, match="charges: pagination loop: .*'ch_2'"):
        guard.check("ch_2")
    dedupe = BoundaryDeduper()
    assert [r["id"] for r in dedupe.page([{"id": 1}, {"id": 2}])] == [1, 2]
    assert [r["id"] for r in dedupe.page([{"id": 2}, {"id": 3}])] == [3]
    assert dedupe.dropped == 1


@pytest.mark.parametrize(
    ("status", "body", "headers", "outcome"),
    [
        (200, b"{}", {}, Outcome.OK),
        (401, b'{"error":{"message":"Invalid API Key provided: sk_test_****1234"}}', {},
         Outcome.AUTH),
        (403, b"{}", {}, Outcome.PERMISSION),
        (429, b"", {"Stripe-Rate-Limited-Reason": "global-rate"}, Outcome.RETRY),
        (429, b'{"error":{"code":"lock_timeout"}}', {}, Outcome.RETRY),
        (500, b"<html>oops</html>", {}, Outcome.RETRY),
        (503, b"", {}, Outcome.RETRY),
        (400, b'{"error":{"message":"bad"}}', {}, Outcome.FATAL),
        (400, b"{}", {"Stripe-Should-Retry": "true"}, Outcome.RETRY),
        (500, b"{}", {"Stripe-Should-Retry": "false"}, Outcome.FATAL),
    ],
)
def test_stripe_error_table(status, body, headers, outcome):
    assert STRIPE_ERRORS.classify(make_response(status, body, headers)) is outcome


def test_reasons_survive_any_body():
    policy = STRIPE_ERRORS
    ok = make_response(401, json.dumps({"error": {"message": "Invalid API Key provided"}}).encode())
    assert policy.reason(ok) == "Invalid API Key provided (HTTP 401)"
    assert policy.reason(make_response(503, b"<html><b>Service\nUnavailable</b></html>")) == (
        "<html><b>Service Unavailable</b></html> (HTTP 503)")
    assert policy.reason(make_response(502, b"")) == "Reason (HTTP 502)"
    assert policy.reason(make_response(500, b'["not", "an", "object"]')) == (
        '["not", "an", "object"] (HTTP 500)')
    assert ErrorPolicy().classify(make_response(418, b"")) is Outcome.FATAL


def test_redact_masks_configured_secrets_and_key_shapes():
    text = "key sk_live_abcdef123 and rk_test_ZZZ9 and whsec_q1w2 and hunter2"
    assert redact(text, "hunter2") == "key sk_live_*** and rk_test_*** and whsec_*** and ***"
