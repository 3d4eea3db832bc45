"""How Stripe answers injected faults (API_NOTES.md §1.5 rate limits, §1.6 errors). Data only.

Placeholders filled per request by StripeAPI.fault_vars: {masked_key}, {request_id},
{version}, {account}, {permission}, {reason}, {date} (the sandbox clock); and by the fault
layer: {retry_after}.
"""

from __future__ import annotations

from .surface import UNAVAILABLE_PAGE, Answer, FaultAnswers

HEADERS = {"Request-Id": "{request_id}", "Stripe-Version": "{version}", "Date": "{date}"}

# Quoted from real responses (§1.5): the body has no request_log_url.
RATE_LIMIT_BODY = {"error": {
    "code": "rate_limit",
    "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
    "message": "Request rate limit exceeded. You can learn more about rate limits here "
               "https://stripe.com/docs/rate-limits.",
    "type": "invalid_request_error",
}}
LOCK_TIMEOUT_BODY = {"error": {
    "code": "lock_timeout",
    "doc_url": "https://stripe.com/docs/error-codes/lock-timeout",
    "message": "This object cannot be accessed right now because another API request or Stripe "
               "process is currently accessing it. If you see this error intermittently, retry "
               "the request. If you see this error frequently and are making multiple concurrent "
               "requests to a single object, make your requests serially or at a lower rate.",
    "request_log_url": "https://dashboard.stripe.com/test/logs/{request_id}",
    "type": "invalid_request_error",
}}
API_ERROR_BODY = {"error": {"type": "api_error", "message": "An unknown error occurred"}}
REVOKED_BODY = {"error": {"message": "Invalid API Key provided: {masked_key}",
                          "type": "invalid_request_error"}}
PERMISSION_BODY = {"error": {
    "message": "The provided key '{masked_key}' does not have the required permissions for this "
               "endpoint on account '{account}'. Having the '{permission}' permission would "
               "allow this request to continue.",
    "type": "invalid_request_error",
}}

RATE_LIMITED = Answer(429, RATE_LIMIT_BODY, {"Stripe-Rate-Limited-Reason": "{reason}"})
LOCK_TIMEOUT = Answer(429, LOCK_TIMEOUT_BODY)  # not from the limiter: no reason header
API_ERROR = Answer(500, API_ERROR_BODY)
UNAVAILABLE = Answer(503, UNAVAILABLE_PAGE, content_type="text/html")
REVOKED = Answer(401, REVOKED_BODY, {"WWW-Authenticate": 'Basic realm="Stripe"'})

STRIPE_FAULTS = FaultAnswers(
    kinds={
        # Stripe documents no Retry-After; the sandbox sends one so clients can prove they obey it.
        "429": Answer(429, RATE_LIMIT_BODY, {"Stripe-Rate-Limited-Reason": "{reason}",
                                             "Retry-After": "{retry_after}"}),
        "429-no-retry-after": LOCK_TIMEOUT,
        "500": API_ERROR,
        "503": UNAVAILABLE,
    },
    statuses={401: REVOKED, 403: Answer(403, PERMISSION_BODY), 429: RATE_LIMITED,
              500: API_ERROR, 503: UNAVAILABLE},
    revoked=REVOKED,
    rate_limited=Answer(429, RATE_LIMIT_BODY, {"Stripe-Rate-Limited-Reason": "global-rate"}),
    headers=HEADERS,
    rate_limit_reasons=("global-rate", "global-concurrency", "endpoint-rate",
                        "endpoint-concurrency", "resource-specific"),
    cursor_params=("starting_after", "ending_before"),
    loop_body={"has_more": True},
)
